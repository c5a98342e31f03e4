//! Turning the events of an imported calendar into a person's busy time.

use std::collections::HashMap;

use convene_domain::event::{MAX_DESCRIPTION_CHARS, MAX_LOCATION_CHARS, MAX_TITLE_CHARS};
use convene_domain::{Event, EventId, EventRecurrence, EventStatus, Interval, User};
use convene_ical::{Calendar, CalendarEvent, EventTime, Status};
use convene_recur::Rule;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// The maximum number of events one import may store.
pub const MAX_IMPORTED_EVENTS: usize = 10_000;

/// The events of an imported calendar as the owner's busy time, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct ImportedEvents {
    pub events: Vec<Event>,
    pub skipped: Vec<SkippedEvent>,
}

/// A VEVENT that an import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEvent {
    pub uid: String,
    pub reason: String,
}

/// Maps the events of `calendar` to events organized by `owner`, who attends alone, with no
/// reminders and the UID of the file.
///
/// Times keep their zone when it is an IANA zone. A floating time or a date is read in the
/// owner's zone, as a calendar shows it to its owner. A zone that the file alone defines is
/// used for the instants, and the event is then planned in UTC. Events that take no time
/// (cancelled or transparent) are skipped with a reason, as are events whose rules Convene
/// cannot read. An overridden instance (RECURRENCE-ID) becomes an event of its own, and its
/// original start an EXDATE of the series; a cancelled instance only the EXDATE.
pub fn import_events(calendar: &Calendar, owner: &User) -> ImportedEvents {
    let owner_zone = owner.zone();
    let owner_zone_name = owner.time_zone.clone().unwrap_or_else(|| "UTC".to_owned());
    let mut imported = ImportedEvents::default();
    let mut series: HashMap<&str, usize> = HashMap::new();
    let mut overrides = Vec::new();

    for source in &calendar.events {
        if imported.events.len() >= MAX_IMPORTED_EVENTS {
            imported.skipped.push(skip(
                source,
                format!("the import already holds the maximum of {MAX_IMPORTED_EVENTS} events"),
            ));
            continue;
        }
        if source.recurrence_id.is_some() {
            overrides.push(source);
            continue;
        }
        if let Some(reason) = not_busy(source) {
            imported.skipped.push(skip(source, reason.to_owned()));
            continue;
        }
        match to_event(source, owner, &owner_zone, &owner_zone_name) {
            Ok(event) => {
                series.insert(&source.uid, imported.events.len());
                imported.events.push(event);
            }
            Err(reason) => imported.skipped.push(skip(source, reason)),
        }
    }

    for source in overrides {
        let Some(&index) = series.get(source.uid.as_str()) else {
            imported.skipped.push(skip(
                source,
                "it overrides an instance of a recurring event that the file does not hold"
                    .to_owned(),
            ));
            continue;
        };
        let zone = imported.events[index].zone();
        let recurrence_id = source
            .recurrence_id
            .as_ref()
            .expect("only overrides are kept");
        let Some(original) = instant(recurrence_id, &zone) else {
            imported
                .skipped
                .push(skip(source, "its RECURRENCE-ID is out of range".to_owned()));
            continue;
        };
        if let Some(recurrence) = imported.events[index].recurrence.as_mut() {
            recurrence.exdates.push(original);
        }
        if not_busy(source).is_some() {
            continue;
        }
        match to_event(source, owner, &owner_zone, &owner_zone_name) {
            Ok(mut event) => {
                // The override replaces one instance; it does not repeat itself.
                event.recurrence = None;
                imported.events.push(event);
            }
            Err(reason) => imported.skipped.push(skip(source, reason)),
        }
    }
    imported
}

/// Returns why an event takes no time, if it takes none.
fn not_busy(source: &CalendarEvent) -> Option<&'static str> {
    if source.status == Some(Status::Cancelled) {
        return Some("it is cancelled");
    }
    if source.transparent {
        return Some("it is marked as free time (TRANSP:TRANSPARENT)");
    }
    None
}

fn skip(source: &CalendarEvent, reason: String) -> SkippedEvent {
    SkippedEvent {
        uid: source.uid.clone(),
        reason,
    }
}

