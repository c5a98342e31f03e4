//! Events, organizers and attendees as `convene_ical` types.

use convene_domain::{Event, EventStatus, User};
use convene_ical::{
    Attendee, Calendar, CalendarEvent, EventTime, PartStat, Person, Role, Status, Zone,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The names of UTC itself in jiff's time zone database. An event planned in one of them is
/// written with UTC times (`Z` suffix) and needs no VTIMEZONE.
const UTC_NAMES: [&str; 8] = [
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "Etc/Universal",
    "Universal",
    "Etc/Zulu",
    "Zulu",
];

/// A participant of an event with their answer to the invitation.
///
/// The domain keeps no iCalendar types, so the answer lives here and callers look it up
/// wherever they store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeState {
    pub user: User,
    pub partstat: PartStat,
}

/// Returns the UID of an event: `<event id>@<uid_domain>`, or the UID it was imported with,
/// the same for every update and cancellation, so calendar clients match them to the event
/// they stored.
pub fn event_uid(event: &Event, uid_domain: &str) -> String {
    match &event.external_uid {
        Some(uid) => uid.clone(),
        None => format!("{}@{uid_domain}", event.id),
    }
}

/// Maps an event to a VEVENT as an iTIP REQUEST carries it.
///
/// The VEVENT has the UID of [`event_uid`], DTSTAMP `now`, the event's SEQUENCE, SUMMARY,
/// DESCRIPTION, LOCATION and STATUS, and DTSTART and DTEND as local times with TZID set to
/// the event's zone, or in UTC for an event planned in UTC. ORGANIZER carries the
/// organizer's name as CN.
///
/// The organizer is listed as the first ATTENDEE as well, with PARTSTAT=ACCEPTED (or the
/// state given for them in `attendees`), because Convene's organizer always attends and
/// clients then count them among the guests. Every other entry of `attendees`
/// becomes one ATTENDEE with ROLE=REQ-PARTICIPANT, its PARTSTAT, and RSVP=TRUE while the
/// PARTSTAT is NEEDS-ACTION. No VALARM is written: reminders are Convene's own.
pub fn calendar_event(
    event: &Event,
    organizer: &User,
    attendees: &[AttendeeState],
    uid_domain: &str,
    now: Timestamp,
) -> CalendarEvent {
    let zone = event_zone(&event.time_zone);
    let start = moment(event, event.interval.start(), zone.as_ref());
    let end = moment(event, event.interval.end(), zone.as_ref());

    let mut calendar_event = CalendarEvent::new(event_uid(event, uid_domain), start, end);
    calendar_event.sequence = event.sequence;
    calendar_event.dtstamp = Some(now);
    calendar_event.summary = Some(event.title.clone());
    calendar_event.description = event.description.clone();
    calendar_event.location = event.location.clone();
    calendar_event.status = Some(match event.status {
        EventStatus::Confirmed => Status::Confirmed,
        EventStatus::Cancelled => Status::Cancelled,
    });
    calendar_event.organizer = Some(person(organizer));

    let organizer_partstat = attendees
        .iter()
        .find(|state| state.user.id == organizer.id)
        .map_or(PartStat::Accepted, |state| state.partstat.clone());
    calendar_event.attendees.push(Attendee {
        person: person(organizer),
        partstat: organizer_partstat,
        rsvp: false,
        role: Role::ReqParticipant,
    });
    calendar_event.attendees.extend(
        attendees
            .iter()
            .filter(|state| state.user.id != organizer.id)
            .map(attendee),
    );

    map_recurrence(event, &mut calendar_event);
    calendar_event
}

/// Writes events as an iCalendar file for an export or a subscribed feed.
///
/// The file has no METHOD property: RFC 5545, section 3.7.2, states that an object without
/// METHOD is a snapshot of calendar data and no scheduling transaction, which is what a
/// feed is. `METHOD:PUBLISH` would make the file an iTIP message instead, whose RFC 5546
/// constraints a feed with attendees does not meet.
pub fn calendar_file(events: Vec<CalendarEvent>) -> String {
    convene_ical::write(&Calendar {
        method: None,
        events,
    })
}

/// Returns the CN and address of a user.
pub(crate) fn person(user: &User) -> Person {
    Person {
        email: user.email.as_str().to_owned(),
        name: Some(user.name.clone()),
    }
}

/// Returns a participant's ATTENDEE, with RSVP=TRUE while they have not answered.
pub(crate) fn attendee(state: &AttendeeState) -> Attendee {
    Attendee {
        person: person(&state.user),
        partstat: state.partstat.clone(),
        rsvp: state.partstat == PartStat::NeedsAction,
        role: Role::ReqParticipant,
    }
}

/// Returns the zone for TZID, or `None` for UTC.
///
/// A name that jiff does not know also yields `None`, so its times are written in UTC: the
/// instants stay right and only the zone shown to readers is lost. The domain validates
/// zone names, so this happens only when the time zone database loses a name.
fn event_zone(name: &str) -> Option<Zone> {
    if UTC_NAMES.iter().any(|utc| utc.eq_ignore_ascii_case(name)) {
        return None;
    }
    Zone::iana(name)
}

/// Returns `instant` as a local time in `zone`, or in UTC without a zone.
///
/// A local time that occurs twice, in the hour repeated when clocks go back, is read as its
/// first occurrence (RFC 5545, section 3.3.5). An instant in the second occurrence is
/// therefore written in UTC, which names it without ambiguity.
fn event_time(instant: Timestamp, zone: Option<&Zone>) -> EventTime {
    let Some(zone) = zone else {
        return EventTime::Utc(instant);
    };
    let time_zone = zone.time_zone();
    let local = instant.to_zoned_datetime(time_zone.clone()).datetime();
    let read_back = time_zone.to_ambiguous_timestamp(local).compatible();
    if read_back.ok() != Some(instant) {
        return EventTime::Utc(instant);
    }
    EventTime::Zoned {
        local,
        zone: zone.clone(),
    }
}

/// Returns a start, end, RDATE or EXDATE of `event`: a date for an all-day event, read in
/// the event's zone, and a time otherwise.
fn moment(event: &Event, instant: Timestamp, zone: Option<&Zone>) -> EventTime {
    if event.all_day {
        let time_zone = zone.map_or(TimeZone::UTC, Zone::time_zone);
        return EventTime::Date(instant.to_zoned_datetime(time_zone).date());
    }
    event_time(instant, zone)
}

/// Adds the event's recurrence to the VEVENT: its RRULE values, and its RDATEs and EXDATEs
/// in the same form as DTSTART, so that every instance keeps its wall-clock time across
/// daylight saving changes.
fn map_recurrence(event: &Event, calendar_event: &mut CalendarEvent) {
    let Some(recurrence) = &event.recurrence else {
        return;
    };
    let zone = event_zone(&event.time_zone);
    calendar_event.rrule = recurrence.rules.iter().map(ToString::to_string).collect();
    calendar_event.rdates = recurrence
        .rdates
        .iter()
        .map(|instant| moment(event, *instant, zone.as_ref()))
        .collect();
    calendar_event.exdates = recurrence
        .exdates
        .iter()
        .map(|instant| moment(event, *instant, zone.as_ref()))
        .collect();
}
