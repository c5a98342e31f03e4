//! Reminders as e-mail, through the durable mail queue.
//!
//! Recipients who see times in the same time zone share one message, so
//! everyone reads the event's time in their own zone. Each message is
//! handed to the mail queue together with the deliveries it carries, in one
//! transaction: a delivery is queued at most once, and the queue then
//! delivers, retries and records the final result.

mod render;

use std::collections::BTreeMap;

use async_trait::async_trait;
use convene_domain::{DeliveryAttempt, DeliveryId, DeliveryOutcome, OutgoingRecipient, User};
use convene_mail::{Address, Mailbox, Message};
use convene_outbox::Outbox;
use jiff::Timestamp;

use crate::{Channel, FailureNotice, NoticeError, Recipient, Reminder, Reporter};

/// Sends reminders as e-mail through the mail queue.
pub struct EmailChannel {
    outbox: Outbox,
    from: Mailbox,
}

impl EmailChannel {
    /// Creates a channel that sends as `from`, the envelope sender and
    /// `From:` header of every reminder.
    pub fn new(outbox: Outbox, from: Mailbox) -> EmailChannel {
        EmailChannel { outbox, from }
    }

    fn build(&self, to: Vec<Mailbox>, rendered: render::Rendered) -> Result<Vec<u8>, String> {
        let mut message = Message::new(self.from.clone(), rendered.subject)
            .text(rendered.text)
            .html(rendered.html)
            .message_id_domain(self.from.address.domain());
        for mailbox in to {
            message = message.to(mailbox);
        }
        message
            .to_bytes()
            .map_err(|err| format!("building the message failed: {err}"))
    }
}

#[async_trait]
impl Channel for EmailChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        // Group recipients by the time zone they read times in. Addresses
        // the Mail Broker rejects fail permanently here.
        let mut by_zone: BTreeMap<String, Vec<(usize, Address)>> = BTreeMap::new();
        for (i, recipient) in recipients.iter().enumerate() {
            match Address::parse(recipient.user.email.as_str()) {
                Ok(address) => {
                    let zone = reader_zone(&recipient.user, &reminder.event.time_zone);
                    by_zone
                        .entry(zone.to_owned())
                        .or_default()
                        .push((i, address));
                }
                Err(err) => reporter.attempt(
                    i,
                    local_failure(
                        DeliveryOutcome::PermanentFailure,
                        format!("invalid recipient address: {err}"),
                    ),
                ),
            }
        }

        for (zone, group) in by_zone {
            let to: Vec<Mailbox> = group
                .iter()
                .map(|(i, address)| Mailbox::new(recipients[*i].user.name.clone(), address.clone()))
                .collect();
            let data = match self.build(to, render::render(reminder, &zone)) {
                Ok(data) => data,
                Err(reason) => {
                    tracing::error!(event.id = %reminder.event.id, error = %reason, "building a reminder message failed");
                    for (i, _) in &group {
                        reporter.attempt(
                            *i,
                            local_failure(DeliveryOutcome::PermanentFailure, reason.clone()),
                        );
                    }
                    continue;
                }
            };
            let outgoing: Vec<OutgoingRecipient> = group
                .iter()
                .map(|(i, address)| OutgoingRecipient {
                    address: address.as_str().to_owned(),
                    delivery: Some(recipients[*i].delivery),
                })
                .collect();
            // A reminder for an event that is over is of no use, so the
            // queue gives up at the event's end at the latest.
            let message = self.outbox.prepare(
                &self.from.address,
                data,
                outgoing,
                Some(reminder.event.interval.end()),
            );
            match self.outbox.enqueue(&message).await {
                // A delivery that was not queued now had been queued (or
                // settled) before; either way nothing is left to do.
                Ok(_) => {
                    for (i, _) in &group {
                        reporter.queued(*i);
                    }
                }
                Err(err) => {
                    tracing::warn!(event.id = %reminder.event.id, error = %err, "queueing a reminder message failed");
                    for (i, _) in &group {
                        reporter.attempt(
                            *i,
                            local_failure(
                                DeliveryOutcome::TemporaryFailure,
                                format!("queueing the message failed: {err}"),
                            ),
                        );
                    }
                }
            }
        }
    }

    async fn send_failure_notice(&self, notice: &FailureNotice) -> Result<bool, NoticeError> {
        let failures: Vec<DeliveryId> = notice
            .failures
            .iter()
            .map(|failure| failure.delivery.id)
            .collect();
        let organizer = &notice.organizer;
        let message = match Address::parse(organizer.email.as_str()) {
            Ok(address) => {
                let zone = reader_zone(organizer, &notice.event.time_zone);
                let to = vec![Mailbox::new(organizer.name.clone(), address.clone())];
                let data = self.build(to, render::render_notice(notice, zone))?;
                // A notice is not about a delivery, so its own failure is
                // never reported: no notice about a notice.
                let recipients = vec![OutgoingRecipient {
                    address: address.as_str().to_owned(),
                    delivery: None,
                }];
                Some(
                    self.outbox
                        .prepare(&self.from.address, data, recipients, None),
                )
            }
            Err(err) => {
                tracing::warn!(user.id = %organizer.id, error = %err, "an organizer's address cannot receive mail; failed reminders are not reported");
                None
            }
        };
        Ok(self
            .outbox
            .enqueue_notice(message.as_ref(), &failures)
            .await?)
    }
}

/// Returns the time zone that `user` reads times in.
fn reader_zone<'a>(user: &'a User, event_zone: &'a str) -> &'a str {
    user.time_zone.as_deref().unwrap_or(event_zone)
}

fn local_failure(outcome: DeliveryOutcome, reason: String) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome,
        destination: None,
        tls: false,
        tls_version: None,
        tls_cipher: None,
        reply_code: None,
        reply_text: reason,
    }
}
