//! Interoperability of built messages: each is delivered with `Mailer::send` to aiosmtpd and
//! to Postfix's smtp-sink on loopback, and every received copy is parsed back by Python's
//! `email` package, a MIME parser independent of this crate.

mod support;

use std::net::IpAddr;

use convene_mail::{Address, Attachment, DeliveryStatus, InlineImage, Mailbox, Message};
use convene_testkit::{
    DnsConfig, Dnsmasq, Peer, SinkMessage, SmtpServer, SmtpSink, SpooledMessage, free_port_on,
    require_peers, run_python,
};
use serde_json::{Value, json};
use support::{address, init_logging, mailer};

/// Prints what Python's `email` package (policy `email.policy.default`) reads from the
/// message on stdin, as JSON: the address headers, the subject, every part in `walk()` order
/// and every defect it found in the message, its parts and their header fields.
const PARSER: &str = r#"
import email, email.policy, json, sys

message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)

def mailboxes(name):
    header = message[name]
    if header is None:
        return None
    return [{"name": item.display_name, "address": item.addr_spec} for item in header.addresses]

defects = []
parts = []
for part in message.walk():
    content_type = part.get_content_type()
    defects += [f"{content_type}: {defect!r}" for defect in part.defects]
    for name, value in part.items():
        defects += [f"{content_type} {name}: {defect!r}" for defect in value.defects]
    entry = {"content_type": content_type}
    if not part.is_multipart():
        content = part.get_content()
        if isinstance(content, str):
            entry["text"] = content
        else:
            entry["hex"] = content.hex()
        entry["filename"] = part.get_filename()
        entry["disposition"] = part.get_content_disposition()
        entry["content_id"] = part["content-id"] and str(part["content-id"])
    parts.append(entry)

print(json.dumps({
    "header_names": [name.lower() for name in message.keys()],
    "subject": str(message["subject"]),
    "from": mailboxes("from"),
    "to": mailboxes("to"),
    "cc": mailboxes("cc"),
    "reply_to": mailboxes("reply-to"),
    "event": message["x-convene-event"] and str(message["x-convene-event"]),
    "parts": parts,
    "defects": defects,
}))
"#;

/// Parses `data` with [`PARSER`].
fn parse_with_python(data: &str) -> Value {
    serde_json::from_slice(&run_python(PARSER, data.as_bytes())).expect("JSON from the parser")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Returns a PNG signature and header chunk followed by octets that a text encoding would
/// mangle: NUL, bare CR and LF, and 8-bit values.
fn png_bytes() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend((0..=255u8).cycle().take(700));
    bytes
}

