//! TZID resolution: IANA names, Windows names, vendor prefixes, and zones that only a file's
//! VTIMEZONE defines, turned into a POSIX TZ rule that jiff evaluates.

use std::collections::HashMap;

use jiff::civil;
use jiff::tz::{Offset, TimeZone};

use crate::model::Zone;
use crate::tree::Component;
use crate::values::{RawTime, parse_time, unescape_text};
use crate::windows_zones::iana_for_windows;

/// Resolves the TZIDs of one input, each once.
pub(crate) struct ZoneResolver<'a> {
    definitions: HashMap<String, &'a Component>,
    resolved: HashMap<String, Result<Zone, String>>,
}

impl<'a> ZoneResolver<'a> {
    /// Creates a resolver that knows the VTIMEZONE components of one input.
    pub fn new(timezones: impl IntoIterator<Item = &'a Component>) -> ZoneResolver<'a> {
        let mut definitions = HashMap::new();
        for timezone in timezones {
            if let Some(tzid) = timezone.property("TZID") {
                definitions
                    .entry(clean_tzid(&unescape_text(&tzid.value)).to_string())
                    .or_insert(timezone);
            }
        }
        ZoneResolver {
            definitions,
            resolved: HashMap::new(),
        }
    }

    /// Returns the zone for `tzid`, or why it cannot be known.
    ///
    /// The order is: an IANA name jiff knows, an IANA name after a vendor prefix
    /// (`/mozilla.org/20050126_1/Europe/Berlin`), a Windows name, the IANA name in the
    /// VTIMEZONE's X-LIC-LOCATION, the VTIMEZONE's own rules, and last, without a VTIMEZONE,
    /// an IANA name written with `_` or `-` for the first `/` (`Europe_London`).
    pub fn resolve(&mut self, tzid: &str) -> Result<Zone, String> {
        let tzid = clean_tzid(tzid).to_string();
        if let Some(known) = self.resolved.get(&tzid) {
            return known.clone();
        }
        let result = self.lookup(&tzid);
        self.resolved.insert(tzid, result.clone());
        result
    }

    fn lookup(&self, tzid: &str) -> Result<Zone, String> {
        if let Some(time_zone) = iana_zone(tzid).or_else(|| after_vendor_prefix(tzid)) {
            return Ok(Zone::new(tzid, time_zone));
        }
        if let Some(time_zone) = iana_for_windows(tzid).and_then(|iana| TimeZone::get(iana).ok()) {
            return Ok(Zone::new(tzid, time_zone));
        }
        if let Some(definition) = self.definitions.get(tzid) {
            let location = definition
                .property("X-LIC-LOCATION")
                .and_then(|location| iana_zone(clean_tzid(&location.value)));
            if let Some(time_zone) = location {
                return Ok(Zone::new(tzid, time_zone));
            }
            return zone_from_vtimezone(definition)
                .map(|time_zone| Zone::new(tzid, time_zone))
                .map_err(|reason| {
                    format!("VTIMEZONE {tzid:?} on line {}: {reason}", definition.line)
                });
        }
        if let Some(time_zone) = with_separator_replaced(tzid) {
            return Ok(Zone::new(tzid, time_zone));
        }
        Err(format!(
            "time zone TZID={tzid:?} is neither an IANA or Windows zone name nor defined by a VTIMEZONE in the file; add its VTIMEZONE or use an IANA name such as Europe/Berlin"
        ))
    }
}

fn clean_tzid(tzid: &str) -> &str {
    tzid.trim_matches(|ch: char| ch.is_whitespace() || ch.is_control() || ch == '"')
}

fn iana_zone(name: &str) -> Option<TimeZone> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    TimeZone::get(name).ok()
}

/// Tries the last three, two and one `/`-separated parts of a TZID with a vendor prefix.
fn after_vendor_prefix(tzid: &str) -> Option<TimeZone> {
    if !tzid.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = tzid.split('/').filter(|part| !part.is_empty()).collect();
    (1..=3.min(parts.len()))
        .rev()
        .find_map(|count| iana_zone(&parts[parts.len() - count..].join("/")))
}

fn with_separator_replaced(tzid: &str) -> Option<TimeZone> {
    let index = tzid.find(['_', '-'])?;
    let mut name = tzid.to_string();
    name.replace_range(index..index + 1, "/");
    iana_zone(&name)
}

/// One STANDARD or DAYLIGHT part of a VTIMEZONE.
struct Observance {
    daylight: bool,
    start: civil::DateTime,
    offset_to: Offset,
    name: Option<String>,
    rrule: Option<String>,
}