/// Maps one VEVENT, or returns why it cannot be imported.
fn to_event(
    source: &CalendarEvent,
    owner: &User,
    owner_zone: &TimeZone,
    owner_zone_name: &str,
) -> Result<Event, String> {
    let all_day = matches!(source.start, EventTime::Date(_));
    let (zone, time_zone) = match source.start.zone() {
        Some(zone) => match zone.iana_name() {
            Some(name) => (zone.time_zone(), name.to_owned()),
            // NOTE: a zone that only the file defines is kept for the instants but not for
            // later expansion, which then reads the rules in UTC and drifts by an hour
            // across daylight saving changes. Storing the zone's rules with the event would
            // keep every occurrence right.
            None => (zone.time_zone(), "UTC".to_owned()),
        },
        None => match source.start {
            EventTime::Utc(_) => (TimeZone::UTC, "UTC".to_owned()),
            _ => (owner_zone.clone(), owner_zone_name.to_owned()),
        },
    };
    let start = instant(&source.start, &zone).ok_or("its DTSTART is out of range")?;
    let end = instant(&source.end, &zone).ok_or("its DTEND is out of range")?;
    let interval = if end > start {
        Interval::from_ordered(start, end)
    } else {
        // An event without length (DTEND equal to DTSTART) takes no time, but is kept as the
        // shortest interval so that it still shows in exports.
        let end = start
            .checked_add(jiff::SignedDuration::from_micros(1))
            .map_err(|_| "its DTSTART is out of range")?;
        Interval::from_ordered(start, end)
    };

    let recurrence = if source.rrule.is_empty() && source.rdates.is_empty() {
        None
    } else {
        let rules = source
            .rrule
            .iter()
            .map(|text| Rule::parse(text).map_err(|err| format!("its RRULE {text:?}: {err}")))
            .collect::<Result<Vec<_>, _>>()?;
        let dates = |values: &[EventTime]| -> Result<Vec<Timestamp>, String> {
            values
                .iter()
                .map(|value| instant(value, &zone).ok_or_else(|| "a date is out of range".into()))
                .collect()
        };
        Some(
            EventRecurrence::new(
                "recurrence",
                rules,
                dates(&source.rdates)?,
                dates(&source.exdates)?,
            )
            .map_err(|err| err.to_string())?,
        )
    };

    let event = Event {
        id: EventId::generate(),
        title: text(source.summary.as_deref(), MAX_TITLE_CHARS, false)
            .unwrap_or_else(|| "(no title)".to_owned()),
        description: text(source.description.as_deref(), MAX_DESCRIPTION_CHARS, true),
        location: text(source.location.as_deref(), MAX_LOCATION_CHARS, false),
        interval,
        time_zone,
        organizer: owner.id,
        participants: Vec::new(),
        reminders: Vec::new(),
        sequence: source.sequence,
        status: EventStatus::Confirmed,
        all_day,
        recurrence,
        external_uid: Some(source.uid.clone()),
    };
    let zone = event.zone();
    event
        .timing(&zone)
        .check(100)
        .map_err(|err| format!("its recurrence cannot be expanded: {err}"))?;
    Ok(event)
}

/// Returns the instant of a DTSTART, DTEND, RDATE or EXDATE, reading dates and floating
/// times in `zone`.
fn instant(value: &EventTime, zone: &TimeZone) -> Option<Timestamp> {
    let local = |datetime: DateTime, zone: &TimeZone| {
        zone.to_ambiguous_timestamp(datetime).compatible().ok()
    };
    match value {
        EventTime::Utc(instant) => Some(*instant),
        EventTime::Zoned {
            local: datetime,
            zone,
        } => local(*datetime, &zone.time_zone()),
        EventTime::Floating(datetime) => local(*datetime, zone),
        EventTime::Date(date) => local(midnight(*date), zone),
    }
}

fn midnight(date: Date) -> DateTime {
    date.to_datetime(Time::midnight())
}

/// Returns a text property cut to `max_chars`, with every control character replaced by a
/// space, except line breaks and tabs where `multiline` allows them, or `None` when it is
/// empty.
fn text(value: Option<&str>, max_chars: usize, multiline: bool) -> Option<String> {
    let kept = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\t'));
    let cleaned: String = value?
        .chars()
        .map(|c| if kept(c) { c } else { ' ' })
        .take(max_chars)
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}