fn pdf_bytes() -> Vec<u8> {
    let mut bytes =
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\r<< /Type /Catalog >>\rendobj\n".to_vec();
    bytes.extend((0..=255u8).rev().cycle().take(3000));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

const SUBJECT: &str = "Besprechung verschoben: Überprüfung der Quartalszahlen – \
                       neuer Termin am Donnerstag um 10:00 Uhr 📅";
const FILE_NAME: &str =
    "Jahresübersicht für das Geschäftsjahr 2025 – Besprechungsprotokolle (endgültig).pdf";
const EVENT_ID: &str = "0192f1d2-7c3a-7000-8000-000000000001";

/// Returns the text body, with a signature separator (`-- ` with its trailing space), lines
/// starting with `.` and `From `, and a line longer than any line limit.
fn text_body() -> String {
    format!(
        "Hallo Åsa,\n\nthe meeting moved to Thursday.\n.\nFrom now on it is weekly.\n{}\n\
         -- \nConvene\n",
        "long line ".repeat(60).trim_end()
    )
}

fn html_body() -> String {
    format!(
        "<html><body><p>Hallo Åsa,</p>\n<img src=\"cid:logo\" alt=\"Logo\">\n<p>{}</p>\n\
         </body></html>\n",
        "Der Termin wurde verschoben. ".repeat(20).trim_end()
    )
}

fn full_message(to: &Address, cc: &Address) -> Message {
    Message::new(
        Mailbox::new("Zoë Ünïcode", address("noreply@convene.test")),
        SUBJECT,
    )
    .to(Mailbox::new("Åsa Öberg", to.clone()))
    .cc(Mailbox::new("José Müller", cc.clone()))
    .reply_to(Mailbox::new(
        "Convene Support",
        address("support@convene.test"),
    ))
    .header("X-Convene-Event", EVENT_ID)
    .text(text_body())
    .html(html_body())
    .inline_image(InlineImage::new("logo", "image/png", png_bytes()))
    .attachment(Attachment::new(FILE_NAME, "application/pdf", pdf_bytes()))
}

/// Checks one received copy of [`full_message`] against what was built.
fn assert_full_message_parsed(copy: &str, server: &str) {
    for line in copy.split("\r\n") {
        assert!(
            line.len() <= 78,
            "{server}: line of {} octets: {line}",
            line.len()
        );
    }
    let parsed = parse_with_python(copy);

    assert_eq!(parsed["defects"], json!([]), "{server}");
    assert_eq!(parsed["subject"], SUBJECT, "{server}");
    assert_eq!(
        parsed["from"],
        json!([{"name": "Zoë Ünïcode", "address": "noreply@convene.test"}]),
        "{server}"
    );
    assert_eq!(
        parsed["to"],
        json!([{"name": "Åsa Öberg", "address": "ada@aio.test"}]),
        "{server}"
    );
    assert_eq!(
        parsed["cc"],
        json!([{"name": "José Müller", "address": "bob@sink.test"}]),
        "{server}"
    );
    assert_eq!(
        parsed["reply_to"],
        json!([{"name": "Convene Support", "address": "support@convene.test"}]),
        "{server}"
    );
    assert_eq!(parsed["event"], EVENT_ID, "{server}");

    let parts = parsed["parts"].as_array().expect("parts");
    let content_types: Vec<&str> = parts
        .iter()
        .map(|part| part["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        content_types,
        [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "multipart/related",
            "text/html",
            "image/png",
            "application/pdf",
        ],
        "{server}"
    );
    // The bodies were given with LF and are sent, and decoded, with CRLF.
    assert_eq!(
        parts[2]["text"],
        text_body().replace('\n', "\r\n"),
        "{server}"
    );
    assert_eq!(
        parts[4]["text"],
        html_body().replace('\n', "\r\n"),
        "{server}"
    );

    let image = &parts[5];
    assert_eq!(image["hex"], to_hex(&png_bytes()), "{server}");
    assert_eq!(image["content_id"], "<logo>", "{server}");
    assert_eq!(image["disposition"], "inline", "{server}");

    let attachment = &parts[6];
    assert_eq!(attachment["hex"], to_hex(&pdf_bytes()), "{server}");
    assert_eq!(attachment["filename"], FILE_NAME, "{server}");
    assert_eq!(attachment["disposition"], "attachment", "{server}");
}

/// Two mail servers for one test: aiosmtpd for `aio.test` and smtp-sink for `sink.test`,
/// each the implicit MX of its domain, on one port as the mailer expects.
struct Servers {
    dns: Dnsmasq,
    aiosmtpd: SmtpServer,
    sink: SmtpSink,
    port: u16,
    _spool: tempfile::TempDir,
}

fn start_servers(aiosmtpd_ip: &str, sink_ip: &str) -> Servers {
    let aiosmtpd_ip = ip(aiosmtpd_ip);
    let sink_ip = ip(sink_ip);
    let port = free_port_on(&[aiosmtpd_ip, sink_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .host("aio.test", aiosmtpd_ip)
            .host("sink.test", sink_ip),
    )
    .expect("dnsmasq starts");
    let spool = tempfile::tempdir().unwrap();
    let aiosmtpd =
        SmtpServer::start(aiosmtpd_ip, port, None, spool.path()).expect("aiosmtpd starts");
    let sink = SmtpSink::start(sink_ip, port).expect("smtp-sink starts");
    Servers {
        dns,
        aiosmtpd,
        sink,
        port,
        _spool: spool,
    }
}

impl Servers {
    /// Builds `message`, sends it to its envelope recipients and checks that every one was
    /// delivered. Returns the bytes sent.
    async fn deliver(&self, message: &Message) -> String {
        let bytes = message.to_bytes().expect("valid message");
        let recipients = message.envelope_recipients();
        let results = mailer(self.dns.addr(), self.port)
            .send(&address("noreply@convene.test"), &recipients, &bytes)
            .await;
        assert_eq!(results.len(), recipients.len(), "{results:#?}");
        for result in &results {
            assert_eq!(result.status, DeliveryStatus::Delivered, "{result:#?}");
        }
        String::from_utf8(bytes).unwrap()
    }

    /// Returns the one copy that each server received.
    fn copies(&self) -> (SpooledMessage, SinkMessage) {
        let mut aiosmtpd_copies = self.aiosmtpd.messages().unwrap();
        assert_eq!(aiosmtpd_copies.len(), 1, "{aiosmtpd_copies:#?}");
        let mut sink_copies = self.sink.messages().unwrap();
        assert_eq!(
            sink_copies.len(),
            1,
            "{sink_copies:#?}\n{}",
            self.sink.log()
        );
        (aiosmtpd_copies.remove(0), sink_copies.remove(0))
    }
}

#[tokio::test]
async fn full_message_survives_both_servers() {
    if !require_peers(
        "full_message_survives_both_servers",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::SmtpSink],
    ) {
        return;
    }
    init_logging();
    let servers = start_servers("127.0.0.21", "127.0.0.22");

    let message = full_message(&address("ada@aio.test"), &address("bob@sink.test"));
    let sent = servers.deliver(&message).await;
    let (aiosmtpd_copy, sink_copy) = servers.copies();

    assert_eq!(aiosmtpd_copy.rcpt_tos, ["ada@aio.test"]);
    assert_eq!(aiosmtpd_copy.data, sent);
    assert_full_message_parsed(&aiosmtpd_copy.data, "aiosmtpd");

    assert_eq!(sink_copy.rcpt_tos, ["bob@sink.test"]);
    assert_eq!(sink_copy.data, sent);
    assert_full_message_parsed(&sink_copy.data, "smtp-sink");
}

#[tokio::test]
async fn bcc_recipients_stay_out_of_headers() {
    if !require_peers(
        "bcc_recipients_stay_out_of_headers",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::SmtpSink],
    ) {
        return;
    }
    init_logging();
    let servers = start_servers("127.0.0.23", "127.0.0.24");

    let hidden = ["carol@aio.test", "eve@sink.test"];
    let message = Message::new(
        Mailbox::new("Convene", address("noreply@convene.test")),
        "Reminder",
    )
    .to(Mailbox::new("Ada", address("ada@aio.test")))
    .bcc(address(hidden[0]))
    .bcc(address(hidden[1]))
    .text("The meeting starts at 10:00.\n");
    servers.deliver(&message).await;

    // Each Bcc recipient is in the envelope of its server's transaction.
    let (aiosmtpd_copy, sink_copy) = servers.copies();
    assert_eq!(aiosmtpd_copy.rcpt_tos, ["ada@aio.test", "carol@aio.test"]);
    assert_eq!(sink_copy.rcpt_tos, ["eve@sink.test"]);

    // No copy names a Bcc recipient, or has a Bcc field, in its header section.
    let copies = [
        ("aiosmtpd", aiosmtpd_copy.data.as_str()),
        ("smtp-sink", sink_copy.data.as_str()),
    ];
    for (server, copy) in copies {
        let (header, _) = copy
            .split_once("\r\n\r\n")
            .expect("a blank line ends the header");
        let header = header.to_ascii_lowercase();
        assert!(!header.contains("bcc"), "{server}: {header}");
        for address in hidden {
            assert!(!header.contains(address), "{server}: {address} in {header}");
        }

        let parsed = parse_with_python(copy);
        assert_eq!(parsed["defects"], json!([]), "{server}");
        assert_eq!(
            parsed["to"],
            json!([{"name": "Ada", "address": "ada@aio.test"}]),
            "{server}"
        );
        assert!(
            !parsed["header_names"]
                .as_array()
                .unwrap()
                .contains(&json!("bcc")),
            "{server}: {}",
            parsed["header_names"]
        );
    }
}

/// One message's worth of header text that readers could misread.
struct HeaderCase {
    subject: String,
    display_name: &'static str,
    file_name: String,
    custom_value: String,
}

#[test]
fn tricky_header_text_round_trips() {
    if !require_peers("tricky_header_text_round_trips", &[Peer::Python3]) {
        return;
    }
    let cases = [
        HeaderCase {
            subject: "=?utf-8?q?spoofed?= subject".to_owned(),
            display_name: "=?utf-8?q?spoofed?=",
            file_name: "=?utf-8?q?spoofed?=.pdf".to_owned(),
            custom_value: "=?utf-8?b?c3Bvb2ZlZA==?=".to_owned(),
        },
        HeaderCase {
            subject: "会議は午前10時に変更されました。".repeat(6),
            display_name: "李小龙",
            file_name: "会議資料".repeat(12) + ".pdf",
            custom_value: "会議".to_owned(),
        },
        HeaderCase {
            subject: "🎉 Party 🎉 ".repeat(12).trim_end().to_owned(),
            display_name: "Lovelace, Ada \"Countess\" <eve@evil.test>",
            file_name: "report \"final\"; v2\\draft.pdf".to_owned(),
            custom_value: "word ".repeat(40).trim_end().to_owned(),
        },
        HeaderCase {
            subject: "  leading and trailing  ".to_owned(),
            display_name: "Ada Augusta King, Countess of Lovelace, born Byron, writer of the notes",
            file_name: "long ascii name ".repeat(12) + ".txt",
            custom_value: "tab\tinside".to_owned(),
        },
        HeaderCase {
            subject: "x".repeat(200),
            display_name: "back\\slash (not a comment)",
            file_name: "🎉".repeat(30),
            custom_value: String::new(),
        },
        HeaderCase {
            subject: String::new(),
            display_name: "Zoë",
            file_name: "plain.pdf".to_owned(),
            custom_value: "Grüße aus Köln".to_owned(),
        },
    ];

    for case in cases {
        let message = Message::new(
            Mailbox::new(case.display_name, address("noreply@convene.test")),
            case.subject.as_str(),
        )
        .to(address("ada@alpha.test"))
        .header("X-Convene-Event", case.custom_value.as_str())
        .text("x")
        .attachment(Attachment::new(
            case.file_name.as_str(),
            "application/octet-stream",
            vec![0],
        ));
        let bytes = message.to_bytes().expect("valid message");
        let data = String::from_utf8(bytes).unwrap();
        for line in data.split("\r\n") {
            assert!(line.len() <= 78, "line of {} octets: {line}", line.len());
        }

        let parsed = parse_with_python(&data);
        assert_eq!(parsed["defects"], json!([]), "{data}");
        assert_eq!(parsed["subject"], case.subject, "{data}");
        assert_eq!(parsed["from"][0]["name"], case.display_name, "{data}");
        assert_eq!(parsed["event"], case.custom_value, "{data}");
        assert_eq!(parsed["parts"][2]["filename"], case.file_name, "{data}");
    }
}
