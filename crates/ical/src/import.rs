//! Mapping of VEVENT components to `CalendarEvent`s, with a reason for each one left out.

use jiff::tz::TimeZone;

use crate::error::{ImportError, Skipped};
use crate::lines::ContentLine;
use crate::model::{
    Attendee, Calendar, CalendarEvent, EventTime, Method, PartStat, Person, Role, Status,
};
use crate::tree::{Component, Limits, read_tree};
use crate::values::{RawTime, normalize_rrule, parse_duration, parse_time, unescape_text};
use crate::zone::ZoneResolver;

/// A calendar that `parse` read, and the components it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub calendar: Calendar,
    pub skipped: Vec<Skipped>,
}

/// Parses an iCalendar text with the default `Limits`.
///
/// A character split across a fold cannot be held in a `&str`; read files with
/// [`parse_bytes`] to join such characters correctly.
pub fn parse(text: &str) -> Result<Imported, ImportError> {
    parse_bytes(text.as_bytes(), &Limits::default())
}

/// Parses iCalendar bytes: every VEVENT of every VCALENDAR in the input, in order.
///
/// The whole input is rejected when it exceeds `limits` or holds no VCALENDAR. A VEVENT that
/// cannot be read (no UID or DTSTART, an invalid value, an unknown time zone, an invalid
/// line inside it) is left out and listed in `Imported::skipped` with the reason. Other
/// components, such as VTODO and VALARM, are ignored.
pub fn parse_bytes(input: &[u8], limits: &Limits) -> Result<Imported, ImportError> {
    let roots = read_tree(input, limits)?;
    let calendars: Vec<&Component> = roots
        .iter()
        .filter(|root| root.name == "VCALENDAR")
        .collect();

    let method = calendars
        .iter()
        .find_map(|calendar| calendar.property("METHOD"))
        .map(|method| {
            // `write` drops control characters from METHOD, so they are dropped here too.
            let text: String = method.value.chars().filter(|ch| !ch.is_control()).collect();
            Method::from_text(text.trim())
        });
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for calendar in calendars {
        let timezones = calendar
            .children
            .iter()
            .filter(|child| child.name == "VTIMEZONE");
        let mut zones = ZoneResolver::new(timezones);
        for component in calendar
            .children
            .iter()
            .filter(|child| child.name == "VEVENT")
        {
            match read_event(component, &mut zones) {
                Ok(event) => events.push(event),
                Err(reason) => skipped.push(Skipped {
                    line: component.line,
                    component: component.name.clone(),
                    uid: component
                        .property("UID")
                        .map(|uid| unescape_text(uid.value.trim())),
                    reason,
                }),
            }
        }
    }

    Ok(Imported {
        calendar: Calendar { method, events },
        skipped,
    })
}

fn read_event(
    component: &Component,
    zones: &mut ZoneResolver<'_>,
) -> Result<CalendarEvent, String> {
    if let Some(problem) = component.problems.first() {
        return Err(format!("line {}: {}", problem.line, problem.reason));
    }

    let uid = component
        .property("UID")
        .map(|uid| unescape_text(uid.value.trim()))
        .filter(|uid| !uid.is_empty())
        .ok_or("no UID; every event needs a unique UID property")?;
    let dtstart = component
        .property("DTSTART")
        .ok_or("no DTSTART; add the event's start as DTSTART")?;
    let start = read_time(dtstart, zones)?;
    let end = read_end(component, &start, zones)?;

    let mut event = CalendarEvent::new(uid, start, end);
    event.sequence = match component.property("SEQUENCE") {
        Some(sequence) => sequence.value.trim().parse().map_err(|_| {
            format!(
                "line {}: invalid SEQUENCE {:?}; expected a non-negative integer",
                sequence.line, sequence.value
            )
        })?,
        None => 0,
    };
    event.dtstamp = match component.property("DTSTAMP") {
        Some(stamp) => match read_time(stamp, zones)? {
            EventTime::Utc(timestamp) => Some(timestamp),
            _ => None,
        },
        None => None,
    };
    event.summary = text_property(component, "SUMMARY");
    event.description = text_property(component, "DESCRIPTION");
    event.location = text_property(component, "LOCATION");

    for rule in component.properties("RRULE") {
        let normalized =
            normalize_rrule(&rule.value).map_err(|error| format!("line {}: {error}", rule.line))?;
        event.rrule.push(normalized);
    }
    for rdate in component.properties("RDATE") {
        event.rdates.extend(read_time_list(rdate, zones)?);
    }
    for exdate in component.properties("EXDATE") {
        event.exdates.extend(read_time_list(exdate, zones)?);
    }
    if let Some(recurrence_id) = component.property("RECURRENCE-ID") {
        event.recurrence_id = Some(read_time(recurrence_id, zones)?);
    }

    event.status = component.property("STATUS").and_then(|status| {
        match status.value.trim().to_ascii_uppercase().as_str() {
            "TENTATIVE" => Some(Status::Tentative),
            "CONFIRMED" => Some(Status::Confirmed),
            "CANCELLED" => Some(Status::Cancelled),
            _ => None,
        }
    });
    event.transparent = component
        .property("TRANSP")
        .is_some_and(|transp| transp.value.trim().eq_ignore_ascii_case("TRANSPARENT"));
    event.organizer = component.property("ORGANIZER").map(read_person);
    event.attendees = component
        .properties("ATTENDEE")
        .map(read_attendee)
        .collect();
    Ok(event)
}

