//! The channel interface.

use async_trait::async_trait;
use convene_domain::{DeliveryAttempt, Event, ReminderOffset, User};

/// One reminder of one event, as every recipient should get it.
#[derive(Debug, Clone)]
pub struct Reminder {
    pub event: Event,
    pub organizer: User,
    pub offset: ReminderOffset,
}

/// Sends reminders over one medium.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Sends `reminder` to every recipient and returns one attempt per
    /// recipient, in the order of `recipients`. A channel never returns
    /// early without an attempt for each recipient.
    async fn send(&self, reminder: &Reminder, recipients: &[User]) -> Vec<DeliveryAttempt>;
}
