//! Reminders as e-mail.
//!
//! Recipients who see times in the same time zone share one message, so
//! everyone reads the event's time in their own zone; the Mail Broker then
//! splits each message's recipients by domain and delivers to each MX.

mod render;

use std::collections::BTreeMap;

use async_trait::async_trait;
use convene_domain::{DeliveryAttempt, DeliveryOutcome, User};
use convene_mail::{Address, DeliveryStatus, Mailbox, Mailer, Message, RecipientResult};
use jiff::Timestamp;
use tokio::task::JoinSet;

use crate::{Channel, Reminder, Reporter};

/// Sends reminders as e-mail through the Mail Broker.
pub struct EmailChannel {
    mailer: Mailer,
    from: Mailbox,
}

impl EmailChannel {
    /// Creates a channel that sends as `from`, the envelope sender and
    /// `From:` header of every reminder.
    pub fn new(mailer: Mailer, from: Mailbox) -> EmailChannel {
        EmailChannel { mailer, from }
    }
}

#[async_trait]
impl Channel for EmailChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[User], reporter: Reporter) {
        // Group recipients by the time zone they read times in. Addresses
        // the Mail Broker rejects fail permanently here.
        let mut by_zone: BTreeMap<String, Vec<(usize, Address)>> = BTreeMap::new();
        for (i, user) in recipients.iter().enumerate() {
            match Address::parse(user.email.as_str()) {
                Ok(address) => {
                    let zone = user
                        .time_zone
                        .as_deref()
                        .unwrap_or(&reminder.event.time_zone);
                    by_zone
                        .entry(zone.to_owned())
                        .or_default()
                        .push((i, address));
                }
                Err(err) => reporter.report(
                    i,
                    local_failure(
                        DeliveryOutcome::PermanentFailure,
                        format!("invalid recipient address: {err}"),
                    ),
                ),
            }
        }

        // Each time zone's message goes out concurrently, so a slow
        // destination for one group does not hold up the others. Dropping
        // the set aborts the sends still in progress.
        let mut sends = JoinSet::new();
        for (zone, group) in by_zone {
            let rendered = render::render(reminder, &zone);
            let mut message = Message::new(self.from.clone(), rendered.subject)
                .text(rendered.text)
                .html(rendered.html)
                .message_id_domain(self.from.address.domain());
            for (i, address) in &group {
                message = message.to(Mailbox::new(recipients[*i].name.clone(), address.clone()));
            }
            let bytes = match message.to_bytes() {
                Ok(bytes) => bytes,
                Err(err) => {
                    tracing::error!(event.id = %reminder.event.id, error = %err, "building a reminder message failed");
                    for (i, _) in &group {
                        reporter.report(
                            *i,
                            local_failure(
                                DeliveryOutcome::PermanentFailure,
                                format!("building the message failed: {err}"),
                            ),
                        );
                    }
                    continue;
                }
            };
            let mailer = self.mailer.clone();
            let sender = self.from.address.clone();
            let reporter = reporter.clone();
            sends.spawn(async move {
                let addresses: Vec<Address> =
                    group.iter().map(|(_, address)| address.clone()).collect();
                mailer
                    .send_each(&sender, &addresses, &bytes, |result| {
                        for (i, address) in &group {
                            if *address == result.recipient {
                                reporter.report(*i, attempt_from(result.clone()));
                            }
                        }
                    })
                    .await;
            });
        }
        while let Some(joined) = sends.join_next().await {
            if let Err(err) = joined {
                // The recipients of a panicked send get no report; the
                // caller treats them as temporary failures.
                tracing::error!(event.id = %reminder.event.id, error = %err, "a reminder send task panicked");
            }
        }
    }
}

fn attempt_from(result: RecipientResult) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome: match result.status {
            DeliveryStatus::Delivered => DeliveryOutcome::Delivered,
            DeliveryStatus::TemporaryFailure => DeliveryOutcome::TemporaryFailure,
            DeliveryStatus::PermanentFailure => DeliveryOutcome::PermanentFailure,
        },
        destination: result.mx_host,
        tls: result.tls,
        reply_code: result.reply_code,
        reply_text: result.reply_text,
    }
}

fn local_failure(outcome: DeliveryOutcome, reason: String) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome,
        destination: None,
        tls: false,
        reply_code: None,
        reply_text: reason,
    }
}