fn text_property(component: &Component, name: &str) -> Option<String> {
    component
        .property(name)
        .map(|property| unescape_text(&property.value))
}

/// Reads DTEND, or the end that DURATION gives, or the default end of RFC 5545 §3.6.1: the
/// next day for a DATE start and the start itself for a DATE-TIME start.
fn read_end(
    component: &Component,
    start: &EventTime,
    zones: &mut ZoneResolver<'_>,
) -> Result<EventTime, String> {
    if let Some(dtend) = component.property("DTEND") {
        let end = read_time(dtend, zones)?;
        if matches!(start, EventTime::Date(_)) != matches!(end, EventTime::Date(_)) {
            return Err(format!(
                "line {}: DTEND {:?} and DTSTART differ in type; both must be dates or both date-times",
                dtend.line, dtend.value
            ));
        }
        if instant_order(&end, start) == Some(std::cmp::Ordering::Less)
            || matches!((start, &end), (EventTime::Date(first), EventTime::Date(last)) if last <= first)
        {
            return Err(format!(
                "line {}: DTEND {:?} is before DTSTART; the end must not precede the start",
                dtend.line, dtend.value
            ));
        }
        return Ok(end);
    }
    if let Some(duration) = component.property("DURATION") {
        let parsed = parse_duration(&duration.value)
            .map_err(|error| format!("line {}: {error}", duration.line))?;
        if parsed.days < 0 || parsed.exact.is_negative() {
            return Err(format!(
                "line {}: DURATION {:?} is negative; an event cannot end before it starts",
                duration.line, duration.value
            ));
        }
        let end = add_duration(start, parsed).map_err(|error| {
            format!(
                "line {}: DURATION {:?}: {error}",
                duration.line, duration.value
            )
        })?;
        // DTEND cannot express an all-day event that ends on its start date, so neither may
        // DURATION, or the event would not read back after `write`.
        if matches!((start, &end), (EventTime::Date(first), EventTime::Date(last)) if last <= first)
        {
            return Err(format!(
                "line {}: DURATION {:?} ends the all-day event on its start date; an all-day event lasts at least one day",
                duration.line, duration.value
            ));
        }
        return Ok(end);
    }
    Ok(match start {
        EventTime::Date(date) => EventTime::Date(
            date.tomorrow()
                .map_err(|_| "DTSTART is the last date jiff can represent".to_string())?,
        ),
        other => other.clone(),
    })
}

/// Adds a DURATION as RFC 5545 §3.3.6 says: days on the calendar in the start's zone, then
/// the time part as exact seconds.
fn add_duration(start: &EventTime, duration: crate::values::Duration) -> Result<EventTime, String> {
    let out_of_range = |error: jiff::Error| format!("the end is out of range: {error}");
    match start {
        EventTime::Date(date) => {
            if !duration.exact.is_zero() {
                return Err("a date start takes a duration in days or weeks only".to_string());
            }
            Ok(EventTime::Date(
                date.checked_add(jiff::Span::new().days(duration.days))
                    .map_err(out_of_range)?,
            ))
        }
        EventTime::Floating(local) => {
            let end = local
                .checked_add(jiff::Span::new().days(duration.days))
                .and_then(|end| end.checked_add(duration.exact))
                .map_err(out_of_range)?;
            Ok(EventTime::Floating(end))
        }
        EventTime::Zoned { local, zone } => {
            let zoned = local
                .to_zoned_datetime(zone.time_zone())
                .map_err(out_of_range)?;
            let end = zoned
                .checked_add(jiff::Span::new().days(duration.days))
                .and_then(|end| end.checked_add(duration.exact))
                .map_err(out_of_range)?;
            Ok(EventTime::Zoned {
                local: end.datetime(),
                zone: zone.clone(),
            })
        }
        EventTime::Utc(timestamp) => {
            let end = timestamp
                .checked_add(jiff::SignedDuration::from_hours(24 * duration.days))
                .and_then(|end| end.checked_add(duration.exact))
                .map_err(out_of_range)?;
            Ok(EventTime::Utc(end))
        }
    }
}

