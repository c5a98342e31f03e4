//! Notifier settings.

use std::time::Duration;

/// Polling, claiming and retry settings of the Notifier.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Time between polls of the store for due deliveries.
    pub poll_interval: Duration,
    /// Maximum number of deliveries one poll claims.
    pub batch_size: usize,
    /// How long a claim lasts. It must exceed the longest time one batch
    /// can take to send, SMTP timeouts included, or another worker may
    /// send the same reminder again.
    pub lease: Duration,
    /// Delay before the first retry of a temporary failure; each further
    /// retry doubles it, up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Identifies this worker in the claims it makes.
    pub worker_id: String,
}

impl Default for NotifierConfig {
    fn default() -> NotifierConfig {
        NotifierConfig {
            poll_interval: Duration::from_secs(5),
            batch_size: 100,
            // Longer than RFC 5321's suggested timeouts for one transaction
            // (5 minutes for the greeting, 10 for the final reply).
            lease: Duration::from_secs(20 * 60),
            retry_initial: Duration::from_secs(60),
            retry_max: Duration::from_secs(60 * 60),
            worker_id: format!("pid-{}", std::process::id()),
        }
    }
}
