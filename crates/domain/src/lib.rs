//! Convene's domain model: users, events, busy intervals, reminders and
//! their per-recipient deliveries.
//!
//! This crate hides how the scheduling concepts are represented in memory
//! and which invariants they keep (an interval ends after it starts, a
//! reminder offset is never negative, an e-mail address has no control
//! characters). It performs no I/O and knows nothing of JSON, SQL, HTTP or
//! SMTP; every other Convene crate may depend on it, and it depends on none
//! of them.
//!
//! Layout:
//! - [`id`]: opaque identifiers for users, events, deliveries and messages.
//! - [`interval`]: half-open `[start, end)` time ranges and their overlap rule.
//! - [`user`]: people who organize and attend events.
//! - [`event`]: events and the commands that create or change them.
//! - [`reminder`]: reminder offsets and the deliveries planned from them.
//! - [`mail`]: messages in the mail queue and each recipient's status.
//! - [`push`]: the Web Push subscriptions of a person's browsers.
//! - [`conflict`]: busy time reported when a booking would overlap.
//! - [`command`]: requests that interfaces hand to the Scheduler.
//! - [`error`]: validation errors that name the offending field.

pub mod command;
pub mod conflict;
pub mod error;
pub mod event;
pub mod id;
pub mod interval;
pub mod mail;
pub mod push;
pub mod recurrence;
pub mod reminder;
pub mod slots;
pub mod user;
pub mod working_hours;

pub use command::{
    AddParticipant, AnswerInvitation, CreateEvent, FindSlots, RecurrenceRequest, TimeOrDate,
    UpdateEvent, UpdateUser, UserRef,
};
pub use conflict::Conflict;
pub use error::ValidationError;
pub use event::{Answer, Event, EventStatus, NewEvent, NewEventParts};
pub use id::{DeliveryId, EventId, FeedId, MessageId, PushSubscriptionId, TokenId, UserId};
pub use interval::Interval;
pub use mail::{
    ClaimedMail, ClaimedRecipient, MailAttemptRecord, MailMessage, MailRecipient, MailState,
    OutgoingMessage, OutgoingRecipient,
};
pub use push::{NewPushSubscription, PushSubscription};
pub use recurrence::{EventRecurrence, RecurrenceError, Timing};
pub use reminder::{
    ChannelKind, Delivery, DeliveryAttempt, DeliveryOutcome, DeliveryState, ReminderOffset,
};
pub use user::{ApiToken, EmailAddress, NewUser, PhoneNumber, ReminderPreferences, User};
pub use working_hours::{WorkingHours, WorkingPeriod};