/// Orders two times that both name instants (zoned or UTC); floating times compare by their
/// local time, and a date with a time is not compared.
fn instant_order(left: &EventTime, right: &EventTime) -> Option<std::cmp::Ordering> {
    let instant = |time: &EventTime| match time {
        EventTime::Utc(timestamp) => Some(*timestamp),
        EventTime::Zoned { local, zone } => local
            .to_zoned_datetime(zone.time_zone())
            .ok()
            .map(|zoned| zoned.timestamp()),
        EventTime::Floating(local) => local
            .to_zoned_datetime(TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp()),
        EventTime::Date(_) => None,
    };
    Some(instant(left)?.cmp(&instant(right)?))
}

/// Reads a DATE or DATE-TIME property with its VALUE and TZID parameters.
fn read_time(property: &ContentLine, zones: &mut ZoneResolver<'_>) -> Result<EventTime, String> {
    convert_time(property, property.value.trim(), zones)
}

/// Reads a comma-separated RDATE or EXDATE list. For a PERIOD, only its start is kept.
fn read_time_list(
    property: &ContentLine,
    zones: &mut ZoneResolver<'_>,
) -> Result<Vec<EventTime>, String> {
    property
        .value
        .split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| {
            // NOTE: an RDATE period's end is dropped, so such an instance gets the event's
            // duration. Keeping it needs a period type in `CalendarEvent::rdates`.
            let start = value.split_once('/').map_or(value, |(start, _)| start);
            convert_time(property, start, zones)
        })
        .collect()
}

fn convert_time(
    property: &ContentLine,
    value: &str,
    zones: &mut ZoneResolver<'_>,
) -> Result<EventTime, String> {
    let raw = parse_time(value)
        .map_err(|error| format!("line {}: {}: {error}", property.line, property.name))?;
    let date_only = property
        .param("VALUE")
        .is_some_and(|kind| kind.eq_ignore_ascii_case("DATE"));
    Ok(match raw {
        RawTime::Date(date) => EventTime::Date(date),
        RawTime::Local(local) if date_only => EventTime::Date(local.date()),
        RawTime::Utc(local) => EventTime::Utc(
            local
                .to_zoned_datetime(TimeZone::UTC)
                .map_err(|error| format!("line {}: {}: {error}", property.line, property.name))?
                .timestamp(),
        ),
        RawTime::Local(local) => match property
            .param("TZID")
            .filter(|tzid| !tzid.trim().is_empty())
        {
            Some(tzid) => {
                let zone = zones.resolve(tzid).map_err(|error| {
                    format!("line {}: {}: {error}", property.line, property.name)
                })?;
                EventTime::Zoned { local, zone }
            }
            None => EventTime::Floating(local),
        },
    })
}

fn read_person(property: &ContentLine) -> Person {
    // Some Outlook exports write the scheme twice (`mailto:MAILTO:jane@example.org`).
    // `write` drops control characters from addresses, so they are dropped here too.
    let value: String = property
        .value
        .chars()
        .filter(|ch| !ch.is_control())
        .collect();
    let mut email = value.trim();
    while let Some(scheme) = email
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
    {
        email = &email[scheme.len()..];
    }
    Person {
        email: email.to_string(),
        name: property.param("CN").map(str::to_string),
    }
}

