//! The mail queue over a real SQLite store, delivering through the Mail
//! Broker to dnsmasq and aiosmtpd on loopback.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use convene_domain::{MailState, OutgoingMessage, OutgoingRecipient};
use convene_mail::{Address, Mailer, MailerConfig, Timeouts, TlsPolicy};
use convene_outbox::{Outbox, OutboxConfig};
use convene_store::{MailStore, SqliteStore};
use convene_testkit::{DnsConfig, Dnsmasq, Peer, SmtpServer, free_port_on, require_peers};
use jiff::{SignedDuration, Timestamp};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn later(seconds: i64) -> Timestamp {
    Timestamp::now()
        .checked_add(SignedDuration::from_secs(seconds))
        .unwrap()
}

fn recipient(address: &str) -> OutgoingRecipient {
    OutgoingRecipient {
        address: address.to_owned(),
        delivery: None,
    }
}

/// Returns the value of the header `name` in a raw message.
fn header(data: &str, name: &str) -> Option<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    data.lines()
        .take_while(|line| !line.is_empty())
        .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_owned())
}

struct World {
    dns: Dnsmasq,
    port: u16,
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
}

async fn world() -> World {
    let port = free_port_on(&[ip("127.0.0.2"), ip("127.0.0.3")]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("alpha.test", "mx.alpha.test", 10)
            .host("mx.alpha.test", ip("127.0.0.2"))
            .mx("beta.test", "mx.beta.test", 10)
            .host("mx.beta.test", ip("127.0.0.3"))
            .null_mx("null.test"),
    )
    .expect("dnsmasq starts");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("convene.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    World {
        dns,
        port,
        _dir: dir,
        store,
    }
}

fn outbox(world: &World, expiry: Duration) -> Outbox {
    outbox_with(world, expiry, TlsPolicy::Opportunistic)
}

fn outbox_with(world: &World, expiry: Duration, tls: TlsPolicy) -> Outbox {
    outbox_batch(world, expiry, tls, 10)
}

fn outbox_batch(world: &World, expiry: Duration, tls: TlsPolicy, batch_size: usize) -> Outbox {
    let mailer = Mailer::new(MailerConfig {
        tls,
        dns_server: Some(world.dns.addr()),
        smtp_port: world.port,
        helo_name: "convene.test".to_owned(),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            ..Timeouts::default()
        },
        ..MailerConfig::default()
    })
    .unwrap();
    let store: Arc<dyn MailStore> = world.store.clone();
    Outbox::new(
        store,
        mailer,
        OutboxConfig {
            poll_interval: Duration::from_millis(50),
            batch_size,
            lease: Duration::from_secs(60),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            expiry,
            worker_id: "test".to_owned(),
            signer: None,
            observer: None,
        },
    )
}

