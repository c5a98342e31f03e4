//! Invitations by e-mail: the Scheduler's invitation port, built into iMIP messages and
//! handed to the mail queue.

use async_trait::async_trait;
use convene_domain::OutgoingRecipient;
use convene_itip::{AttendeeState, InvitationKind as ItipKind, invitation};
use convene_mail::Mailbox;
use convene_outbox::Outbox;
use convene_scheduler::{Invitation, InvitationKind, Invitations};
use jiff::Timestamp;

use crate::http::partstat;

/// Sends each invitation as one iMIP message per recipient through the mail queue.
pub struct EmailInvitations {
    outbox: Outbox,
    from: Mailbox,
    uid_domain: String,
}

impl EmailInvitations {
    pub fn new(outbox: Outbox, from: Mailbox, uid_domain: String) -> EmailInvitations {
        EmailInvitations {
            outbox,
            from,
            uid_domain,
        }
    }
}

#[async_trait]
impl Invitations for EmailInvitations {
    async fn send(&self, change: Invitation) {
        let kind = match (change.kind, &change.answering) {
            (InvitationKind::Request, _) => ItipKind::Request,
            (InvitationKind::Cancel, _) => ItipKind::Cancel,
            (InvitationKind::Reply, Some(answering)) => ItipKind::Reply {
                attendee: answering.id,
            },
            (InvitationKind::Reply, None) => {
                tracing::warn!(event.id = %change.event.id, "a reply without its participant was not sent");
                return;
            }
        };
        let attendees: Vec<AttendeeState> = change
            .attendees
            .iter()
            .map(|(user, answer)| AttendeeState {
                user: user.clone(),
                partstat: partstat(*answer),
            })
            .collect();
        let now = Timestamp::now();
        let mut messages = Vec::with_capacity(change.recipients.len());
        for recipient in &change.recipients {
            let built = invitation(
                kind,
                &change.event,
                &change.organizer,
                &attendees,
                recipient,
                self.from.clone(),
                &self.uid_domain,
                now,
            )
            .map_err(|err| err.to_string())
            .and_then(|message| message.to_bytes().map_err(|err| err.to_string()))
            .and_then(|data| {
                self.outbox
                    .prepare(
                        &self.from.address,
                        data,
                        vec![OutgoingRecipient {
                            address: recipient.email.as_str().to_owned(),
                            delivery: None,
                        }],
                        None,
                    )
                    .map_err(|err| err.to_string())
            });
            match built {
                Ok(message) => messages.push(message),
                Err(err) => {
                    tracing::warn!(event.id = %change.event.id, user.id = %recipient.id, error = %err, "could not build an invitation");
                }
            }
        }
        if let Err(err) = self.outbox.enqueue(messages).await {
            tracing::error!(event.id = %change.event.id, error = %err, "could not queue invitations");
        }
    }
}
