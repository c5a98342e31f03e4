//! The channel interface.

use async_trait::async_trait;
use convene_domain::{Delivery, DeliveryAttempt, DeliveryId, Event, ReminderOffset, User};
use tokio::sync::mpsc;

/// One reminder of one event, as every recipient should get it.
#[derive(Debug, Clone)]
pub struct Reminder {
    pub event: Event,
    pub organizer: User,
    pub offset: ReminderOffset,
}

/// One person to remind, and the delivery that stands for it.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Identifies this reminder for this person; a channel that queues may
    /// use it to queue each delivery at most once.
    pub delivery: DeliveryId,
    pub user: User,
    /// When the reminder fell due; retries keep it.
    pub due_at: jiff::Timestamp,
}

/// A channel's report on one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The channel tried to send, with this result.
    Attempt {
        attempt: DeliveryAttempt,
        /// On a temporary failure, the wait the peer asked for (HTTP `Retry-After`).
        /// The next try comes no earlier, even when the usual backoff is shorter.
        retry_after: Option<std::time::Duration>,
    },
    /// The channel handed the reminder to a durable queue of its own, which
    /// records the final result in the store, so there is nothing left to
    /// record. Also reported when the delivery had been queued already.
    Queued,
}

/// Sink for each recipient's report, made as soon as it is known and
/// identified by the recipient's index in the slice passed to
/// [`Channel::send`].
#[derive(Debug, Clone)]
pub struct Reporter {
    sender: mpsc::UnboundedSender<(usize, Report)>,
}

impl Reporter {
    /// Creates a reporter and the receiver its reports arrive on.
    pub fn new() -> (Reporter, mpsc::UnboundedReceiver<(usize, Report)>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Reporter { sender }, receiver)
    }

    /// Reports the attempt for recipient `index`. A report made after the
    /// receiver is gone is dropped, because the caller stopped waiting.
    pub fn attempt(&self, index: usize, attempt: DeliveryAttempt) {
        let report = Report::Attempt {
            attempt,
            retry_after: None,
        };
        let _ = self.sender.send((index, report));
    }

    /// Reports the attempt for recipient `index` with the wait the peer asked for
    /// before another try, if any.
    pub fn attempt_after(
        &self,
        index: usize,
        attempt: DeliveryAttempt,
        retry_after: Option<std::time::Duration>,
    ) {
        let report = Report::Attempt {
            attempt,
            retry_after,
        };
        let _ = self.sender.send((index, report));
    }

    /// Reports that recipient `index` was handed to a durable queue.
    pub fn queued(&self, index: usize) {
        let _ = self.sender.send((index, Report::Queued));
    }
}

/// Reminders of one event that failed permanently, to tell its organizer
/// about.
#[derive(Debug, Clone)]
pub struct FailureNotice {
    pub event: Event,
    pub organizer: User,
    pub failures: Vec<FailedReminder>,
}

/// One failed reminder in a [`FailureNotice`].
#[derive(Debug, Clone)]
pub struct FailedReminder {
    /// The delivery, with its last attempt.
    pub delivery: Delivery,
    /// The person it was for, unless that user no longer exists.
    pub recipient: Option<User>,
}

/// The reason a channel could not take a failure notice.
pub type NoticeError = Box<dyn std::error::Error + Send + Sync>;

/// Sends reminders over one medium.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Sends `reminder` to every recipient and reports one [`Report`] per
    /// recipient through `reporter`, each as soon as it is known, so that
    /// the caller can record it while slower recipients are still in
    /// progress. Every recipient gets exactly one report unless the
    /// returned future is dropped first.
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter);

    /// Tells the organizer about failed reminders and marks each failure
    /// reported, in one step, so that no failure is reported twice. Returns
    /// `false` when every failure had been reported already.
    async fn send_failure_notice(&self, notice: &FailureNotice) -> Result<bool, NoticeError>;
}
