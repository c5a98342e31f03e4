//! Reminders as e-mail, through the durable mail queue.
//!
//! Each recipient gets a message of their own, with the event's time in
//! their own zone. The messages of one reminder are handed to the mail
//! queue together with the deliveries they carry, in one transaction. A
//! delivery is queued at most once, and the queue then delivers, retries
//! and records the final result.

mod render;

use std::collections::BTreeMap;

use async_trait::async_trait;
use convene_domain::{DeliveryAttempt, DeliveryId, DeliveryOutcome, OutgoingRecipient, User};
use convene_mail::{Address, Mailbox, Message};
use convene_outbox::Outbox;

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

    fn build(&self, to: Mailbox, rendered: &render::Rendered) -> Result<Vec<u8>, String> {
        Message::new(self.from.clone(), rendered.subject.clone())
            .to(to)
            .text(rendered.text.clone())
            .html(rendered.html.clone())
            .message_id_domain(self.from.address.domain())
            .to_bytes()
            .map_err(|err| format!("building the message failed: {err}"))
    }
}

#[async_trait]
impl Channel for EmailChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        // Each person gets a message of their own, addressed to them alone
        // and showing times in their own zone: no recipient learns who else
        // was reminded. A reminder for an event that is over is of no use,
        // so the queue gives up at the event's end at the latest.
        let mut rendered: BTreeMap<&str, render::Rendered> = BTreeMap::new();
        let mut messages = Vec::with_capacity(recipients.len());
        let mut indexes = Vec::with_capacity(recipients.len());
        for (i, recipient) in recipients.iter().enumerate() {
            let address = match Address::parse(recipient.user.email.as_str()) {
                Ok(address) => address,
                Err(err) => {
                    let reason = format!("invalid recipient address: {err}");
                    reporter.attempt(
                        i,
                        DeliveryAttempt::local(DeliveryOutcome::PermanentFailure, reason),
                    );
                    continue;
                }
            };
            let zone = reader_zone(&recipient.user, &reminder.event.time_zone);
            let text = rendered
                .entry(zone)
                .or_insert_with(|| render::render(reminder, zone));
            let to = Mailbox::new(recipient.user.name.clone(), address.clone());
            let data = match self.build(to, text) {
                Ok(data) => data,
                Err(reason) => {
                    tracing::error!(event.id = %reminder.event.id, delivery.id = %recipient.delivery, error = %reason, "building a reminder message failed");
                    reporter.attempt(
                        i,
                        DeliveryAttempt::local(DeliveryOutcome::PermanentFailure, reason),
                    );
                    continue;
                }
            };
            let outgoing = vec![OutgoingRecipient {
                address: address.as_str().to_owned(),
                delivery: Some(recipient.delivery),
            }];
            let deadline = Some(reminder.event.interval.end());
            match self
                .outbox
                .prepare(&self.from.address, data, outgoing, deadline)
            {
                Ok(message) => messages.push(message),
                Err(err) => {
                    let reason = format!("signing the message failed: {err}");
                    tracing::error!(event.id = %reminder.event.id, delivery.id = %recipient.delivery, error = %reason, "signing a reminder message failed");
                    reporter.attempt(
                        i,
                        DeliveryAttempt::local(DeliveryOutcome::PermanentFailure, reason),
                    );
                    continue;
                }
            }
            indexes.push(i);
        }
        if messages.is_empty() {
            return;
        }

        match self.outbox.enqueue(messages).await {
            // A delivery that was not queued now had been queued (or
            // settled) before; either way nothing is left to do.
            Ok(_) => {
                for i in indexes {
                    reporter.queued(i);
                }
            }
            Err(err) => {
                tracing::warn!(event.id = %reminder.event.id, error = %err, "queueing reminder messages failed");
                for i in indexes {
                    let reason = format!("queueing the message failed: {err}");
                    reporter.attempt(
                        i,
                        DeliveryAttempt::local(DeliveryOutcome::TemporaryFailure, reason),
                    );
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
                let to = Mailbox::new(organizer.name.clone(), address.clone());
                let data = self.build(to, &render::render_notice(notice, zone))?;
                // A notice is not about a delivery, so its own failure is
                // never reported: no notice about a notice.
                let recipients = vec![OutgoingRecipient {
                    address: address.as_str().to_owned(),
                    delivery: None,
                }];
                let message = self
                    .outbox
                    .prepare(&self.from.address, data, recipients, None)
                    .map_err(|err| format!("signing the notice failed: {err}"))?;
                Some(message)
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
