//! The mail queue in memory.

use std::sync::Arc;

use async_trait::async_trait;
use convene_domain::{
    ClaimedMail, ClaimedRecipient, DeliveryAttempt, DeliveryId, DeliveryOutcome, DeliveryState,
    MailAttemptRecord, MailMessage, MailRecipient, MailState, MessageId, OutgoingMessage,
};
use jiff::Timestamp;

use super::{MemoryStore, Notice, State};
use crate::repository::repeated_recipients;
use crate::{ClaimRequest, MailStore, StoreError};

pub(super) struct StoredMessage {
    sender: String,
    data: Arc<[u8]>,
    created_at: Timestamp,
    expires_at: Timestamp,
    recipients: Vec<StoredRecipient>,
}

struct StoredRecipient {
    address: String,
    /// `Queued`, `Delivered` or `Failed`; `Sending` is derived from the
    /// lease.
    state: MailState,
    not_before: Timestamp,
    lease_until: Option<Timestamp>,
    lease_owner: Option<String>,
    delivery: Option<DeliveryId>,
    attempts: Vec<DeliveryAttempt>,
}

impl State {
    /// Counts the queued recipients that no live lease holds at `now`, and those that one
    /// holds, in that order.
    pub(super) fn unsettled_recipients(&self, now: Timestamp) -> (u64, u64) {
        let mut queued = 0;
        let mut sending = 0;
        let unsettled = self
            .messages
            .values()
            .flat_map(|message| &message.recipients)
            .filter(|recipient| recipient.state == MailState::Queued);
        for recipient in unsettled {
            if recipient.lease_until.is_some_and(|until| until > now) {
                sending += 1;
            } else {
                queued += 1;
            }
        }
        (queued, sending)
    }

    /// Stores a message with the recipients marked in `queued` and hands
    /// their deliveries to the queue.
    fn insert_message(&mut self, message: &OutgoingMessage, queued: &[bool]) {
        let recipients = message
            .recipients
            .iter()
            .zip(queued)
            .filter(|(_, queued)| **queued)
            .map(|(recipient, _)| StoredRecipient {
                address: recipient.address.clone(),
                state: MailState::Queued,
                not_before: message.created_at,
                lease_until: None,
                lease_owner: None,
                delivery: recipient.delivery,
                attempts: Vec::new(),
            })
            .collect::<Vec<_>>();
        for delivery in recipients.iter().filter_map(|recipient| recipient.delivery) {
            if let Some(stored) = self.deliveries.get_mut(&delivery) {
                stored.delivery.message_id = Some(message.id);
                stored.lease_until = None;
            }
        }
        self.messages.insert(
            message.id,
            StoredMessage {
                sender: message.sender.clone(),
                data: Arc::from(message.data.as_slice()),
                created_at: message.created_at,
                expires_at: message.expires_at,
                recipients,
            },
        );
    }

    fn queueable(&self, delivery: DeliveryId) -> bool {
        self.deliveries.get(&delivery).is_some_and(|stored| {
            stored.delivery.state == DeliveryState::Pending && stored.delivery.message_id.is_none()
        })
    }

    fn record_mail_attempt(&mut self, record: &MailAttemptRecord) -> bool {
        let attempt = &record.attempt;
        let Some(recipient) = self
            .messages
            .get_mut(&record.message)
            .and_then(|message| message.recipients.get_mut(record.position as usize))
        else {
            return false;
        };
        if recipient.state != MailState::Queued {
            return false;
        }
        let temporary = attempt.outcome == DeliveryOutcome::TemporaryFailure;
        if temporary && recipient.lease_owner.as_deref() != Some(record.owner.as_str()) {
            return false;
        }
        recipient.lease_until = None;
        recipient.lease_owner = None;
        recipient.attempts.push(attempt.clone());
        match attempt.outcome {
            DeliveryOutcome::Delivered => recipient.state = MailState::Delivered,
            DeliveryOutcome::PermanentFailure => recipient.state = MailState::Failed,
            DeliveryOutcome::TemporaryFailure => {
                recipient.not_before = record.retry_at.unwrap_or(attempt.at);
            }
        }
        if let Some(delivery) = recipient.delivery {
            self.apply_attempt(delivery, attempt);
        }
        true
    }
}

