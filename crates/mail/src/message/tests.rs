use base64::Engine;
use std::collections::HashSet;

use super::*;

fn address(text: &str) -> Address {
    Address::parse(text).unwrap()
}

fn sample() -> Message {
    Message::new(
        Mailbox::new("Convene", address("noreply@convene.test")),
        "Meeting moved to 10:00",
    )
    .to(Mailbox::new("Ada Lovelace", address("ada@alpha.test")))
    .to(address("bob@beta.test"))
    .text("Hello Ada,\nthe meeting moved.\n.\nBye")
    .html("<p>Hello Ada,</p>\r\n<p>the meeting moved.</p>")
}

fn build(message: &Message) -> String {
    let date = "2026-03-01T09:30:00Z".parse().unwrap();
    let bytes = message
        .to_bytes_at(date)
        .unwrap_or_else(|error| panic!("{error}"));
    String::from_utf8(bytes).unwrap()
}

/// Returns the header section, without the blank line that ends it.
fn headers(output: &str) -> &str {
    let (headers, _) = output
        .split_once("\r\n\r\n")
        .expect("a blank line ends the headers");
    headers
}

/// Returns the unfolded value of the first header field called `name`.
fn header_value(output: &str, name: &str) -> Option<String> {
    let unfolded = headers(output).replace("\r\n ", " ");
    let prefix = format!("{name}: ");
    unfolded
        .split("\r\n")
        .find_map(|line| line.strip_prefix(&prefix))
        .map(str::to_owned)
}

/// Returns the content types in the order they appear, multiparts included.
fn content_types(output: &str) -> Vec<String> {
    output
        .replace("\r\n ", " ")
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("Content-Type: "))
        .map(|value| value.split(';').next().unwrap().to_owned())
        .collect()
}

#[test]
fn to_bytes_writes_required_headers() {
    let output = build(&sample());
    let expected = [
        ("From", "\"Convene\" <noreply@convene.test>"),
        ("To", "\"Ada Lovelace\" <ada@alpha.test>, <bob@beta.test>"),
        ("Subject", "Meeting moved to 10:00"),
        ("Date", "Sun, 1 Mar 2026 09:30:00 +0000"),
        ("MIME-Version", "1.0"),
    ];
    for (name, value) in expected {
        assert_eq!(
            header_value(&output, name).as_deref(),
            Some(value),
            "{name}"
        );
    }
    let message_id = header_value(&output, "Message-ID").expect("Message-ID header");
    assert!(message_id.starts_with('<'), "{message_id}");
    assert!(message_id.ends_with("@convene.test>"), "{message_id}");
    assert_eq!(
        message_id.len(),
        "<@convene.test>".len() + 32,
        "{message_id}"
    );
}

#[test]
fn to_bytes_generates_unique_message_ids() {
    let message = sample();
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        let message_id = header_value(&build(&message), "Message-ID").unwrap();
        assert!(seen.insert(message_id.clone()), "repeated {message_id}");
    }
}

#[test]
fn to_bytes_uses_message_id_domain() {
    let message = sample().message_id_domain("mail.convene.test");
    let message_id = header_value(&build(&message), "Message-ID").unwrap();
    assert!(message_id.ends_with("@mail.convene.test>"), "{message_id}");
}

#[test]
fn to_bytes_builds_only_needed_multiparts() {
    let from = Mailbox::from(address("noreply@convene.test"));
    let base = Message::new(from, "Structure").to(address("ada@alpha.test"));
    let image = InlineImage::new("logo", "image/png", b"\x89PNG".to_vec());
    let attachment = Attachment::new("a.pdf", "application/pdf", b"%PDF".to_vec());
    let cases: [(Message, &[&str]); 7] = [
        (base.clone().text("only text"), &["text/plain"]),
        (base.clone().html("<p>only html</p>"), &["text/html"]),
        (
            base.clone().text("text").html("<p>html</p>"),
            &["multipart/alternative", "text/plain", "text/html"],
        ),
        (
            base.clone()
                .html("<img src=\"cid:logo\">")
                .inline_image(image.clone()),
            &["multipart/related", "text/html", "image/png"],
        ),
        (
            base.clone().text("text").attachment(attachment.clone()),
            &["multipart/mixed", "text/plain", "application/pdf"],
        ),
        (
            base.clone()
                .text("text")
                .html("<img src=\"cid:logo\">")
                .inline_image(image.clone()),
            &[
                "multipart/alternative",
                "text/plain",
                "multipart/related",
                "text/html",
                "image/png",
            ],
        ),
        (
            base.clone()
                .text("text")
                .html("<img src=\"cid:logo\">")
                .inline_image(image)
                .attachment(attachment),
            &[
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "multipart/related",
                "text/html",
                "image/png",
                "application/pdf",
            ],
        ),
    ];
    for (message, expected) in cases {
        let output = build(&message);
        assert_eq!(content_types(&output), expected, "{output}");
    }
}

