//! VTIMEZONE generation from jiff's rules, for the years an export needs.

use jiff::civil::{self, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::model::Zone;
use crate::values::format_datetime;

/// The years a VTIMEZONE must cover for one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Coverage {
    pub first_year: i16,
    pub last_year: i16,
    /// Whether some event using the zone recurs without an UNTIL, so its rules must go on.
    pub open_ended: bool,
}

/// How many years past the last covered year explicit changes are listed when a zone's
/// changes follow no yearly rule but an event recurs without end.
const OPEN_ENDED_YEARS: i16 = 30;

/// Returns the unfolded content lines of a VTIMEZONE for `zone` over `coverage`.
///
/// Every offset change in the covered years becomes one STANDARD or DAYLIGHT part with the
/// local time at which it happens, and a first part gives the offset in force at the start
/// of the first year. For an open-ended coverage, the last change into and out of daylight
/// saving time carry a yearly RRULE when the zone's next ten years follow it, so that
/// readers can compute later years. Otherwise the changes of thirty more years are listed.
pub(crate) fn vtimezone_lines(zone: &Zone, coverage: Coverage) -> Vec<String> {
    let time_zone = zone.time_zone();
    let start = shift(year_start(coverage.first_year), -48);
    let mut end = shift(year_start(coverage.last_year.saturating_add(1)), 48);

    let mut transitions = changes_between(&time_zone, start, end);
    let mut rules: Option<(YearlyRule, YearlyRule)> = None;
    if coverage.open_ended && !transitions.is_empty() {
        rules = yearly_rules(&time_zone, &transitions, end);
        if rules.is_none() {
            end = shift(
                year_start(coverage.last_year.saturating_add(OPEN_ENDED_YEARS)),
                48,
            );
            transitions = changes_between(&time_zone, start, end);
        }
    }

    let mut lines = vec![
        "BEGIN:VTIMEZONE".to_string(),
        format!("TZID:{}", crate::export::param_safe_text(zone.tzid())),
    ];
    // A reader that does not know the TZID, this crate among others, takes the zone from
    // X-LIC-LOCATION (also written by Google Calendar) before the rules below.
    if let Some(iana) = zone.iana_name().filter(|iana| *iana != zone.tzid()) {
        lines.push(format!("X-LIC-LOCATION:{iana}"));
    }
    let initial = time_zone.to_offset_info(start);
    lines.extend(observance(
        initial.dst().is_dst(),
        initial.offset().to_datetime(start),
        initial.offset(),
        initial.offset(),
        initial.abbreviation(),
        None,
    ));

    let last_daylight = transitions.iter().rposition(|change| change.daylight);
    let last_standard = transitions.iter().rposition(|change| !change.daylight);
    for (index, change) in transitions.iter().enumerate() {
        let rule = match &rules {
            Some((daylight, _)) if Some(index) == last_daylight => Some(daylight.rrule()),
            Some((_, standard)) if Some(index) == last_standard => Some(standard.rrule()),
            _ => None,
        };
        lines.extend(observance(
            change.daylight,
            change.from.to_datetime(change.at),
            change.from,
            change.to,
            &change.abbreviation,
            rule,
        ));
    }
    lines.push("END:VTIMEZONE".to_string());
    lines
}

/// One offset change of a zone.
#[derive(Debug, Clone)]
struct Change {
    at: Timestamp,
    from: Offset,
    to: Offset,
    daylight: bool,
    abbreviation: String,
}

fn changes_between(time_zone: &TimeZone, start: Timestamp, end: Timestamp) -> Vec<Change> {
    let mut from = time_zone.to_offset(start);
    let mut changes = Vec::new();
    for transition in time_zone.following(start) {
        if transition.timestamp() >= end {
            break;
        }
        changes.push(Change {
            at: transition.timestamp(),
            from,
            to: transition.offset(),
            daylight: transition.dst().is_dst(),
            abbreviation: transition.abbreviation().to_string(),
        });
        from = transition.offset();
    }
    changes
}

/// Moves `at` by `hours`, staying at `at` at the ends of jiff's range.
fn shift(at: Timestamp, hours: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_hours(hours))
        .unwrap_or(at)
}