/// Builds the zone a VTIMEZONE defines from its newest STANDARD and DAYLIGHT rules.
///
/// NOTE: a POSIX TZ rule holds one pair of rules, so local times before the newest rule
/// change use the newest offsets. Building a TZif table from every observance would keep the
/// older offsets too.
fn zone_from_vtimezone(definition: &Component) -> Result<TimeZone, String> {
    let mut observances = Vec::new();
    for child in &definition.children {
        let daylight = match child.name.as_str() {
            "STANDARD" => false,
            "DAYLIGHT" => true,
            _ => continue,
        };
        observances.push(read_observance(child, daylight)?);
    }
    let newest = |daylight: bool| {
        observances
            .iter()
            .filter(|observance| observance.daylight == daylight)
            .max_by_key(|observance| observance.start)
    };
    let (standard, daylight) = (newest(false), newest(true));

    let (standard, daylight) = match (standard, daylight) {
        (None, None) => return Err("no STANDARD or DAYLIGHT part".to_string()),
        (Some(only), None) | (None, Some(only)) => return Ok(TimeZone::fixed(only.offset_to)),
        (Some(standard), Some(daylight)) => (standard, daylight),
    };
    let rules_active = |observance: &Observance, other: &Observance| {
        observance
            .rrule
            .as_deref()
            .is_some_and(|rule| !ended_before(rule, other.start))
    };
    if !rules_active(daylight, standard) || !rules_active(standard, daylight) {
        // Daylight saving time has ended for good, or the parts are single changes: the
        // part that starts last stays in force.
        let last = if daylight.start > standard.start {
            daylight
        } else {
            standard
        };
        return Ok(TimeZone::fixed(last.offset_to));
    }

    let posix = format!(
        "{}{}{}{},{},{}",
        posix_name(standard.name.as_deref(), "STD"),
        posix_offset(standard.offset_to),
        posix_name(daylight.name.as_deref(), "DST"),
        posix_offset(daylight.offset_to),
        posix_rule(daylight)?,
        posix_rule(standard)?,
    );
    TimeZone::posix(&posix).map_err(|error| format!("rules {posix:?} are invalid: {error}"))
}

fn read_observance(part: &Component, daylight: bool) -> Result<Observance, String> {
    let start = part
        .property("DTSTART")
        .ok_or_else(|| format!("{} on line {} has no DTSTART", part.name, part.line))?;
    let start = match parse_time(&start.value)
        .map_err(|error| format!("{} DTSTART on line {}: {error}", part.name, start.line))?
    {
        RawTime::Date(date) => date.to_datetime(civil::Time::midnight()),
        RawTime::Local(local) | RawTime::Utc(local) => local,
    };
    let offset_to = part
        .property("TZOFFSETTO")
        .ok_or_else(|| format!("{} on line {} has no TZOFFSETTO", part.name, part.line))?;
    let offset_to = parse_offset(&offset_to.value).ok_or_else(|| {
        format!(
            "invalid TZOFFSETTO {:?} on line {}; expected +HHMM or -HHMM",
            offset_to.value, offset_to.line
        )
    })?;
    Ok(Observance {
        daylight,
        start,
        offset_to,
        name: part.property("TZNAME").map(|name| name.value.clone()),
        rrule: part
            .property("RRULE")
            .map(|rule| rule.value.to_ascii_uppercase()),
    })
}

/// Parses a UTC-OFFSET value: `+HHMM`, `-HHMM`, `+HHMMSS`, also with colons.
pub(crate) fn parse_offset(value: &str) -> Option<Offset> {
    let compact: String = value.trim().chars().filter(|ch| *ch != ':').collect();
    let (sign, digits) = match compact.as_bytes().first()? {
        b'+' => (1, &compact[1..]),
        b'-' => (-1, &compact[1..]),
        _ => (1, compact.as_str()),
    };
    if !(digits.len() == 4 || digits.len() == 6)
        || !digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        return None;
    }
    let hours: i32 = digits[0..2].parse().ok()?;
    let minutes: i32 = digits[2..4].parse().ok()?;
    let seconds: i32 = digits.get(4..6).map_or(Some(0), |part| part.parse().ok())?;
    if minutes > 59 || seconds > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60 + seconds)).ok()
}