fn data(subject: &str) -> Vec<u8> {
    format!(
        "From: convene@convene.test\r\nTo: undisclosed-recipients:;\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Jan 2030 09:00:00 +0000\r\nMessage-ID: <{subject}@convene.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

/// Queues one message from `convene@convene.test` to `addresses`.
async fn queue(
    outbox: &Outbox,
    subject: &str,
    addresses: &[&str],
    deadline: Option<Timestamp>,
) -> OutgoingMessage {
    let sender = Address::parse("convene@convene.test").unwrap();
    let recipients = addresses.iter().map(|address| recipient(address)).collect();
    let message = outbox
        .prepare(&sender, data(subject), recipients, deadline)
        .unwrap();
    outbox.enqueue(vec![message.clone()]).await.unwrap();
    message
}

#[tokio::test]
async fn temporary_failure_retried_alone() {
    if !require_peers(
        "temporary_failure_retried_alone",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = world().await;
    let alpha_spool = tempfile::tempdir().unwrap();
    let alpha = SmtpServer::start(ip("127.0.0.2"), world.port, None, alpha_spool.path())
        .expect("aiosmtpd starts");
    // Nothing listens for beta.test yet: its connection is refused.
    let outbox = outbox(&world, Duration::from_secs(3600));
    let sender = Address::parse("convene@convene.test").unwrap();
    let message = outbox
        .prepare(
            &sender,
            data("retry"),
            vec![
                recipient("ada@alpha.test"),
                recipient("bob@beta.test"),
                recipient("nobody@null.test"),
            ],
            None,
        )
        .unwrap();
    assert_eq!(
        outbox.enqueue(vec![message.clone()]).await.unwrap()[0],
        [true, true, true]
    );

    // The message was stored before any attempt.
    let stored = outbox.status(message.id).await.unwrap().unwrap();
    assert!(
        stored
            .recipients
            .iter()
            .all(|r| r.state == MailState::Queued && r.attempts.is_empty())
    );

    assert_eq!(outbox.run_once(Timestamp::now()).await.unwrap(), 3);
    let status = outbox.status(message.id).await.unwrap().unwrap();
    let states: Vec<MailState> = status.recipients.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [MailState::Delivered, MailState::Queued, MailState::Failed],
        "{status:#?}"
    );
    let bob = &status.recipients[1];
    assert_eq!(bob.attempts.len(), 1);
    assert!(bob.next_attempt_at.is_some());
    assert!(
        status.recipients[2].attempts[0]
            .reply_text
            .contains("null MX"),
        "{status:#?}"
    );

    // beta.test comes up; the retry goes to bob alone.
    let beta_spool = tempfile::tempdir().unwrap();
    let beta = SmtpServer::start(ip("127.0.0.3"), world.port, None, beta_spool.path())
        .expect("aiosmtpd starts");
    assert_eq!(outbox.run_once(later(120)).await.unwrap(), 1);
    assert_eq!(outbox.run_once(later(240)).await.unwrap(), 0);

    let status = outbox.status(message.id).await.unwrap().unwrap();
    assert_eq!(
        status.recipients[1].state,
        MailState::Delivered,
        "{status:#?}"
    );
    assert_eq!(status.recipients[1].attempts.len(), 2);
    let alpha_copies = alpha.messages().unwrap();
    let beta_copies = beta.messages().unwrap();
    assert_eq!(alpha_copies.len(), 1, "ada got one copy");
    assert_eq!(beta_copies.len(), 1, "bob got one copy");
    assert_eq!(beta_copies[0].rcpt_tos, ["bob@beta.test"]);
    assert_eq!(
        header(&beta_copies[0].data, "Message-ID"),
        header(&alpha_copies[0].data, "Message-ID"),
        "the retry sends the stored message"
    );
    assert_eq!(beta_copies[0].data, alpha_copies[0].data);
}

#[tokio::test]
async fn failing_at_expiry_fails_permanently() {
    if !require_peers("failing_at_expiry_fails_permanently", &[Peer::Dnsmasq]) {
        return;
    }
    let world = world().await;
    // Nothing listens anywhere, and the first retry (one second later)
    // would come after the message's deadline.
    let outbox = outbox(&world, Duration::from_secs(3600));
    let message = queue(&outbox, "expiry", &["bob@beta.test"], Some(later(0))).await;
    assert_eq!(outbox.run_once(Timestamp::now()).await.unwrap(), 1);

    let status = outbox.status(message.id).await.unwrap().unwrap();
    let bob = &status.recipients[0];
    assert_eq!(bob.state, MailState::Failed, "{status:#?}");
    assert!(
        bob.attempts[0].reply_text.contains("the message expired"),
        "{:?}",
        bob.attempts[0].reply_text
    );
    assert_eq!(
        outbox.run_once(later(3600)).await.unwrap(),
        0,
        "never retried"
    );
}

#[tokio::test]
async fn required_tls_keeps_message_queued() {
    if !require_peers(
        "required_tls_keeps_message_queued",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = world().await;
    // beta.test's server offers no STARTTLS, so a policy that requires TLS
    // must send it nothing.
    let spool = tempfile::tempdir().unwrap();
    let beta = SmtpServer::start(ip("127.0.0.3"), world.port, None, spool.path())
        .expect("aiosmtpd starts");
    let outbox = outbox_with(
        &world,
        Duration::from_secs(3600),
        TlsPolicy::Required {
            verify_certificate: false,
        },
    );
    let message = queue(&outbox, "required", &["bob@beta.test"], None).await;
    assert_eq!(outbox.run_once(Timestamp::now()).await.unwrap(), 1);

    let status = outbox.status(message.id).await.unwrap().unwrap();
    let bob = &status.recipients[0];
    assert_eq!(bob.state, MailState::Queued, "{status:#?}");
    assert!(bob.next_attempt_at.is_some(), "{status:#?}");
    assert_eq!(
        bob.attempts[0].outcome,
        convene_domain::DeliveryOutcome::TemporaryFailure
    );
    assert!(beta.messages().unwrap().is_empty(), "nothing in plain text");
}

#[tokio::test]
async fn repeated_address_gets_one_copy() {
    if !require_peers(
        "repeated_address_gets_one_copy",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = world().await;
    // One recipient per poll, so each position would be claimed alone.
    let outbox = outbox_batch(
        &world,
        Duration::from_secs(3600),
        TlsPolicy::Opportunistic,
        1,
    );
    let sender = Address::parse("convene@convene.test").unwrap();
    let message = outbox
        .prepare(
            &sender,
            data("twice"),
            vec![recipient("bob@beta.test"), recipient("Bob@Beta.test")],
            None,
        )
        .unwrap();
    let queued = outbox.enqueue(vec![message.clone()]).await.unwrap();
    assert_eq!(queued[0], [true, false]);

    // The first attempt fails; the retry is the only copy.
    assert_eq!(outbox.run_once(Timestamp::now()).await.unwrap(), 1);
    let spool = tempfile::tempdir().unwrap();
    let beta = SmtpServer::start(ip("127.0.0.3"), world.port, None, spool.path())
        .expect("aiosmtpd starts");
    for seconds in [120, 240, 480] {
        outbox.run_once(later(seconds)).await.unwrap();
    }
    assert_eq!(beta.messages().unwrap().len(), 1, "bob got one copy");
}

#[tokio::test]
async fn retry_claimed_after_expiry_not_sent() {
    if !require_peers(
        "retry_claimed_after_expiry_not_sent",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = world().await;
    let outbox = outbox(&world, Duration::from_secs(3600));
    let message = queue(&outbox, "late", &["bob@beta.test"], Some(later(2))).await;
    // Nothing listens: the first attempt fails, with a retry due before the
    // expiry.
    outbox.run_once(Timestamp::now()).await.unwrap();
    let status = outbox.status(message.id).await.unwrap().unwrap();
    assert_eq!(status.recipients[0].state, MailState::Queued, "{status:#?}");

    // The process is down past the expiry; then the server comes up.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let spool = tempfile::tempdir().unwrap();
    let beta = SmtpServer::start(ip("127.0.0.3"), world.port, None, spool.path())
        .expect("aiosmtpd starts");
    assert_eq!(outbox.run_once(Timestamp::now()).await.unwrap(), 1);

    let status = outbox.status(message.id).await.unwrap().unwrap();
    let bob = &status.recipients[0];
    assert_eq!(bob.state, MailState::Failed, "{status:#?}");
    assert!(
        bob.attempts[1].reply_text.contains("expired"),
        "{:?}",
        bob.attempts[1].reply_text
    );
    assert!(
        beta.messages().unwrap().is_empty(),
        "nothing sent after expiry"
    );
}