fn read_attendee(property: &ContentLine) -> Attendee {
    Attendee {
        person: read_person(property),
        partstat: property
            .param("PARTSTAT")
            .map_or(PartStat::NeedsAction, PartStat::from_text),
        rsvp: property
            .param("RSVP")
            .is_some_and(|rsvp| rsvp.eq_ignore_ascii_case("TRUE")),
        role: property
            .param("ROLE")
            .map_or(Role::ReqParticipant, Role::from_text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil;

    fn day(year: i16, month: i8, day: i8) -> civil::Date {
        civil::date(year, month, day)
    }

    fn read_one(body: &str) -> Result<CalendarEvent, String> {
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let imported = parse(&text).map_err(|error| error.to_string())?;
        match imported.skipped.first() {
            Some(skipped) => Err(skipped.reason.clone()),
            None => Ok(imported.calendar.events[0].clone()),
        }
    }

    #[test]
    fn all_day_event_without_dtend_lasts_one_day() {
        let event = read_one("DTSTART;VALUE=DATE:20240301\r\n").unwrap();
        assert_eq!(event.start, EventTime::Date(day(2024, 3, 1)));
        assert_eq!(event.end, EventTime::Date(day(2024, 3, 2)));
    }

    #[test]
    fn datetime_event_without_dtend_ends_at_start() {
        let event = read_one("DTSTART:20240301T090000Z\r\n").unwrap();
        assert_eq!(event.end, event.start);
    }

    #[test]
    fn duration_sets_end() {
        let event =
            read_one("DTSTART;TZID=Europe/Berlin:20240330T120000\r\nDURATION:P1DT1H\r\n").unwrap();
        // The day is nominal across the change to summer time on 31 March, the hour exact.
        let EventTime::Zoned { local, .. } = event.end else {
            panic!("{:?}", event.end)
        };
        assert_eq!(local, day(2024, 3, 31).at(13, 0, 0, 0));

        let all_day = read_one("DTSTART;VALUE=DATE:20240301\r\nDURATION:P1W\r\n").unwrap();
        assert_eq!(all_day.end, EventTime::Date(day(2024, 3, 8)));
    }

    #[test]
    fn event_reads_itip_fields() {
        let event = read_one(
            "DTSTART:20240301T090000Z\r\nDTEND:20240301T100000Z\r\nSEQUENCE:3\r\nSTATUS:CANCELLED\r\nTRANSP:TRANSPARENT\r\n\
             ORGANIZER;CN=\"Doe, Jane\":MAILTO:jane@example.org\r\n\
             ATTENDEE;CN=Bob;ROLE=OPT-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.org\r\n\
             SUMMARY:Plan\\, review\\; ship\r\n",
        )
        .unwrap();
        assert_eq!(event.sequence, 3);
        assert_eq!(event.status, Some(Status::Cancelled));
        assert!(event.transparent);
        assert_eq!(event.summary.as_deref(), Some("Plan, review; ship"));
        let organizer = event.organizer.unwrap();
        assert_eq!(organizer.email, "jane@example.org");
        assert_eq!(organizer.name.as_deref(), Some("Doe, Jane"));
        let attendee = &event.attendees[0];
        assert_eq!(attendee.person.email, "bob@example.org");
        assert_eq!(attendee.partstat, PartStat::Accepted);
        assert_eq!(attendee.role, Role::OptParticipant);
        assert!(attendee.rsvp);
    }

    #[test]
    fn event_without_uid_is_skipped() {
        let text =
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20240301T090000Z\nEND:VEVENT\nEND:VCALENDAR\n";
        let imported = parse(text).unwrap();
        assert!(imported.calendar.events.is_empty());
        assert_eq!(imported.skipped[0].line, 2);
        assert!(
            imported.skipped[0].reason.contains("no UID"),
            "{}",
            imported.skipped[0]
        );
    }

    #[test]
    fn event_with_end_before_start_is_skipped() {
        let reason =
            read_one("DTSTART:20240301T090000Z\r\nDTEND:20240301T080000Z\r\n").unwrap_err();
        assert!(reason.contains("DTEND"), "{reason}");
    }

    #[test]
    fn event_with_unknown_zone_is_skipped() {
        let reason = read_one("DTSTART;TZID=Nowhere/Middle:20240301T090000\r\n").unwrap_err();
        assert!(reason.contains("line 5"), "{reason}");
        assert!(reason.contains("Nowhere/Middle"), "{reason}");
    }

    #[test]
    fn event_with_invalid_line_is_skipped() {
        let reason =
            read_one("DTSTART:20240301T090000Z\r\nthis line has no colon\r\n").unwrap_err();
        assert!(reason.contains("line 6"), "{reason}");
    }

    #[test]
    fn recurrence_fields_are_read() {
        let event = read_one(
            "DTSTART;TZID=America/New_York:20240301T090000\r\nRRULE:FREQ=WEEKLY;count=5\r\n\
             EXDATE;TZID=America/New_York:20240308T090000,20240315T090000\r\nRDATE;VALUE=DATE:20240401\r\n",
        )
        .unwrap();
        assert_eq!(event.rrule, ["FREQ=WEEKLY;COUNT=5"]);
        assert_eq!(event.exdates.len(), 2);
        assert_eq!(event.exdates[1].zone().unwrap().tzid(), "America/New_York");
        assert_eq!(event.rdates, [EventTime::Date(day(2024, 4, 1))]);
    }
}