fn ended_before(rule: &str, instant: civil::DateTime) -> bool {
    let Some(until) = rule.split(';').find_map(|part| part.strip_prefix("UNTIL=")) else {
        return false;
    };
    match parse_time(until) {
        Ok(RawTime::Date(date)) => date < instant.date(),
        Ok(RawTime::Local(local) | RawTime::Utc(local)) => local < instant,
        Err(_) => false,
    }
}

fn posix_name(name: Option<&str>, fallback: &str) -> String {
    let name = name.unwrap_or("").trim();
    let valid = name.len() >= 3
        && name.len() <= 16
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'-');
    match (valid, name.bytes().all(|byte| byte.is_ascii_alphabetic())) {
        (true, true) => name.to_string(),
        (true, false) => format!("<{name}>"),
        (false, _) => fallback.to_string(),
    }
}

/// Formats an offset the POSIX way, where positive means west of Greenwich.
fn posix_offset(offset: Offset) -> String {
    let seconds = -offset.seconds();
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.abs();
    format!(
        "{sign}{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Turns a yearly RRULE such as `FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU` and the observance's start
/// time into a POSIX rule such as `M3.5.0/2:00:00`.
fn posix_rule(observance: &Observance) -> Result<String, String> {
    let rule = observance.rrule.as_deref().unwrap_or("");
    let part = |name: &str| {
        rule.split(';')
            .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
    };
    let unsupported = || format!("RRULE {rule:?} is not a yearly rule on a weekday of a month");
    if part("FREQ") != Some("YEARLY") {
        return Err(unsupported());
    }
    let month: i8 = part("BYMONTH")
        .and_then(|month| month.parse().ok())
        .ok_or_else(unsupported)?;
    let by_day = part("BYDAY").ok_or_else(unsupported)?;
    // `get` returns `None` where the last two bytes would split a character.
    let day_name = by_day
        .get(by_day.len().saturating_sub(2)..)
        .ok_or_else(unsupported)?;
    let weekday = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]
        .iter()
        .position(|name| *name == day_name)
        .ok_or_else(unsupported)?;
    let ordinal = &by_day[..by_day.len() - 2];
    let week = if ordinal.is_empty() {
        // Outlook writes the second Sunday as BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14.
        let first_day: i32 = part("BYMONTHDAY")
            .and_then(|days| days.split(',').next()?.parse().ok())
            .ok_or_else(unsupported)?;
        if !(0..22).contains(&first_day) {
            5
        } else {
            (first_day - 1) / 7 + 1
        }
    } else {
        match ordinal
            .trim_start_matches('+')
            .parse::<i32>()
            .map_err(|_| unsupported())?
        {
            -1 | 5 => 5,
            week @ 1..=4 => week,
            _ => return Err(unsupported()),
        }
    };
    if !(1..=12).contains(&month) {
        return Err(unsupported());
    }
    let time = observance.start.time();
    Ok(format!(
        "M{month}.{week}.{weekday}/{}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Limits, read_tree};

    fn resolver_for(text: &str) -> Vec<Component> {
        read_tree(text.as_bytes(), &Limits::default()).unwrap()
    }

    fn offset_at(zone: &Zone, local: civil::DateTime) -> i32 {
        zone.time_zone()
            .to_zoned_datetime(local)
            .unwrap()
            .offset()
            .seconds()
    }

    #[test]
    fn tzid_maps_iana_windows_and_vendor_names() {
        let mut resolver = ZoneResolver::new([]);
        let cases = [
            ("Europe/Paris", "Europe/Paris"),
            ("\"America/Los_Angeles\"", "America/Los_Angeles"),
            ("W. Europe Standard Time", "Europe/Berlin"),
            ("pacific standard time", "America/Los_Angeles"),
            ("/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin"),
            (
                "/softwarestudio.org/Olson_20011030_5/America/Argentina/Buenos_Aires",
                "America/Argentina/Buenos_Aires",
            ),
            ("Europe_London", "Europe/London"),
        ];
        for (tzid, iana) in cases {
            let zone = resolver
                .resolve(tzid)
                .unwrap_or_else(|error| panic!("{tzid}: {error}"));
            assert_eq!(zone.iana_name(), Some(iana), "{tzid}");
            assert_eq!(zone.tzid(), clean_tzid(tzid), "{tzid}");
        }
    }

    #[test]
    fn tzid_unknown_without_vtimezone_is_an_error() {
        let mut resolver = ZoneResolver::new([]);
        let error = resolver.resolve("Nowhere/Middle").unwrap_err();
        assert!(error.contains("TZID=\"Nowhere/Middle\""), "{error}");
        assert!(error.contains("VTIMEZONE"), "{error}");
    }

    #[test]
    fn vtimezone_with_rules_defines_zone() {
        let roots = resolver_for(
            "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\n\
             BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
             RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n\
             BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
             RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n\
             END:VTIMEZONE\r\nEND:VCALENDAR\r\n",
        );
        let mut resolver = ZoneResolver::new(roots[0].children.iter());
        let zone = resolver.resolve("Customized Time Zone").unwrap();
        assert_eq!(zone.iana_name(), None);
        assert_eq!(zone.tzid(), "Customized Time Zone");
        assert_eq!(
            offset_at(&zone, civil::date(2024, 1, 15).at(12, 0, 0, 0)),
            3600
        );
        assert_eq!(
            offset_at(&zone, civil::date(2024, 7, 15).at(12, 0, 0, 0)),
            7200
        );
        // 2024's change to summer time is on Sunday 31 March at 02:00 local time.
        assert_eq!(
            offset_at(&zone, civil::date(2024, 3, 31).at(1, 59, 0, 0)),
            3600
        );
        assert_eq!(
            offset_at(&zone, civil::date(2024, 3, 31).at(3, 0, 0, 0)),
            7200
        );
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(zone, Zone::new("Customized Time Zone", zone.time_zone()));
        assert_ne!(zone, Zone::new("Customized Time Zone", berlin));
    }

    #[test]
    fn vtimezone_with_outlook_monthday_rule() {
        let roots = resolver_for(
            "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Eastern\n\
             BEGIN:STANDARD\nDTSTART:16011104T020000\nTZOFFSETFROM:-0400\nTZOFFSETTO:-0500\n\
             RRULE:FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=1,2,3,4,5,6,7;BYMONTH=11\nEND:STANDARD\n\
             BEGIN:DAYLIGHT\nDTSTART:16010311T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\n\
             RRULE:FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14;BYMONTH=3\nEND:DAYLIGHT\n\
             END:VTIMEZONE\nEND:VCALENDAR\n",
        );
        let mut resolver = ZoneResolver::new(roots[0].children.iter());
        let zone = resolver.resolve("Eastern").unwrap();
        let new_york = TimeZone::get("America/New_York").unwrap();
        for (month, day) in [(3, 9), (3, 10), (3, 11), (11, 2), (11, 3), (11, 4)] {
            let local = civil::date(2024, month, day).at(12, 0, 0, 0);
            let expected = new_york
                .to_zoned_datetime(local)
                .unwrap()
                .offset()
                .seconds();
            assert_eq!(offset_at(&zone, local), expected, "2024-{month}-{day}");
        }
    }

    #[test]
    fn vtimezone_with_non_ascii_byday_is_rejected() {
        // The last two bytes of BYDAY split the two-byte character U+00E9.
        let roots = resolver_for(
            "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Odd\n\
             BEGIN:STANDARD\nDTSTART:16011104T020000\nTZOFFSETFROM:-0400\nTZOFFSETTO:-0500\n\
             RRULE:FREQ=YEARLY;BYDAY=\u{e9}X;BYMONTH=11\nEND:STANDARD\n\
             BEGIN:DAYLIGHT\nDTSTART:16010311T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\n\
             RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\nEND:DAYLIGHT\n\
             END:VTIMEZONE\nEND:VCALENDAR\n",
        );
        let mut resolver = ZoneResolver::new(roots[0].children.iter());
        let error = resolver.resolve("Odd").unwrap_err();
        assert!(error.contains("BYDAY"), "{error}");
    }

    #[test]
    fn vtimezone_with_standard_only_is_fixed() {
        let roots = resolver_for(
            "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Tokyo\nBEGIN:STANDARD\nDTSTART:19700101T000000\n\
             TZOFFSETFROM:+0900\nTZOFFSETTO:+0900\nTZNAME:JST\nEND:STANDARD\nEND:VTIMEZONE\nEND:VCALENDAR\n",
        );
        let mut resolver = ZoneResolver::new(roots[0].children.iter());
        let zone = resolver.resolve("Tokyo").unwrap();
        assert_eq!(
            offset_at(&zone, civil::date(2024, 7, 1).at(0, 0, 0, 0)),
            9 * 3600
        );
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+0130").unwrap().seconds(), 5400);
        assert_eq!(parse_offset("-0500").unwrap().seconds(), -18000);
        assert_eq!(parse_offset("+01:00").unwrap().seconds(), 3600);
        assert!(parse_offset("+1").is_none());
        assert!(parse_offset("+0190").is_none());
    }
}
