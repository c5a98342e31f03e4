//! Delivery against real peers: dnsmasq for DNS and aiosmtpd for SMTP, all on loopback.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use std::time::Duration;

use convene_mail::{DeliveryStatus, Mailer, MailerConfig, RecipientResult};
use convene_testkit::{
    DnsConfig, Dnsmasq, Peer, SelfSignedCert, SmtpServer, SpooledMessage, free_port_on,
    require_peers,
};
use support::{address, config, init_logging, mailer, sample_message};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn result_for<'a>(results: &'a [RecipientResult], recipient: &str) -> &'a RecipientResult {
    results
        .iter()
        .find(|result| result.recipient.as_str() == recipient)
        .unwrap_or_else(|| panic!("no result for {recipient} in {results:#?}"))
}

fn message_to<'a>(messages: &'a [SpooledMessage], first_recipient: &str) -> &'a SpooledMessage {
    messages
        .iter()
        .find(|message| message.rcpt_tos.first().map(String::as_str) == Some(first_recipient))
        .unwrap_or_else(|| panic!("no message for {first_recipient} in {messages:#?}"))
}

#[tokio::test]
async fn send_delivers_per_domain_transactions() {
    if !require_peers(
        "send_delivers_per_domain_transactions",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();

    // alpha.test: MX host with STARTTLS on 127.0.0.2. beta.test: MX host without TLS on
    // 127.0.0.3. gamma.test: no MX, so its own A record (127.0.0.3) is the implicit MX.
    let tls_ip = ip("127.0.0.2");
    let plain_ip = ip("127.0.0.3");
    let port = free_port_on(&[tls_ip, plain_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("alpha.test", "mx.alpha.test", 10)
            .host("mx.alpha.test", tls_ip)
            .mx("beta.test", "mx.beta.test", 10)
            .host("mx.beta.test", plain_ip)
            .host("gamma.test", plain_ip),
    )
    .expect("dnsmasq starts");
    let cert = SelfSignedCert::generate(&["mx.alpha.test"]).expect("certificate");
    let tls_spool = tempfile::tempdir().unwrap();
    let plain_spool = tempfile::tempdir().unwrap();
    let tls_server = SmtpServer::start(
        tls_ip,
        port,
        Some((cert.cert_path(), cert.key_path())),
        tls_spool.path(),
    )
    .expect("aiosmtpd with STARTTLS starts");
    let plain_server =
        SmtpServer::start(plain_ip, port, None, plain_spool.path()).expect("aiosmtpd starts");

    let sender = address("noreply@convene.test");
    let recipients = [
        address("ada@alpha.test"),
        address("carol@beta.test"),
        address("dave@gamma.test"),
        address("bob@ALPHA.test"),
        address("erin@Gamma.Test"),
    ];
    let message = sample_message().to_bytes().unwrap();
    let results = mailer(dns.addr(), port)
        .send(&sender, &recipients, &message)
        .await;

    // One result per recipient, in input order.
    let order: Vec<&str> = results
        .iter()
        .map(|result| result.recipient.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "ada@alpha.test",
            "carol@beta.test",
            "dave@gamma.test",
            "bob@alpha.test",
            "erin@gamma.test"
        ]
    );
    let expected = [
        ("ada@alpha.test", "mx.alpha.test", true),
        ("bob@alpha.test", "mx.alpha.test", true),
        ("carol@beta.test", "mx.beta.test", false),
        ("dave@gamma.test", "gamma.test", false),
        ("erin@gamma.test", "gamma.test", false),
    ];
    for (recipient, mx_host, tls) in expected {
        let result = result_for(&results, recipient);
        assert_eq!(result.status, DeliveryStatus::Delivered, "{result:#?}");
        assert_eq!(result.mx_host.as_deref(), Some(mx_host), "{recipient}");
        assert_eq!(result.tls, tls, "{recipient}");
        assert_eq!(result.reply_code, Some(250), "{recipient}");
    }

    // alpha.test: one transaction over TLS with both recipients.
    let tls_messages = tls_server.messages().unwrap();
    assert_eq!(tls_messages.len(), 1, "{tls_messages:#?}");
    let alpha = &tls_messages[0];
    assert_eq!(alpha.rcpt_tos, ["ada@alpha.test", "bob@alpha.test"]);
    assert!(alpha.tls);
    assert!(
        alpha
            .tls_version
            .as_deref()
            .is_some_and(|v| v.starts_with("TLSv1.")),
        "{alpha:?}"
    );
    assert_eq!(alpha.local, format!("{tls_ip}:{port}"));

    // beta.test and gamma.test: one plain transaction each, on the same server.
    let plain_messages = plain_server.messages().unwrap();
    assert_eq!(plain_messages.len(), 2, "{plain_messages:#?}");
    let beta = message_to(&plain_messages, "carol@beta.test");
    assert_eq!(beta.rcpt_tos, ["carol@beta.test"]);
    assert!(!beta.tls);
    let gamma = message_to(&plain_messages, "dave@gamma.test");
    assert_eq!(gamma.rcpt_tos, ["dave@gamma.test", "erin@gamma.test"]);
    assert!(!gamma.tls);

    // Every copy arrives byte for byte, dot-stuffing undone by the server.
    let sent = String::from_utf8(message).unwrap();
    for spooled in [alpha, beta, gamma] {
        assert_eq!(spooled.mail_from, "noreply@convene.test");
        assert_eq!(spooled.data, sent, "message for {:?}", spooled.rcpt_tos);
    }
    assert!(
        alpha
            .data
            .contains("\r\nhello\r\n.\r\n..two dots\r\nworld\r\n"),
        "{}",
        alpha.data
    );
}

#[tokio::test]
async fn send_normalises_raw_message_bytes() {
    if !require_peers(
        "send_normalises_raw_message_bytes",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();

    let server_ip = ip("127.0.0.6");
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host("raw.test", server_ip)).expect("dnsmasq");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(server_ip, port, None, spool.path()).expect("aiosmtpd");

    let raw = b"Subject: raw\n\nhello\n.\nworld\r.starts with dot\r\n.";
    let results = mailer(dns.addr(), port)
        .send(&address("a@convene.test"), &[address("x@raw.test")], raw)
        .await;

    assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    let messages = server.messages().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].data,
        "Subject: raw\r\n\r\nhello\r\n.\r\nworld\r\n.starts with dot\r\n.\r\n"
    );
}