#[test]
fn to_bytes_writes_related_root_type_and_content_id() {
    let message = sample()
        .html("<img src=\"cid:logo@convene.test\">")
        .inline_image(InlineImage::new(
            "logo@convene.test",
            "image/png",
            vec![1, 2, 3],
        ));
    let output = build(&message).replace("\r\n ", " ");
    assert!(
        output.contains("Content-Type: multipart/related; type=\"text/html\"; boundary=\"=_"),
        "{output}"
    );
    assert!(
        output.contains("\r\nContent-Disposition: inline\r\n"),
        "{output}"
    );
    assert!(
        output.contains("\r\nContent-ID: <logo@convene.test>\r\n"),
        "{output}"
    );
    assert!(
        output.contains("\r\nAQID\r\n"),
        "base64 of the image in {output}"
    );
}

#[test]
fn to_bytes_writes_attachment_file_names() {
    let name = "Jahresübersicht für das Geschäftsjahr 2025 (endgültig).pdf";
    let message = sample()
        .attachment(Attachment::new("plain.pdf", "application/pdf", vec![0]))
        .attachment(Attachment::new(name, "application/pdf", vec![0xff, 0x00]));
    let output = build(&message);
    assert!(
        output.contains("Content-Disposition: attachment; filename=\"plain.pdf\"\r\n"),
        "{output}"
    );
    assert!(
        output.contains(
            "Content-Disposition: attachment;\r\n \
             filename*0*=utf-8''Jahres%C3%BCbersicht%20f%C3%BCr%20das%20Gesch%C3%A4ftsjah;\r\n \
             filename*1*=r%202025%20%28endg%C3%BCltig%29.pdf\r\n"
        ),
        "{output}"
    );
    assert!(
        output.contains("\r\n/wA=\r\n"),
        "base64 of the file in {output}"
    );
}

#[test]
fn to_bytes_keeps_bcc_out_of_headers() {
    let message = sample()
        .cc(Mailbox::new("Carol", address("carol@gamma.test")))
        .bcc(address("eve@hidden.test"))
        .bcc(address("ada@alpha.test"));
    let output = build(&message);
    let headers = headers(&output).to_ascii_lowercase();
    assert!(!headers.contains("bcc"), "{headers}");
    assert!(!headers.contains("eve@hidden.test"), "{headers}");
    assert_eq!(
        header_value(&output, "Cc").as_deref(),
        Some("\"Carol\" <carol@gamma.test>")
    );

    // ada@alpha.test is both a To and a Bcc recipient and gets one copy.
    let recipients: Vec<String> = message
        .envelope_recipients()
        .iter()
        .map(Address::to_string)
        .collect();
    assert_eq!(
        recipients,
        [
            "ada@alpha.test",
            "bob@beta.test",
            "carol@gamma.test",
            "eve@hidden.test"
        ]
    );
}

#[test]
fn to_bytes_writes_undisclosed_recipients_for_bcc_only() {
    let message = Message::new(Mailbox::from(address("noreply@convene.test")), "Hidden")
        .bcc(address("eve@hidden.test"))
        .text("hi");
    let output = build(&message);
    assert_eq!(
        header_value(&output, "To").as_deref(),
        Some("undisclosed-recipients:;")
    );
    assert!(!output.contains("eve@hidden.test"), "{output}");
}

