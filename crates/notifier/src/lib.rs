//! The Notifier: sends due reminders, exactly once, across restarts.
//!
//! This crate hides the delivery policy: how often the store is polled,
//! how many deliveries one poll claims and for how long, how due
//! deliveries are batched into messages, and when a temporary failure is
//! retried or given up. It reads and writes through `convene_store::Store`
//! and sends through `convene_channel::Channel`; it knows neither SQL nor
//! SMTP.
//!
//! Exactly-once rests on three rules. A delivery is claimed with a lease
//! before anything is sent, so no other worker sends it while the lease
//! lasts. Each recipient's result is stored as soon as the channel reports
//! it, which releases the claim, and a failed write is retried until it
//! succeeds. Until then the process holds the delivery: when its own next
//! claim takes the delivery again because the lease ran out, that claim
//! only extends the lease. A worker killed between claim and send leaves
//! the lease to expire, and the next poll after that sends the delivery.
//!
//! E-mail reminders leave the Notifier as soon as the mail queue has
//! stored them. The queue takes each delivery over in the same transaction
//! that stores the message, so a delivery is queued at most once. The
//! queue then records its final outcome. The Notifier also tells organizers
//! about reminders that failed permanently, once per failure.
//!
//! Layout:
//! - [`config`] defines [`NotifierConfig`].
//! - [`worker`]: the [`Notifier`] poll loop.

pub mod config;
pub mod worker;

pub use config::NotifierConfig;
pub use worker::Notifier;
