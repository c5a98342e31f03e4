//! DKIM signing, checked by real verifiers: dkimpy and OpenDKIM, with the key records served
//! locally, and one message sent through SMTP to aiosmtpd before it is verified.
//!
//! The keys in `tests/data/dkim` are test-only keys made with OpenSSL 3:
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:N` (N = 2048, 1024 and 512),
//! `openssl genpkey -algorithm ed25519`, `openssl genpkey -algorithm EC -pkeyopt
//! ec_paramgen_curve:P-256`, `openssl pkey -traditional` for the PKCS#1 and SEC 1 forms, and
//! `openssl pkcs8 -topk8 -v2 aes-256-cbc` for the encrypted one.

mod support;

use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convene_mail::DeliveryStatus;
use convene_mail::dkim::{
    Algorithm, Canonicalization, ConfigError, GenerateError, KeyError, PrivateKey, SignError,
    Signer, SignerConfig, generate, write_private_key,
};
use convene_testkit::{
    DkimVerdict, DkimVerifier, DnsConfig, Dnsmasq, Peer, SmtpServer, TxtRecord, free_port_on,
    require_peers,
};
use jiff::Timestamp;
use support::{address, init_logging, mailer, sample_message};

const DOMAIN: &str = "convene.test";
const SELECTOR: &str = "mail";

/// A signing time in the past (2023-11-14), so that no verifier rejects it as a future time.
const SIGNED_AT: i64 = 1_700_000_000;

const RELAXED: Canonicalization = Canonicalization::Relaxed;
const SIMPLE: Canonicalization = Canonicalization::Simple;

/// The header of the hand-written test messages, CRLF line endings included.
const HEADER: &str = "From: Convene <noreply@convene.test>\r\n\
    To: Ada Lovelace <ada@alpha.test>\r\n\
    Subject: Meeting moved to 10:00\r\n\
    Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
    Message-ID: <4f1c2a@convene.test>\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: text/plain; charset=utf-8\r\n";

fn signed_at() -> Timestamp {
    Timestamp::from_second(SIGNED_AT).unwrap()
}

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dkim")
        .join(name)
}