#[test]
fn to_bytes_writes_reply_to_and_custom_headers() {
    let message = sample()
        .reply_to(Mailbox::new("Support", address("support@convene.test")))
        .header("X-Convene-Event", "0192f1d2-7c3a-7000-8000-000000000001")
        .header("X-Note", "Grüße aus Köln");
    let output = build(&message);
    assert_eq!(
        header_value(&output, "Reply-To").as_deref(),
        Some("\"Support\" <support@convene.test>")
    );
    assert_eq!(
        header_value(&output, "X-Convene-Event").as_deref(),
        Some("0192f1d2-7c3a-7000-8000-000000000001")
    );
    assert_eq!(
        header_value(&output, "X-Note").as_deref(),
        Some("=?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4=?=")
    );
}

#[test]
fn to_bytes_normalises_body_line_endings() {
    let output = build(&sample());
    assert!(
        output.contains("\r\n\r\nHello Ada,\r\nthe meeting moved.\r\n.\r\nBye\r\n--=_"),
        "{output}"
    );
    assert!(
        output.contains("\r\n\r\n<p>Hello Ada,</p>\r\n<p>the meeting moved.</p>\r\n--=_"),
        "{output}"
    );
}

#[test]
fn to_bytes_protects_signature_separator() {
    let message = sample().text("Bye\n-- \nConvene\n");
    let output = build(&message);
    assert!(
        output.contains(
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nBye\r\n--=20\r\nConvene\r\n"
        ),
        "{output}"
    );
}

#[test]
fn to_bytes_ends_single_part_with_line_break() {
    let message = Message::new(Mailbox::from(address("a@convene.test")), "x")
        .to(address("b@beta.test"))
        .text("no final line break");
    let output = build(&message);
    assert!(
        output.ends_with("\r\n\r\nno final line break\r\n"),
        "{output}"
    );
}

#[test]
fn to_bytes_keeps_lines_short_and_ascii() {
    let message = sample()
        .to(Mailbox::new("Ä".repeat(500), address("carol@gamma.test")))
        .header("X-Long", "word ".repeat(300).trim_end())
        .text(format!("{}\n\rmixed\r\nendings\n", "x".repeat(5000)))
        .html(format!("<p>{}</p>", "ü".repeat(3000)))
        .attachment(Attachment::new(
            "ü".repeat(300),
            "application/octet-stream",
            vec![0u8; 10_000],
        ));
    let message = Message {
        subject: "Überraschung ".repeat(200),
        ..message
    };
    let bytes = message.to_bytes().unwrap();

    assert!(bytes.is_ascii(), "output contains 8-bit bytes");
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'\r' {
            assert_eq!(bytes.get(index + 1), Some(&b'\n'), "bare CR at {index}");
        }
        if byte == b'\n' {
            assert_eq!(bytes[index - 1], b'\r', "bare LF at {index}");
        }
    }
    let text = String::from_utf8(bytes).unwrap();
    for line in text.split("\r\n") {
        assert!(line.len() <= 78, "line of {} octets: {line}", line.len());
    }
}

#[test]
fn to_bytes_keeps_lines_within_998_octets() {
    // One 5000-character word cannot be folded in a custom header, so it is rejected, while
    // the same line in the body is split by quoted-printable.
    let message = sample().text("y".repeat(5000));
    let output = build(&message);
    assert!(output.split("\r\n").all(|line| line.len() <= 998));
    assert!(
        output.contains("Content-Transfer-Encoding: quoted-printable"),
        "{output}"
    );

    let message = sample().header("X-Token", "z".repeat(5000));
    match message.to_bytes() {
        Err(MessageError::HeaderTooLong { field, len }) => {
            assert_eq!(field, "X-Token header value");
            assert_eq!(len, "X-Token: ".len() + 5000);
        }
        other => panic!("expected HeaderTooLong, got {other:?}"),
    }

    let url = format!("<https://convene.test/u/{}>", "a".repeat(900));
    let output = build(&sample().header("List-Unsubscribe", url.as_str()));
    assert_eq!(header_value(&output, "List-Unsubscribe"), Some(url));
}

#[test]
fn to_bytes_encodes_special_display_names() {
    let message = sample().to(Mailbox::new(
        "Lovelace, Ada \"Countess\" <ada@evil.test>",
        address("ada@alpha.test"),
    ));
    let to = header_value(&build(&message), "To").unwrap();
    assert!(
        to.ends_with(", \"Lovelace, Ada \\\"Countess\\\" <ada@evil.test>\" <ada@alpha.test>"),
        "{to}"
    );
}

