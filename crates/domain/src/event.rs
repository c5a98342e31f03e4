//! Events and the commands that create them.

use jiff::{Timestamp, tz::TimeZone};

use crate::recurrence::{EventRecurrence, Timing};
use crate::user::validate_text;
use crate::{EventId, Interval, ReminderOffset, UserId, ValidationError};

/// Maximum length of a title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Maximum length of a location, in characters.
pub const MAX_LOCATION_CHARS: usize = 500;
/// Maximum length of a description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Maximum number of reminder offsets per event.
pub const MAX_REMINDERS: usize = 20;
/// How many occurrences of a new recurring event are expanded to check its rules.
const CHECKED_OCCURRENCES: usize = 100;
/// Maximum number of participants per event, not counting the organizer.
pub const MAX_PARTICIPANTS: usize = 1_000;

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub interval: Interval,
    /// IANA time zone name in which the event was planned.
    pub time_zone: String,
    pub organizer: UserId,
    /// Participants other than the organizer, in the order they were added.
    pub participants: Vec<UserId>,
    pub reminders: Vec<ReminderOffset>,
    /// The iCalendar SEQUENCE: raised by every change that attendees must reply to again,
    /// such as a new time (RFC 5546, section 2.1.4).
    pub sequence: u32,
    pub status: EventStatus,
    /// Whether the event covers whole days in its time zone; its interval then runs from
    /// local midnight to local midnight, the end date exclusive.
    pub all_day: bool,
    /// The event's recurrence rules and dates; `None` for a single occurrence.
    pub recurrence: Option<EventRecurrence>,
    /// The UID of an event imported from another calendar; Convene's own events have none
    /// and are known by their id.
    pub external_uid: Option<String>,
}

/// A participant's reply to an invitation (the iCalendar PARTSTAT of RFC 5545, section
/// 3.2.12, as far as events use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
}

impl Answer {
    /// Returns the lower-case name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::NeedsAction => "needs-action",
            Answer::Accepted => "accepted",
            Answer::Declined => "declined",
            Answer::Tentative => "tentative",
        }
    }

    /// Parses the name that [`Answer::as_str`] returns.
    pub fn parse(text: &str) -> Option<Answer> {
        match text {
            "needs-action" => Some(Answer::NeedsAction),
            "accepted" => Some(Answer::Accepted),
            "declined" => Some(Answer::Declined),
            "tentative" => Some(Answer::Tentative),
            _ => None,
        }
    }
}

/// Whether an event still takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventStatus {
    Confirmed,
    /// Cancelled by its organizer: kept so that attendees and feeds learn of the
    /// cancellation, but no longer busy time and no longer reminded of.
    Cancelled,
}

impl EventStatus {
    /// Returns the lower-case name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the name that [`EventStatus::as_str`] returns.
    pub fn parse(text: &str) -> Option<EventStatus> {
        match text {
            "confirmed" => Some(EventStatus::Confirmed),
            "cancelled" => Some(EventStatus::Cancelled),
            _ => None,
        }
    }
}

impl Event {
    /// Returns the organizer followed by every participant.
    pub fn attendees(&self) -> Vec<UserId> {
        attendees(self.organizer, &self.participants)
    }

    /// Returns whether `other` may take up other time than this event: its first interval,
    /// all-day flag, recurrence or time zone (in which the recurrence is read) differs.
    pub fn occupies_other_time_than(&self, other: &Event) -> bool {
        self.interval != other.interval
            || self.all_day != other.all_day
            || self.recurrence != other.recurrence
            || self.time_zone != other.time_zone
    }

    /// Returns the event's time zone, or UTC if the stored name is no longer known.
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// Returns when the event takes place, read in `zone`, which should be
    /// [`Event::zone`].
    pub fn timing<'a>(&'a self, zone: &'a TimeZone) -> Timing<'a> {
        Timing {
            interval: self.interval,
            zone,
            all_day: self.all_day,
            recurrence: self.recurrence.as_ref(),
        }
    }
}

/// A validated request to create an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub interval: Interval,
    pub time_zone: String,
    pub organizer: UserId,
    pub participants: Vec<UserId>,
    pub reminders: Vec<ReminderOffset>,
    pub all_day: bool,
    pub recurrence: Option<EventRecurrence>,
}

/// The raw parts of a [`NewEvent`], before validation.
#[derive(Debug, Clone)]
pub struct NewEventParts<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub location: Option<&'a str>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub time_zone: &'a str,
    pub organizer: UserId,
    pub participants: Vec<UserId>,
    pub reminders: Vec<ReminderOffset>,
    /// Whether `start` and `end` are local midnights that bound whole days.
    pub all_day: bool,
    pub recurrence: Option<EventRecurrence>,
}

