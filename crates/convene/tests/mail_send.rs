//! `convene mail send`, run as a child process against aiosmtpd and dnsmasq on loopback:
//! per-recipient results as a table and as JSON, exit codes, message contents, DKIM
//! signatures, TLS policies and the relay.

mod support;

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use convene_testkit::{
    DkimVerdict, DkimVerifier, DnsConfig, Dnsmasq, Peer, SelfSignedCert, SmtpOptions, SmtpServer,
    TestCa, TxtRecord, free_port_on, require_peers, run_python,
};
use serde_json::{Value, json};
use support::cli::{Output, run};

/// Two MX hosts on one port: `alpha.test` in plain text with PIPELINING, `tls.test` with
/// STARTTLS and a self-signed certificate. The aiosmtpd script rejects local parts that
/// start with `reject` (550) and defers those that start with `busy` (452).
struct World {
    dns: Dnsmasq,
    port: u16,
    plain: SmtpServer,
    tls: SmtpServer,
    _cert: SelfSignedCert,
    _spools: [tempfile::TempDir; 2],
}

impl World {
    /// Starts the world on `127.0.N.2` and `127.0.N.3`, a subnet of its own for each test.
    fn start(subnet: u8) -> World {
        let plain_ip = ip(&format!("127.0.{subnet}.2"));
        let tls_ip = ip(&format!("127.0.{subnet}.3"));
        let dns = Dnsmasq::start(
            DnsConfig::new()
                .mx("alpha.test", "mx.alpha.test", 10)
                .host("mx.alpha.test", plain_ip)
                .mx("tls.test", "mx.tls.test", 10)
                .host("mx.tls.test", tls_ip),
        )
        .expect("dnsmasq starts");

        let port = free_port_on(&[plain_ip, tls_ip]);
        let cert = SelfSignedCert::generate(&["mx.tls.test"]).unwrap();
        let spools = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let plain_options = SmtpOptions {
            pipelining: true,
            ..SmtpOptions::default()
        };
        let plain = SmtpServer::start_with(plain_ip, port, spools[0].path(), &plain_options)
            .expect("aiosmtpd starts");
        let tls = SmtpServer::start(
            tls_ip,
            port,
            Some((cert.cert_path(), cert.key_path())),
            spools[1].path(),
        )
        .expect("aiosmtpd with STARTTLS starts");
        World {
            dns,
            port,
            plain,
            tls,
            _cert: cert,
            _spools: spools,
        }
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CONVENE_DNS_SERVER", self.dns.addr().to_string()),
            ("CONVENE_SMTP_PORT", self.port.to_string()),
            ("CONVENE_HELO_NAME", "convene.test".to_owned()),
        ]
    }

    /// Runs `convene mail send` with this world's settings, `extra` settings and `args`
    /// after the sender and subject.
    fn send(&self, args: &[&str], extra: &[(&'static str, String)], stdin: &[u8]) -> Output {
        let mut all_args = vec![
            "mail",
            "send",
            "--from",
            "Convene <reminders@convene.test>",
            "--subject",
            "Launch review",
        ];
        all_args.extend_from_slice(args);
        let mut settings = self.settings();
        settings.extend_from_slice(extra);
        run(&all_args, &settings, stdin)
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Writes `content` to `name` in `dir` and returns the path as text.
fn write_file(dir: &Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Returns the table row of `recipient`, split at runs of two or more spaces.
fn table_row(output: &Output, recipient: &str) -> Vec<String> {
    let line = output
        .stdout
        .lines()
        .find(|line| line.starts_with(recipient))
        .unwrap_or_else(|| panic!("no row for {recipient}: {}", output.describe()));
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn send_exit_code_follows_worst_result() {
    if !require_peers(
        "send_exit_code_follows_worst_result",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = World::start(21);
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(dir.path(), "body.txt", b"Hello.\n");
    // (recipients, expected exit code, expected status and code of each recipient)
    type Expected = &'static [(&'static str, &'static str)];
    let rows: [(&[&str], i32, Expected); 3] = [
        (
            &["ada@alpha.test", "bob@alpha.test"],
            0,
            &[("delivered", "250"), ("delivered", "250")],
        ),
        (
            &["ada@alpha.test", "busy1@alpha.test"],
            75,
            &[("delivered", "250"), ("temporary", "452")],
        ),
        (
            &["busy2@alpha.test", "reject1@alpha.test", "cy@alpha.test"],
            1,
            &[
                ("temporary", "452"),
                ("permanent", "550"),
                ("delivered", "250"),
            ],
        ),
    ];
    for (recipients, expected_code, expected) in rows {
        let mut args = vec!["--text", text.as_str(), "--to"];
        args.extend_from_slice(recipients);

        let output = world.send(&args, &[], b"");

        assert_eq!(
            output.code,
            Some(expected_code),
            "{recipients:?}: {}",
            output.describe()
        );
        let header = output.stdout.lines().next().unwrap_or_default();
        assert!(
            header.starts_with("RECIPIENT") && header.ends_with("MESSAGE"),
            "{}",
            output.describe()
        );
        assert_eq!(
            output.stdout.lines().count(),
            recipients.len() + 1,
            "{}",
            output.describe()
        );
        for (recipient, (status, code)) in recipients.iter().zip(expected) {
            let row = table_row(&output, recipient);
            assert_eq!(row[1], *status, "{recipient}: {row:?}");
            assert_eq!(row[2], "mx.alpha.test", "{recipient}: {row:?}");
            assert_eq!(row[3], "-", "{recipient}: no TLS: {row:?}");
            assert_eq!(row[4], *code, "{recipient}: {row:?}");
            assert!(row.len() == 6, "{recipient}: a reply text: {row:?}");
        }
    }
    let delivered: Vec<Vec<String>> = world
        .plain
        .messages()
        .unwrap()
        .into_iter()
        .map(|message| message.rcpt_tos)
        .collect();
    assert_eq!(
        delivered,
        [
            vec!["ada@alpha.test", "bob@alpha.test"],
            vec!["ada@alpha.test"],
            vec!["cy@alpha.test"],
        ]
    );
}

#[test]
fn send_json_lists_every_recipient() {
    if !require_peers(
        "send_json_lists_every_recipient",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = World::start(22);
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(dir.path(), "body.txt", b"Hello.\n");

    let output = world.send(
        &[
            "--text",
            &text,
            "--to",
            "ada@alpha.test",
            "--cc",
            "busy@alpha.test",
            "--bcc",
            "reject@alpha.test",
            "--to",
            "eve@tls.test",
            "--json",
        ],
        &[],
        b"",
    );

    assert_eq!(output.code, Some(1), "{}", output.describe());
    let results: Value = serde_json::from_str(&output.stdout).unwrap();
    let results = results.as_array().unwrap();
    let summary: Vec<Value> = results
        .iter()
        .map(|result| {
            json!([
                result["recipient"],
                result["status"],
                result["mx"],
                result["tls"],
                result["code"]
            ])
        })
        .collect();
    // To, then Cc, then Bcc: the order of the envelope.
    assert_eq!(
        summary,
        [
            json!(["ada@alpha.test", "delivered", "mx.alpha.test", false, 250]),
            json!(["eve@tls.test", "delivered", "mx.tls.test", true, 250]),
            json!(["busy@alpha.test", "temporary", "mx.alpha.test", false, 452]),
            json!([
                "reject@alpha.test",
                "permanent",
                "mx.alpha.test",
                false,
                550
            ]),
        ]
    );
    for result in results {
        let message = result["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{result}");
        assert_eq!(
            result["tls_version"].is_string(),
            result["tls"] == true,
            "{result}"
        );
        assert_eq!(
            result["tls_cipher"].is_string(),
            result["tls"] == true,
            "{result}"
        );
    }
    assert!(results[2]["message"].as_str().unwrap().contains("4.2.2"));
    assert!(results[3]["message"].as_str().unwrap().contains("5.1.1"));
}

/// Prints the parts of a message as Python's `email` package reads them.
const PARTS_SCRIPT: &str = r#"
import email, email.policy, hashlib, json, sys
message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
attachments = []
for part in message.iter_attachments():
    data = part.get_content()
    if isinstance(data, str):
        data = data.encode()
    attachments.append({
        "filename": part.get_filename(),
        "content_type": part.get_content_type(),
        "sha256": hashlib.sha256(data).hexdigest(),
    })
body = message.get_body(preferencelist=("plain",))
html = message.get_body(preferencelist=("html",))
print(json.dumps({
    "headers": {name.lower(): str(value) for name, value in message.items()},
    "content_type": message.get_content_type(),
    "text": body.get_content() if body else None,
    "html": html.get_content() if html else None,
    "attachments": attachments,
    "defects": [str(defect) for defect in message.defects],
}))
"#;

fn sha256_hex(data: &[u8]) -> String {
    let output = run_python(
        "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        data,
    );
    String::from_utf8(output).unwrap().trim().to_owned()
}

#[test]
fn send_delivers_stdin_body_attachments_and_bcc() {
    if !require_peers(
        "send_delivers_stdin_body_attachments_and_bcc",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::Python3],
    ) {
        return;
    }
    let world = World::start(23);
    let dir = tempfile::tempdir().unwrap();
    let html = write_file(
        dir.path(),
        "body.html",
        "<p>Grüße, the review moved.</p>\n".as_bytes(),
    );
    let pdf_bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let pdf = write_file(dir.path(), "agenda.pdf", &pdf_bytes);
    let csv = write_file(dir.path(), "Notes.CSV", b"name,slot\nada,10:00\n");
    let blob = write_file(dir.path(), "blob", b"\x00\x01raw");
    let stdin_text = "Grüße from standard input.\nSecond line.\n";

    let output = world.send(
        &[
            "--to",
            "Ada Lovelace <ada@alpha.test>",
            "--bcc",
            "hidden@alpha.test",
            "--text",
            "-",
            "--html",
            &html,
            "--attach",
            &pdf,
            "--attach",
            &csv,
            "--attach",
            &blob,
        ],
        &[],
        stdin_text.as_bytes(),
    );

    assert_eq!(output.code, Some(0), "{}", output.describe());
    let messages = world.plain.messages().unwrap();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = &messages[0];
    assert_eq!(message.mail_from, "reminders@convene.test");
    assert_eq!(message.rcpt_tos, ["ada@alpha.test", "hidden@alpha.test"]);
    assert!(
        !message.data.contains("hidden@"),
        "Bcc is in no header: {}",
        message.data
    );

    let parsed: Value =
        serde_json::from_slice(&run_python(PARTS_SCRIPT, message.data.as_bytes())).unwrap();
    assert_eq!(parsed["defects"], json!([]), "{}", message.data);
    assert_eq!(
        parsed["headers"]["from"],
        "Convene <reminders@convene.test>"
    );
    assert_eq!(parsed["headers"]["to"], "Ada Lovelace <ada@alpha.test>");
    assert_eq!(parsed["headers"]["subject"], "Launch review");
    assert!(parsed["headers"].get("bcc").is_none(), "{parsed}");
    assert_eq!(parsed["content_type"], "multipart/mixed");
    // Lines travel with CRLF endings, which Python's email package keeps.
    let text = parsed["text"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(text, stdin_text);
    let html = parsed["html"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(html, "<p>Grüße, the review moved.</p>\n");
    assert_eq!(
        parsed["attachments"],
        json!([
            {"filename": "agenda.pdf", "content_type": "application/pdf", "sha256": sha256_hex(&pdf_bytes)},
            {"filename": "Notes.CSV", "content_type": "text/csv", "sha256": sha256_hex(b"name,slot\nada,10:00\n")},
            {"filename": "blob", "content_type": "application/octet-stream", "sha256": sha256_hex(b"\x00\x01raw")},
        ])
    );
}

#[test]
fn send_signs_with_dkim() {
    if !require_peers(
        "send_signs_with_dkim",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::Dkimpy],
    ) {
        return;
    }
    let world = World::start(24);
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(dir.path(), "body.txt", b"Signed body.\n");
    for algorithm in ["rsa", "ed25519"] {
        let key = dir.path().join(format!("{algorithm}.pem"));
        let key = key.to_str().unwrap();
        let keygen = run(
            &[
                "dkim",
                "keygen",
                "--domain",
                "convene.test",
                "--selector",
                algorithm,
                "--algorithm",
                algorithm,
                "--out",
                key,
            ],
            &[],
            b"",
        );
        assert_eq!(keygen.code, Some(0), "{}", keygen.describe());
        let records = TxtRecord::parse_zone_lines(&keygen.stdout).unwrap();
        let recipient = format!("{algorithm}@alpha.test");

        let output = world.send(
            &[
                "--text",
                &text,
                "--to",
                &recipient,
                "--dkim-key",
                key,
                "--dkim-domain",
                "convene.test",
                "--dkim-selector",
                algorithm,
            ],
            &[],
            b"",
        );

        assert_eq!(output.code, Some(0), "{algorithm}: {}", output.describe());
        let messages = world.plain.messages().unwrap();
        let message = messages
            .iter()
            .find(|message| message.rcpt_tos == [recipient.as_str()])
            .unwrap();
        assert!(
            message.data.starts_with("DKIM-Signature:"),
            "{algorithm}: {}",
            message.data
        );
        assert_eq!(
            message.data.matches("DKIM-Signature:").count(),
            1,
            "{algorithm}"
        );
        let verdict = DkimVerifier::Dkimpy
            .verify(message.data.as_bytes(), &records)
            .unwrap();
        assert_eq!(verdict, DkimVerdict::Pass, "{algorithm}: {}", message.data);
        assert!(
            !output.stderr.contains("another domain"),
            "{}",
            output.describe()
        );
    }

    // A signing domain that is not the sender's is used, with a warning.
    let key = dir.path().join("rsa.pem");
    let output = world.send(
        &[
            "--text",
            &text,
            "--to",
            "unaligned@alpha.test",
            "--dkim-key",
            key.to_str().unwrap(),
            "--dkim-domain",
            "elsewhere.test",
            "--dkim-selector",
            "rsa",
        ],
        &[],
        b"",
    );
    assert_eq!(output.code, Some(0), "{}", output.describe());
    assert!(
        output
            .stderr
            .contains("signed for another domain than its sender's"),
        "{}",
        output.describe()
    );
}

#[test]
fn send_applies_tls_policies() {
    if !require_peers(
        "send_applies_tls_policies",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = World::start(25);
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(dir.path(), "body.txt", b"Hello.\n");
    // (recipient, TLS policy, per-domain policies, expected status, expected TLS)
    let rows = [
        ("a1@tls.test", None, None, "delivered", true),
        ("a2@tls.test", Some("disabled"), None, "delivered", false),
        // The certificate is self-signed, so verification fails and nothing is sent.
        ("a3@tls.test", Some("required"), None, "temporary", false),
        (
            "a4@tls.test",
            Some("required-unverified"),
            None,
            "delivered",
            true,
        ),
        (
            "a5@tls.test",
            Some("required"),
            Some("tls.test=required-unverified"),
            "delivered",
            true,
        ),
        // The plain server offers no STARTTLS.
        (
            "a6@alpha.test",
            Some("required-unverified"),
            None,
            "temporary",
            false,
        ),
        (
            "a7@alpha.test",
            Some("required"),
            Some("Alpha.test=opportunistic,tls.test=disabled"),
            "delivered",
            false,
        ),
    ];
    for (recipient, policy, domains, status, tls) in rows {
        let mut settings = Vec::new();
        if let Some(policy) = policy {
            settings.push(("CONVENE_TLS_POLICY", policy.to_owned()));
        }
        if let Some(domains) = domains {
            settings.push(("CONVENE_TLS_POLICY_DOMAINS", domains.to_owned()));
        }

        let output = world.send(
            &["--text", &text, "--to", recipient, "--json"],
            &settings,
            b"",
        );

        let expected_code = if status == "delivered" { 0 } else { 75 };
        assert_eq!(
            output.code,
            Some(expected_code),
            "{recipient}: {}",
            output.describe()
        );
        let results: Value = serde_json::from_str(&output.stdout).unwrap();
        assert_eq!(results[0]["status"], status, "{recipient}: {results}");
        assert_eq!(results[0]["tls"], tls, "{recipient}: {results}");
    }
    let over_tls: Vec<(Vec<String>, bool)> = world
        .tls
        .messages()
        .unwrap()
        .into_iter()
        .map(|message| (message.rcpt_tos, message.tls))
        .collect();
    assert_eq!(
        over_tls,
        [
            (vec!["a1@tls.test".to_owned()], true),
            (vec!["a2@tls.test".to_owned()], false),
            (vec!["a4@tls.test".to_owned()], true),
            (vec!["a5@tls.test".to_owned()], true),
        ]
    );
}

#[test]
fn send_through_relay_with_password_file() {
    if !require_peers(
        "send_through_relay_with_password_file",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let password = "correct horse battery";
    // (scheme, implicit TLS, password in the file, expected exit code)
    let rows = [
        ("smtp", false, format!("{password}\n"), 0),
        ("smtps", true, password.to_owned(), 0),
        ("smtp", false, "wrong horse\n".to_owned(), 1),
    ];
    for (index, (scheme, implicit_tls, password_file, expected_code)) in
        rows.into_iter().enumerate()
    {
        let relay_ip = ip(&format!("127.0.26.{}", index + 2));
        let port = free_port_on(&[relay_ip]);
        let dns = Dnsmasq::start(DnsConfig::new().host("relay.test", relay_ip)).expect("dnsmasq");
        let ca = TestCa::generate().unwrap();
        let cert = ca.issue(&["relay.test"]).unwrap();
        let spool = tempfile::tempdir().unwrap();
        let options = SmtpOptions {
            tls: Some((cert.cert_path(), cert.key_path())),
            implicit_tls,
            auth: Some(("convene", password)),
            ..SmtpOptions::default()
        };
        let relay = SmtpServer::start_with(relay_ip, port, spool.path(), &options)
            .expect("aiosmtpd relay starts");
        let dir = tempfile::tempdir().unwrap();
        let text = write_file(dir.path(), "body.txt", b"Hello.\n");
        let password_path = write_file(dir.path(), "relay-password", password_file.as_bytes());
        let settings = [
            ("CONVENE_DNS_SERVER", dns.addr().to_string()),
            ("CONVENE_HELO_NAME", "convene.test".to_owned()),
            ("CONVENE_RELAY", format!("{scheme}://relay.test:{port}")),
            ("CONVENE_RELAY_USER", "convene".to_owned()),
            ("CONVENE_RELAY_PASSWORD_FILE", password_path),
            (
                "CONVENE_TLS_CA_FILE",
                ca.cert_path().to_str().unwrap().to_owned(),
            ),
            // Debug logs show every SMTP command, and still no password.
            ("CONVENE_LOG", "debug".to_owned()),
        ];
        let case = format!("{scheme}, password {password_file:?}");

        // The recipient domains have no DNS records: only the relay is looked up.
        let output = run(
            &[
                "mail",
                "send",
                "--from",
                "reminders@convene.test",
                "--subject",
                "Relayed",
                "--text",
                &text,
                "--to",
                "ada@alpha.example",
                "--to",
                "bob@beta.example",
                "--json",
            ],
            &settings,
            b"",
        );

        assert_eq!(
            output.code,
            Some(expected_code),
            "{case}: {}",
            output.describe()
        );
        assert!(
            !output.stdout.contains("horse"),
            "{case}: {}",
            output.describe()
        );
        assert!(
            !output.stderr.contains("horse"),
            "{case}: {}",
            output.describe()
        );
        let results: Value = serde_json::from_str(&output.stdout).unwrap();
        for result in results.as_array().unwrap() {
            assert_eq!(result["mx"], "relay.test", "{case}: {result}");
        }
        let messages = relay.messages().unwrap();
        if expected_code == 0 {
            assert_eq!(
                messages.len(),
                1,
                "{case}: one transaction for both domains"
            );
            assert_eq!(
                messages[0].rcpt_tos,
                ["ada@alpha.example", "bob@beta.example"]
            );
            assert_eq!(messages[0].auth_login.as_deref(), Some("convene"), "{case}");
            assert!(messages[0].tls, "{case}");
        } else {
            assert!(messages.is_empty(), "{case}: {messages:#?}");
            assert_eq!(results[0]["code"], 535, "{case}: {results}");
        }
    }
}

#[test]
fn send_rejects_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(dir.path(), "body.txt", b"Hello.\n");
    let missing = dir.path().join("missing").to_str().unwrap().to_owned();
    let base = ["--to", "ada@alpha.test", "--text", text.as_str()];
    // (arguments after --from and --subject, settings, text the error must contain)
    type Settings = Vec<(&'static str, String)>;
    let rows: Vec<(Vec<&str>, Settings, &str)> = vec![
        (vec!["--text", &text], vec![], "--to"),
        (vec!["--to", "ada", "--text", &text], vec![], "--to \"ada\""),
        (vec!["--to", "ada@alpha.test"], vec![], "--text"),
        (
            vec!["--to", "ada@alpha.test", "--text", "-", "--attach", "-"],
            vec![],
            "--text, --attach",
        ),
        (
            vec!["--to", "ada@alpha.test", "--text", &missing],
            vec![],
            "--text",
        ),
        (
            base.to_vec(),
            vec![("CONVENE_DKIM_KEY", text.clone())],
            "CONVENE_DKIM_DOMAIN",
        ),
        (
            base.to_vec(),
            vec![
                ("CONVENE_DKIM_KEY", missing.clone()),
                ("CONVENE_DKIM_DOMAIN", "convene.test".to_owned()),
                ("CONVENE_DKIM_SELECTOR", "s1".to_owned()),
            ],
            "CONVENE_DKIM_KEY",
        ),
        (
            base.to_vec(),
            vec![
                ("CONVENE_DKIM_KEY", text.clone()),
                ("CONVENE_DKIM_DOMAIN", "convene.test".to_owned()),
                ("CONVENE_DKIM_SELECTOR", "s1".to_owned()),
            ],
            "invalid DKIM private key",
        ),
        (
            base.to_vec(),
            vec![("CONVENE_RELAY", "http://relay.test".to_owned())],
            "--relay",
        ),
        (
            base.to_vec(),
            vec![("CONVENE_TLS_POLICY", "strict".to_owned())],
            "--tls-policy",
        ),
        (
            base.to_vec(),
            vec![("CONVENE_TLS_POLICY_DOMAINS", "example.org".to_owned())],
            "--tls-policy-domains",
        ),
        (
            base.to_vec(),
            vec![("CONVENE_TLS_CA_FILE", missing.clone())],
            "CONVENE_TLS_CA_FILE",
        ),
        (
            base.to_vec(),
            vec![
                ("CONVENE_RELAY", "smtp://relay.test".to_owned()),
                ("CONVENE_RELAY_USER", "convene".to_owned()),
            ],
            "CONVENE_RELAY_PASSWORD_FILE",
        ),
        (
            base.to_vec(),
            vec![("CONVENE_SMTP_PORT", "0".to_owned())],
            "--smtp-port",
        ),
    ];
    for (args, settings, expected) in rows {
        let mut all_args = vec![
            "mail",
            "send",
            "--from",
            "reminders@convene.test",
            "--subject",
            "Hi",
        ];
        all_args.extend_from_slice(&args);

        let output = run(&all_args, &settings, b"");

        assert_eq!(
            output.code,
            Some(2),
            "{args:?} {settings:?}: {}",
            output.describe()
        );
        assert!(
            output.stderr.contains(expected),
            "{args:?} {settings:?}: expected {expected:?} in {}",
            output.describe()
        );
        assert!(output.stdout.is_empty(), "{args:?}: {}", output.describe());
    }
}
