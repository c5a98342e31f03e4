//! The channel interface.

use async_trait::async_trait;
use convene_domain::{DeliveryAttempt, Event, ReminderOffset, User};
use tokio::sync::mpsc;

/// One reminder of one event, as every recipient should get it.
#[derive(Debug, Clone)]
pub struct Reminder {
    pub event: Event,
    pub organizer: User,
    pub offset: ReminderOffset,
}

/// Sink for each recipient's attempt, reported as soon as it is known and
/// identified by the recipient's index in the slice passed to
/// [`Channel::send`].
#[derive(Debug, Clone)]
pub struct Reporter {
    sender: mpsc::UnboundedSender<(usize, DeliveryAttempt)>,
}

impl Reporter {
    /// Creates a reporter and the receiver its reports arrive on.
    pub fn new() -> (Reporter, mpsc::UnboundedReceiver<(usize, DeliveryAttempt)>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Reporter { sender }, receiver)
    }

    /// Reports the attempt for recipient `index`. A report made after the
    /// receiver is gone is dropped, because the caller stopped waiting.
    pub fn report(&self, index: usize, attempt: DeliveryAttempt) {
        let _ = self.sender.send((index, attempt));
    }
}

/// Sends reminders over one medium.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Sends `reminder` to every recipient and reports one attempt per
    /// recipient through `reporter`, each as soon as it is known, so that
    /// the caller can record it while slower recipients are still in
    /// progress. Every recipient gets exactly one report unless the
    /// returned future is dropped first.
    async fn send(&self, reminder: &Reminder, recipients: &[User], reporter: Reporter);
}
