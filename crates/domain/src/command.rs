//! Commands that interfaces hand to the Scheduler.
//!
//! A command carries input that is well-formed on its own (times parse,
//! durations parse, identifiers are identifiers) but not yet checked
//! against stored data: whether the users exist and whether anyone is busy
//! is for the Scheduler to find out.

use jiff::Timestamp;

use crate::{ReminderOffset, UserId};

/// Creates an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEvent {
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA time zone name; the organizer's zone, else UTC, when absent.
    pub time_zone: Option<String>,
    pub organizer: UserId,
    pub participants: Vec<UserId>,
    pub reminders: Vec<ReminderOffset>,
}

/// Adds a participant to an existing event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddParticipant {
    pub user: UserId,
}
