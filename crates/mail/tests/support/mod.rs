//! Helpers shared by the integration tests.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod fault_server;

use std::net::SocketAddr;
use std::time::Duration;

use convene_mail::{Address, Mailbox, Mailer, MailerConfig, Message, Timeouts};

/// Sends the crate's `tracing` events to the test output; `RUST_LOG=convene_mail=debug`
/// shows the SMTP dialogue of a failing test.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn address(text: &str) -> Address {
    Address::parse(text).unwrap_or_else(|error| panic!("{error}"))
}

/// Returns the settings for tests: the given DNS server and SMTP port, and timeouts short
/// enough that a broken test fails in seconds instead of minutes.
pub fn config(dns_server: SocketAddr, smtp_port: u16) -> MailerConfig {
    MailerConfig {
        dns_server: Some(dns_server),
        smtp_port,
        helo_name: "client.convene.test".to_owned(),
        timeouts: uniform_timeouts(Duration::from_secs(10)),
        ..MailerConfig::default()
    }
}

pub fn mailer(dns_server: SocketAddr, smtp_port: u16) -> Mailer {
    Mailer::new(config(dns_server, smtp_port)).expect("valid test configuration")
}

/// Returns a message whose text part has lines that need dot-stuffing and mixed line
/// endings.
pub fn sample_message() -> Message {
    Message::new(
        Mailbox::new("Convene", address("noreply@convene.test")),
        "Meeting moved to 10:00",
    )
    .to(Mailbox::new("Ada Lovelace", address("ada@alpha.test")))
    .text("hello\n.\n..two dots\r\nworld\r")
    .html("<p>hello</p>\n.<p>world</p>")
    .message_id_domain("convene.test")
}

/// Returns timeouts that are all `duration`, for tests that need every step to give up soon.
pub fn uniform_timeouts(duration: Duration) -> Timeouts {
    Timeouts {
        connect: duration,
        greeting: duration,
        command: duration,
        mail: duration,
        rcpt: duration,
        data_initiation: duration,
        data_block: duration,
        data_termination: duration,
    }
}