fn load_key(name: &str) -> PrivateKey {
    let pem = fs::read(key_path(name)).unwrap();
    PrivateKey::from_pem(&pem).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn signer_with(key: PrivateKey, header: Canonicalization, body: Canonicalization) -> Signer {
    let mut config = SignerConfig::new(DOMAIN, SELECTOR);
    config.header_canonicalization = header;
    config.body_canonicalization = body;
    Signer::new(config, key).unwrap()
}

fn signer(key_name: &str, header: Canonicalization, body: Canonicalization) -> Signer {
    signer_with(load_key(key_name), header, body)
}

/// Returns the key record that verifiers look up for `signer`.
fn record_for(signer: &Signer) -> TxtRecord {
    TxtRecord::new(
        &format!("{SELECTOR}._domainkey.{DOMAIN}"),
        &signer.key().dns_record_text(),
    )
}

fn message_with_body(body: &str) -> Vec<u8> {
    format!("{HEADER}\r\n{body}").into_bytes()
}

/// The messages that every verifier must accept once signed, by name.
fn messages() -> Vec<(&'static str, Vec<u8>)> {
    let built = sample_message().to_bytes_at(signed_at()).unwrap();

    let folded_header = "From: Convene <noreply@convene.test>\r\n\
        To:   Ada Lovelace <ada@alpha.test>,\r\n  \t  Bob <bob@beta.test>   \r\n\
        Cc:\r\n\tCarol <carol@gamma.test>\r\n\
        Subject:    Meeting \t moved\r\n \r\n\t  to 10:00  \r\n\
        Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
        Message-ID: <4f1c2b@convene.test>\r\n\
        \r\n\
        Body.\r\n";

    // Folded lines with extra whitespace, but one space after each colon.
    let folded_after_one_space = "From: Convene <noreply@convene.test>\r\n\
        To: Ada Lovelace <ada@alpha.test>,\r\n  \t  Bob <bob@beta.test>   \r\n\
        Subject: Meeting \t moved\r\n \r\n\t  to 10:00  \r\n\
        Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
        \r\n\
        Body.\r\n";

    let mut eight_bit = message_with_body("Grüße, the meeting is at 10:00 (会議).\r\n");
    // A Latin-1 byte, which is not UTF-8, must be signed as it is.
    eight_bit.extend_from_slice(b"Caf\xe9\r\n");

    vec![
        ("built message", built),
        (
            "trailing whitespace lines",
            message_with_body("Hello\r\n \r\n\t\r\n"),
        ),
        ("empty body", message_with_body("")),
        ("no body", HEADER.as_bytes().to_vec()),
        (
            "lines starting with a dot",
            message_with_body(".\r\n..two dots\r\n.leading dot\r\nend\r\n"),
        ),
        (FOLDED_AFTER_COLON, folded_header.as_bytes().to_vec()),
        (
            "folded headers, one space after colons",
            folded_after_one_space.as_bytes().to_vec(),
        ),
        ("eight-bit body", eight_bit),
        (
            // Fields that occur twice are signed from the bottom up, so a signer that took
            // them in another order would fail here.
            "repeated fields",
            b"From: noreply@convene.test\r\nTo: ada@alpha.test\r\nCc: bob@beta.test\r\n\
              To: carol@gamma.test\r\nCc: dave@gamma.test\r\n\r\nHello\r\n"
                .to_vec(),
        ),
        (
            "bare line endings",
            b"From: noreply@convene.test\nTo: ada@alpha.test\rSubject: x\n\nline one\rline two"
                .to_vec(),
        ),
    ]
}

/// The case whose fields have no space, several spaces or a line break after the colon.
const FOLDED_AFTER_COLON: &str = "folded headers, odd whitespace after colons";

/// Returns whether `verifier` is known to reject a correct signature of case `name`.
///
/// NOTE: `opendkim -t` (OpenDKIM 2.11.0) rebuilds each field as `Name: value` with one space
/// after the colon. Under simple header canonicalization it then hashes other bytes than the
/// message contains when a field has no space, several spaces or a line break there.
/// Signatures made by dkimpy 1.1.8 fail there the same way, so the signer is not at fault.
fn known_verifier_failure(verifier: DkimVerifier, header: Canonicalization, name: &str) -> bool {
    verifier == DkimVerifier::Opendkim && header == SIMPLE && name == FOLDED_AFTER_COLON
}

fn verify(verifier: DkimVerifier, message: &[u8], signer: &Signer) -> DkimVerdict {
    verifier
        .verify(message, &[record_for(signer)])
        .unwrap_or_else(|error| panic!("running {verifier:?} failed: {error}"))
}

/// Signs every message with every key and canonicalization and collects what `verifier`
/// rejected, so that one run reports all failing cases.
fn verify_every_case(verifier: DkimVerifier) {
    let mut combinations = Vec::new();
    for key in ["rsa2048-pkcs8.pem", "ed25519-pkcs8.pem"] {
        for (header, body) in [(RELAXED, RELAXED), (SIMPLE, SIMPLE)] {
            for (name, message) in messages() {
                combinations.push((key, header, body, name, message));
            }
        }
    }
    // The other two canonicalization pairs and the other key files, on one message.
    let built = sample_message().to_bytes_at(signed_at()).unwrap();
    for (key, header, body) in [
        ("rsa2048-pkcs8.pem", RELAXED, SIMPLE),
        ("rsa2048-pkcs8.pem", SIMPLE, RELAXED),
        ("ed25519-pkcs8.pem", SIMPLE, RELAXED),
        ("rsa2048-pkcs1.pem", RELAXED, RELAXED),
        ("rsa1024-pkcs8.pem", RELAXED, RELAXED),
        ("rsa1024-pkcs1.pem", SIMPLE, SIMPLE),
    ] {
        combinations.push((key, header, body, "built message", built.clone()));
    }

    let mut unexpected = Vec::new();
    for (key, header, body, name, message) in &combinations {
        let signer = signer(key, *header, *body);
        let signed = signer.sign_at(message, signed_at()).unwrap();
        let verdict = verify(verifier, &signed, &signer);
        let expect_failure = known_verifier_failure(verifier, *header, name);
        match verdict {
            DkimVerdict::Pass if expect_failure => {
                unexpected.push(format!("{key} {header}/{body} {name}: passed"));
            }
            DkimVerdict::Fail(reason) if !expect_failure => {
                unexpected.push(format!("{key} {header}/{body} {name}: {reason}"));
            }
            _ => {}
        }
    }
    assert!(
        unexpected.is_empty(),
        "{verifier:?} gave {} unexpected verdicts in {} signatures:\n{}",
        unexpected.len(),
        combinations.len(),
        unexpected.join("\n")
    );
}

#[test]
fn dkimpy_verifies_every_case() {
    if !require_peers("dkimpy_verifies_every_case", &[Peer::Dkimpy]) {
        return;
    }
    verify_every_case(DkimVerifier::Dkimpy);
}

#[test]
fn opendkim_verifies_every_case() {
    if !require_peers("opendkim_verifies_every_case", &[Peer::Opendkim]) {
        return;
    }
    verify_every_case(DkimVerifier::Opendkim);
}

/// Inserts `field` (with its CRLF) into `signed` before line `line`, counted from 0.
fn insert_field(signed: &[u8], line: usize, field: &str) -> Vec<u8> {
    let text = String::from_utf8(signed.to_vec()).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive("\r\n").collect();
    lines.insert(line, field);
    lines.concat().into_bytes()
}

/// Returns the index of the line after the last header line, where the empty line is.
fn header_end_line(signed: &[u8]) -> usize {
    let text = String::from_utf8(signed.to_vec()).unwrap();
    text.split_inclusive("\r\n")
        .position(|line| line == "\r\n")
        .unwrap()
}

/// Checks that `verifier` accepts a signed message and rejects each change made after
/// signing.
fn verify_rejects_tampering(verifier: DkimVerifier) {
    let message = message_with_body("The meeting moved to 10:00.\r\n");
    for key in ["rsa2048-pkcs8.pem", "ed25519-pkcs8.pem"] {
        let signer = signer(key, RELAXED, RELAXED);
        let signed = signer.sign_at(&message, signed_at()).unwrap();
        assert_eq!(
            verify(verifier, &signed, &signer),
            DkimVerdict::Pass,
            "{key}: unchanged message"
        );

        let end = header_end_line(&signed);
        let text = String::from_utf8(signed.clone()).unwrap();
        let tampered = [
            ("body changed", text.replace("10:00", "11:00").into_bytes()),
            (
                "body appended to",
                [&signed[..], b"Unsubscribe here.\r\n"].concat(),
            ),
            (
                "From added on top",
                insert_field(&signed, 0, "From: Mallory <mallory@evil.test>\r\n"),
            ),
            (
                "From added below",
                insert_field(&signed, end, "From: Mallory <mallory@evil.test>\r\n"),
            ),
            (
                "Subject added",
                insert_field(&signed, end, "Subject: Meeting cancelled\r\n"),
            ),
        ];
        for (change, message) in tampered {
            let verdict = verify(verifier, &message, &signer);
            assert!(
                matches!(verdict, DkimVerdict::Fail(_)),
                "{key}: {change}: {verdict:?}"
            );
        }
    }
}

#[test]
fn dkimpy_rejects_tampered_messages() {
    if !require_peers("dkimpy_rejects_tampered_messages", &[Peer::Dkimpy]) {
        return;
    }
    verify_rejects_tampering(DkimVerifier::Dkimpy);
}

#[test]
fn opendkim_rejects_tampered_messages() {
    if !require_peers("opendkim_rejects_tampered_messages", &[Peer::Opendkim]) {
        return;
    }
    verify_rejects_tampering(DkimVerifier::Opendkim);
}

#[test]
fn verifiers_accept_expiration_tag() {
    if !require_peers(
        "verifiers_accept_expiration_tag",
        &[Peer::Dkimpy, Peer::Opendkim],
    ) {
        return;
    }
    let mut config = SignerConfig::new(DOMAIN, SELECTOR);
    config.expiration = Some(Duration::from_secs(7 * 24 * 3600));
    let signer = Signer::new(config, load_key("ed25519-pkcs8.pem")).unwrap();
    let signed = signer.sign(&message_with_body("Hello\r\n")).unwrap();
    for verifier in DkimVerifier::ALL {
        assert_eq!(
            verify(verifier, &signed, &signer),
            DkimVerdict::Pass,
            "{verifier:?}"
        );
    }
}

#[tokio::test]
async fn signed_message_verifies_after_smtp() {
    if !require_peers(
        "signed_message_verifies_after_smtp",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::Dkimpy, Peer::Opendkim],
    ) {
        return;
    }
    init_logging();

    let server_ip: IpAddr = "127.0.0.2".parse().unwrap();
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("alpha.test", "mx.alpha.test", 10)
            .host("mx.alpha.test", server_ip),
    )
    .expect("dnsmasq starts");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(server_ip, port, None, spool.path()).expect("aiosmtpd starts");

    // Bare line endings, lines that the transport dot-stuffs, 8-bit UTF-8 text and no final
    // line ending: the signature must cover what the server receives.
    let message = "From: Convene <noreply@convene.test>\nTo: ada@alpha.test\n\
        Subject: Grüße\n\n.\n..two dots\r.leading dot\r\nGrüße   \n \n";
    for key in ["rsa2048-pkcs8.pem", "ed25519-pkcs8.pem"] {
        for (header, body) in [(RELAXED, RELAXED), (SIMPLE, SIMPLE)] {
            let signer = signer(key, header, body);
            let signed = signer.sign(message.as_bytes()).unwrap();
            let results = mailer(dns.addr(), port)
                .send(
                    &address("noreply@convene.test"),
                    &[address("ada@alpha.test")],
                    &signed,
                )
                .await;
            assert_eq!(results[0].status, DeliveryStatus::Delivered, "{results:#?}");

            let received = server.messages().unwrap().pop().expect("one message");
            assert_eq!(
                received.data.as_bytes(),
                &signed[..],
                "{key} {header}/{body}: the transport changed the signed message"
            );
            for verifier in DkimVerifier::ALL {
                assert_eq!(
                    verify(verifier, received.data.as_bytes(), &signer),
                    DkimVerdict::Pass,
                    "{key} {header}/{body} {verifier:?}"
                );
            }
        }
    }
}

