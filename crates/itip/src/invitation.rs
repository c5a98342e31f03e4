//! One iMIP message per recipient: the checks and the iTIP content of each kind.

use convene_domain::{Event, EventStatus, User, UserId};
use convene_ical::{Calendar, CalendarEvent, Method, PartStat};
use convene_mail::{Address, Attachment, Mailbox, Message};
use jiff::Timestamp;

use crate::error::ItipError;
use crate::mapping::{AttendeeState, attendee, calendar_event};
use crate::render::{Rendered, render};

/// The file name of the copy of the iCalendar object attached to every message.
///
/// Calendar clients read the `text/calendar` alternative, but some show an invitation only
/// from an attachment: iOS Mail on Exchange ActiveSync accounts is one. Google Calendar's
/// invitations carry both, and this crate follows it.
pub const ATTACHMENT_NAME: &str = "invite.ics";

/// The iTIP method of an invitation message and the change it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationKind {
    /// A new or changed event, sent to each participant (METHOD:REQUEST).
    Request,
    /// A cancellation (METHOD:CANCEL). For a cancelled event it cancels the whole event and
    /// lists every attendee. For a confirmed event it removes the recipient, who must no
    /// longer be among the attendees, and names only them (RFC 5546, section 3.2.5).
    Cancel,
    /// A participant's answer, sent to the organizer (METHOD:REPLY). It carries only the
    /// answering attendee with their PARTSTAT.
    Reply { attendee: UserId },
}

/// Builds the iMIP message of `kind` about `event` for one recipient.
///
/// `attendees` are the event's participants with their answers; the organizer may be among
/// them and is listed as an attendee in any case (see [`calendar_event`]). The message goes
/// from `from` to the recipient alone, so no attendee sees another's address in its header.
/// `Reply-To` is the organizer for requests and cancellations and the answering attendee
/// for replies, so that a written answer reaches a person. The subject and the text and
/// HTML bodies say what happened, when (in the recipient's time zone, or the event's when
/// they have none), where and who organizes. The iCalendar object follows as the
/// `text/calendar` alternative and again as the attachment [`ATTACHMENT_NAME`].
///
/// # Errors
///
/// Returns an [`ItipError`] naming the argument when `organizer` does not organize the
/// event, when the recipient does not fit the kind (see [`InvitationKind`]; a request or
/// cancellation never goes to the organizer, a reply only to them), when a request is built
/// for a cancelled event, when the answering attendee is unknown or has not answered, and
/// when an e-mail address is not accepted by `convene_mail`.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a separate input of the message; callers pass them by name"
)]
pub fn invitation(
    kind: InvitationKind,
    event: &Event,
    organizer: &User,
    attendees: &[AttendeeState],
    recipient: &User,
    from: Mailbox,
    uid_domain: &str,
    now: Timestamp,
) -> Result<Message, ItipError> {
    if organizer.id != event.organizer {
        return Err(ItipError::OrganizerMismatch {
            expected: event.organizer,
            given: organizer.id,
        });
    }
    let is_attendee = |user: UserId| attendees.iter().any(|state| state.user.id == user);

    let mut vevent = calendar_event(event, organizer, attendees, uid_domain, now);
    let (method, reply_to, answer) = match kind {
        InvitationKind::Request => {
            check_participant(recipient, organizer)?;
            if event.status == EventStatus::Cancelled {
                return Err(ItipError::EventCancelled);
            }
            if !is_attendee(recipient.id) {
                return Err(ItipError::RecipientNotInvited {
                    recipient: recipient.id,
                });
            }
            (Method::Request, organizer, None)
        }
        InvitationKind::Cancel => {
            check_participant(recipient, organizer)?;
            let whole_event = event.status == EventStatus::Cancelled;
            if whole_event && !is_attendee(recipient.id) {
                return Err(ItipError::RecipientNotInvited {
                    recipient: recipient.id,
                });
            }
            if !whole_event {
                if is_attendee(recipient.id) {
                    return Err(ItipError::RecipientStillInvited {
                        recipient: recipient.id,
                    });
                }
                uninvite(&mut vevent, recipient);
            }
            for attendee in &mut vevent.attendees {
                attendee.rsvp = false;
            }
            (Method::Cancel, organizer, None)
        }
        InvitationKind::Reply {
            attendee: answering,
        } => {
            if recipient.id != organizer.id {
                return Err(ItipError::ReplyNotToOrganizer {
                    recipient: recipient.id,
                });
            }
            let state = attendees
                .iter()
                .find(|state| state.user.id == answering)
                .ok_or(ItipError::UnknownAttendee {
                    attendee: answering,
                })?;
            if state.partstat == PartStat::NeedsAction {
                return Err(ItipError::ReplyWithoutAnswer {
                    attendee: answering,
                });
            }
            keep_only(&mut vevent, state);
            (Method::Reply, &state.user, Some(state))
        }
    };

    let ics = convene_ical::write(&Calendar {
        method: Some(method.clone()),
        events: vec![vevent],
    });
    let Rendered {
        subject,
        text,
        html,
    } = render(kind, event, organizer, recipient, answer);

    let message = Message::new(from, subject)
        .to(mailbox(recipient, "recipient")?)
        .reply_to(mailbox(reply_to, "reply-to")?)
        .text(text)
        .html(html)
        .calendar(method.as_str(), ics.clone())
        .attachment(Attachment::new(ATTACHMENT_NAME, "application/ics", ics));
    Ok(message)
}

/// Rejects a request or cancellation addressed to the organizer, who sends them.
fn check_participant(recipient: &User, organizer: &User) -> Result<(), ItipError> {
    if recipient.id == organizer.id {
        return Err(ItipError::RecipientIsOrganizer {
            recipient: recipient.id,
        });
    }
    Ok(())
}

/// Turns the VEVENT into the cancellation for one removed attendee: it names only that
/// attendee and has no STATUS, which RFC 5546, section 3.2.5, reserves for cancelling the
/// whole event.
fn uninvite(vevent: &mut CalendarEvent, recipient: &User) {
    let removed = AttendeeState {
        user: recipient.clone(),
        partstat: PartStat::NeedsAction,
    };
    vevent.attendees = vec![attendee(&removed)];
    vevent.status = None;
}

/// Keeps only the answering attendee, as a REPLY carries it, without RSVP.
fn keep_only(vevent: &mut CalendarEvent, state: &AttendeeState) {
    let mut answering = attendee(state);
    answering.rsvp = false;
    vevent.attendees = vec![answering];
}

fn mailbox(user: &User, role: &'static str) -> Result<Mailbox, ItipError> {
    let address =
        Address::parse(user.email.as_str()).map_err(|error| ItipError::InvalidAddress {
            role,
            address: user.email.as_str().to_owned(),
            reason: error.to_string(),
        })?;
    Ok(Mailbox::new(user.name.clone(), address))
}
