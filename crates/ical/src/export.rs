//! Writing a `Calendar` as iCalendar text: content lines, folding and VTIMEZONEs.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use crate::model::{Attendee, Calendar, CalendarEvent, EventTime, Person, Status, Zone};
use crate::values::{escape_text, format_date, format_datetime, rrule_until_year};
use crate::vtimezone::{Coverage, vtimezone_lines};

/// The maximum length of a physical line in octets, without its CRLF (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// The PRODID that Convene's exports carry.
pub const PRODUCT_ID: &str = "-//Convene//Convene Scheduler//EN";

/// Writes `calendar` as an iCalendar object with CRLF line ends and lines folded at 75 octets.
///
/// The object has PRODID, VERSION, METHOD when set, one VTIMEZONE for each TZID the events
/// use, and one VEVENT per event with DTSTAMP (the current time when the event has none).
/// It never writes VALARM. A DATE-TIME end equal to its start is left out, which readers
/// take to mean the same end (RFC 5545 §3.6.1).
pub fn write(calendar: &Calendar) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        format!("PRODID:{PRODUCT_ID}"),
        "VERSION:2.0".to_string(),
    ];
    if let Some(method) = &calendar.method {
        lines.push(format!("METHOD:{}", strip_controls(method.as_str())));
    }
    for (zone, mut coverage) in zones_used(&calendar.events).into_values() {
        // A zone that a VTIMEZONE defined follows one yearly rule, and writing that rule
        // lets the next reader rebuild the same zone instead of only the covered years.
        coverage.open_ended |= zone.iana_name().is_none();
        lines.extend(vtimezone_lines(&zone, coverage));
    }
    let now = jiff::Timestamp::now();
    for event in &calendar.events {
        write_event(&mut lines, event, now);
    }
    lines.push("END:VCALENDAR".to_string());

    let mut output = String::new();
    for line in &lines {
        fold_into(&mut output, line);
    }
    output
}

fn write_event(lines: &mut Vec<String>, event: &CalendarEvent, now: jiff::Timestamp) {
    lines.push("BEGIN:VEVENT".to_string());
    lines.push(format!("UID:{}", escape_text(&event.uid)));
    let stamp = event.dtstamp.unwrap_or(now);
    lines.push(format!("DTSTAMP:{}", format_utc(stamp)));
    if event.sequence > 0 {
        lines.push(format!("SEQUENCE:{}", event.sequence));
    }
    lines.push(time_property("DTSTART", &event.start));
    if event.end != event.start || matches!(event.end, EventTime::Date(_)) {
        lines.push(time_property("DTEND", &event.end));
    }
    if let Some(recurrence_id) = &event.recurrence_id {
        lines.push(time_property("RECURRENCE-ID", recurrence_id));
    }
    for rule in &event.rrule {
        let rule: String = rule
            .chars()
            .filter(|ch| !ch.is_whitespace() && !ch.is_control())
            .collect();
        lines.push(format!("RRULE:{rule}"));
    }
    for rdate in &event.rdates {
        lines.push(time_property("RDATE", rdate));
    }
    for exdate in &event.exdates {
        lines.push(time_property("EXDATE", exdate));
    }
    for (name, value) in [
        ("SUMMARY", &event.summary),
        ("DESCRIPTION", &event.description),
        ("LOCATION", &event.location),
    ] {
        if let Some(text) = value {
            lines.push(format!("{name}:{}", escape_text(text)));
        }
    }
    if let Some(status) = event.status {
        let status = match status {
            Status::Tentative => "TENTATIVE",
            Status::Confirmed => "CONFIRMED",
            Status::Cancelled => "CANCELLED",
        };
        lines.push(format!("STATUS:{status}"));
    }
    if event.transparent {
        lines.push("TRANSP:TRANSPARENT".to_string());
    }
    if let Some(organizer) = &event.organizer {
        lines.push(format!(
            "ORGANIZER{}:{}",
            name_param(organizer),
            cal_address(organizer)
        ));
    }
    for attendee in &event.attendees {
        lines.push(attendee_line(attendee));
    }
    lines.push("END:VEVENT".to_string());
}

fn attendee_line(attendee: &Attendee) -> String {
    format!(
        "ATTENDEE{};ROLE={};PARTSTAT={};RSVP={}:{}",
        name_param(&attendee.person),
        param_value(attendee.role.as_str()),
        param_value(attendee.partstat.as_str()),
        if attendee.rsvp { "TRUE" } else { "FALSE" },
        cal_address(&attendee.person),
    )
}

fn name_param(person: &Person) -> String {
    match &person.name {
        Some(name) => format!(";CN={}", param_value(name)),
        None => String::new(),
    }
}

/// Writes an address as a `mailto:` URI unless it already has a URI scheme.
fn cal_address(person: &Person) -> String {
    let email = strip_controls(&person.email);
    if email.contains(':') {
        email
    } else {
        format!("mailto:{email}")
    }
}

