//! `text/calendar` request bodies (RFC 5545) for new events.
//!
//! The body is a VCALENDAR with exactly one VEVENT. SUMMARY, DESCRIPTION and
//! LOCATION become the title, description and location. DTSTART and DTEND
//! become the start and end: a time with TZID gives an instant and the
//! event's time zone, a UTC time gives an instant, and DATE values make an
//! all-day event. RRULE, RDATE and EXDATE become the recurrence. ORGANIZER
//! and ATTENDEE name users by their `mailto:` address, and the organizer's
//! own ATTENDEE line is dropped. Without ORGANIZER, the authenticated user
//! organizes the event. A VALARM whose TRIGGER is a duration before
//! the start becomes a reminder; other alarms are ignored.
//!
//! Errors name the fields of the JSON form (`start`, `participants/0`), so
//! that clients see the same names whichever format they send.

use convene_domain::{
    AddParticipant, AnswerInvitation, CreateEvent, EmailAddress, FindSlots, NewPushSubscription,
    NewUser, RecurrenceRequest, ReminderOffset, TimeOrDate, UpdateEvent, UpdateUser, UserRef,
};
use convene_ical::{CalendarEvent, EventTime, Limits, parse_bytes};
use convene_recur::Rule;

use crate::{InputError, RequestParser};

/// Parses iCalendar request bodies, which only `parse_create_event` accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct IcalParser;

impl RequestParser for IcalParser {
    fn parse_new_user(&self, _body: &[u8]) -> Result<NewUser, InputError> {
        Err(only_new_events())
    }

    fn parse_create_event(&self, body: &[u8]) -> Result<CreateEvent, InputError> {
        let event = single_event(body)?;
        create_event(&event, &alarm_offsets(body))
    }

    fn parse_add_participant(&self, _body: &[u8]) -> Result<AddParticipant, InputError> {
        Err(only_new_events())
    }

    fn parse_update_user(&self, _body: &[u8]) -> Result<UpdateUser, InputError> {
        Err(only_new_events())
    }

    fn parse_push_subscription(&self, _body: &[u8]) -> Result<NewPushSubscription, InputError> {
        Err(only_new_events())
    }

    fn parse_update_event(&self, _body: &[u8]) -> Result<UpdateEvent, InputError> {
        Err(only_new_events())
    }

    fn parse_find_slots(&self, _body: &[u8]) -> Result<FindSlots, InputError> {
        Err(only_new_events())
    }

    fn parse_answer(&self, _body: &[u8]) -> Result<AnswerInvitation, InputError> {
        Err(only_new_events())
    }
}

fn only_new_events() -> InputError {
    InputError::unsupported_format(
        "text/calendar is accepted only for new events (POST /v1/events); send this request as application/json or application/xml",
    )
}

/// Reads the body's one VEVENT, rejecting bodies with none, several, or one that cannot be read.
fn single_event(body: &[u8]) -> Result<CalendarEvent, InputError> {
    let imported = parse_bytes(body, &Limits::default()).map_err(|err| {
        InputError::malformed(format!(
            "the request body is not a valid iCalendar object: {err}"
        ))
    })?;
    let skipped: Vec<_> = imported
        .skipped
        .iter()
        .filter(|skipped| skipped.component == "VEVENT")
        .collect();
    let count = imported.calendar.events.len() + skipped.len();
    if count != 1 {
        return Err(InputError::invalid(
            "VEVENT",
            format!(
                "the calendar has {count} VEVENT components; send exactly one event per request"
            ),
        ));
    }
    if let Some(skipped) = skipped.first() {
        return Err(InputError::invalid("VEVENT", skipped.to_string()));
    }
    let event = imported
        .calendar
        .events
        .into_iter()
        .next()
        .expect("counted one event");
    if event.recurrence_id.is_some() {
        return Err(InputError::invalid(
            "VEVENT",
            "RECURRENCE-ID marks a change to one occurrence of an existing event; send a new event without it",
        ));
    }
    Ok(event)
}

fn create_event(
    event: &CalendarEvent,
    reminders: &[ReminderOffset],
) -> Result<CreateEvent, InputError> {
    let title = event.summary.clone().ok_or_else(|| {
        InputError::invalid("title", "is required; add a SUMMARY line to the VEVENT")
    })?;
    let organizer = event
        .organizer
        .as_ref()
        .map(|organizer| parse_address("organizer", &organizer.email))
        .transpose()?;

    let mut participants = Vec::new();
    for attendee in &event.attendees {
        if organizer.as_ref().is_some_and(|organizer| {
            attendee
                .person
                .email
                .eq_ignore_ascii_case(organizer.as_str())
        }) {
            continue;
        }
        let field = format!("participants/{}", participants.len());
        participants.push(UserRef::Address(parse_address(
            &field,
            &attendee.person.email,
        )?));
    }

    Ok(CreateEvent {
        title,
        description: event.description.clone(),
        location: event.location.clone(),
        start: time_or_date("start", &event.start)?,
        end: time_or_date("end", &event.end)?,
        time_zone: event
            .start
            .zone()
            .map(|zone| zone_name("start", zone))
            .transpose()?,
        organizer: organizer.map(UserRef::Address),
        participants,
        reminders: reminders.to_vec(),
        recurrence: recurrence(event)?,
    })
}