#[test]
fn to_bytes_rejects_reserved_and_invalid_header_names() {
    let reserved = [
        "From",
        "to",
        "CC",
        "Bcc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "content-transfer-encoding",
        "Sender",
        "Return-Path",
    ];
    for name in reserved {
        match sample().header(name, "x").to_bytes() {
            Err(MessageError::ReservedHeader { name: rejected }) => assert_eq!(rejected, name),
            other => panic!("{name}: expected ReservedHeader, got {other:?}"),
        }
    }

    let invalid = ["", "X Space", "X:Colon", "X-Ümlaut", &"X".repeat(77)];
    for name in invalid {
        match sample().header(name, "x").to_bytes() {
            Err(MessageError::InvalidHeaderName { name: rejected, .. }) => {
                assert_eq!(rejected, name);
            }
            other => panic!("{name:?}: expected InvalidHeaderName, got {other:?}"),
        }
    }
}

#[test]
fn to_bytes_rejects_invalid_content_types_and_ids() {
    for content_type in [
        "pdf",
        "application/",
        "/pdf",
        "text/plain; charset=utf-8",
        "a b/c",
    ] {
        let message = sample().attachment(Attachment::new("a.pdf", content_type, vec![]));
        match message.to_bytes() {
            Err(MessageError::InvalidContentType { field, .. }) => {
                assert_eq!(field, "attachments[0] content type", "{content_type:?}");
            }
            other => panic!("{content_type:?}: expected InvalidContentType, got {other:?}"),
        }
    }

    for content_id in ["", "<logo>", "lo go", "logo\"", &"x".repeat(251)] {
        let message =
            sample()
                .html("<img>")
                .inline_image(InlineImage::new(content_id, "image/png", vec![]));
        match message.to_bytes() {
            Err(MessageError::InvalidContentId { field, .. }) => {
                assert_eq!(field, "inline_images[0] content id", "{content_id:?}");
            }
            other => panic!("{content_id:?}: expected InvalidContentId, got {other:?}"),
        }
    }

    let duplicate = sample()
        .inline_image(InlineImage::new("logo", "image/png", vec![]))
        .inline_image(InlineImage::new("logo", "image/gif", vec![]));
    assert!(
        matches!(
            duplicate.to_bytes(),
            Err(MessageError::DuplicateContentId { ref content_id }) if content_id == "logo"
        ),
        "{:?}",
        duplicate.to_bytes()
    );
}

#[test]
fn to_bytes_rejects_incomplete_messages() {
    let from = Mailbox::from(address("noreply@convene.test"));
    let no_recipient = Message::new(from.clone(), "x").text("x");
    assert!(
        matches!(no_recipient.to_bytes(), Err(MessageError::NoRecipient)),
        "{:?}",
        no_recipient.to_bytes()
    );

    let no_body = Message::new(from.clone(), "x").to(address("a@alpha.test"));
    assert!(
        matches!(no_body.to_bytes(), Err(MessageError::NoBody)),
        "{:?}",
        no_body.to_bytes()
    );

    let inline_without_html = Message::new(from, "x")
        .to(address("a@alpha.test"))
        .text("x")
        .inline_image(InlineImage::new("logo", "image/png", vec![]));
    assert!(
        matches!(
            inline_without_html.to_bytes(),
            Err(MessageError::InlineImagesWithoutHtml)
        ),
        "{:?}",
        inline_without_html.to_bytes()
    );

    let nul_body = sample().html("a\0b");
    assert!(
        matches!(
            nul_body.to_bytes(),
            Err(MessageError::BodyNul { field: "html" })
        ),
        "{:?}",
        nul_body.to_bytes()
    );

    let bad_domain = sample().message_id_domain("evil.test>\r\nBcc: x");
    assert!(
        matches!(
            bad_domain.to_bytes(),
            Err(MessageError::InvalidMessageIdDomain { .. })
        ),
        "{:?}",
        bad_domain.to_bytes()
    );

    let ancient = "-000001-01-01T00:00:00Z".parse().unwrap();
    assert!(
        matches!(
            sample().to_bytes_at(ancient),
            Err(MessageError::InvalidDate { .. })
        ),
        "{:?}",
        sample().to_bytes_at(ancient)
    );
}

