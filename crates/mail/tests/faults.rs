//! Delivery against a scripted SMTP server, for faults that real servers do not produce on
//! demand. DNS still comes from a real dnsmasq.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use convene_mail::{DeliveryStatus, Mailer, MailerConfig, RecipientResult, TlsPolicy};
use convene_testkit::{DnsConfig, Dnsmasq, Peer, free_port_on, require_peers};
use support::fault_server::{Action, FaultServer, Script, Session, StartTls};
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
    for (pipelining, ip) in [(false, "127.0.1.1"), (true, "127.0.1.9")] {
        let script = Script {
            pipelining,
            ..Script::default()
        };
        let setup = start("rcpt.test", ip, script).await;

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
            assert_eq!(
                result.status, status,
                "pipelining {pipelining}: {result:#?}"
            );
            assert_eq!(result.reply_code, Some(code), "{recipient}");
            assert_eq!(result.reply_text, text, "{recipient}");
            assert_eq!(result.mx_host.as_deref(), Some("rcpt.test"), "{recipient}");
        }

        // The mailer above was dropped, which closes its idle connection with QUIT.
        let sessions = setup.server.sessions_ending_with(&["QUIT"]).await;
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
        assert_eq!(session.count_commands("DATA"), 1, "{session:#?}");
        assert_eq!(session.messages.len(), 1);
        assert!(
            session
                .commands
                .first()
                .is_some_and(|c| c == "EHLO client.convene.test"),
            "{session:#?}"
        );
        assert_eq!(session.commands.last().map(String::as_str), Some("QUIT"));
        assert_eq!(
            mail_group(session).len(),
            if pipelining { 5 } else { 1 },
            "pipelining {pipelining}: {:#?}",
            session.groups
        );
    }
}

/// Returns the group of commands that arrived in the same read as MAIL.
fn mail_group(session: &Session) -> Vec<String> {
    session
        .groups
        .iter()
        .find(|group| group.iter().any(|command| command.starts_with("MAIL")))
        .cloned()
        .unwrap_or_else(|| panic!("no MAIL command in {session:#?}"))
}

