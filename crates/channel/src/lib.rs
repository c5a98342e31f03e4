//! Message senders: how a reminder reaches a person.
//!
//! This crate hides the notification channels. The Notifier hands a
//! [`Reminder`] and its recipients to a [`Channel`] and gets back one
//! [`convene_domain::DeliveryAttempt`] per recipient, already classified as
//! delivered, temporary or permanent; it never sees a MIME header or an
//! SMTP reply. How each channel words, formats and transmits a reminder is
//! its own business.
//!
//! Layout:
//! - [`channel`]: the [`Channel`] trait and the [`Reminder`] it sends.
//! - [`email`]: reminders as e-mail, through the Mail Broker.

pub mod channel;
pub mod email;

pub use channel::{Channel, Reminder, Reporter};
pub use email::EmailChannel;
