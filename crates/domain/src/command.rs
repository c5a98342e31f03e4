//! Commands that interfaces hand to the Scheduler.
//!
//! A command carries input that is well-formed on its own (times parse,
//! durations parse, identifiers are identifiers) but not yet checked
//! against stored data: whether the users exist and whether anyone is busy
//! is for the Scheduler to find out.

use convene_recur::Rule;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::{EmailAddress, ReminderOffset, UserId, WorkingHours};

/// A start or end as a request gives it: an instant, or a date for an all-day event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrDate {
    Time(Timestamp),
    /// A whole local day in the event's time zone; as an end, the first day after the event.
    Date(Date),
}

impl From<Timestamp> for TimeOrDate {
    fn from(instant: Timestamp) -> TimeOrDate {
        TimeOrDate::Time(instant)
    }
}

/// A user as a request names them: by id, or by e-mail address for formats such as
/// iCalendar that identify people only by address. The Scheduler looks the address up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(UserId),
    Address(EmailAddress),
}

impl From<UserId> for UserRef {
    fn from(id: UserId) -> UserRef {
        UserRef::Id(id)
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserRef::Id(id) => write!(formatter, "{id}"),
            UserRef::Address(address) => write!(formatter, "{address}"),
        }
    }
}

/// The recurrence of a requested event, before its dates are read in the event's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecurrenceRequest {
    pub rules: Vec<Rule>,
    pub rdates: Vec<TimeOrDate>,
    pub exdates: Vec<TimeOrDate>,
}

/// Creates an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEvent {
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    /// Both times, or both dates for an all-day event.
    pub start: TimeOrDate,
    pub end: TimeOrDate,
    /// IANA time zone name; the organizer's zone, else UTC, when absent.
    pub time_zone: Option<String>,
    /// The organizer; the authenticated user when absent.
    pub organizer: Option<UserRef>,
    pub participants: Vec<UserRef>,
    pub reminders: Vec<ReminderOffset>,
    pub recurrence: Option<RecurrenceRequest>,
}

/// Adds a participant to an existing event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddParticipant {
    pub user: UserId,
}

/// Changes some of a user's settings; an absent field keeps its value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `Some(None)` removes the time zone, so that times are read in UTC.
    pub time_zone: Option<Option<String>>,
    pub working_hours: Option<WorkingHours>,
    /// `Some(None)` removes the telephone number.
    pub phone: Option<Option<crate::PhoneNumber>>,
    /// New default reminders.
    pub reminders: Option<Vec<crate::ReminderOffset>>,
    /// New reminder channels.
    pub channels: Option<Vec<crate::ChannelKind>>,
}

/// Asks for the earliest times when all participants are free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindSlots {
    pub participants: Vec<UserId>,
    pub duration: SignedDuration,
    pub from: Timestamp,
    pub to: Timestamp,
    /// How many slots to return; the Scheduler's default when absent.
    pub count: Option<usize>,
    /// The step between possible starts; the Scheduler's default when absent.
    pub granularity: Option<SignedDuration>,
}

/// Changes some fields of an event; an absent field keeps its value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateEvent {
    pub title: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// `Some(None)` removes the location.
    pub location: Option<Option<String>>,
    pub start: Option<TimeOrDate>,
    pub end: Option<TimeOrDate>,
    pub time_zone: Option<String>,
    pub reminders: Option<Vec<ReminderOffset>>,
    /// `Some(None)` makes the event a single occurrence.
    pub recurrence: Option<Option<RecurrenceRequest>>,
}

/// A participant's reply to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerInvitation {
    /// The attendee who replies; the authenticated user when absent.
    pub user: Option<UserId>,
    pub answer: crate::Answer,
}
