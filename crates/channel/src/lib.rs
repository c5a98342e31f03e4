//! Message senders: how a reminder reaches a person.
//!
//! This crate hides the notification channels. The Notifier hands a
//! [`Reminder`] and its recipients to a [`Channel`] and gets back one
//! [`Report`] per recipient: an attempt already classified as delivered,
//! temporary or permanent, or word that a durable queue of the channel's
//! own (the mail queue, for e-mail) took it over. It never sees a MIME
//! header or an SMTP reply. How each channel words, formats and transmits
//! a reminder is its own business. The same channel tells organizers about
//! reminders that failed permanently ([`FailureNotice`]).
//!
//! Layout:
//! - [`channel`]: the [`Channel`] trait and the [`Reminder`] it sends.
//! - [`email`]: reminders as e-mail, through the mail queue.
//! - [`sms`], [`push`] and [`webhook`]: the transports of the channels that send directly
//!   over HTTP. Each takes already rendered content and one recipient's address and
//!   returns a [`SendOutcome`], the attempt classified as delivered, temporary or
//!   permanent.
//! - [`PushChannel`], [`SmsChannel`] and [`WebhookChannel`]: the channels built on those
//!   transports, which send each recipient's reminder at once and report its result.
//! - [`http`]: the HTTP client settings ([`HttpOptions`]) that those transports share.

pub mod channel;
mod direct;
pub mod email;
mod error;
pub mod http;
pub mod push;
mod secret;
pub mod sms;
pub mod webhook;

pub use channel::{
    Channel, FailedReminder, FailureNotice, NoticeError, Recipient, Reminder, Report, Reporter,
};
pub use direct::{PushChannel, SmsChannel, WebhookChannel};
pub use email::EmailChannel;
pub use error::ConfigError;
pub use http::{HttpOptions, SendOutcome};
pub use secret::Secret;