fn time_property(name: &str, time: &EventTime) -> String {
    match time {
        EventTime::Date(date) => format!("{name};VALUE=DATE:{}", format_date(*date)),
        EventTime::Floating(local) => format!("{name}:{}", format_datetime(*local)),
        EventTime::Zoned { local, zone } => {
            format!(
                "{name};TZID={}:{}",
                param_value(zone.tzid()),
                format_datetime(*local)
            )
        }
        EventTime::Utc(timestamp) => format!("{name}:{}", format_utc(*timestamp)),
    }
}

fn format_utc(timestamp: jiff::Timestamp) -> String {
    format!(
        "{}Z",
        format_datetime(timestamp.to_zoned_datetime(TimeZone::UTC).datetime())
    )
}

/// Writes a parameter value, quoted when it contains `;`, `:` or `,`, with the RFC 6868
/// escapes for newline, double quote and caret.
pub(crate) fn param_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '^' => escaped.push_str("^^"),
            '"' => escaped.push_str("^'"),
            '\n' => escaped.push_str("^n"),
            ch if ch.is_control() => {}
            ch => escaped.push(ch),
        }
    }
    if escaped.contains([';', ':', ',']) {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// Returns a TZID property value that cannot break the line structure.
pub(crate) fn param_safe_text(value: &str) -> String {
    escape_text(&strip_controls(value))
}

fn strip_controls(value: &str) -> String {
    value.chars().filter(|ch| !ch.is_control()).collect()
}

/// Collects each TZID the events use, with the years its VTIMEZONE must cover.
///
/// NOTE: the first zone seen for a TZID wins. Events that `parse` read from two VCALENDARs
/// defining the same TZID differently come back in one zone; renaming the second TZID
/// would keep both.
fn zones_used(events: &[CalendarEvent]) -> BTreeMap<String, (Zone, Coverage)> {
    let mut zones: BTreeMap<String, (Zone, Coverage)> = BTreeMap::new();
    for event in events {
        let mut last_year_of_rules = None;
        let mut open_ended = false;
        for rule in &event.rrule {
            match rrule_until_year(rule) {
                Some(year) => last_year_of_rules = last_year_of_rules.max(Some(year)),
                None => open_ended = true,
            }
        }
        let times = [&event.start, &event.end]
            .into_iter()
            .chain(&event.rdates)
            .chain(&event.exdates)
            .chain(&event.recurrence_id);
        for time in times {
            let EventTime::Zoned { local, zone } = time else {
                continue;
            };
            let year = local.year();
            let last_year = year.max(last_year_of_rules.unwrap_or(year));
            // NOTE: a second zone with a TZID already seen shares the first one's VTIMEZONE.
            // Inputs that define one TZID twice, differently, are not distinguished.
            let entry = zones.entry(zone.tzid().to_string()).or_insert_with(|| {
                (
                    zone.clone(),
                    Coverage {
                        first_year: year,
                        last_year,
                        open_ended: false,
                    },
                )
            });
            let coverage = &mut entry.1;
            coverage.first_year = coverage.first_year.min(year);
            coverage.last_year = coverage.last_year.max(last_year);
            coverage.open_ended |= open_ended && !event.rrule.is_empty();
        }
    }
    zones
}

/// Appends `line` with CRLF, folded so that no physical line exceeds 75 octets and no fold
/// falls inside a UTF-8 character.
pub(crate) fn fold_into(output: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            output.push_str(rest);
            output.push_str("\r\n");
            return;
        }
        let mut split = limit;
        while !rest.is_char_boundary(split) {
            split -= 1;
        }
        output.push_str(&rest[..split]);
        output.push_str("\r\n ");
        rest = &rest[split..];
        // A continuation line starts with one space, which counts toward its 75 octets.
        limit = MAX_LINE_OCTETS - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_keeps_lines_within_75_octets() {
        let mut output = String::new();
        let line = format!("DESCRIPTION:{}", "x".repeat(200));
        fold_into(&mut output, &line);
        for physical in output.split("\r\n").filter(|physical| !physical.is_empty()) {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical:?}",
                physical.len()
            );
        }
        let unfolded = output.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{line}\r\n"));
    }

    #[test]
    fn fold_never_splits_utf8_character() {
        // Each "é" is two octets and each "€" three, so a naive cut at 75 would split one.
        for prefix in ["SUMMARY:", "SUMMARY:x", "SUMMARY:xy"] {
            let line = format!("{prefix}{}", "é€".repeat(40));
            let mut output = String::new();
            fold_into(&mut output, &line);
            for physical in output.split("\r\n").filter(|physical| !physical.is_empty()) {
                assert!(physical.len() <= 75, "{} octets", physical.len());
            }
            assert_eq!(output.replace("\r\n ", ""), format!("{line}\r\n"));
        }
    }

    #[test]
    fn param_value_quotes_and_escapes() {
        assert_eq!(param_value("Jane Doe"), "Jane Doe");
        assert_eq!(param_value("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(param_value("Jane \"JD\" Doe^"), "Jane ^'JD^' Doe^^");
        assert_eq!(param_value("two\nlines\r"), "two^nlines");
    }
}
