//! Messages in the durable mail queue.
//!
//! A message is stored with its complete bytes before the first attempt to
//! deliver it, so every retry sends exactly the same message, with the same
//! `Message-ID`. Each recipient has its own state and retry time: one
//! recipient's temporary failure never resends the message to the others.

use std::sync::Arc;

use jiff::Timestamp;

use crate::{DeliveryAttempt, DeliveryId, MessageId};

/// A message to put in the mail queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub id: MessageId,
    /// The envelope sender (`MAIL FROM`).
    pub sender: String,
    /// The complete message: header and body.
    pub data: Vec<u8>,
    pub created_at: Timestamp,
    /// After this instant a recipient still failing temporarily fails
    /// permanently.
    pub expires_at: Timestamp,
    pub recipients: Vec<OutgoingRecipient>,
}

/// One envelope recipient (`RCPT TO`) of an [`OutgoingMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecipient {
    pub address: String,
    /// The reminder delivery this recipient carries, if any. A delivery is
    /// queued at most once, and its state follows the recipient's.
    pub delivery: Option<DeliveryId>,
}

/// State of one recipient of a queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// Waiting for its first attempt or for a retry.
    Queued,
    /// Claimed by a worker whose lease has not expired.
    Sending,
    /// Accepted by the recipient's server.
    Delivered,
    /// Rejected permanently, or still failing when the message expired.
    Failed,
}

impl MailState {
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Sending => "sending",
            MailState::Delivered => "delivered",
            MailState::Failed => "failed",
        }
    }
}

/// A queued message and the status of each recipient, as of one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub id: MessageId,
    pub sender: String,
    /// Size of the message in octets.
    pub size: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub recipients: Vec<MailRecipient>,
}

/// One recipient of a [`MailMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecipient {
    pub address: String,
    pub state: MailState,
    /// When the next attempt is due, while the recipient is queued.
    pub next_attempt_at: Option<Timestamp>,
    pub delivery: Option<DeliveryId>,
    /// Every attempt, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// Recipients of one message claimed for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub message: MessageId,
    pub sender: String,
    pub data: Arc<[u8]>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The claimed recipients: those that were due, not all of them.
    pub recipients: Vec<ClaimedRecipient>,
}

/// One claimed recipient of a [`ClaimedMail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRecipient {
    /// The recipient's position in the message's recipient list.
    pub position: u32,
    pub address: String,
    /// Attempts made before this claim.
    pub attempts: u32,
    /// The reminder delivery this recipient carries, if any.
    pub delivery: Option<DeliveryId>,
}

/// One attempt on one claimed recipient, to record in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttemptRecord {
    pub message: MessageId,
    pub position: u32,
    /// The worker that claimed the recipient. A temporary failure from a
    /// worker whose claim has passed to another is not applied, so it
    /// cannot release the other worker's claim.
    pub owner: String,
    pub attempt: DeliveryAttempt,
    /// When a temporary failure is due again. `None` with a temporary
    /// failure means at once.
    pub retry_at: Option<Timestamp>,
}
