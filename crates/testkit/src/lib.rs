//! Test support for Convene: real network peers on loopback, started and stopped by the test,
//! and PostgreSQL databases created and dropped by the test.
//!
//! Tests that need a DNS server or an SMTP server start the real programs rather than mocks:
//!
//! - [`Dnsmasq`] runs `dnsmasq` (Debian package `dnsmasq-base`) on `127.0.0.1` and a free
//!   port, serving only the records in a [`DnsConfig`]. It never forwards a query upstream,
//!   so tests do not depend on, or reach, the system resolver.
//! - [`SmtpServer`] runs `aiosmtpd` (PyPI package `aiosmtpd`) through the script in
//!   `peers/smtp_server.py`, optionally offering STARTTLS, and writes every accepted message
//!   to a spool directory that [`SmtpServer::messages`] reads back. [`SmtpOptions`] adds
//!   implicit TLS, required AUTH and PIPELINING.
//! - [`SmtpSink`] runs Postfix's test server `smtp-sink` (Debian package `postfix`), a
//!   second SMTP implementation, and reads each accepted message back from its dump file.
//! - [`SelfSignedCert`] writes a certificate and key in PEM form for the SMTP server, and
//!   [`TestCa`] issues server certificates from a CA that a client can be configured to trust.
//! - [`run_python`] runs a Python script on some input, for checkers such as a parser built on
//!   Python's `email` package.
//! - [`DkimVerifier`] runs dkimpy (PyPI package `dkimpy`) or OpenDKIM (Debian package
//!   `opendkim`) on a message, answering their key lookups from given [`TxtRecord`]s.
//! - [`HttpPeer`] runs `peers/http_peer.py`, an HTTP peer for the channels that send over
//!   HTTP: an SMS gateway that reads the form with Python's `urllib.parse`, a webhook
//!   receiver that verifies signatures with `standardwebhooks` (PyPI), or a Web Push
//!   service that checks VAPID tokens with `cryptography` and decrypts with `http_ece`
//!   (PyPI). Each records the requests it received for [`HttpPeer::requests`].
//! - [`TestDatabase`] (module [`postgres`]) creates an empty PostgreSQL database for one test
//!   on the server that the environment variable `CONVENE_TEST_POSTGRES_URL` names, and drops
//!   it when dropped.
//! - [`free_port_on`] finds a TCP port that is free on several loopback addresses at once,
//!   because a mailer connects to one port number on every host.
//!
//! Every peer is bound to a loopback address and is killed when its handle is dropped.
//! A test first calls [`require_peers`], which skips the test when a program is missing and
//! fails it instead when the environment variable `CONVENE_REQUIRE_PEERS=1` is set (as CI
//! should do). [`TestDatabase::create`] does the same when `CONVENE_TEST_POSTGRES_URL` is
//! not set.
//!
//! ```no_run
//! use convene_testkit::{require_peers, DnsConfig, Dnsmasq, Peer};
//!
//! if !require_peers("mx_lookup", &[Peer::Dnsmasq]) {
//!     return;
//! }
//! let dns = Dnsmasq::start(
//!     DnsConfig::new()
//!         .mx("alpha.test", "mx.alpha.test", 10)
//!         .host("mx.alpha.test", "127.0.0.2".parse().unwrap()),
//! )
//! .expect("dnsmasq starts");
//! println!("DNS server at {}", dns.addr());
//! ```
//!
//! This crate is for tests only: it panics on misuse and is never published.

mod ca;
mod cert;
mod dkim;
mod dnsmasq;
mod http_peer;
mod peers;
mod ports;
pub mod postgres;
mod process;
mod python;
mod smtp_server;
mod smtp_sink;
mod spool;

pub use ca::TestCa;
pub use cert::SelfSignedCert;
pub use dkim::{DkimVerdict, DkimVerifier, TxtRecord};
pub use dnsmasq::{DnsConfig, Dnsmasq};
pub use http_peer::{HttpPeer, PeerSubscription, ReceivedRequest};
pub use peers::{Peer, require_peers};
pub use ports::free_port_on;
pub use postgres::TestDatabase;
pub use python::run_python;
pub use smtp_server::{SmtpOptions, SmtpServer, SpooledMessage};
pub use smtp_sink::{SinkMessage, SmtpSink};