fn parse_address(field: &str, address: &str) -> Result<EmailAddress, InputError> {
    EmailAddress::parse(field, address).map_err(|err| {
        InputError::invalid(
            field,
            format!(
                "{}; give a mailto: address such as mailto:ann@example.org",
                err.message
            ),
        )
    })
}

fn zone_name(field: &str, zone: &convene_ical::Zone) -> Result<String, InputError> {
    zone.iana_name().map(str::to_owned).ok_or_else(|| {
        InputError::invalid(
            field,
            format!(
                "TZID {:?} is defined only by the calendar's VTIMEZONE; use an IANA time zone name such as Europe/Berlin",
                zone.tzid()
            ),
        )
    })
}

fn time_or_date(field: &str, time: &EventTime) -> Result<TimeOrDate, InputError> {
    match time {
        EventTime::Date(date) => Ok(TimeOrDate::Date(*date)),
        EventTime::Utc(instant) => Ok(TimeOrDate::Time(*instant)),
        EventTime::Zoned { local, zone } => {
            zone_name(field, zone)?;
            // jiff's compatible rule gives a repeated local time its first instant and a
            // skipped one the offset before the gap, as RFC 5545 section 3.3.5 specifies.
            let instant = zone
                .time_zone()
                .to_ambiguous_timestamp(*local)
                .compatible()
                .map_err(|err| {
                    InputError::invalid(field, format!("{local} in {}: {err}", zone.tzid()))
                })?;
            Ok(TimeOrDate::Time(instant))
        }
        EventTime::Floating(local) => Err(InputError::invalid(
            field,
            format!(
                "{local} has no time zone; add a TZID parameter such as TZID=Europe/Berlin or give the time in UTC with a Z suffix"
            ),
        )),
    }
}