#[test]
fn attachment_from_path_reads_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("Übersicht.pdf");
    std::fs::write(&path, b"%PDF-1.7").unwrap();

    let attachment = Attachment::from_path(&path, "application/pdf").unwrap();
    assert_eq!(attachment.file_name(), "Übersicht.pdf");
    assert_eq!(attachment.content_type(), "application/pdf");
    assert_eq!(attachment.data(), b"%PDF-1.7");

    let image = InlineImage::from_path("logo", &path, "image/png").unwrap();
    assert_eq!(image.data(), b"%PDF-1.7");

    let missing = directory.path().join("missing.pdf");
    match Attachment::from_path(&missing, "application/pdf") {
        Err(error @ MessageError::ReadFile { .. }) => {
            assert!(error.to_string().contains("missing.pdf"), "{error}");
        }
        other => panic!("expected ReadFile, got {other:?}"),
    }
}

#[test]
fn debug_output_omits_bodies() {
    let message = sample()
        .text("secret text")
        .html("<p>secret html</p>")
        .attachment(Attachment::new(
            "a.txt",
            "text/plain",
            b"secret file".to_vec(),
        ));
    let debug = format!("{message:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(debug.contains("text_len: Some(11)"), "{debug}");
}

/// An iTIP request with a non-ASCII summary, a folded line that ends in a space and CRLF line
/// endings, as `convene_ical::write` produces them.
const REQUEST_ICS: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Convene//Convene Scheduler//EN\r\n\
VERSION:2.0\r\n\
METHOD:REQUEST\r\n\
BEGIN:VEVENT\r\n\
UID:0192f1d2-7c3a-7000-8000-000000000001@convene.test\r\n\
DTSTAMP:20260301T093000Z\r\n\
DTSTART:20260302T090000Z\r\n\
DTEND:20260302T100000Z\r\n\
SUMMARY:Überprüfung der Quartalszahlen mit dem ganzen Team und den Gästen \r\n \
aus Zürich\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// Prints what Python's `email` package reads from the message on stdin, as JSON: each
/// leaf part's content type, `method` parameter, transfer encoding and decoded text, the
/// multipart types, and every defect found.
const CALENDAR_PARSER: &str = r#"
import email, email.policy, json, sys

message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
parts = []
defects = []
for part in message.walk():
    defects += [repr(defect) for defect in part.defects]
    entry = {"content_type": part.get_content_type()}
    if not part.is_multipart():
        entry["method"] = part.get_param("method")
        entry["charset"] = part.get_content_charset()
        entry["encoding"] = part.get("content-transfer-encoding")
        entry["filename"] = part.get_filename()
        content = part.get_content()
        entry["text"] = content if isinstance(content, str) else content.decode("utf-8")
    parts.append(entry)
print(json.dumps({"parts": parts, "defects": defects}))
"#;

fn invitation_sample() -> Message {
    sample().calendar("REQUEST", REQUEST_ICS)
}

#[test]
fn to_bytes_puts_calendar_last_in_alternative() {
    let from = Mailbox::from(address("noreply@convene.test"));
    let base = Message::new(from, "Invitation").to(address("ada@alpha.test"));
    let attachment = Attachment::new("invite.ics", "application/ics", REQUEST_ICS);
    let cases: [(Message, &[&str]); 3] = [
        (
            base.clone().text("text").calendar("REQUEST", REQUEST_ICS),
            &["multipart/alternative", "text/plain", "text/calendar"],
        ),
        (
            base.clone()
                .text("text")
                .html("<p>html</p>")
                .calendar("REQUEST", REQUEST_ICS),
            &[
                "multipart/alternative",
                "text/plain",
                "text/html",
                "text/calendar",
            ],
        ),
        (
            base.clone()
                .text("text")
                .html("<p>html</p>")
                .calendar("REQUEST", REQUEST_ICS)
                .attachment(attachment),
            &[
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "text/html",
                "text/calendar",
                "application/ics",
            ],
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(content_types(&build(&message)), expected);
    }
}

#[test]
fn to_bytes_writes_calendar_method_and_base64() {
    let output = build(&invitation_sample());
    let unfolded = output.replace("\r\n ", " ");
    let header = unfolded
        .split("\r\n")
        .find(|line| line.starts_with("Content-Type: text/calendar"))
        .expect("a text/calendar part");
    assert_eq!(
        header,
        "Content-Type: text/calendar; charset=utf-8; method=REQUEST"
    );

    let (_, after_header) = unfolded.split_once(header).unwrap();
    let mut lines = after_header.split("\r\n").skip(1);
    assert_eq!(lines.next(), Some("Content-Transfer-Encoding: base64"));
    assert_eq!(lines.next(), Some(""));
    let encoded: String = lines.take_while(|line| !line.starts_with("--")).collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), REQUEST_ICS);
}

