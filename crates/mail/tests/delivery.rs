//! Delivery against real peers: dnsmasq for DNS and aiosmtpd for SMTP, all on loopback.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use std::time::Duration;

use std::collections::BTreeMap;
use std::path::Path;

use convene_mail::{
    Credentials, DeliveryStatus, Mailer, MailerConfig, RecipientResult, Relay, TlsPolicy,
};
use convene_testkit::{
    DnsConfig, Dnsmasq, Peer, SelfSignedCert, SmtpOptions, SmtpServer, SpooledMessage, TestCa,
    free_port_on, require_peers,
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

/// Returns OpenSSL's name of a TLS 1.3 cipher suite in rustls' spelling, such as
/// `TLS_AES_256_GCM_SHA384` as `TLS13_AES_256_GCM_SHA384`.
fn rustls_cipher_name(openssl_name: &str) -> String {
    openssl_name.replacen("TLS_", "TLS13_", 1)
}

async fn send_sample(mailer: &Mailer, recipients: &[&str]) -> Vec<RecipientResult> {
    let recipients: Vec<_> = recipients.iter().map(|text| address(text)).collect();
    let message = sample_message().to_bytes().unwrap();
    mailer
        .send(&address("noreply@convene.test"), &recipients, &message)
        .await
}

#[tokio::test]
async fn starttls_result_records_version_and_cipher() {
    if !require_peers(
        "starttls_result_records_version_and_cipher",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    let server_ip = ip("127.0.10.1");
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host("cipher.test", server_ip)).expect("dnsmasq");
    let cert = SelfSignedCert::generate(&["cipher.test"]).expect("certificate");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(
        server_ip,
        port,
        Some((cert.cert_path(), cert.key_path())),
        spool.path(),
    )
    .expect("aiosmtpd with STARTTLS starts");

    let results = send_sample(&mailer(dns.addr(), port), &["ada@cipher.test"]).await;

    let result = &results[0];
    assert_eq!(result.status, DeliveryStatus::Delivered, "{result:#?}");
    let messages = server.messages().unwrap();
    assert_eq!(messages.len(), 1);
    let spooled = &messages[0];
    assert!(result.tls);
    assert_eq!(result.tls_version, spooled.tls_version, "{result:#?}");
    assert_eq!(result.tls_version.as_deref(), Some("TLSv1.3"));
    let server_cipher = spooled.tls_cipher.as_deref().expect("server cipher");
    assert_eq!(
        result.tls_cipher_suite.as_deref(),
        Some(rustls_cipher_name(server_cipher).as_str()),
        "{result:#?}"
    );
}

#[tokio::test]
async fn aiosmtpd_handles_pipelined_transaction() {
    if !require_peers(
        "aiosmtpd_handles_pipelined_transaction",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    for (pipelining, server_ip) in [(false, ip("127.0.10.2")), (true, ip("127.0.10.3"))] {
        let port = free_port_on(&[server_ip]);
        let dns = Dnsmasq::start(DnsConfig::new().host("mixed.test", server_ip)).expect("dnsmasq");
        let spool = tempfile::tempdir().unwrap();
        let options = SmtpOptions {
            pipelining,
            ..SmtpOptions::default()
        };
        let server = SmtpServer::start_with(server_ip, port, spool.path(), &options)
            .expect("aiosmtpd starts");

        let results = send_sample(
            &mailer(dns.addr(), port),
            &[
                "ok@mixed.test",
                "reject@mixed.test",
                "busy@mixed.test",
                "two@mixed.test",
            ],
        )
        .await;

        let expected = [
            (DeliveryStatus::Delivered, 250),
            (DeliveryStatus::PermanentFailure, 550),
            (DeliveryStatus::TemporaryFailure, 452),
            (DeliveryStatus::Delivered, 250),
        ];
        for (result, (status, code)) in results.iter().zip(expected) {
            assert_eq!(
                result.status, status,
                "pipelining {pipelining}: {result:#?}"
            );
            assert_eq!(result.reply_code, Some(code), "{result:#?}");
        }
        let messages = server.messages().unwrap();
        assert_eq!(messages.len(), 1, "pipelining {pipelining}");
        assert_eq!(messages[0].rcpt_tos, ["ok@mixed.test", "two@mixed.test"]);
    }
}

#[tokio::test]
async fn messages_to_same_host_share_connection() {
    if !require_peers(
        "messages_to_same_host_share_connection",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    let server_ip = ip("127.0.10.4");
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host("reuse.test", server_ip)).expect("dnsmasq");
    let cert = SelfSignedCert::generate(&["reuse.test"]).expect("certificate");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(
        server_ip,
        port,
        Some((cert.cert_path(), cert.key_path())),
        spool.path(),
    )
    .expect("aiosmtpd starts");
    let mailer = mailer(dns.addr(), port);

    let first = send_sample(&mailer, &["ada@reuse.test"]).await;
    let second = send_sample(&mailer, &["bob@reuse.test"]).await;

    assert_eq!(first[0].status, DeliveryStatus::Delivered, "{first:#?}");
    assert_eq!(second[0].status, DeliveryStatus::Delivered, "{second:#?}");
    assert_eq!(second[0].tls_version, first[0].tls_version);
    let messages = server.messages().unwrap();
    assert_eq!(messages.len(), 2);
    // The client's address and port identify the TCP connection.
    assert_eq!(messages[0].peer, messages[1].peer, "{messages:#?}");
    assert!(messages[1].tls);
}

/// Starts aiosmtpd with STARTTLS and a certificate from `cert`, and dnsmasq naming it as
/// the implicit MX of `domain`.
fn tls_server(
    domain: &str,
    server_ip: IpAddr,
    cert: &SelfSignedCert,
    spool: &Path,
) -> (Dnsmasq, SmtpServer, u16) {
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host(domain, server_ip)).expect("dnsmasq");
    let server = SmtpServer::start(
        server_ip,
        port,
        Some((cert.cert_path(), cert.key_path())),
        spool,
    )
    .expect("aiosmtpd with STARTTLS starts");
    (dns, server, port)
}

#[tokio::test]
async fn required_tls_verifies_certificate() {
    if !require_peers(
        "required_tls_verifies_certificate",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    let ca = TestCa::generate().expect("test CA");
    let trusted = ca.issue(&["secure.test"]).expect("certificate");
    let untrusted = SelfSignedCert::generate(&["secure.test"]).expect("certificate");
    let wrong_name = ca.issue(&["other.test"]).expect("certificate");
    // (certificate, whether it is verified, expected status)
    let cases = [
        (&trusted, true, DeliveryStatus::Delivered),
        (&untrusted, true, DeliveryStatus::TemporaryFailure),
        (&wrong_name, true, DeliveryStatus::TemporaryFailure),
        (&untrusted, false, DeliveryStatus::Delivered),
    ];
    for (index, (cert, verify_certificate, status)) in cases.into_iter().enumerate() {
        let spool = tempfile::tempdir().unwrap();
        let server_ip = ip(&format!("127.0.11.{}", index + 1));
        let (dns, server, port) = tls_server("secure.test", server_ip, cert, spool.path());
        let mut tls_by_domain = BTreeMap::new();
        tls_by_domain.insert(
            "secure.test".to_owned(),
            TlsPolicy::Required { verify_certificate },
        );
        let mailer = Mailer::new(MailerConfig {
            tls_by_domain,
            ca_certificates: vec![ca.cert_path().to_owned()],
            ..config(dns.addr(), port)
        })
        .unwrap();

        let results = send_sample(&mailer, &["ada@secure.test"]).await;

        let result = &results[0];
        assert_eq!(result.status, status, "case {index}: {result:#?}");
        let messages = server.messages().unwrap();
        if status == DeliveryStatus::Delivered {
            assert!(result.tls, "case {index}");
            assert_eq!(messages.len(), 1, "case {index}");
            assert!(messages[0].tls, "case {index}");
        } else {
            assert!(
                result.reply_text.contains("TLS"),
                "case {index}: {}",
                result.reply_text
            );
            assert!(messages.is_empty(), "case {index}: {messages:#?}");
        }
    }
}

/// A relay on loopback that requires AUTH, with a certificate for `relay.test` from a test
/// CA.
struct RelaySetup {
    dns: Dnsmasq,
    server: SmtpServer,
    ca: TestCa,
    port: u16,
    _cert: SelfSignedCert,
    _spool: tempfile::TempDir,
}

fn start_relay(server_ip: IpAddr, implicit_tls: bool, auth_exclude: &[&str]) -> RelaySetup {
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(DnsConfig::new().host("relay.test", server_ip)).expect("dnsmasq");
    let ca = TestCa::generate().expect("test CA");
    let cert = ca.issue(&["relay.test"]).expect("certificate");
    let spool = tempfile::tempdir().unwrap();
    let options = SmtpOptions {
        tls: Some((cert.cert_path(), cert.key_path())),
        implicit_tls,
        auth: Some(("convene", "correct horse")),
        auth_exclude,
        pipelining: true,
    };
    let server =
        SmtpServer::start_with(server_ip, port, spool.path(), &options).expect("aiosmtpd relay");
    RelaySetup {
        dns,
        server,
        ca,
        port,
        _cert: cert,
        _spool: spool,
    }
}

fn relay_mailer(setup: &RelaySetup, implicit_tls: bool, password: &str) -> Mailer {
    let credentials = Some(Credentials::new("convene", password));
    let mut relay = if implicit_tls {
        Relay::implicit_tls("relay.test", credentials)
    } else {
        Relay::starttls("relay.test", credentials)
    };
    relay.port = setup.port;
    Mailer::new(MailerConfig {
        relay: Some(relay),
        ca_certificates: vec![setup.ca.cert_path().to_owned()],
        ..config(setup.dns.addr(), 9)
    })
    .unwrap()
}

#[tokio::test]
async fn relay_authenticates_and_takes_all_recipients() {
    if !require_peers(
        "relay_authenticates_and_takes_all_recipients",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    // (implicit TLS, mechanisms the relay does not offer)
    let cases: [(bool, &[&str]); 3] = [(false, &[]), (true, &[]), (false, &["PLAIN"])];
    for (index, (implicit_tls, auth_exclude)) in cases.into_iter().enumerate() {
        let case = format!("implicit TLS {implicit_tls}, without {auth_exclude:?}");
        let setup = start_relay(
            ip(&format!("127.0.12.{}", index + 1)),
            implicit_tls,
            auth_exclude,
        );
        let mailer = relay_mailer(&setup, implicit_tls, "correct horse");

        // The recipients' domains have no DNS records: only the relay is looked up.
        let results = send_sample(&mailer, &["ada@alpha.example", "bob@beta.example"]).await;

        for result in &results {
            assert_eq!(
                result.status,
                DeliveryStatus::Delivered,
                "{case}: {result:#?}"
            );
            assert_eq!(result.mx_host.as_deref(), Some("relay.test"), "{case}");
            assert_eq!(result.tls_version.as_deref(), Some("TLSv1.3"), "{case}");
        }
        let messages = setup.server.messages().unwrap();
        assert_eq!(
            messages.len(),
            1,
            "{case}: one transaction for every domain"
        );
        assert_eq!(
            messages[0].rcpt_tos,
            ["ada@alpha.example", "bob@beta.example"]
        );
        assert_eq!(messages[0].auth_login.as_deref(), Some("convene"), "{case}");
        assert!(messages[0].tls, "{case}");
    }
}

#[tokio::test]
async fn relay_rejects_wrong_password_permanently() {
    if !require_peers(
        "relay_rejects_wrong_password_permanently",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    let setup = start_relay(ip("127.0.12.10"), false, &[]);
    let mailer = relay_mailer(&setup, false, "wrong password");

    let results = send_sample(&mailer, &["ada@alpha.example"]).await;

    let result = &results[0];
    assert_eq!(
        result.status,
        DeliveryStatus::PermanentFailure,
        "{result:#?}"
    );
    assert_eq!(result.reply_code, Some(535));
    assert!(result.reply_text.contains("5.7.8"), "{}", result.reply_text);
    assert!(!result.reply_text.contains("wrong password"));
    assert!(setup.server.messages().unwrap().is_empty());
}

#[tokio::test]
async fn relay_with_untrusted_certificate_gets_nothing() {
    if !require_peers(
        "relay_with_untrusted_certificate_gets_nothing",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    init_logging();
    let setup = start_relay(ip("127.0.12.11"), false, &[]);
    let credentials = Some(Credentials::new("convene", "correct horse"));
    let mut relay = Relay::starttls("relay.test", credentials);
    relay.port = setup.port;
    // No ca_certificates: the test CA is unknown to the system trust store.
    let mailer = Mailer::new(MailerConfig {
        relay: Some(relay),
        ..config(setup.dns.addr(), 9)
    })
    .unwrap();

    let results = send_sample(&mailer, &["ada@alpha.example"]).await;

    assert_eq!(
        results[0].status,
        DeliveryStatus::TemporaryFailure,
        "{results:#?}"
    );
    assert!(
        results[0].reply_text.contains("certificate"),
        "{}",
        results[0].reply_text
    );
    assert!(setup.server.messages().unwrap().is_empty());
}
