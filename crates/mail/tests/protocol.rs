//! Servers whose replies do not match the commands: extra replies that would pair each later
//! reply with the wrong command, a positive reply to DATA, and a rejection sent while the
//! message data is still arriving. A scripted server records whether message data arrived,
//! so each test can tell a real delivery from a reply read out of step. DNS comes from a
//! real dnsmasq.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use convene_mail::{DeliveryStatus, Mailer, RecipientResult};
use convene_testkit::{DnsConfig, Dnsmasq, Peer, free_port_on, require_peers};
use support::fault_server::{Action, FaultServer, Script};
use support::{address, init_logging, mailer, sample_message};

/// A scripted server that dnsmasq names as the implicit MX of `domain`.
struct Setup {
    dns: Dnsmasq,
    server: FaultServer,
    port: u16,
}

/// Starts the server for row `index` of a table test on its own loopback address.
async fn start_row(domain: &str, index: usize, script: Script) -> Setup {
    let ip: IpAddr = format!("127.0.31.{}", index + 1).parse().unwrap();
    let port = free_port_on(&[ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host(domain, ip)).expect("dnsmasq starts");
    let server = FaultServer::start(SocketAddr::new(ip, port), script).await;
    Setup { dns, server, port }
}

async fn send_message(mailer: &Mailer, recipient: &str, message: &[u8]) -> RecipientResult {
    let mut results = mailer
        .send(
            &address("noreply@convene.test"),
            &[address(recipient)],
            message,
        )
        .await;
    assert_eq!(results.len(), 1, "{results:#?}");
    results.remove(0)
}

async fn send(mailer: &Mailer, recipient: &str) -> RecipientResult {
    let message = sample_message().to_bytes().unwrap();
    send_message(mailer, recipient, &message).await
}

/// Returns the number of messages whose final dot the server read, over all connections.
fn messages_received(server: &FaultServer) -> usize {
    server
        .sessions()
        .iter()
        .map(|session| session.messages.len())
        .sum()
}

#[tokio::test]
async fn data_reply_other_than_354_is_not_delivery() {
    if !require_peers(
        "data_reply_other_than_354_is_not_delivery",
        &[Peer::Dnsmasq],
    ) {
        return;
    }
    init_logging();
    let mut cases = Vec::new();
    for pipelining in [false, true] {
        for reply in ["250 2.0.0 ok\r\n", "334 go on\r\n"] {
            cases.push((pipelining, reply));
        }
    }
    for (index, (pipelining, reply)) in cases.into_iter().enumerate() {
        let case = format!("DATA {reply:?} pipelining {pipelining}");
        let script = Script {
            pipelining,
            overrides: vec![("DATA", Action::reply(reply))],
            ..Script::default()
        };
        let setup = start_row("data.test", index, script).await;
        let mailer = mailer(setup.dns.addr(), setup.port);

        let first = send(&mailer, "ada@data.test").await;
        let second = send(&mailer, "bob@data.test").await;

        for result in [&first, &second] {
            assert_eq!(
                result.status,
                DeliveryStatus::TemporaryFailure,
                "{case}: {result:#?}"
            );
            assert_eq!(result.reply_code, None, "{case}");
        }
        assert_eq!(messages_received(&setup.server), 0, "{case}");
        // The connection that got the reply is never kept for the second message.
        assert_eq!(setup.server.sessions().len(), 2, "{case}");
    }
}

#[tokio::test]
async fn extra_reply_before_command_is_detected() {
    if !require_peers("extra_reply_before_command_is_detected", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let stray_after_greeting = Script {
        greeting: Some("220 fault.test ESMTP\r\n250 2.0.0 stray\r\n".to_owned()),
        ..Script::default()
    };
    let two_greeting_replies = Script {
        greeting: Some("220 fault.test ESMTP\r\n220 ready\r\n".to_owned()),
        ..Script::default()
    };
    let doubled_ehlo = Script {
        ehlo_reply: "250-fault.test\r\n250 8BITMIME\r\n250 once more\r\n".to_owned(),
        ..Script::default()
    };
    let doubled_mail = Script {
        overrides: vec![("MAIL", Action::reply("250 2.0.0 ok\r\n250 2.0.0 again\r\n"))],
        ..Script::default()
    };
    let doubled_rcpt = Script {
        overrides: vec![("RCPT", Action::reply("250 2.1.5 ok\r\n250 2.1.5 again\r\n"))],
        accept_data_without_recipients: true,
        ..Script::default()
    };
    let rows = [
        ("stray reply after the greeting", stray_after_greeting),
        ("two greeting replies", two_greeting_replies),
        ("doubled EHLO reply", doubled_ehlo),
        ("doubled MAIL reply", doubled_mail),
        ("doubled RCPT reply", doubled_rcpt),
    ];
    let mut cases = Vec::new();
    for pipelining in [false, true] {
        for (name, script) in &rows {
            let script = Script {
                pipelining,
                ..script.clone()
            };
            cases.push((format!("{name}, pipelining {pipelining}"), script));
        }
    }

    for (index, (case, script)) in cases.into_iter().enumerate() {
        let setup = start_row("extra.test", index, script).await;

        let result = send(&mailer(setup.dns.addr(), setup.port), "ada@extra.test").await;

        assert_eq!(
            result.status,
            DeliveryStatus::TemporaryFailure,
            "{case}: {result:#?}"
        );
        assert_eq!(messages_received(&setup.server), 0, "{case}");
        assert_eq!(setup.server.sessions().len(), 1, "{case}");
    }
}

#[tokio::test]
async fn unsolicited_reply_makes_idle_connection_stale() {
    if !require_peers(
        "unsolicited_reply_makes_idle_connection_stale",
        &[Peer::Dnsmasq],
    ) {
        return;
    }
    init_logging();
    for (index, pipelining) in [false, true].into_iter().enumerate() {
        let script = Script {
            pipelining,
            unsolicited_after_message: Some("250 2.0.0 by the way\r\n".to_owned()),
            ..Script::default()
        };
        let setup = start_row("unsolicited.test", index, script).await;
        let mailer = mailer(setup.dns.addr(), setup.port);

        let first = send(&mailer, "ada@unsolicited.test").await;
        // The server sends its unsolicited reply 50 ms after the first message, so that it
        // arrives while the connection is idle.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = send(&mailer, "bob@unsolicited.test").await;

        assert_eq!(first.status, DeliveryStatus::Delivered, "{first:#?}");
        assert_eq!(second.status, DeliveryStatus::Delivered, "{second:#?}");
        let sessions = setup.server.sessions();
        let messages: Vec<usize> = sessions
            .iter()
            .map(|session| session.messages.len())
            .collect();
        assert_eq!(messages, [1, 1], "pipelining {pipelining}: {sessions:#?}");
        assert!(
            !sessions[0].has_command("RSET"),
            "pipelining {pipelining}: the idle connection was reused: {sessions:#?}"
        );
    }
}

/// Returns a raw message of about 20 MB, more than the socket buffers hold, so that the
/// client is still writing when the server closes the connection.
fn large_message() -> Vec<u8> {
    let mut message = b"Subject: large\r\n\r\n".to_vec();
    let line = [b"x".repeat(76).as_slice(), b"\r\n"].concat();
    for _ in 0..20_000_000 / line.len() {
        message.extend_from_slice(&line);
    }
    message
}

#[tokio::test]
async fn reply_during_data_is_read() {
    if !require_peers("reply_during_data_is_read", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let message = large_message();
    // (reply sent while the data arrives, expected status, expected code)
    let cases = [
        (
            "554 5.7.1 message content rejected\r\n",
            DeliveryStatus::PermanentFailure,
            Some(554),
        ),
        (
            "452 4.3.1 out of storage\r\n",
            DeliveryStatus::TemporaryFailure,
            Some(452),
        ),
        (
            "250 2.0.0 queued\r\n",
            DeliveryStatus::TemporaryFailure,
            None,
        ),
    ];
    for (index, (reply, status, code)) in cases.into_iter().enumerate() {
        let script = Script {
            overrides: vec![("DATA", Action::ReplyDuringData(reply.to_owned()))],
            ..Script::default()
        };
        let setup = start_row("during.test", index, script).await;
        let mailer = mailer(setup.dns.addr(), setup.port);

        let result = send_message(&mailer, "ada@during.test", &message).await;

        assert_eq!(result.status, status, "{reply:?}: {result:#?}");
        assert_eq!(result.reply_code, code, "{reply:?}");
        assert_eq!(messages_received(&setup.server), 0, "{reply:?}");
        assert_eq!(setup.server.sessions().len(), 1, "{reply:?}");
    }
}
