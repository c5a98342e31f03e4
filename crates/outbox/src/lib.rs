//! The durable mail queue: every message Convene sends goes through it.
//!
//! This crate hides the queueing policy of the Mail Broker. A message is
//! stored with its complete bytes before the first attempt. The policy
//! covers how often the queue is polled and how many recipients one poll
//! claims for how long. It also sets when a temporary failure is retried
//! (exponential backoff with jitter) and when the queue gives up (the
//! message's expiry, five days by default). It stores through `convene_store::MailStore` and sends
//! through `convene_mail::Mailer`; it knows neither SQL nor how SMTP is
//! spoken.
//!
//! Because the bytes are stored, every retry sends the same message with
//! the same `Message-ID`, so a receiver that sees it twice can tell. With
//! a DKIM signer configured, the stored bytes are the signed message: it
//! is signed once, before it is queued. Each
//! recipient is claimed, retried and settled on its own: a retry goes only
//! to the recipients that failed temporarily.
//!
//! Exactly-once follows the Notifier's rules: a recipient is claimed with
//! a lease before anything is sent, each result is stored as soon as the
//! Mail Broker reports it (retrying the write until it succeeds), and a
//! recipient this process still holds is never sent again by it when its
//! lease runs out.
//!
//! NOTE: a message can still arrive twice when the process dies between
//! the server's acceptance and the write that records it (0.1 to 0.8 s in
//! a burst of hundreds of results, because every message commits its own
//! transaction), and when a connection is lost after the final dot. One
//! writer task that batches all results would narrow the first window.
//!
//! Layout:
//! - [`config`] defines [`OutboxConfig`].
//! - [`outbox`]: [`Outbox`], which enqueues messages and runs the queue.

pub mod config;
pub mod outbox;

pub use config::{AttemptObserver, OutboxConfig};
pub use outbox::Outbox;
