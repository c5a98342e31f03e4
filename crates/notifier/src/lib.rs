//! The Notifier: sends due reminders, exactly once, across restarts.
//!
//! This crate hides the delivery policy: how often the store is polled,
//! how many deliveries one poll claims and for how long, how due
//! deliveries are batched into messages, and when a temporary failure is
//! retried or given up. It reads and writes through `convene_store::Store`
//! and sends through `convene_channel::Channel`; it knows neither SQL nor
//! SMTP.
//!
//! Exactly-once rests on two rules. A delivery is claimed with a lease
//! before anything is sent, so no other worker sends it while the lease
//! lasts; and the result is recorded as soon as the channel returns, which
//! releases the claim. A worker killed between claim and send leaves the
//! lease to expire, and the next poll after that sends the delivery. A
//! worker killed after the server accepted a message but before the
//! result was recorded would send it again: that window is the time of one
//! database write.
//!
//! Layout:
//! - [`config`] defines [`NotifierConfig`].
//! - [`worker`]: the [`Notifier`] poll loop.
//! - [`retry`]: backoff for temporary failures.

pub mod config;
pub mod retry;
pub mod worker;

pub use config::NotifierConfig;
pub use worker::Notifier;
