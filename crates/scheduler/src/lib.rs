//! The Scheduler: books events, manages their participants and answers
//! free/busy questions.
//!
//! This crate hides the booking rules: which attendees are checked for
//! conflicts, which time zone an event falls back to, and which reminder
//! deliveries an event plans for whom. It takes commands from any
//! interface (`convene_domain::command`) and works through the
//! `convene_store::Store` trait; it never parses requests, renders
//! responses or sends messages.
//!
//! Every method takes `now` from its caller, so that tests and replays
//! decide what time it is.
//!
//! Layout:
//! - [`service`]: the [`Scheduler`] itself.
//! - [`planning`]: which reminder deliveries an event produces.
//! - [`invitations`]: the port through which invitations go out.
//! - [`access`]: callers and the rules of who may read or change what.
//! - `secrets`: the secret tokens of calendar feeds and of the API.
//! - `timing`: reading requested times, dates and recurrences in an event's zone.
//! - [`error`] defines [`SchedulerError`].

pub mod access;
pub mod error;
pub mod invitations;
pub mod planning;
mod secrets;
pub mod service;
mod timing;

pub use access::Caller;
pub use error::SchedulerError;
pub use invitations::{Invitation, InvitationKind, Invitations};
pub use service::{MAX_PUSH_SUBSCRIPTIONS, Scheduler};