/// Returns the `DKIM-Signature` field of `signed` (with its CRLF) and the rest.
fn split_signature(signed: &[u8]) -> (String, Vec<u8>) {
    assert!(
        signed.starts_with(b"DKIM-Signature: "),
        "no signature field"
    );
    let mut end = 0;
    loop {
        let line_end = end + signed[end..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        end = line_end;
        if !matches!(signed.get(end), Some(b' ' | b'\t')) {
            break;
        }
    }
    let field = String::from_utf8(signed[..end].to_vec()).unwrap();
    (field, signed[end..].to_vec())
}

/// Returns the tags of a `DKIM-Signature` field with all whitespace removed from values.
fn tags(field: &str) -> Vec<(String, String)> {
    let value = field.split_once(':').unwrap().1;
    value
        .split(';')
        .map(|tag| {
            let (name, value) = tag.split_once('=').unwrap();
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            (name.trim().to_owned(), value)
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(tag, _)| tag == name)
        .map(|(_, value)| value.as_str())
}

#[test]
fn signature_field_has_expected_tags() {
    let mut config = SignerConfig::new(DOMAIN, SELECTOR);
    config.expiration = Some(Duration::from_secs(86_400));
    let signer = Signer::new(config, load_key("rsa2048-pkcs8.pem")).unwrap();
    let message = sample_message().to_bytes_at(signed_at()).unwrap();
    let signed = signer.sign_at(&message, signed_at()).unwrap();
    let (field, rest) = split_signature(&signed);
    let tags = tags(&field);

    let names: Vec<&str> = tags.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["v", "a", "c", "d", "s", "t", "x", "h", "bh", "b"]);
    assert_eq!(tag(&tags, "v"), Some("1"));
    assert_eq!(tag(&tags, "a"), Some("rsa-sha256"));
    assert_eq!(tag(&tags, "c"), Some("relaxed/relaxed"));
    assert_eq!(tag(&tags, "d"), Some(DOMAIN));
    assert_eq!(tag(&tags, "s"), Some(SELECTOR));
    assert_eq!(tag(&tags, "t"), Some("1700000000"));
    assert_eq!(tag(&tags, "x"), Some("1700086400"));
    assert_eq!(tag(&tags, "l"), None);
    assert_eq!(
        tag(&tags, "h"),
        Some(
            "From:From:To:To:Subject:Subject:Date:Date:Message-ID:Message-ID:\
             MIME-Version:MIME-Version:Content-Type:Content-Type"
        )
    );
    // RSA-2048 signatures are 256 bytes, 344 base64 characters.
    assert_eq!(tag(&tags, "b").map(str::len), Some(344));

    for line in field.trim_end_matches("\r\n").split("\r\n") {
        assert!(
            line.len() <= 78,
            "line of {} characters: {line:?}",
            line.len()
        );
    }
    assert_eq!(rest, message, "the message after the field changed");
}

#[test]
fn signature_field_names_canonicalization() {
    let cases = [
        (RELAXED, RELAXED, "relaxed/relaxed"),
        (RELAXED, SIMPLE, "relaxed/simple"),
        (SIMPLE, RELAXED, "simple/relaxed"),
        (SIMPLE, SIMPLE, "simple/simple"),
    ];
    for (header, body, expected) in cases {
        let signer = signer("ed25519-pkcs8.pem", header, body);
        let signed = signer
            .sign_at(&message_with_body("x\r\n"), signed_at())
            .unwrap();
        let (field, _) = split_signature(&signed);
        let tags = tags(&field);
        assert_eq!(tag(&tags, "c"), Some(expected));
        assert_eq!(tag(&tags, "a"), Some("ed25519-sha256"));
    }
}

#[test]
fn signature_field_lists_only_present_fields() {
    let signer = signer("ed25519-pkcs8.pem", RELAXED, RELAXED);
    let message = "From: a@convene.test\r\nReply-To: b@convene.test\r\nCc: c@alpha.test\r\n\
        Cc: d@alpha.test\r\nX-Other: y\r\n\r\nbody\r\n";
    let signed = signer.sign_at(message.as_bytes(), signed_at()).unwrap();
    let (field, _) = split_signature(&signed);
    assert_eq!(
        tag(&tags(&field), "h"),
        Some("From:From:Cc:Cc:Cc:Reply-To:Reply-To")
    );
}

fn body_hash(signer: &Signer, body: &str) -> String {
    let signed = signer
        .sign_at(&message_with_body(body), signed_at())
        .unwrap();
    let (field, _) = split_signature(&signed);
    tag(&tags(&field), "bh").unwrap().to_owned()
}

#[test]
fn relaxed_body_hash_ignores_trailing_whitespace_lines() {
    let relaxed = signer("ed25519-pkcs8.pem", RELAXED, RELAXED);
    assert_eq!(
        body_hash(&relaxed, "Hello\r\n \r\n\t\r\n"),
        body_hash(&relaxed, "Hello\r\n")
    );
    // SHA-256 of "Hello\r\n", the relaxed form of both bodies.
    assert_eq!(
        body_hash(&relaxed, "Hello\r\n"),
        "Ba3gj8+xBPQLJTahTfzW6RbWQ/XPgESxkCi2B66PSQg="
    );

    // Simple canonicalization keeps the whitespace lines, so the hashes differ.
    let simple = signer("ed25519-pkcs8.pem", RELAXED, SIMPLE);
    assert_ne!(
        body_hash(&simple, "Hello\r\n \r\n\t\r\n"),
        body_hash(&simple, "Hello\r\n")
    );
}

#[test]
fn empty_body_hashes_match_rfc() {
    // RFC 6376, section 3.4.3 and 3.4.4: SHA-256 of CRLF (simple) and of nothing (relaxed).
    let simple = signer("ed25519-pkcs8.pem", RELAXED, SIMPLE);
    assert_eq!(
        body_hash(&simple, ""),
        "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
    );
    let relaxed = signer("ed25519-pkcs8.pem", RELAXED, RELAXED);
    assert_eq!(
        body_hash(&relaxed, ""),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
}

#[test]
fn sign_normalizes_line_endings_like_transport() {
    let signer = signer("ed25519-pkcs8.pem", RELAXED, RELAXED);
    let signed = signer
        .sign_at(
            b"From: a@convene.test\nSubject: x\r\rline\r\n.dot",
            signed_at(),
        )
        .unwrap();
    let (_, rest) = split_signature(&signed);
    assert_eq!(
        String::from_utf8(rest).unwrap(),
        "From: a@convene.test\r\nSubject: x\r\n\r\nline\r\n.dot\r\n"
    );
}

#[test]
fn sign_rejects_invalid_messages() {
    let signer = signer("ed25519-pkcs8.pem", RELAXED, RELAXED);
    let cases: [(&str, SignError); 4] = [
        (
            "To: a@alpha.test\r\n\r\nx\r\n",
            SignError::FromCount { count: 0 },
        ),
        (
            "From: a@convene.test\r\nFROM: b@convene.test\r\n\r\nx\r\n",
            SignError::FromCount { count: 2 },
        ),
        (
            "From: a@convene.test\r\nnot a field\r\n\r\nx\r\n",
            SignError::InvalidHeaderLine {
                line: 2,
                reason: "it has no colon",
            },
        ),
        (
            " From: a@convene.test\r\n\r\nx\r\n",
            SignError::InvalidHeaderLine {
                line: 1,
                reason: "a continuation line comes before any field",
            },
        ),
    ];
    for (message, expected) in cases {
        let error = signer.sign_at(message.as_bytes(), signed_at()).unwrap_err();
        assert_eq!(error, expected, "{message:?}");
    }
}

#[test]
fn sign_rejects_time_before_1970() {
    let signer = signer("ed25519-pkcs8.pem", RELAXED, RELAXED);
    let before = Timestamp::from_second(-1).unwrap();
    let error = signer
        .sign_at(&message_with_body("x\r\n"), before)
        .unwrap_err();
    assert_eq!(error, SignError::TimeBeforeEpoch { time: before });
}

#[test]
fn signer_rejects_invalid_config() {
    let bad_domain = SignerConfig::new("convene test", SELECTOR);
    let bad_selector = SignerConfig::new(DOMAIN, "mail_2026");
    let mut zero_expiration = SignerConfig::new(DOMAIN, SELECTOR);
    zero_expiration.expiration = Some(Duration::ZERO);

    let error = Signer::new(bad_domain, load_key("ed25519-pkcs8.pem")).unwrap_err();
    assert!(
        matches!(&error, ConfigError::InvalidDomain { domain, .. } if domain == "convene test"),
        "{error:?}"
    );
    let error = Signer::new(bad_selector, load_key("ed25519-pkcs8.pem")).unwrap_err();
    assert!(
        matches!(&error, ConfigError::InvalidSelector { selector, .. } if selector == "mail_2026"),
        "{error:?}"
    );
    let error = Signer::new(zero_expiration, load_key("ed25519-pkcs8.pem")).unwrap_err();
    assert_eq!(
        error,
        ConfigError::ExpirationTooShort {
            expiration: Duration::ZERO
        }
    );
    assert!(error.to_string().contains("at least one second"), "{error}");
}

#[test]
fn from_pem_loads_openssl_keys() {
    let cases = [
        ("rsa2048-pkcs8.pem", Algorithm::RsaSha256, 2048),
        ("rsa2048-pkcs1.pem", Algorithm::RsaSha256, 2048),
        ("rsa1024-pkcs8.pem", Algorithm::RsaSha256, 1024),
        ("rsa1024-pkcs1.pem", Algorithm::RsaSha256, 1024),
        ("ed25519-pkcs8.pem", Algorithm::Ed25519Sha256, 256),
    ];
    for (name, algorithm, bits) in cases {
        let key = load_key(name);
        assert_eq!(key.algorithm(), algorithm, "{name}");
        assert_eq!(key.bits(), bits, "{name}");
    }
    // Both encodings of one key publish the same public key.
    assert_eq!(
        load_key("rsa2048-pkcs8.pem").dns_record_text(),
        load_key("rsa2048-pkcs1.pem").dns_record_text()
    );
}

/// Returns the base64 lines of a PEM file, which are key material.
fn key_material_lines(pem: &str) -> Vec<&str> {
    pem.lines()
        .filter(|line| !line.starts_with("-----") && line.len() >= 16)
        .collect()
}

/// A check that an error is the expected one.
type ErrorCheck = fn(&KeyError) -> bool;

#[test]
fn from_pem_rejects_unusable_keys() {
    let cases: [(&str, ErrorCheck); 5] = [
        ("rsa512-pkcs8.pem", |error| {
            *error == KeyError::KeyTooSmall { bits: 512 }
        }),
        (
            "ec-p256-pkcs8.pem",
            |error| matches!(error, KeyError::UnsupportedAlgorithm { algorithm } if algorithm == "EC"),
        ),
        (
            "ec-p256-sec1.pem",
            |error| matches!(error, KeyError::UnsupportedFormat { label } if label == "EC PRIVATE KEY"),
        ),
        ("rsa1024-encrypted.pem", |error| {
            *error == KeyError::Encrypted
        }),
        ("rsa2048-pkcs8.pem", |error| {
            matches!(error, KeyError::Malformed { .. })
        }),
    ];
    for (name, expected) in cases {
        let mut pem = fs::read_to_string(key_path(name)).unwrap();
        if name == "rsa2048-pkcs8.pem" {
            // Cut the key short, so that its DER is incomplete.
            let lines: Vec<&str> = pem.lines().collect();
            pem = [&lines[..5], &lines[lines.len() - 1..]].concat().join("\n");
        }
        let error = PrivateKey::from_pem(pem.as_bytes()).unwrap_err();
        assert!(expected(&error), "{name}: {error:?}");

        let message = error.to_string();
        for line in key_material_lines(&pem) {
            assert!(
                !message.contains(line),
                "{name}: the error shows key material"
            );
        }
    }
}

#[test]
fn from_pem_rejects_text_without_key() {
    let cases: [(&[u8], KeyError); 3] = [
        (b"", KeyError::NotPem),
        (b"just some text\n", KeyError::NotPem),
        (
            b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n",
            KeyError::NoPrivateKey {
                labels: "CERTIFICATE".to_owned(),
            },
        ),
    ];
    for (text, expected) in cases {
        let error = PrivateKey::from_pem(text).unwrap_err();
        assert_eq!(error, expected, "{:?}", String::from_utf8_lossy(text));
    }
    assert!(KeyError::NotPem.to_string().contains("BEGIN PRIVATE KEY"));
}

#[test]
fn debug_output_hides_key_material() {
    for name in [
        "rsa2048-pkcs8.pem",
        "rsa1024-pkcs1.pem",
        "ed25519-pkcs8.pem",
    ] {
        let pem = fs::read_to_string(key_path(name)).unwrap();
        let key = PrivateKey::from_pem(pem.as_bytes()).unwrap();
        let key_debug = format!("{key:?}");
        let signer_debug = format!("{:?}", signer_with(key, RELAXED, RELAXED));
        for line in key_material_lines(&pem) {
            assert!(!key_debug.contains(line), "{name}: {key_debug}");
            assert!(!signer_debug.contains(line), "{name}: {signer_debug}");
        }
        assert!(
            key_debug.starts_with("PrivateKey { algorithm: "),
            "{key_debug}"
        );
    }

    let generated = generate(Algorithm::Ed25519Sha256, 256, SELECTOR, DOMAIN).unwrap();
    let debug = format!("{generated:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    for line in key_material_lines(&generated.private_pem) {
        assert!(!debug.contains(line), "{debug}");
    }
    assert!(debug.contains("mail._domainkey.convene.test."), "{debug}");
}

/// Returns the quoted strings of a zone-file TXT line, as written.
fn quoted_strings(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

#[test]
fn generate_makes_loadable_keys() {
    let cases = [
        (Algorithm::RsaSha256, 2048, "rsa"),
        (Algorithm::RsaSha256, 3072, "rsa"),
        (Algorithm::Ed25519Sha256, 256, "ed25519"),
    ];
    for (algorithm, bits, key_type) in cases {
        let generated = generate(algorithm, bits, SELECTOR, DOMAIN).unwrap();
        assert!(
            generated
                .private_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{algorithm} {bits}"
        );
        let key = PrivateKey::from_pem(generated.private_pem.as_bytes()).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        assert_eq!(key.bits(), bits);

        let prefix = format!("{SELECTOR}._domainkey.{DOMAIN}. IN TXT \"");
        assert!(
            generated.dns_record.starts_with(&prefix),
            "{}",
            generated.dns_record
        );
        let strings = quoted_strings(&generated.dns_record);
        assert!(
            strings.iter().all(|string| string.len() <= 255),
            "{strings:?}"
        );
        assert_eq!(strings.concat(), key.dns_record_text());
        assert!(
            key.dns_record_text()
                .starts_with(&format!("v=DKIM1; k={key_type}; p=")),
            "{}",
            key.dns_record_text()
        );
    }
}

#[test]
fn generate_rejects_unsupported_sizes() {
    let cases = [
        (Algorithm::RsaSha256, 1024),
        (Algorithm::RsaSha256, 2000),
        (Algorithm::RsaSha256, 8192),
        (Algorithm::Ed25519Sha256, 2048),
    ];
    for (algorithm, bits) in cases {
        let error = generate(algorithm, bits, SELECTOR, DOMAIN).unwrap_err();
        assert!(
            matches!(error, GenerateError::UnsupportedSize { bits: b, .. } if b == bits),
            "{algorithm} {bits}: {error:?}"
        );
    }
    let error = generate(Algorithm::Ed25519Sha256, 256, "bad selector", DOMAIN).unwrap_err();
    assert!(
        matches!(error, GenerateError::InvalidSelector { .. }),
        "{error:?}"
    );
}

#[test]
fn generated_record_verifies_with_both_verifiers() {
    if !require_peers(
        "generated_record_verifies_with_both_verifiers",
        &[Peer::Dkimpy, Peer::Opendkim],
    ) {
        return;
    }
    for (algorithm, bits) in [
        (Algorithm::RsaSha256, 2048),
        (Algorithm::Ed25519Sha256, 256),
    ] {
        let generated = generate(algorithm, bits, SELECTOR, DOMAIN).unwrap();
        // dnspython reads the zone-file line, so its syntax is checked independently.
        let records = TxtRecord::parse_zone_lines(&generated.dns_record).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|record| record.name.as_str())
                .collect::<Vec<_>>(),
            [format!("{SELECTOR}._domainkey.{DOMAIN}.")]
        );

        let key = PrivateKey::from_pem(generated.private_pem.as_bytes()).unwrap();
        let signer = signer_with(key, RELAXED, RELAXED);
        let signed = signer.sign(&message_with_body("Hello\r\n")).unwrap();
        for verifier in DkimVerifier::ALL {
            let verdict = verifier.verify(&signed, &records).unwrap();
            assert_eq!(verdict, DkimVerdict::Pass, "{algorithm} {verifier:?}");
        }
    }
}

#[test]
fn write_private_key_is_owner_only() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("dkim.pem");
    let generated = generate(Algorithm::Ed25519Sha256, 256, SELECTOR, DOMAIN).unwrap();

    write_private_key(&path, &generated.private_pem).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    assert_eq!(fs::read_to_string(&path).unwrap(), generated.private_pem);

    // An existing key is never replaced.
    let error = write_private_key(&path, "other").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{error}");
    assert!(error.to_string().contains("dkim.pem"), "{error}");
    assert_eq!(fs::read_to_string(&path).unwrap(), generated.private_pem);

    // No temporary file is left behind.
    let names: Vec<String> = fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["dkim.pem"]);
}

#[test]
fn write_private_key_reports_missing_directory() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("missing/dkim.pem");
    let error = write_private_key(&path, "key").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
    assert!(error.to_string().contains("missing/dkim.pem"), "{error}");
}