fn year_start(year: i16) -> Timestamp {
    civil::date(year.clamp(1, 9998), 1, 1)
        .to_zoned_datetime(TimeZone::UTC)
        .map(|zoned| zoned.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A yearly change on the nth weekday of a month (`week` -1 for the last), at a local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct YearlyRule {
    month: i8,
    week: i8,
    weekday: Weekday,
    time: civil::Time,
}

impl YearlyRule {
    fn of(local: civil::DateTime) -> YearlyRule {
        let week = if local.day() + 7 > local.days_in_month() {
            -1
        } else {
            (local.day() - 1) / 7 + 1
        };
        YearlyRule {
            month: local.month(),
            week,
            weekday: local.weekday(),
            time: local.time(),
        }
    }

    fn date_in(self, year: i16) -> Option<civil::DateTime> {
        let date = civil::Date::new(year, self.month, 1)
            .ok()?
            .nth_weekday_of_month(self.week, self.weekday)
            .ok()?;
        Some(date.to_datetime(self.time))
    }

    fn rrule(self) -> String {
        let day = match self.weekday {
            Weekday::Monday => "MO",
            Weekday::Tuesday => "TU",
            Weekday::Wednesday => "WE",
            Weekday::Thursday => "TH",
            Weekday::Friday => "FR",
            Weekday::Saturday => "SA",
            Weekday::Sunday => "SU",
        };
        format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={}{day}",
            self.month, self.week
        )
    }
}

/// Returns the rules of the last change into and out of daylight saving time when the
/// zone's changes of the next ten years after `end` follow them exactly.
fn yearly_rules(
    time_zone: &TimeZone,
    transitions: &[Change],
    end: Timestamp,
) -> Option<(YearlyRule, YearlyRule)> {
    let daylight = transitions.iter().rev().find(|change| change.daylight)?;
    let standard = transitions.iter().rev().find(|change| !change.daylight)?;
    let daylight_rule = YearlyRule::of(daylight.from.to_datetime(daylight.at));
    let standard_rule = YearlyRule::of(standard.from.to_datetime(standard.at));

    let check_end = shift(end, 24 * 366 * 10);
    let later = changes_between(time_zone, end, check_end);
    if later.len() < 18 {
        return None;
    }
    for change in &later {
        let (rule, expected) = if change.daylight {
            (daylight_rule, daylight)
        } else {
            (standard_rule, standard)
        };
        let local = change.from.to_datetime(change.at);
        if change.from != expected.from
            || change.to != expected.to
            || rule.date_in(local.year()) != Some(local)
        {
            return None;
        }
    }
    Some((daylight_rule, standard_rule))
}

fn observance(
    daylight: bool,
    start: civil::DateTime,
    from: Offset,
    to: Offset,
    abbreviation: &str,
    rrule: Option<String>,
) -> Vec<String> {
    let kind = if daylight { "DAYLIGHT" } else { "STANDARD" };
    let mut lines = vec![
        format!("BEGIN:{kind}"),
        format!("DTSTART:{}", format_datetime(start)),
        format!("TZOFFSETFROM:{}", format_offset(from)),
        format!("TZOFFSETTO:{}", format_offset(to)),
    ];
    if let Some(rule) = rrule {
        lines.push(format!("RRULE:{rule}"));
    }
    if !abbreviation.is_empty() {
        lines.push(format!(
            "TZNAME:{}",
            crate::values::escape_text(abbreviation)
        ));
    }
    lines.push(format!("END:{kind}"));
    lines
}

/// Formats a UTC-OFFSET value: `+HHMM`, or `+HHMMSS` when the offset has seconds.
pub(crate) fn format_offset(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if rest == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{rest:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_for(name: &str, coverage: Coverage) -> Vec<String> {
        vtimezone_lines(&Zone::iana(name).unwrap(), coverage)
    }

    fn parts(lines: &[String]) -> Vec<Vec<String>> {
        let mut parts = Vec::new();
        let mut current: Option<Vec<String>> = None;
        for line in lines {
            if line == "BEGIN:STANDARD" || line == "BEGIN:DAYLIGHT" {
                current = Some(vec![line.clone()]);
            } else if line.starts_with("END:STANDARD") || line.starts_with("END:DAYLIGHT") {
                parts.push(current.take().unwrap());
            } else if let Some(part) = current.as_mut() {
                part.push(line.clone());
            }
        }
        parts
    }

    #[test]
    fn vtimezone_lists_dst_changes_of_covered_years() {
        let coverage = Coverage {
            first_year: 2024,
            last_year: 2024,
            open_ended: false,
        };
        let lines = lines_for("Europe/Berlin", coverage);
        assert_eq!(lines[1], "TZID:Europe/Berlin");
        let parts = parts(&lines);
        assert_eq!(parts.len(), 3, "{lines:#?}");
        assert_eq!(parts[0][0], "BEGIN:STANDARD");
        assert_eq!(parts[0][2..4], ["TZOFFSETFROM:+0100", "TZOFFSETTO:+0100"]);
        assert_eq!(
            parts[1][..4],
            [
                "BEGIN:DAYLIGHT",
                "DTSTART:20240331T020000",
                "TZOFFSETFROM:+0100",
                "TZOFFSETTO:+0200"
            ]
        );
        assert!(parts[1].contains(&"TZNAME:CEST".to_string()));
        assert_eq!(
            parts[2][..4],
            [
                "BEGIN:STANDARD",
                "DTSTART:20241027T030000",
                "TZOFFSETFROM:+0200",
                "TZOFFSETTO:+0100"
            ]
        );
    }

    #[test]
    fn vtimezone_southern_hemisphere() {
        let coverage = Coverage {
            first_year: 2025,
            last_year: 2025,
            open_ended: false,
        };
        let parts = parts(&lines_for("Australia/Sydney", coverage));
        assert_eq!(
            parts[0][..4],
            [
                "BEGIN:DAYLIGHT",
                "DTSTART:20241230T110000",
                "TZOFFSETFROM:+1100",
                "TZOFFSETTO:+1100"
            ]
        );
        assert_eq!(
            parts[1][..4],
            [
                "BEGIN:STANDARD",
                "DTSTART:20250406T030000",
                "TZOFFSETFROM:+1100",
                "TZOFFSETTO:+1000"
            ]
        );
        assert_eq!(
            parts[2][..4],
            [
                "BEGIN:DAYLIGHT",
                "DTSTART:20251005T020000",
                "TZOFFSETFROM:+1000",
                "TZOFFSETTO:+1100"
            ]
        );
    }

    #[test]
    fn vtimezone_open_ended_gets_yearly_rules() {
        let coverage = Coverage {
            first_year: 2024,
            last_year: 2024,
            open_ended: true,
        };
        let parts = parts(&lines_for("America/New_York", coverage));
        assert!(
            parts[1].contains(&"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU".to_string()),
            "{parts:#?}"
        );
        assert!(
            parts[2].contains(&"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU".to_string()),
            "{parts:#?}"
        );
        assert!(
            parts[2].contains(&"DTSTART:20241103T020000".to_string()),
            "{parts:#?}"
        );
    }

    #[test]
    fn vtimezone_without_dst_has_one_part() {
        let coverage = Coverage {
            first_year: 2024,
            last_year: 2030,
            open_ended: true,
        };
        let parts = parts(&lines_for("Asia/Tokyo", coverage));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0][2..4], ["TZOFFSETFROM:+0900", "TZOFFSETTO:+0900"]);
    }

    #[test]
    fn vtimezone_lists_abolished_dst_as_it_happened() {
        // Russia kept summer time all year from 27 March 2011 and went back to UTC+3 on
        // 26 October 2014.
        let coverage = Coverage {
            first_year: 2010,
            last_year: 2015,
            open_ended: false,
        };
        let parts = parts(&lines_for("Europe/Moscow", coverage));
        let changes: Vec<&str> = parts.iter().map(|part| part[1].as_str()).collect();
        assert!(changes.contains(&"DTSTART:20141026T020000"), "{changes:?}");
        assert_eq!(parts.last().unwrap()[3], "TZOFFSETTO:+0300");
    }

    #[test]
    fn offsets_format_with_seconds_when_needed() {
        assert_eq!(
            format_offset(Offset::from_seconds(-18000).unwrap()),
            "-0500"
        );
        assert_eq!(format_offset(Offset::from_seconds(19800).unwrap()), "+0530");
        assert_eq!(format_offset(Offset::from_seconds(561).unwrap()), "+000921");
    }
}
