//! The Mail Broker: delivers Convene's notification e-mail straight to the recipients'
//! mail servers, or through one relay.
//!
//! This crate hides four decisions from the rest of Convene:
//!
//! - how a [`Message`] becomes MIME bytes: only the multiparts its text, HTML, inline images
//!   and attachments need, RFC 2047 and RFC 2231 encoding for non-ASCII header text and file
//!   names, and 7-bit transfer encodings, all written in this crate,
//! - how a recipient domain is routed: MX lookup with `hickory-resolver` (equal preferences
//!   shuffled), the implicit MX when a domain has none, null MX (RFC 7505), or one relay
//!   (smarthost) for all mail,
//! - how SMTP is spoken: EHLO with HELO fallback, PIPELINING, SIZE and 8BITMIME, and
//!   STARTTLS with `rustls` under a TLS policy per domain. The relay gets AUTH PLAIN or
//!   LOGIN. Each domain gets one transaction with per-recipient replies, dot-stuffing and
//!   the timeouts of RFC 5321,
//! - which connections are kept: an idle session is reused for the next message to the
//!   same server, and replaced by a new connection if the server has closed it.
//!
//! Callers see only addresses, messages and one [`RecipientResult`] per recipient, whose
//! [`DeliveryStatus`] shows whether a retry may succeed. Each result also records the
//! server and the TLS version and cipher suite used. This crate depends on no other Convene crate,
//! keeps no queue and never retries later by itself: scheduling retries is the caller's
//! decision.
//!
//! # Layout
//!
//! - `address`: [`Address`] and [`Mailbox`], validated so that they cannot inject SMTP
//!   commands or headers.
//! - `message`: [`Message`], [`Attachment`], [`InlineImage`] and their MIME encoding.
//! - `mx`: MX and address lookups.
//! - `config`: [`MailerConfig`] with its [`Timeouts`], [`TlsPolicy`] and [`Relay`].
//! - `reply`, `ehlo`, `smtp`, `tls`, `data`: SMTP replies, EHLO extensions, the connection,
//!   the TLS client configurations and the DATA encoding.
//! - `session`, `auth`: opening a session up to the first MAIL: greeting, EHLO, STARTTLS or
//!   implicit TLS, and AUTH.
//! - `transaction`: one mail transaction on an open session, pipelined or not.
//! - `pool`: idle sessions kept for reuse, closed with QUIT after the idle timeout.
//! - `deliver`: [`Mailer`], which ties the steps together for many recipients.
//! - `dkim` (public): DKIM signing, key loading and key generation.
//! - `doctor` (public): checks of a sender domain's SPF, DKIM, DMARC and reverse DNS
//!   records, through the same DNS settings as the [`Mailer`].
//! - `fuzzing` (only with the `fuzzing` feature): the reply parser's entry point for the
//!   fuzz targets in `fuzz/`.
//!
//! # Example
//!
//! ```no_run
//! use convene_mail::{Address, Mailbox, Mailer, MailerConfig, Message};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let sender = Address::parse("noreply@convene.example")?;
//! let recipient = Address::parse("ada@example.org")?;
//! let message = Message::new(Mailbox::new("Convene", sender.clone()), "Meeting moved")
//!     .to(recipient)
//!     .text("The meeting moved to 10:00.")
//!     .html("<p>The meeting moved to 10:00.</p>");
//! let mailer = Mailer::new(MailerConfig {
//!     helo_name: "mail.convene.example".to_owned(),
//!     ..MailerConfig::default()
//! })?;
//! let recipients = message.envelope_recipients();
//! for result in mailer.send(&sender, &recipients, &message.to_bytes()?).await {
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
//! handshake, to the next address or MX host). Message bodies, passwords and the AUTH
//! exchange are never logged, and [`Credentials`] hide the password from `Debug`.
//! Addresses appear in debug events.

mod address;
mod auth;
mod config;
mod data;
mod deliver;
pub mod dkim;
pub mod doctor;
mod ehlo;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod limit;
mod lines;
mod message;
mod mx;
mod pool;
mod reply;
mod session;
mod smtp;
mod status;
mod tls;
mod transaction;

pub use address::{Address, AddressError, Mailbox};
pub use config::{Credentials, MailerConfig, Relay, RelaySecurity, Timeouts, TlsPolicy};
pub use deliver::{Mailer, MailerError};
pub use message::{Attachment, InlineImage, Message, MessageError};
pub use status::{DeliveryStatus, RecipientResult};