#[tokio::test]
async fn pipelining_sends_mail_rcpt_data_together() {
    if !require_peers("pipelining_sends_mail_rcpt_data_together", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let script = Script {
        pipelining: true,
        ehlo_reply: "250-fault.test\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n".to_owned(),
        ..Script::default()
    };
    let setup = start("pipe.test", "127.0.5.1", script).await;

    let results = send(
        &mailer(setup.dns.addr(), setup.port),
        &["ok@pipe.test", "reject@pipe.test", "two@pipe.test"],
    )
    .await;

    let statuses: Vec<DeliveryStatus> = results.iter().map(|result| result.status).collect();
    assert_eq!(
        statuses,
        [
            DeliveryStatus::Delivered,
            DeliveryStatus::PermanentFailure,
            DeliveryStatus::Delivered
        ]
    );
    let sessions = setup.server.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    let group = mail_group(&sessions[0]);
    // SIZE counts the message as the server stores it: CRLF line endings, no dot-stuffing.
    assert_eq!(sessions[0].messages.len(), 1);
    let message_size = sessions[0].messages[0].len();
    assert_eq!(
        group,
        [
            format!("MAIL FROM:<noreply@convene.test> SIZE={message_size}"),
            "RCPT TO:<ok@pipe.test>".to_owned(),
            "RCPT TO:<reject@pipe.test>".to_owned(),
            "RCPT TO:<two@pipe.test>".to_owned(),
            "DATA".to_owned(),
        ],
        "every command of the transaction arrives in one read, before any reply"
    );
}

#[tokio::test]
async fn pipelined_data_without_recipients_sends_lone_dot() {
    if !require_peers(
        "pipelined_data_without_recipients_sends_lone_dot",
        &[Peer::Dnsmasq],
    ) {
        return;
    }
    init_logging();
    // (whether the server wrongly replies 354 to DATA, server address)
    for (accept_data, ip) in [(true, "127.0.5.2"), (false, "127.0.5.3")] {
        let script = Script {
            pipelining: true,
            accept_data_without_recipients: accept_data,
            ..Script::default()
        };
        let setup = start("nobody.test", ip, script).await;

        let results = send(
            &mailer(setup.dns.addr(), setup.port),
            &["reject@nobody.test", "busy@nobody.test"],
        )
        .await;

        assert_eq!(
            results[0].status,
            DeliveryStatus::PermanentFailure,
            "{results:#?}"
        );
        assert_eq!(results[0].reply_code, Some(550));
        assert_eq!(
            results[1].status,
            DeliveryStatus::TemporaryFailure,
            "{results:#?}"
        );
        assert_eq!(results[1].reply_code, Some(452));
        let sessions = setup.server.sessions();
        assert_eq!(sessions.len(), 1, "{sessions:#?}");
        // A server that accepted DATA got a single dot: an empty message, never the real one.
        let expected_messages: &[&str] = if accept_data { &[""] } else { &[] };
        assert_eq!(
            sessions[0].messages, expected_messages,
            "accept_data {accept_data}"
        );
    }
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

/// Starts a scripted server for one row of a table test, on its own loopback address.
async fn start_row(domain: &str, index: usize, script: Script) -> Setup {
    start(domain, &format!("127.0.6.{}", index + 1), script).await
}

#[tokio::test]
async fn replies_at_each_step_decide_status() {
    if !require_peers("replies_at_each_step_decide_status", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let temporary = DeliveryStatus::TemporaryFailure;
    let permanent = DeliveryStatus::PermanentFailure;
    // (command verb or "." for the final dot, reply, status, code)
    let steps = [
        ("EHLO", "421 4.3.2 too busy\r\n", temporary, 421),
        ("EHLO", "451 4.3.0 try later\r\n", temporary, 451),
        ("MAIL", "451 4.3.0 try later\r\n", temporary, 451),
        ("MAIL", "553 5.7.1 sender rejected\r\n", permanent, 553),
        ("DATA", "451 4.3.0 try later\r\n", temporary, 451),
        ("DATA", "554 5.7.1 no\r\n", permanent, 554),
        (".", "452 4.3.1 out of storage\r\n", temporary, 452),
        (".", "554 5.6.0 message refused\r\n", permanent, 554),
    ];
    let mut cases: Vec<(Script, DeliveryStatus, u16, String)> = Vec::new();
    for pipelining in [false, true] {
        for (verb, reply, status, code) in steps {
            let script = Script {
                pipelining,
                overrides: vec![(verb, Action::reply(reply))],
                ..Script::default()
            };
            cases.push((
                script,
                status,
                code,
                format!("{verb} {reply:?} pipelining {pipelining}"),
            ));
        }
    }
    // 5xx to EHLO makes the client fall back to HELO, so both are rejected here.
    let rejected_hello = Script {
        overrides: vec![
            ("EHLO", Action::reply("550 5.7.1 go away\r\n")),
            ("HELO", Action::reply("550 5.7.1 go away\r\n")),
        ],
        ..Script::default()
    };
    cases.push((
        rejected_hello,
        permanent,
        550,
        "EHLO and HELO 550".to_owned(),
    ));
    for (greeting, status, code) in [
        ("421 4.3.2 busy\r\n", temporary, 421),
        ("554 5.7.1 no\r\n", permanent, 554),
    ] {
        let script = Script {
            greeting: Some(greeting.to_owned()),
            ..Script::default()
        };
        cases.push((script, status, code, format!("greeting {greeting:?}")));
    }

    for (index, (script, status, code, case)) in cases.into_iter().enumerate() {
        let setup = start_row("steps.test", index, script).await;

        let results = send(&mailer(setup.dns.addr(), setup.port), &["ok@steps.test"]).await;

        assert_eq!(results[0].status, status, "{case}: {results:#?}");
        assert_eq!(results[0].reply_code, Some(code), "{case}");
        // One connection only: nothing is retried in the same call, so nothing can arrive
        // twice.
        let sessions = setup.server.sessions();
        assert_eq!(sessions.len(), 1, "{case}: {sessions:#?}");
        // After a pipelined MAIL was rejected, this server still accepts RCPT and DATA, and
        // the client ends DATA with a lone dot: an empty message, never the real one.
        let real_messages = sessions[0]
            .messages
            .iter()
            .filter(|message| !message.is_empty())
            .count();
        let expected = usize::from(case.starts_with('.'));
        assert_eq!(real_messages, expected, "{case}: messages the server read");
    }
}

#[tokio::test]
async fn dropped_connection_during_data_is_temporary() {
    if !require_peers(
        "dropped_connection_during_data_is_temporary",
        &[Peer::Dnsmasq],
    ) {
        return;
    }
    init_logging();
    // (where the server drops the connection, whether it read the final dot)
    let cases = [
        (("DATA", Action::CloseDuringData), 0),
        ((".", Action::Close), 1),
    ];
    for (index, (drop_at, messages)) in cases.into_iter().enumerate() {
        let script = Script {
            overrides: vec![drop_at.clone()],
            ..Script::default()
        };
        let setup = start_row("dropped.test", index, script).await;

        let results = send(&mailer(setup.dns.addr(), setup.port), &["ok@dropped.test"]).await;

        assert_eq!(
            results[0].status,
            DeliveryStatus::TemporaryFailure,
            "{drop_at:?}: {results:#?}"
        );
        assert_eq!(results[0].reply_code, None, "{drop_at:?}");
        let sessions = setup.server.sessions();
        assert_eq!(sessions.len(), 1, "{drop_at:?}: {sessions:#?}");
        assert_eq!(sessions[0].messages.len(), messages, "{drop_at:?}");
    }
}

#[tokio::test]
async fn lost_final_reply_skips_other_mx() {
    if !require_peers("lost_final_reply_skips_other_mx", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let first_ip: IpAddr = "127.0.7.1".parse().unwrap();
    let second_ip: IpAddr = "127.0.7.2".parse().unwrap();
    let port = free_port_on(&[first_ip, second_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("lost.test", "first.lost.test", 10)
            .mx("lost.test", "second.lost.test", 20)
            .host("first.lost.test", first_ip)
            .host("second.lost.test", second_ip),
    )
    .expect("dnsmasq starts");
    let dropping = Script {
        overrides: vec![(".", Action::Close)],
        ..Script::default()
    };
    let first = FaultServer::start(SocketAddr::new(first_ip, port), dropping).await;
    let second = FaultServer::start(SocketAddr::new(second_ip, port), Script::default()).await;

    let results = send(&mailer(dns.addr(), port), &["ok@lost.test"]).await;

    // The first server may have taken the message, so sending it to the second could
    // deliver it twice.
    assert_eq!(
        results[0].status,
        DeliveryStatus::TemporaryFailure,
        "{results:#?}"
    );
    assert_eq!(results[0].mx_host.as_deref(), Some("first.lost.test"));
    assert_eq!(first.sessions()[0].messages.len(), 1);
    assert!(second.sessions().is_empty(), "{:#?}", second.sessions());
}

#[tokio::test]
async fn slow_server_times_out() {
    if !require_peers("slow_server_times_out", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let short = Duration::from_millis(300);
    let slow = Duration::from_secs(3);
    // (slow step, timeouts with that step short, text in the result)
    let base = uniform_timeouts(Duration::from_secs(10));
    let cases = [
        (
            "MAIL",
            convene_mail::Timeouts {
                mail: short,
                ..base
            },
            "MAIL",
        ),
        (
            "RCPT",
            convene_mail::Timeouts {
                rcpt: short,
                ..base
            },
            "RCPT",
        ),
        (
            "DATA",
            convene_mail::Timeouts {
                data_initiation: short,
                ..base
            },
            "DATA",
        ),
        (
            ".",
            convene_mail::Timeouts {
                data_termination: short,
                ..base
            },
            "message data",
        ),
    ];
    for (index, (verb, timeouts, text)) in cases.into_iter().enumerate() {
        let reply = match verb {
            "DATA" => "354 go ahead\r\n",
            "RCPT" => "250 2.1.5 ok\r\n",
            _ => "250 2.0.0 ok\r\n",
        };
        let script = Script {
            overrides: vec![(verb, Action::Delay(slow, reply.to_owned()))],
            ..Script::default()
        };
        let setup = start_row("slow.test", index, script).await;
        let mailer = Mailer::new(MailerConfig {
            timeouts,
            ..config(setup.dns.addr(), setup.port)
        })
        .unwrap();

        let results = send(&mailer, &["ok@slow.test"]).await;

        let result = &results[0];
        assert_eq!(
            result.status,
            DeliveryStatus::TemporaryFailure,
            "{verb}: {result:#?}"
        );
        assert!(
            result.reply_text.contains("timed out") && result.reply_text.contains(text),
            "{verb}: {}",
            result.reply_text
        );
        assert_eq!(setup.server.sessions().len(), 1, "{verb}");
    }
}

#[tokio::test]
async fn equal_preference_mx_order_is_random() {
    if !require_peers("equal_preference_mx_order_is_random", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let one_ip: IpAddr = "127.0.7.3".parse().unwrap();
    let two_ip: IpAddr = "127.0.7.4".parse().unwrap();
    let port = free_port_on(&[one_ip, two_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("shuffle.test", "one.shuffle.test", 10)
            .mx("shuffle.test", "two.shuffle.test", 10)
            .host("one.shuffle.test", one_ip)
            .host("two.shuffle.test", two_ip),
    )
    .expect("dnsmasq starts");
    let one = FaultServer::start(SocketAddr::new(one_ip, port), Script::default()).await;
    let two = FaultServer::start(SocketAddr::new(two_ip, port), Script::default()).await;
    // Without reuse, each message goes to whichever host the shuffle puts first.
    let mailer = Mailer::new(MailerConfig {
        max_idle_per_host: 0,
        ..config(dns.addr(), port)
    })
    .unwrap();

    for _ in 0..40 {
        let results = send(&mailer, &["ok@shuffle.test"]).await;
        assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    }

    // Each host comes first with probability 1/2, so one of them getting no message in 40
    // tries has a probability of 2^-39.
    let count = |server: &FaultServer| -> usize {
        server
            .sessions()
            .iter()
            .map(|session| session.messages.len())
            .sum()
    };
    let (first, second) = (count(&one), count(&two));
    assert_eq!(first + second, 40);
    assert!(first > 0, "the first host got none of {second}");
    assert!(second > 0, "the second host got none of {first}");
}

#[tokio::test]
async fn required_tls_sends_nothing_in_plain_text() {
    if !require_peers("required_tls_sends_nothing_in_plain_text", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    // (STARTTLS behaviour, text in the result)
    let cases = [
        (StartTls::NotOffered, "does not offer STARTTLS"),
        (StartTls::GarbageHandshake, "TLS handshake"),
        (StartTls::DataAfterReply, "before the TLS handshake"),
    ];
    for (index, (starttls, text)) in cases.into_iter().enumerate() {
        let script = Script {
            starttls,
            ..Script::default()
        };
        let setup = start(
            &format!("strict{index}.test"),
            &format!("127.0.8.{}", index + 1),
            script,
        )
        .await;
        let mut tls_by_domain = std::collections::BTreeMap::new();
        tls_by_domain.insert(
            format!("strict{index}.test"),
            TlsPolicy::Required {
                verify_certificate: false,
            },
        );
        let mailer = Mailer::new(MailerConfig {
            tls_by_domain,
            ..config(setup.dns.addr(), setup.port)
        })
        .unwrap();

        let results = send(&mailer, &[&format!("ok@strict{index}.test")]).await;

        let result = &results[0];
        assert_eq!(
            result.status,
            DeliveryStatus::TemporaryFailure,
            "{starttls:?}: {result:#?}"
        );
        assert!(
            result.reply_text.contains(text),
            "{starttls:?}: {}",
            result.reply_text
        );
        assert!(!result.tls);
        let sessions = setup.server.sessions();
        assert_eq!(
            sessions.len(),
            1,
            "{starttls:?}: no plain-text retry: {sessions:#?}"
        );
        assert!(
            !sessions[0].has_command("MAIL"),
            "{starttls:?}: {sessions:#?}"
        );
    }
}

#[tokio::test]
async fn idle_connection_carries_next_message() {
    if !require_peers("idle_connection_carries_next_message", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    for (pipelining, ip) in [(false, "127.0.9.1"), (true, "127.0.9.2")] {
        let script = Script {
            pipelining,
            ..Script::default()
        };
        let setup = start("reuse.test", ip, script).await;
        let mailer = mailer(setup.dns.addr(), setup.port);

        for recipient in ["ada@reuse.test", "bob@reuse.test"] {
            let results = send(&mailer, &[recipient]).await;
            assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
        }
        mailer.close().await;

        let sessions = setup.server.sessions();
        assert_eq!(sessions.len(), 1, "pipelining {pipelining}: {sessions:#?}");
        let session = &sessions[0];
        assert_eq!(session.messages.len(), 2);
        assert_eq!(session.count_commands("EHLO"), 1, "{session:#?}");
        assert_eq!(session.count_commands("RSET"), 1, "{session:#?}");
        assert_eq!(session.commands.last().map(String::as_str), Some("QUIT"));
    }
}

#[tokio::test]
async fn idle_connection_closes_after_timeout() {
    if !require_peers("idle_connection_closes_after_timeout", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    let setup = start("expire.test", "127.0.9.3", Script::default()).await;
    let mailer = Mailer::new(MailerConfig {
        idle_timeout: Duration::from_millis(100),
        ..config(setup.dns.addr(), setup.port)
    })
    .unwrap();

    let results = send(&mailer, &["ada@expire.test"]).await;

    assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    // The mailer is still alive, so only the idle timeout can have sent QUIT.
    let sessions = setup.server.sessions_ending_with(&["QUIT"]).await;
    assert_eq!(
        sessions[0].commands.last().map(String::as_str),
        Some("QUIT"),
        "{sessions:#?}"
    );
    drop(mailer);
}

#[tokio::test]
async fn stale_idle_connection_is_replaced() {
    if !require_peers("stale_idle_connection_is_replaced", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();
    // (how the server ends the idle connection, pipelining)
    let mut cases = Vec::new();
    for pipelining in [false, true] {
        cases.push(Script {
            pipelining,
            close_after_messages: Some(1),
            ..Script::default()
        });
        cases.push(Script {
            pipelining,
            overrides: vec![("RSET", Action::reply("421 4.4.2 idle too long\r\n"))],
            ..Script::default()
        });
        cases.push(Script {
            pipelining,
            overrides: vec![("MAIL", Action::reply("421 4.3.2 shutting down\r\n"))],
            ..Script::default()
        });
    }
    for (index, script) in cases.into_iter().enumerate() {
        let case = format!("{:?} pipelining {}", script.overrides, script.pipelining);
        let mail_rejected = script.overrides.iter().any(|(verb, _)| *verb == "MAIL");
        let setup = start_row("stale.test", index, script).await;
        let mailer = mailer(setup.dns.addr(), setup.port);

        let first = send(&mailer, &["ada@stale.test"]).await;
        let second = send(&mailer, &["bob@stale.test"]).await;

        if mail_rejected {
            // 421 to MAIL on a new connection is a failure of the server, not a stale
            // connection: nothing was kept, so both messages fail the same way.
            for results in [&first, &second] {
                assert_eq!(
                    results[0].status,
                    DeliveryStatus::TemporaryFailure,
                    "{case}"
                );
                assert_eq!(results[0].reply_code, Some(421), "{case}");
            }
            assert_eq!(setup.server.sessions().len(), 2, "{case}");
            continue;
        }
        assert_eq!(
            first[0].status,
            DeliveryStatus::Delivered,
            "{case}: {first:#?}"
        );
        assert_eq!(
            second[0].status,
            DeliveryStatus::Delivered,
            "{case}: {second:#?}"
        );
        let sessions = setup.server.sessions();
        assert_eq!(sessions.len(), 2, "{case}: {sessions:#?}");
        let messages: Vec<usize> = sessions
            .iter()
            .map(|session| session.messages.len())
            .collect();
        assert_eq!(messages, [1, 1], "{case}: each message arrived once");
    }
}

#[tokio::test]
async fn lost_reply_on_idle_connection_is_not_retried() {
    if !require_peers(
        "lost_reply_on_idle_connection_is_not_retried",
        &[Peer::Dnsmasq],
    ) {
        return;
    }
    init_logging();
    let script = Script {
        close_before_reply_to_message: Some(2),
        ..Script::default()
    };
    let setup = start("lostreuse.test", "127.0.9.4", script).await;
    let mailer = mailer(setup.dns.addr(), setup.port);

    let first = send(&mailer, &["ada@lostreuse.test"]).await;
    let second = send(&mailer, &["bob@lostreuse.test"]).await;

    assert_eq!(first[0].status, DeliveryStatus::Delivered, "{first:#?}");
    assert_eq!(
        second[0].status,
        DeliveryStatus::TemporaryFailure,
        "{second:#?}"
    );
    // The server read the second message on the reused connection, so it may have kept it:
    // no new connection is opened for it.
    let sessions = setup.server.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    assert_eq!(sessions[0].messages.len(), 2);
}
