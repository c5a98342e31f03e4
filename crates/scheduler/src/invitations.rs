//! The port through which the Scheduler sends invitations, change and cancellation
//! notices, and participants' replies to the organizer.

use async_trait::async_trait;
use convene_domain::{Answer, Event, User};

/// The iTIP method of an invitation message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationKind {
    /// The event is new or changed, or the recipient was added; a reply is expected.
    Request,
    /// The event is cancelled, or the recipients were taken off it.
    Cancel,
    /// A participant's reply, sent to the organizer.
    Reply,
}

/// One change to send notices of: the event as it is now, with every attendee's reply.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub kind: InvitationKind,
    pub event: Event,
    pub organizer: User,
    /// The attendees still on the event, the organizer included, with their answers.
    pub attendees: Vec<(User, Answer)>,
    /// The recipients of a message each. For a cancellation of one person, that person, who
    /// is no longer among `attendees`; for a reply, the organizer.
    pub recipients: Vec<User>,
    /// For a reply, the participant who answered.
    pub answering: Option<User>,
}

/// Sends invitations. The Scheduler calls it after a change is stored, so a failure to send
/// never undoes the change. The implementation logs its own failures.
#[async_trait]
pub trait Invitations: Send + Sync {
    async fn send(&self, invitation: Invitation);
}