#[tokio::test]
async fn send_tries_next_mx_when_first_refuses() {
    if !require_peers(
        "send_tries_next_mx_when_first_refuses",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();

    // Nothing listens on 127.0.0.4, so the preferred MX host refuses connections.
    let refusing_ip = ip("127.0.0.4");
    let working_ip = ip("127.0.0.5");
    let port = free_port_on(&[refusing_ip, working_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            // Listed backup first, because answers come in any order.
            .mx("fallback.test", "backup.fallback.test", 20)
            .mx("fallback.test", "primary.fallback.test", 10)
            .host("primary.fallback.test", refusing_ip)
            .host("backup.fallback.test", working_ip),
    )
    .expect("dnsmasq starts");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(working_ip, port, None, spool.path()).expect("aiosmtpd");

    let message = sample_message().to_bytes().unwrap();
    let results = mailer(dns.addr(), port)
        .send(
            &address("noreply@convene.test"),
            &[address("ada@fallback.test")],
            &message,
        )
        .await;

    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    assert_eq!(results[0].mx_host.as_deref(), Some("backup.fallback.test"));
    let messages = server.messages().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_tos, ["ada@fallback.test"]);
    // The preferred host was asked first: its address lookup is in the DNS log.
    assert!(dns.log().contains("primary.fallback.test"), "{}", dns.log());
}

#[tokio::test]
async fn send_reaches_ipv6_implicit_mx() {
    if !require_peers(
        "send_reaches_ipv6_implicit_mx",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();

    // delta.test has no MX and only an AAAA record, so its implicit MX is [::1].
    let loopback6 = ip("::1");
    let port = free_port_on(&[loopback6]);
    let dns =
        Dnsmasq::start(DnsConfig::new().host("delta.test", loopback6)).expect("dnsmasq starts");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(loopback6, port, None, spool.path()).expect("aiosmtpd on [::1]");

    let message = sample_message().to_bytes().unwrap();
    let results = mailer(dns.addr(), port)
        .send(
            &address("noreply@convene.test"),
            &[address("dan@delta.test")],
            &message,
        )
        .await;

    assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");
    assert_eq!(results[0].mx_host.as_deref(), Some("delta.test"));
    let messages = server.messages().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_tos, ["dan@delta.test"]);
    assert!(
        messages[0].peer.starts_with("::1") || messages[0].peer.starts_with("[::1]"),
        "{}",
        messages[0].peer
    );
}

#[tokio::test]
async fn send_fails_without_route() {
    if !require_peers("send_fails_without_route", &[Peer::Dnsmasq]) {
        return;
    }
    init_logging();

    // nowhere.test is unknown to dnsmasq (NXDOMAIN). null.test publishes a null MX.
    // elsewhere.example is outside dnsmasq's local domain, and dnsmasq has no upstream
    // server, so it answers REFUSED, a DNS server failure. Names under .invalid get
    // NXDOMAIN from the resolver itself, as RFC 6761 requires, without a query.
    let dns = Dnsmasq::start(DnsConfig::new().null_mx("null.test")).expect("dnsmasq starts");
    let recipients = [
        address("a@nowhere.test"),
        address("b@null.test"),
        address("c@elsewhere.example"),
        address("d@elsewhere.invalid"),
    ];
    // Port 9 (discard) is never contacted: no recipient has a mail server.
    let results = mailer(dns.addr(), 9)
        .send(
            &address("noreply@convene.test"),
            &recipients,
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await;

    let expected = [
        (
            "a@nowhere.test",
            DeliveryStatus::PermanentFailure,
            "does not exist",
        ),
        ("b@null.test", DeliveryStatus::PermanentFailure, "null MX"),
        (
            "c@elsewhere.example",
            DeliveryStatus::TemporaryFailure,
            "MX lookup for elsewhere.example failed",
        ),
        (
            "d@elsewhere.invalid",
            DeliveryStatus::PermanentFailure,
            "does not exist",
        ),
    ];
    for (recipient, status, text) in expected {
        let result = result_for(&results, recipient);
        assert_eq!(result.status, status, "{result:#?}");
        assert_eq!(result.mx_host, None, "{recipient} was routed to a host");
        assert_eq!(result.reply_code, None, "{recipient}");
        assert!(
            result.reply_text.contains(text),
            "{recipient}: {}",
            result.reply_text
        );
    }
}

#[tokio::test]
async fn send_fails_temporarily_without_dns_server() {
    init_logging();

    // A UDP port with nothing bound: queries are refused by the kernel or time out.
    let closed = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let dns_addr = closed.local_addr().unwrap();
    drop(closed);

    // A short DNS timeout only keeps the test quick; the outcome is the same with any value.
    let dns_timeout = Duration::from_millis(200);
    let mailer = Mailer::new(MailerConfig {
        dns_timeout,
        ..config(dns_addr, 9)
    })
    .unwrap();
    let results = mailer
        .send(
            &address("noreply@convene.test"),
            &[address("a@alpha.test")],
            b"x\r\n",
        )
        .await;

    assert_eq!(
        results[0].status,
        DeliveryStatus::TemporaryFailure,
        "{results:#?}"
    );
    assert_eq!(results[0].mx_host, None);
    assert!(
        results[0]
            .reply_text
            .starts_with("MX lookup for alpha.test failed"),
        "{results:#?}"
    );
}
