//! Header injection through the public API: a CR, LF or NUL in any value that ends up in a
//! header line is rejected with an error that names the field.

use convene_mail::{
    Address, AddressError, Attachment, InlineImage, Mailbox, Message, MessageError,
};

fn address(text: &str) -> Address {
    Address::parse(text).unwrap()
}

fn sample() -> Message {
    Message::new(
        Mailbox::new("Convene", address("noreply@convene.test")),
        "Meeting moved",
    )
    .to(Mailbox::new("Ada", address("ada@alpha.test")))
    .text("The meeting moved to 10:00.")
}

#[test]
fn address_with_line_break_is_rejected() {
    // Messages take only parsed addresses, so the check happens in `Address::parse`.
    for input in [
        "ada@alpha.test\r\nBcc: eve@evil.test",
        "ada@alpha.test\nX: y",
    ] {
        match Address::parse(input) {
            Err(error @ AddressError::ControlCharacter { .. }) => {
                let text = error.to_string();
                assert!(text.starts_with("invalid email address"), "{text}");
            }
            other => panic!("{input:?}: expected ControlCharacter, got {other:?}"),
        }
    }
}

#[test]
fn header_values_with_line_breaks_are_rejected() {
    let with_subject = |subject: &str| {
        Message::new(
            Mailbox::new("Convene", address("noreply@convene.test")),
            subject,
        )
        .to(address("ada@alpha.test"))
        .text("x")
    };
    let with_from_name = |name: &str| {
        Message::new(Mailbox::new(name, address("noreply@convene.test")), "x")
            .to(address("ada@alpha.test"))
            .text("x")
    };
    let cases = [
        (with_subject("Hi\r\nBcc: eve@evil.test"), "subject", '\r'),
        (
            with_from_name("Convene\nBcc: eve@evil.test"),
            "from display name",
            '\n',
        ),
        (
            sample().to(Mailbox::new("Bob\r\n", address("bob@beta.test"))),
            "to[1] display name",
            '\r',
        ),
        (
            sample().cc(Mailbox::new("Carol\0", address("carol@gamma.test"))),
            "cc[0] display name",
            '\0',
        ),
        (
            sample().reply_to(Mailbox::new("Help\n", address("help@convene.test"))),
            "reply_to[0] display name",
            '\n',
        ),
        (
            sample().header("X-Campaign", "spring\r\nBcc: eve@evil.test"),
            "X-Campaign header value",
            '\r',
        ),
        (sample().header("X-A\r\nBcc", "x"), "header name", '\r'),
        (
            sample().attachment(Attachment::new(
                "a.pdf\r\nContent-Type: text/html",
                "application/pdf",
                vec![],
            )),
            "attachments[0] file name",
            '\r',
        ),
        (
            sample().attachment(Attachment::new("a.pdf", "application/pdf\nX: y", vec![])),
            "attachments[0] content type",
            '\n',
        ),
        (
            sample()
                .html("<img src=\"cid:logo\">")
                .inline_image(InlineImage::new("logo>\r\nX: y", "image/png", vec![])),
            "inline_images[0] content id",
            '\r',
        ),
    ];
    for (message, expected_field, expected_character) in cases {
        let error = message
            .to_bytes()
            .map(String::from_utf8)
            .expect_err(expected_field);
        let MessageError::HeaderControlCharacter { field, character } = &error else {
            panic!("{expected_field}: expected HeaderControlCharacter, got {error:?}");
        };
        assert_eq!(field, expected_field);
        assert_eq!(*character, expected_character, "{field}");
        assert!(error.to_string().contains(expected_field), "{error}");
    }
}