fn recurrence(event: &CalendarEvent) -> Result<Option<RecurrenceRequest>, InputError> {
    if event.rrule.is_empty() && event.rdates.is_empty() {
        return Ok(None);
    }
    let rules = event
        .rrule
        .iter()
        .map(|text| {
            Rule::parse(text)
                .map_err(|err| InputError::invalid("recurrence/rrule", format!("{text:?}: {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dates = |name: &str, times: &[EventTime]| -> Result<Vec<TimeOrDate>, InputError> {
        times
            .iter()
            .enumerate()
            .map(|(i, time)| time_or_date(&format!("recurrence/{name}/{i}"), time))
            .collect()
    };
    Ok(Some(RecurrenceRequest {
        rules,
        rdates: dates("rdates", &event.rdates)?,
        exdates: dates("exdates", &event.exdates)?,
    }))
}

/// Reads the reminders from the VALARMs of the body's VEVENT: each TRIGGER that is a
/// negative duration relative to the start (`TRIGGER:-PT15M`) gives an offset. Triggers
/// relative to the end, at a fixed time or after the start have no reminder form and are
/// skipped, as are repeats of an offset.
///
/// NOTE: convene-ical's model has no alarms, so this scans the unfolded content lines
/// itself. Moving alarm reading into convene-ical would keep one iCalendar reader.
fn alarm_offsets(body: &[u8]) -> Vec<ReminderOffset> {
    let text = String::from_utf8_lossy(body);
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    let mut components: Vec<String> = Vec::new();
    let mut offsets: Vec<ReminderOffset> = Vec::new();
    for line in unfolded.lines() {
        let Some((head, value)) = line.split_once(':') else {
            continue;
        };
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_uppercase();
        let value = value.trim();
        match name.as_str() {
            "BEGIN" => components.push(value.to_ascii_uppercase()),
            "END" => {
                components.pop();
            }
            "TRIGGER" if components.ends_with(&["VEVENT".to_owned(), "VALARM".to_owned()]) => {
                let relative_to_start = parts.all(|param| {
                    let param = param.to_ascii_uppercase();
                    param != "RELATED=END" && param != "VALUE=DATE-TIME"
                });
                let Some(before) = value.strip_prefix('-') else {
                    continue;
                };
                if !relative_to_start {
                    continue;
                }
                if let Ok(offset) = ReminderOffset::parse("reminders", before)
                    && !offsets
                        .iter()
                        .any(|known| known.as_str() == offset.as_str())
                {
                    offsets.push(offset);
                }
            }
            _ => {}
        }
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InputErrorKind;
    use jiff::Timestamp;

    fn calendar(event_lines: &str) -> Vec<u8> {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Convene//Test//EN\r\n{event_lines}END:VCALENDAR\r\n"
        )
        .into_bytes()
    }

    const PLANNING: &str = "BEGIN:VEVENT\r\nUID:planning-1\r\nDTSTAMP:20300101T000000Z\r\n\
        SUMMARY:Planning\r\nDESCRIPTION:Quarterly plan\r\nLOCATION:Room 4\r\n\
        DTSTART;TZID=Europe/Berlin:20300115T090000\r\nDTEND;TZID=Europe/Berlin:20300115T100000\r\n\
        RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20300122T090000\r\n\
        ORGANIZER;CN=Ann:mailto:ann@alpha.test\r\nATTENDEE:mailto:ann@alpha.test\r\n\
        ATTENDEE;CN=Bob:mailto:Bob@beta.test\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;RELATED=END:-PT5M\r\nEND:VALARM\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:20300115T070000Z\r\nEND:VALARM\r\n\
        END:VEVENT\r\n";

    #[test]
    fn ok_parse_event_fields() {
        let command = IcalParser.parse_create_event(&calendar(PLANNING)).unwrap();
        assert_eq!(command.title, "Planning");
        assert_eq!(command.description.as_deref(), Some("Quarterly plan"));
        assert_eq!(command.location.as_deref(), Some("Room 4"));
        assert_eq!(
            command.start,
            TimeOrDate::Time("2030-01-15T08:00:00Z".parse::<Timestamp>().unwrap())
        );
        assert_eq!(
            command.end,
            TimeOrDate::Time("2030-01-15T09:00:00Z".parse::<Timestamp>().unwrap())
        );
        assert_eq!(command.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(command.organizer.unwrap().to_string(), "ann@alpha.test");
        assert_eq!(command.participants.len(), 1);
        assert_eq!(command.participants[0].to_string(), "Bob@beta.test");
        let reminders: Vec<&str> = command.reminders.iter().map(|r| r.as_str()).collect();
        assert_eq!(reminders, ["PT15M"]);
        let recurrence = command.recurrence.unwrap();
        assert_eq!(recurrence.rules.len(), 1);
        assert_eq!(
            recurrence.exdates,
            [TimeOrDate::Time("2030-01-22T08:00:00Z".parse().unwrap())]
        );
    }

    #[test]
    fn ok_parse_all_day_dates() {
        let lines = "BEGIN:VEVENT\r\nUID:day-1\r\nSUMMARY:Offsite\r\n\
            DTSTART;VALUE=DATE:20300115\r\nDTEND;VALUE=DATE:20300117\r\n\
            ORGANIZER:mailto:ann@alpha.test\r\nEND:VEVENT\r\n";
        let command = IcalParser.parse_create_event(&calendar(lines)).unwrap();
        assert_eq!(
            command.start,
            TimeOrDate::Date("2030-01-15".parse().unwrap())
        );
        assert_eq!(command.end, TimeOrDate::Date("2030-01-17".parse().unwrap()));
        assert_eq!(command.time_zone, None);
        assert!(command.participants.is_empty());
    }

    #[test]
    fn ok_parse_event_without_organizer() {
        let lines = PLANNING.replace("ORGANIZER;CN=Ann:mailto:ann@alpha.test\r\n", "");
        let command = IcalParser.parse_create_event(&calendar(&lines)).unwrap();
        assert_eq!(command.organizer, None);
        // With no ORGANIZER line, Ann's ATTENDEE line makes her a participant.
        assert_eq!(command.participants.len(), 2);
    }

    #[test]
    fn err_parse_event_names_field() {
        let rows = [
            (PLANNING.replace("SUMMARY:Planning\r\n", ""), "title"),
            (
                PLANNING.replace("mailto:ann@alpha.test", "mailto:ann"),
                "organizer",
            ),
            (
                PLANNING.replace("mailto:Bob@beta.test", "mailto:bob"),
                "participants/0",
            ),
            (
                PLANNING.replace("DTSTART;TZID=Europe/Berlin:", "DTSTART:"),
                "start",
            ),
            (format!("{PLANNING}{PLANNING}"), "VEVENT"),
            (String::new(), "VEVENT"),
        ];
        for (lines, field) in rows {
            let err = IcalParser
                .parse_create_event(&calendar(&lines))
                .unwrap_err();
            assert_eq!(err.kind, InputErrorKind::Invalid, "{field}: {err}");
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
        }
    }

    #[test]
    fn err_parse_other_commands() {
        let err = IcalParser
            .parse_update_event(&calendar(PLANNING))
            .unwrap_err();
        assert!(err.message.contains("only for new events"), "{err}");
        assert_eq!(err.kind, InputErrorKind::UnsupportedFormat);
        let err = IcalParser
            .parse_create_event(b"not a calendar")
            .unwrap_err();
        assert_eq!(err.kind, InputErrorKind::Malformed);
    }
}
