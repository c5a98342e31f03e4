//! Delivery against a scripted SMTP server, for faults that real servers do not produce on
//! demand. DNS still comes from a real dnsmasq.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use convene_mail::{DeliveryStatus, Mailer, MailerConfig, RecipientResult};
use convene_testkit::{DnsConfig, Dnsmasq, Peer, free_port_on, require_peers};
use support::fault_server::{FaultServer, Script, StartTls};
use support::{address, config, init_logging, mailer, sample_message, uniform_timeouts};

/// A scripted server on `ip` that dnsmasq names as the implicit MX of `domain`.
struct Setup {
    dns: Dnsmasq,
    server: FaultServer,
    port: u16,
}

async fn start(domain: &str, ip: &str, script: Script) -> Setup {
    let ip: IpAddr = ip.parse().unwrap();
    let port = free_port_on(&[ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host(domain, ip)).expect("dnsmasq starts");
    let server = FaultServer::start(SocketAddr::new(ip, port), script).await;
    Setup { dns, server, port }
}

async fn send(mailer: &Mailer, recipients: &[&str]) -> Vec<RecipientResult> {
    let recipients: Vec<_> = recipients
        .iter()
        .map(|recipient| address(recipient))
        .collect();
    let message = sample_message().to_bytes().unwrap();
    mailer
        .send(&address("noreply@convene.test"), &recipients, &message)
        .await
}

#[tokio::test]
async fn rcpt_replies_decide_each_recipient() {
    if !require_peers("rcpt_replies_decide_each_recipient", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let setup = start("rcpt.test", "127.0.1.1", Script::default()).await;

    let results = send(
        &mailer(setup.dns.addr(), setup.port),
        &["ok@rcpt.test", "reject@rcpt.test", "busy@rcpt.test"],
    )
    .await;

    let expected = [
        (
            "ok@rcpt.test",
            DeliveryStatus::Delivered,
            250,
            "2.0.0 queued",
        ),
        (
            "reject@rcpt.test",
            DeliveryStatus::PermanentFailure,
            550,
            "5.1.1 no such user",
        ),
        (
            "busy@rcpt.test",
            DeliveryStatus::TemporaryFailure,
            452,
            "4.2.2 mailbox full",
        ),
    ];
    assert_eq!(results.len(), expected.len());
    for (result, (recipient, status, code, text)) in results.iter().zip(expected) {
        assert_eq!(result.recipient.as_str(), recipient);
        assert_eq!(result.status, status, "{result:#?}");
        assert_eq!(result.reply_code, Some(code), "{recipient}");
        assert_eq!(result.reply_text, text, "{recipient}");
        assert_eq!(result.mx_host.as_deref(), Some("rcpt.test"), "{recipient}");
    }

    // QUIT is sent after the results are returned, so wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let sessions = loop {
        let sessions = setup.server.sessions();
        let quit = sessions
            .first()
            .and_then(|s| s.commands.last())
            .is_some_and(|c| c == "QUIT");
        if quit || std::time::Instant::now() > deadline {
            break sessions;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    let session = &sessions[0];
    let rcpt_commands: Vec<&str> = session
        .commands
        .iter()
        .filter(|command| command.starts_with("RCPT"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        rcpt_commands,
        [
            "RCPT TO:<ok@rcpt.test>",
            "RCPT TO:<reject@rcpt.test>",
            "RCPT TO:<busy@rcpt.test>"
        ]
    );
    assert_eq!(
        session
            .commands
            .iter()
            .filter(|command| *command == "DATA")
            .count(),
        1
    );
    assert_eq!(session.messages.len(), 1);
    assert!(
        session
            .commands
            .first()
            .is_some_and(|c| c == "EHLO client.convene.test"),
        "{session:#?}"
    );
    assert_eq!(session.commands.last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn rejected_recipients_skip_data() {
    if !require_peers("rejected_recipients_skip_data", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let setup = start("nobody.test", "127.0.1.2", Script::default()).await;

    let results = send(
        &mailer(setup.dns.addr(), setup.port),
        &["reject-one@nobody.test", "busy@nobody.test"],
    )
    .await;

    assert_eq!(
        results[0].status,
        DeliveryStatus::PermanentFailure,
        "{results:#?}"
    );
    assert_eq!(
        results[1].status,
        DeliveryStatus::TemporaryFailure,
        "{results:#?}"
    );
    let sessions = setup.server.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    assert!(!sessions[0].has_command("DATA"), "{sessions:#?}");
    assert!(sessions[0].messages.is_empty());
}

#[tokio::test]
async fn failed_starttls_falls_back_to_plain() {
    if !require_peers("failed_starttls_falls_back_to_plain", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    // (server behaviour, server address, whether the client starts a handshake)
    let cases = [
        (StartTls::GarbageHandshake, "127.0.1.3", true),
        // Text behind the 220 reply arrived unencrypted, so the client must not begin TLS
        // on that connection at all.
        (StartTls::DataAfterReply, "127.0.1.8", false),
    ];
    for (starttls, ip, handshake_started) in cases {
        let script = Script {
            starttls,
            ..Script::default()
        };
        let setup = start("badtls.test", ip, script).await;

        let results = send(&mailer(setup.dns.addr(), setup.port), &["ok@badtls.test"]).await;

        assert_eq!(
            results[0].status,
            DeliveryStatus::Delivered,
            "{starttls:?}: {results:#?}"
        );
        assert!(!results[0].tls, "{starttls:?}");

        // The first connection ends after STARTTLS. The second one delivers in plain text,
        // although the server still offers STARTTLS.
        let sessions = setup.server.sessions();
        assert_eq!(sessions.len(), 2, "{starttls:?}: {sessions:#?}");
        assert!(
            sessions[0].has_command("STARTTLS"),
            "{starttls:?}: {sessions:#?}"
        );
        assert_eq!(
            sessions[0].received_client_hello, handshake_started,
            "{starttls:?}"
        );
        assert!(
            !sessions[0].has_command("MAIL"),
            "{starttls:?}: {sessions:#?}"
        );
        assert!(
            !sessions[1].has_command("STARTTLS"),
            "{starttls:?}: {sessions:#?}"
        );
        assert_eq!(sessions[1].messages.len(), 1, "{starttls:?}: {sessions:#?}");
    }
}

#[tokio::test]
async fn rejected_ehlo_falls_back_to_helo() {
    if !require_peers("rejected_ehlo_falls_back_to_helo", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let script = Script {
        ehlo_reply: "502 5.5.1 command not implemented\r\n".to_owned(),
        ..Script::default()
    };
    let setup = start("oldserver.test", "127.0.1.4", script).await;

    let results = send(
        &mailer(setup.dns.addr(), setup.port),
        &["ok@oldserver.test"],
    )
    .await;

    assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    let sessions = setup.server.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    assert_eq!(
        sessions[0].commands[..2],
        ["EHLO client.convene.test", "HELO client.convene.test"]
    );
    assert_eq!(sessions[0].messages.len(), 1);
}

#[tokio::test]
async fn bad_greetings_fail_without_transaction() {
    if !require_peers("bad_greetings_fail_without_transaction", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let long_line = format!("220 {}\r\n", "x".repeat(5000));
    let cases = [
        // (greeting, whether the server then closes, status, reply code, text in reply_text)
        (
            "421 4.3.2 too busy\r\n",
            false,
            DeliveryStatus::TemporaryFailure,
            Some(421),
            "4.3.2 too busy",
        ),
        (
            "554 5.7.1 no mail from you\r\n",
            false,
            DeliveryStatus::PermanentFailure,
            Some(554),
            "no mail",
        ),
        (
            "hello there\r\n",
            false,
            DeliveryStatus::TemporaryFailure,
            None,
            "malformed reply line",
        ),
        (
            &long_line,
            false,
            DeliveryStatus::TemporaryFailure,
            None,
            "longer than 4096 octets",
        ),
        (
            "220-first\r\n250 second\r\n",
            false,
            DeliveryStatus::TemporaryFailure,
            None,
            "code 250",
        ),
        (
            "220-cut off\r\n",
            true,
            DeliveryStatus::TemporaryFailure,
            None,
            "connection closed",
        ),
    ];
    for (index, (greeting, close, status, code, text)) in cases.into_iter().enumerate() {
        let script = Script {
            greeting: Some(greeting.to_owned()),
            close_after_greeting: close,
            ..Script::default()
        };
        let setup = start("greeting.test", &format!("127.0.2.{}", index + 1), script).await;

        let results = send(&mailer(setup.dns.addr(), setup.port), &["ok@greeting.test"]).await;

        let result = &results[0];
        assert_eq!(result.status, status, "greeting {greeting:?}: {result:#?}");
        assert_eq!(result.reply_code, code, "greeting {greeting:?}");
        assert!(
            result.reply_text.contains(text),
            "greeting {greeting:?}: {}",
            result.reply_text
        );
        assert_eq!(
            result.mx_host.as_deref(),
            Some("greeting.test"),
            "greeting {greeting:?}"
        );
        let sessions = setup.server.sessions();
        assert!(
            !sessions.iter().any(|session| session.has_command("MAIL")),
            "{sessions:#?}"
        );
    }
}

#[tokio::test]
async fn silent_server_times_out() {
    if !require_peers("silent_server_times_out", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let script = Script {
        greeting: None,
        ..Script::default()
    };
    let setup = start("silent.test", "127.0.1.5", script).await;
    // A short timeout only keeps the test quick; the outcome is the same with any value.
    let mailer = Mailer::new(MailerConfig {
        timeouts: uniform_timeouts(Duration::from_millis(300)),
        ..config(setup.dns.addr(), setup.port)
    })
    .unwrap();

    let results = send(&mailer, &["ok@silent.test"]).await;

    assert_eq!(
        results[0].status,
        DeliveryStatus::TemporaryFailure,
        "{results:#?}"
    );
    assert_eq!(results[0].reply_code, None);
    assert!(
        results[0].reply_text.contains("timed out") && results[0].reply_text.contains("greeting"),
        "{}",
        results[0].reply_text
    );
}

#[tokio::test]
async fn busy_greeting_moves_to_next_mx() {
    if !require_peers("busy_greeting_moves_to_next_mx", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let busy_ip: IpAddr = "127.0.1.6".parse().unwrap();
    let working_ip: IpAddr = "127.0.1.7".parse().unwrap();
    let port = free_port_on(&[busy_ip, working_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("twomx.test", "busy.twomx.test", 5)
            .mx("twomx.test", "working.twomx.test", 50)
            .host("busy.twomx.test", busy_ip)
            .host("working.twomx.test", working_ip),
    )
    .expect("dnsmasq starts");
    let busy_script = Script {
        greeting: Some("421 4.3.2 busy\r\n".to_owned()),
        ..Script::default()
    };
    let busy = FaultServer::start(SocketAddr::new(busy_ip, port), busy_script).await;
    let working = FaultServer::start(SocketAddr::new(working_ip, port), Script::default()).await;

    let results = send(&mailer(dns.addr(), port), &["ok@twomx.test"]).await;

    assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    assert_eq!(results[0].mx_host.as_deref(), Some("working.twomx.test"));
    assert_eq!(
        busy.sessions().len(),
        1,
        "the busy server was not tried first"
    );
    assert_eq!(working.sessions()[0].messages.len(), 1);
}
