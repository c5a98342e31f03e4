//! Mail queue settings.

use std::sync::Arc;
use std::time::Duration;

use convene_domain::DeliveryOutcome;
use convene_mail::dkim::Signer;
use jiff::SignedDuration;

/// Polling, claiming, retry and expiry settings of the mail queue.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Time between polls of the store for due recipients.
    pub poll_interval: Duration,
    /// Maximum number of recipients one poll claims.
    pub batch_size: usize,
    /// How long a claim lasts. It must exceed the longest time one
    /// transaction can take, SMTP timeouts included, or another worker may
    /// send the same message again.
    pub lease: Duration,
    /// Delay before the first retry of a temporary failure; each further
    /// retry doubles it, up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// How long a message is retried before a recipient still failing
    /// temporarily fails permanently. A message may carry an earlier
    /// deadline of its own.
    pub expiry: Duration,
    /// Identifies this worker in the claims it makes.
    pub worker_id: String,
    /// The DKIM signer that [`Outbox::prepare`](crate::Outbox::prepare) applies once to
    /// every message, so that every attempt sends the same signed bytes. `None` leaves
    /// messages unsigned.
    pub signer: Option<Arc<Signer>>,
    /// Receives every recipient's attempt as the queue records it, for metrics. `None`
    /// reports attempts to no one.
    pub observer: Option<Arc<dyn AttemptObserver>>,
}

/// Learns of each attempt on each recipient, as the mail queue records it.
pub trait AttemptObserver: Send + Sync + std::fmt::Debug {
    /// Called once per attempt with its outcome, the time since the message was queued
    /// and whether the recipient carries a reminder delivery.
    fn attempted(&self, outcome: DeliveryOutcome, since_queued: SignedDuration, reminder: bool);
}

impl Default for OutboxConfig {
    fn default() -> OutboxConfig {
        OutboxConfig {
            poll_interval: Duration::from_secs(5),
            batch_size: 100,
            // Longer than RFC 5321's suggested timeouts for one transaction
            // (5 minutes for the greeting, 10 for the final reply).
            lease: Duration::from_secs(20 * 60),
            retry_initial: Duration::from_secs(60),
            retry_max: Duration::from_secs(60 * 60),
            // Five days, the give-up time most MTAs use by default
            // (Postfix's maximal_queue_lifetime, for one).
            expiry: Duration::from_secs(5 * 24 * 60 * 60),
            worker_id: format!("pid-{}", std::process::id()),
            signer: None,
            observer: None,
        }
    }
}