impl NewEvent {
    /// Validates the parts. Participants are deduplicated, and the organizer
    /// is removed from them because the organizer always attends.
    pub fn new(parts: NewEventParts<'_>) -> Result<NewEvent, ValidationError> {
        let title = validate_text("title", parts.title, MAX_TITLE_CHARS)?;
        let location = parts
            .location
            .map(|location| validate_text("location", location, MAX_LOCATION_CHARS))
            .transpose()?;
        let description = parts.description.map(validate_description).transpose()?;
        let interval = Interval::new(parts.start, parts.end, "end")?;
        let time_zone = crate::user::validate_time_zone("time_zone", parts.time_zone)?;

        let mut participants = Vec::with_capacity(parts.participants.len());
        for user in parts.participants {
            if user != parts.organizer && !participants.contains(&user) {
                participants.push(user);
            }
        }
        if participants.len() > MAX_PARTICIPANTS {
            return Err(ValidationError::new(
                "participants",
                format!("at most {MAX_PARTICIPANTS} participants are allowed"),
            ));
        }
        if parts.reminders.len() > MAX_REMINDERS {
            return Err(ValidationError::new(
                "reminders",
                format!("at most {MAX_REMINDERS} reminders are allowed"),
            ));
        }
        let mut reminders: Vec<ReminderOffset> = Vec::with_capacity(parts.reminders.len());
        for offset in parts.reminders {
            if !reminders.contains(&offset) {
                reminders.push(offset);
            }
        }

        let new_event = NewEvent {
            title,
            description,
            location,
            interval,
            time_zone,
            organizer: parts.organizer,
            participants,
            reminders,
            all_day: parts.all_day,
            recurrence: parts.recurrence,
        };
        // A rule that cannot be expanded is rejected now, with the expander's reason,
        // rather than failing every later busy-time lookup.
        let zone = TimeZone::get(&new_event.time_zone).unwrap_or(TimeZone::UTC);
        let timing = Timing {
            interval: new_event.interval,
            zone: &zone,
            all_day: new_event.all_day,
            recurrence: new_event.recurrence.as_ref(),
        };
        timing
            .check(CHECKED_OCCURRENCES)
            .map_err(|err| ValidationError::new("recurrence/rrule", err.to_string()))?;
        // Reject offsets whose due time cannot be computed now, rather than
        // failing later in the Notifier.
        new_event.reminder_due_times()?;
        Ok(new_event)
    }

    /// Returns the organizer followed by every participant.
    pub fn attendees(&self) -> Vec<UserId> {
        attendees(self.organizer, &self.participants)
    }

    /// Gives the new event its identifier.
    pub fn into_event(self, id: EventId) -> Event {
        Event {
            id,
            title: self.title,
            description: self.description,
            location: self.location,
            interval: self.interval,
            time_zone: self.time_zone,
            organizer: self.organizer,
            participants: self.participants,
            reminders: self.reminders,
            sequence: 0,
            status: EventStatus::Confirmed,
            all_day: self.all_day,
            recurrence: self.recurrence,
            external_uid: None,
        }
    }

    /// Computes the due time of every reminder offset, in offset order.
    pub fn reminder_due_times(&self) -> Result<Vec<(ReminderOffset, Timestamp)>, ValidationError> {
        reminder_due_times(&self.reminders, self.interval.start(), &self.time_zone)
    }
}

impl Event {
    /// Computes the due time of every reminder offset, in offset order.
    pub fn reminder_due_times(&self) -> Result<Vec<(ReminderOffset, Timestamp)>, ValidationError> {
        reminder_due_times(&self.reminders, self.interval.start(), &self.time_zone)
    }
}

/// Computes when each of `reminders` is due for an event starting at `start` in the zone
/// named `time_zone`, in offset order.
pub fn reminder_due_times(
    reminders: &[ReminderOffset],
    start: Timestamp,
    time_zone: &str,
) -> Result<Vec<(ReminderOffset, Timestamp)>, ValidationError> {
    let tz = TimeZone::get(time_zone).map_err(|_| {
        ValidationError::new(
            "time_zone",
            format!("{time_zone:?} is not a known time zone"),
        )
    })?;
    reminders
        .iter()
        .enumerate()
        .map(|(i, offset)| {
            offset
                .due_at(start, &tz)
                .map(|due| (offset.clone(), due))
                .map_err(|err| ValidationError::new(format!("reminders/{i}/before"), err.message))
        })
        .collect()
}

fn attendees(organizer: UserId, participants: &[UserId]) -> Vec<UserId> {
    let mut all = Vec::with_capacity(participants.len() + 1);
    all.push(organizer);
    all.extend(
        participants
            .iter()
            .copied()
            .filter(|user| *user != organizer),
    );
    all
}

fn validate_description(value: &str) -> Result<String, ValidationError> {
    if value.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ValidationError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters long"),
        ));
    }
    let allowed = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
    if !value.chars().all(allowed) {
        return Err(ValidationError::new(
            "description",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(organizer: UserId, participants: Vec<UserId>) -> NewEventParts<'a> {
        NewEventParts {
            title: "Planning",
            description: None,
            location: Some("Room 1"),
            start: "2030-01-01T10:00:00Z".parse().unwrap(),
            end: "2030-01-01T11:00:00Z".parse().unwrap(),
            time_zone: "UTC",
            organizer,
            participants,
            reminders: vec![ReminderOffset::parse("before", "PT15M").unwrap()],
            all_day: false,
            recurrence: None,
        }
    }

    #[test]
    fn new_event_deduplicates_participants_and_organizer() {
        let organizer = UserId::generate();
        let guest = UserId::generate();
        let event = NewEvent::new(parts(organizer, vec![guest, organizer, guest])).unwrap();
        assert_eq!(event.participants, vec![guest]);
        assert_eq!(event.attendees(), vec![organizer, guest]);
    }

    #[test]
    fn new_event_rejects_end_before_start() {
        let mut bad = parts(UserId::generate(), vec![]);
        bad.end = "2030-01-01T09:00:00Z".parse().unwrap();
        assert_eq!(NewEvent::new(bad).unwrap_err().field, "end");
    }

    #[test]
    fn new_event_rejects_blank_title() {
        let mut bad = parts(UserId::generate(), vec![]);
        bad.title = "   ";
        assert_eq!(NewEvent::new(bad).unwrap_err().field, "title");
    }

    #[test]
    fn new_event_computes_reminder_due_times() {
        let event = NewEvent::new(parts(UserId::generate(), vec![])).unwrap();
        let due = event.reminder_due_times().unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            due[0].1,
            "2030-01-01T09:45:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
