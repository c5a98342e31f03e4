//! Invitations as iMIP e-mail (iTIP of RFC 5546 over the e-mail binding of RFC 6047).
//!
//! This crate hides how a Convene event becomes an iTIP object and an e-mail: the UID
//! (`<event id>@<uid domain>`, the same for every update), which properties and attendees
//! each method carries, the wording of subjects and bodies, and the MIME layout. It maps
//! domain types to `convene_ical` types and builds `convene_mail` messages, but sends
//! nothing and reads no clock: callers pass `now` and hand the message to the mail queue.
//!
//! - [`calendar_event`] maps an event to one VEVENT.
//! - [`invitation`] builds one message for one recipient: a request (new or changed
//!   event), a cancellation (of the whole event, or of one removed attendee) or a reply
//!   (a participant's answer, sent to the organizer).
//! - [`calendar_file`] writes events for exports and subscribed feeds, without METHOD.
//!
//! Layout:
//! - `mapping`: events, organizers and attendees to `convene_ical` types.
//! - `invitation`: the checks and the iTIP content of each kind of message.
//! - `render`: subjects and the text and HTML bodies.
//! - `error`: [`ItipError`].

mod error;
mod import;
mod invitation;
mod mapping;
mod render;

pub use convene_ical::PartStat;
pub use error::ItipError;
pub use import::{ImportedEvents, MAX_IMPORTED_EVENTS, SkippedEvent, import_events};
pub use invitation::{ATTACHMENT_NAME, InvitationKind, invitation};
pub use mapping::{AttendeeState, calendar_event, calendar_file, event_uid};

#[cfg(test)]
mod tests;
