//! The Mail Broker: delivers Convene's notification e-mail straight to the recipients'
//! mail servers.
//!
//! This crate hides three decisions from the rest of Convene:
//!
//! - how a [`Message`] becomes MIME bytes (`multipart/alternative` with text and HTML,
//!   built with `mail-builder`),
//! - how a recipient domain is routed: MX lookup with `hickory-resolver`, the implicit MX
//!   when a domain has none, and null MX (RFC 7505),
//! - how SMTP is spoken: EHLO with HELO fallback, opportunistic STARTTLS with `rustls`,
//!   one transaction per domain, per-recipient replies, dot-stuffing and timeouts.
//!
//! Callers see only addresses, messages and one [`RecipientResult`] per recipient, whose
//! [`DeliveryStatus`] tells whether a retry may succeed. This crate depends on no other Convene crate,
//! keeps no queue and never retries later by itself: scheduling retries is the caller's
//! decision.
//!
//! # Layout
//!
//! - `address`: [`Address`] and [`Mailbox`], validated so that they cannot inject SMTP
//!   commands or headers.
//! - `message`: [`Message`] and its MIME encoding.
//! - `mx`: MX and address lookups.
//! - `reply`, `ehlo`, `smtp`, `tls`, `data`: SMTP replies, EHLO extensions, the connection,
//!   the STARTTLS configuration and the DATA encoding.
//! - `transaction`: the dialogue on one connection.
//! - `deliver`: [`Mailer`], which ties the steps together for many recipients.
//!
//! # Example
//!
//! ```no_run
//! use convene_mail::{Address, Mailbox, Mailer, MailerConfig, Message};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let sender = Address::parse("noreply@convene.example")?;
//! let recipient = Address::parse("ada@example.org")?;
//! let message = Message {
//!     from: Mailbox::new("Convene", sender.clone()),
//!     to: vec![Mailbox::from(recipient.clone())],
//!     subject: "Meeting moved".to_owned(),
//!     text: "The meeting moved to 10:00.".to_owned(),
//!     html: "<p>The meeting moved to 10:00.</p>".to_owned(),
//!     message_id_domain: None,
//! };
//! let mailer = Mailer::new(MailerConfig {
//!     helo_name: "mail.convene.example".to_owned(),
//!     ..MailerConfig::default()
//! })?;
//! for result in mailer.send(&sender, &[recipient], &message.to_bytes()?).await {
//!     println!("{}: {:?} {}", result.recipient, result.status, result.reply_text);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Logging
//!
//! Events go through `tracing`: debug for each SMTP command and reply, info for each
//! completed transaction, warn for each fallback (to plain text after a failed TLS
//! handshake, to the next address or MX host). Message bodies are never logged.
//! Addresses appear in debug events.

mod address;
mod config;
mod data;
mod deliver;
pub mod dkim;
mod ehlo;
mod lines;
mod message;
mod mx;
mod reply;
mod smtp;
mod status;
mod tls;
mod transaction;

pub use address::{Address, AddressError, Mailbox};
pub use config::MailerConfig;
pub use deliver::{Mailer, MailerError};
pub use message::{Message, MessageError};
pub use status::{DeliveryStatus, RecipientResult};