#[async_trait]
impl MailStore for MemoryStore {
    async fn enqueue_mail(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<Vec<bool>>, StoreError> {
        let mut state = self.lock();
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            let queued: Vec<bool> = message
                .recipients
                .iter()
                .zip(repeated_recipients(message))
                .map(|(recipient, repeated)| {
                    !repeated && recipient.delivery.is_none_or(|id| state.queueable(id))
                })
                .collect();
            if queued.contains(&true) {
                state.insert_message(message, &queued);
            }
            results.push(queued);
        }
        Ok(results)
    }

    async fn claim_due_mail(
        &self,
        request: ClaimRequest<'_>,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let now = request.now;
        let lease_until = request.lease_until()?;
        let mut state = self.lock();

        let mut due: Vec<(Timestamp, MessageId, usize)> = Vec::new();
        for (id, message) in &state.messages {
            for (position, recipient) in message.recipients.iter().enumerate() {
                if recipient.state == MailState::Queued
                    && recipient.not_before <= now
                    && recipient.lease_until.is_none_or(|until| until <= now)
                {
                    due.push((recipient.not_before, *id, position));
                }
            }
        }
        due.sort();
        due.truncate(request.limit);
        due.sort_by_key(|(_, id, position)| (*id, *position));

        let mut claimed: Vec<ClaimedMail> = Vec::new();
        for (_, id, position) in due {
            let Some(message) = state.messages.get_mut(&id) else {
                continue;
            };
            let recipient = &mut message.recipients[position];
            recipient.lease_until = Some(lease_until);
            recipient.lease_owner = Some(request.owner.to_owned());
            let claimed_recipient = ClaimedRecipient {
                position: position as u32,
                address: recipient.address.clone(),
                attempts: recipient.attempts.len() as u32,
                delivery: recipient.delivery,
            };
            match claimed.last_mut() {
                Some(mail) if mail.message == id => mail.recipients.push(claimed_recipient),
                _ => claimed.push(ClaimedMail {
                    message: id,
                    sender: message.sender.clone(),
                    data: message.data.clone(),
                    created_at: message.created_at,
                    expires_at: message.expires_at,
                    recipients: vec![claimed_recipient],
                }),
            }
        }
        Ok(claimed)
    }

    async fn record_mail_attempts(
        &self,
        records: &[MailAttemptRecord],
    ) -> Result<Vec<bool>, StoreError> {
        let mut state = self.lock();
        Ok(records
            .iter()
            .map(|record| state.record_mail_attempt(record))
            .collect())
    }

    async fn report_failures(
        &self,
        failures: &[DeliveryId],
        notice: Option<&OutgoingMessage>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let mut marked = 0;
        for id in failures {
            if let Some(stored) = state.deliveries.get_mut(id)
                && stored.notice == Notice::Due
            {
                stored.notice = Notice::Reported;
                marked += 1;
            }
        }
        if marked == 0 {
            return Ok(false);
        }
        if let Some(notice) = notice {
            let queued = vec![true; notice.recipients.len()];
            state.insert_message(notice, &queued);
        }
        Ok(true)
    }

    async fn mail_message(
        &self,
        id: MessageId,
        now: Timestamp,
    ) -> Result<Option<MailMessage>, StoreError> {
        let state = self.lock();
        let Some(message) = state.messages.get(&id) else {
            return Ok(None);
        };
        Ok(Some(MailMessage {
            id,
            sender: message.sender.clone(),
            size: message.data.len() as u64,
            created_at: message.created_at,
            expires_at: message.expires_at,
            recipients: message
                .recipients
                .iter()
                .map(|recipient| {
                    let state = match recipient.state {
                        MailState::Queued
                            if recipient.lease_until.is_some_and(|until| until > now) =>
                        {
                            MailState::Sending
                        }
                        state => state,
                    };
                    MailRecipient {
                        address: recipient.address.clone(),
                        state,
                        next_attempt_at: (state == MailState::Queued)
                            .then_some(recipient.not_before),
                        delivery: recipient.delivery,
                        attempts: recipient.attempts.clone(),
                    }
                })
                .collect(),
        }))
    }
}
