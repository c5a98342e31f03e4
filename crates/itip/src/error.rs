//! The reasons an invitation cannot be built.

use convene_domain::UserId;
use thiserror::Error;

/// The reason [`invitation`](crate::invitation) rejected its input. Each variant names the
/// argument that is wrong and what a valid call passes instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ItipError {
    /// The `organizer` argument is not the user that organizes the event.
    #[error("invalid organizer: user {given} is not the organizer {expected} of the event")]
    OrganizerMismatch { expected: UserId, given: UserId },
    /// A request or cancellation was addressed to the organizer, who sends them.
    #[error(
        "invalid recipient: user {recipient} organizes the event; \
         requests and cancellations go to participants"
    )]
    RecipientIsOrganizer { recipient: UserId },
    /// A request, or the cancellation of a whole event, was addressed to someone who is not
    /// among `attendees`.
    #[error(
        "invalid recipient: user {recipient} is not among the attendees; \
         pass their AttendeeState or send them nothing"
    )]
    RecipientNotInvited { recipient: UserId },
    /// A cancellation of a confirmed event was addressed to someone who is still among
    /// `attendees`. Such a cancellation removes the recipient, so they must be removed first.
    #[error(
        "invalid recipient: user {recipient} is still an attendee of the confirmed event; \
         remove them from the attendees or cancel the event first"
    )]
    RecipientStillInvited { recipient: UserId },
    /// A request was built for a cancelled event.
    #[error("invalid kind: the event is cancelled; send InvitationKind::Cancel instead of Request")]
    EventCancelled,
    /// A reply was addressed to someone other than the organizer.
    #[error("invalid recipient: a reply goes to the organizer, not to user {recipient}")]
    ReplyNotToOrganizer { recipient: UserId },
    /// The answering attendee of a reply is not among `attendees`.
    #[error("invalid reply: user {attendee} is not among the attendees; pass their AttendeeState")]
    UnknownAttendee { attendee: UserId },
    /// The answering attendee of a reply has not answered yet.
    #[error(
        "invalid reply: user {attendee} has PARTSTAT NEEDS-ACTION; a reply carries \
         ACCEPTED, DECLINED, TENTATIVE or DELEGATED"
    )]
    ReplyWithoutAnswer { attendee: UserId },
    /// A user's stored e-mail address is not accepted by the mail crate.
    #[error("invalid e-mail address {address:?} of {role}: {reason}")]
    InvalidAddress {
        /// `recipient` or `reply-to`.
        role: &'static str,
        address: String,
        reason: String,
    },
}