#[test]
fn calendar_part_parses_with_python_email() {
    if !convene_testkit::require_peers(
        "calendar_part_parses_with_python_email",
        &[convene_testkit::Peer::Python3],
    ) {
        return;
    }
    let message = invitation_sample().attachment(Attachment::new(
        "invite.ics",
        "application/ics",
        REQUEST_ICS,
    ));
    let output = build(&message);
    let parsed: serde_json::Value = serde_json::from_slice(&convene_testkit::run_python(
        CALENDAR_PARSER,
        output.as_bytes(),
    ))
    .unwrap();

    assert_eq!(parsed["defects"], serde_json::json!([]), "{output}");
    let parts = parsed["parts"].as_array().unwrap();
    let types: Vec<&str> = parts
        .iter()
        .map(|part| part["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/calendar",
            "application/ics",
        ]
    );

    let calendar = &parts[4];
    assert_eq!(calendar["method"], "REQUEST");
    assert_eq!(calendar["charset"], "utf-8");
    assert_eq!(calendar["encoding"], "base64");
    assert_eq!(calendar["text"], REQUEST_ICS);

    let file = &parts[5];
    assert_eq!(file["filename"], "invite.ics");
    assert_eq!(file["text"], REQUEST_ICS);
}

#[test]
fn to_bytes_rejects_mismatched_calendar_method() {
    let cases = [
        ("CANCEL", "REQUEST"),
        ("REQUEST", "none"),
        ("REQUEST", "REQUEST, CANCEL"),
    ];
    let objects = [
        REQUEST_ICS.to_owned(),
        REQUEST_ICS.replace("METHOD:REQUEST\r\n", ""),
        REQUEST_ICS.replace("BEGIN:VEVENT", "METHOD:CANCEL\r\nBEGIN:VEVENT"),
    ];
    for ((method, expected_found), object) in cases.into_iter().zip(objects) {
        match sample().calendar(method, object).to_bytes() {
            Err(MessageError::CalendarMethodMismatch {
                method: rejected,
                found,
            }) => {
                assert_eq!(rejected, method);
                assert_eq!(found, expected_found);
            }
            other => panic!("{method}: expected CalendarMethodMismatch, got {other:?}"),
        }
    }

    let lower_case = sample().calendar("request", REQUEST_ICS);
    assert!(lower_case.to_bytes().is_ok(), "{:?}", lower_case.to_bytes());
    let folded = REQUEST_ICS.replace("METHOD:REQUEST", "METH\r\n OD:REQ\r\n UEST");
    let folded_message = sample().calendar("REQUEST", folded);
    assert!(
        folded_message.to_bytes().is_ok(),
        "{:?}",
        folded_message.to_bytes()
    );
}

#[test]
fn to_bytes_rejects_invalid_calendar_method() {
    for method in ["", "REQUEST\r\nBcc: x@y.test", "RE QUEST", "REQUEST;x=y"] {
        match sample().calendar(method, REQUEST_ICS).to_bytes() {
            Err(MessageError::InvalidCalendarMethod {
                method: rejected, ..
            }) => assert_eq!(rejected, method),
            other => panic!("{method:?}: expected InvalidCalendarMethod, got {other:?}"),
        }
    }

    let nul = sample().calendar("REQUEST", REQUEST_ICS.replace("VERSION", "VER\0SION"));
    assert!(
        matches!(
            nul.to_bytes(),
            Err(MessageError::BodyNul { field: "calendar" })
        ),
        "{:?}",
        nul.to_bytes()
    );
}
