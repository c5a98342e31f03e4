//! Building a notification message as MIME bytes.

use jiff::Timestamp;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as HeaderAddress;
use mail_builder::headers::date::Date;
use thiserror::Error;

use crate::address::{Mailbox, check_domain};
use crate::lines::to_crlf;

/// A message with a plain-text and an HTML version of the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The author, written to the `From` header.
    pub from: Mailbox,
    /// The recipients written to the `To` header. The envelope recipients given to
    /// [`Mailer::send`](crate::Mailer::send) are separate and may differ.
    pub to: Vec<Mailbox>,
    /// The `Subject` header, any Unicode text without line breaks.
    pub subject: String,
    /// The `text/plain` version of the body.
    pub text: String,
    /// The `text/html` version of the body.
    pub html: String,
    /// The domain after the `@` of the generated `Message-ID`. When `None`, the domain of
    /// the `From` address is used.
    pub message_id_domain: Option<String>,
}

/// The reason [`Message::to_bytes`] rejected a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// A header field contains CR, LF or NUL, which could end the header line and inject
    /// another header.
    #[error("invalid message: {field} contains {character:?}, which is not allowed in a header")]
    HeaderControlCharacter {
        /// The field, such as `subject` or `to[1] display name`.
        field: String,
        character: char,
    },
    /// A body contains NUL, which no MIME transfer encoding for text allows.
    #[error("invalid message: {field} body contains NUL")]
    BodyNul {
        /// `text` or `html`.
        field: &'static str,
    },
    /// The message has no `To` recipient.
    #[error("invalid message: the To header needs at least one mailbox")]
    NoRecipient,
    /// The Message-ID domain is not a valid host name.
    #[error("invalid message: Message-ID domain {domain:?} is not a valid host name ({reason})")]
    InvalidMessageIdDomain {
        domain: String,
        reason: &'static str,
    },
}

impl Message {
    /// Builds the message as MIME bytes dated now. See [`Message::to_bytes_at`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        self.to_bytes_at(Timestamp::now())
    }

    /// Builds the message as MIME bytes with `date` in the `Date` header.
    ///
    /// The output has the headers `From`, `To`, `Subject`, `Message-ID` (random, 128 bits),
    /// `Date` (in UTC) and `MIME-Version`, followed by a `multipart/alternative` body with a
    /// `text/plain` and a `text/html` part in UTF-8. Non-ASCII header text is written as
    /// RFC 2047 encoded words. Each body part uses 7bit, quoted-printable or base64,
    /// whichever is shortest, so that the output is 7-bit ASCII. All lines end with CRLF and
    /// none is longer than 998 octets.
    ///
    /// # Errors
    ///
    /// Returns an error naming the field when the subject or a display name contains CR, LF
    /// or NUL, when a body contains NUL, when `to` is empty or when `message_id_domain` is
    /// not a host name.
    pub fn to_bytes_at(&self, date: Timestamp) -> Result<Vec<u8>, MessageError> {
        self.validate()?;

        let message_id_domain = self
            .message_id_domain
            .as_deref()
            .unwrap_or(self.from.address.domain());
        let message_id = format!("{:032x}@{}", rand::random::<u128>(), message_id_domain);
        let to: Vec<HeaderAddress<'_>> = self.to.iter().map(header_address).collect();

        let builder = MessageBuilder::new()
            .from(header_address(&self.from))
            .to(HeaderAddress::new_list(to))
            .subject(self.subject.as_str())
            .date(Date::new(date.as_second()))
            .message_id(message_id)
            .text_body(to_crlf(&self.text))
            .html_body(to_crlf(&self.html));

        let mut output = Vec::new();
        builder.serialize(&mut output);
        Ok(output)
    }

    fn validate(&self) -> Result<(), MessageError> {
        if self.to.is_empty() {
            return Err(MessageError::NoRecipient);
        }
        check_header_text("subject", &self.subject)?;
        if let Some(name) = &self.from.name {
            check_header_text("from display name", name)?;
        }
        for (index, mailbox) in self.to.iter().enumerate() {
            if let Some(name) = &mailbox.name {
                check_header_text(&format!("to[{index}] display name"), name)?;
            }
        }
        if self.text.contains('\0') {
            return Err(MessageError::BodyNul { field: "text" });
        }
        if self.html.contains('\0') {
            return Err(MessageError::BodyNul { field: "html" });
        }
        if let Some(domain) = &self.message_id_domain {
            check_domain(domain).map_err(|reason| MessageError::InvalidMessageIdDomain {
                domain: domain.clone(),
                reason,
            })?;
        }
        Ok(())
    }
}

fn check_header_text(field: &str, text: &str) -> Result<(), MessageError> {
    match text.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        Some(character) => Err(MessageError::HeaderControlCharacter {
            field: field.to_owned(),
            character,
        }),
        None => Ok(()),
    }
}

fn header_address(mailbox: &Mailbox) -> HeaderAddress<'_> {
    HeaderAddress::new_address(mailbox.name.as_deref(), mailbox.address.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;

    fn sample() -> Message {
        Message {
            from: Mailbox::new("Convene", Address::parse("noreply@convene.test").unwrap()),
            to: vec![
                Mailbox::new("Ada Lovelace", Address::parse("ada@alpha.test").unwrap()),
                Mailbox::from(Address::parse("bob@beta.test").unwrap()),
            ],
            subject: "Meeting moved to 10:00".to_owned(),
            text: "Hello Ada,\nthe meeting moved.\n.\nBye".to_owned(),
            html: "<p>Hello Ada,</p>\r\n<p>the meeting moved.</p>".to_owned(),
            message_id_domain: None,
        }
    }

    fn build(message: &Message) -> String {
        let date = "2026-03-01T09:30:00Z".parse().unwrap();
        String::from_utf8(message.to_bytes_at(date).unwrap()).unwrap()
    }

    /// Returns the header section, without the blank line that ends it.
    fn headers(output: &str) -> &str {
        let (headers, _) = output
            .split_once("\r\n\r\n")
            .expect("a blank line ends the headers");
        headers
    }

    #[test]
    fn to_bytes_writes_required_headers() {
        let output = build(&sample());
        let headers = headers(&output);
        let expected = [
            "From: \"Convene\" <noreply@convene.test>",
            "To: \"Ada Lovelace\" <ada@alpha.test>, <bob@beta.test>",
            "Subject: Meeting moved to 10:00",
            "Date: Sun, 1 Mar 2026 09:30:00 +0000",
            "MIME-Version: 1.0",
        ];
        for line in expected {
            assert!(
                headers.lines().any(|header| header == line),
                "missing {line:?} in\n{headers}"
            );
        }
        let message_id = headers
            .lines()
            .find_map(|line| line.strip_prefix("Message-ID: "))
            .expect("Message-ID header");
        assert!(message_id.starts_with('<'), "{message_id}");
        assert!(message_id.ends_with("@convene.test>"), "{message_id}");
        assert_eq!(
            message_id.len(),
            "<@convene.test>".len() + 32,
            "{message_id}"
        );
    }

    #[test]
    fn to_bytes_builds_alternative_parts() {
        let output = build(&sample());
        assert!(
            output.contains("Content-Type: multipart/alternative"),
            "{output}"
        );
        assert!(
            output.contains("Content-Type: text/plain; charset=\"utf-8\""),
            "{output}"
        );
        assert!(
            output.contains("Content-Type: text/html; charset=\"utf-8\""),
            "{output}"
        );
        assert!(
            output.contains("Hello Ada,\r\nthe meeting moved.\r\n.\r\nBye"),
            "{output}"
        );
        assert!(
            output.contains("<p>Hello Ada,</p>\r\n<p>the meeting moved.</p>"),
            "{output}"
        );
    }

    #[test]
    fn to_bytes_uses_crlf_and_short_lines() {
        let mut message = sample();
        message.subject = "Überraschung ".repeat(200);
        message.text = format!("{}\n\rmixed\r\nendings\n", "x".repeat(5000));
        message.html = format!("<p>{}</p>", "ü".repeat(3000));
        message.to[0].name = Some("Ä".repeat(500));
        let bytes = message.to_bytes().unwrap();

        for (index, &byte) in bytes.iter().enumerate() {
            if byte == b'\r' {
                assert_eq!(
                    bytes.get(index + 1),
                    Some(&b'\n'),
                    "bare CR at offset {index}"
                );
            }
            if byte == b'\n' {
                assert_eq!(bytes[index - 1], b'\r', "bare LF at offset {index}");
            }
        }
        for line in bytes.split(|&byte| byte == b'\n') {
            assert!(line.len() <= 999, "line of {} octets", line.len() - 1);
        }
        assert!(bytes.is_ascii(), "output contains 8-bit bytes");
    }

    #[test]
    fn to_bytes_rejects_header_injection() {
        let mut subject = sample();
        subject.subject = "Hi\r\nBcc: eve@evil.test".to_owned();
        let mut from_name = sample();
        from_name.from.name = Some("Convene\nBcc: eve@evil.test".to_owned());
        let mut to_name = sample();
        to_name.to[1].name = Some("Bob\0".to_owned());

        let cases = [
            (subject, "subject", '\r'),
            (from_name, "from display name", '\n'),
            (to_name, "to[1] display name", '\0'),
        ];
        for (message, expected_field, expected_character) in cases {
            match message.to_bytes() {
                Err(MessageError::HeaderControlCharacter { field, character }) => {
                    assert_eq!(field, expected_field);
                    assert_eq!(character, expected_character, "{field}");
                }
                other => panic!("{expected_field}: expected an error, got {other:?}"),
            }
        }
    }

    #[test]
    fn to_bytes_encodes_special_display_names() {
        let mut message = sample();
        message.to[0].name = Some("Lovelace, Ada \"Countess\" <ada@evil.test>".to_owned());
        let output = build(&message);
        let to_header = headers(&output)
            .split("\r\n")
            .skip_while(|line| !line.starts_with("To:"))
            .take_while(|line| line.starts_with("To:") || line.starts_with(' '))
            .collect::<Vec<_>>()
            .join("");
        assert!(to_header.contains("<ada@alpha.test>"), "{to_header}");
        assert!(!to_header.contains(" <ada@evil.test>,"), "{to_header}");
    }

    #[test]
    fn to_bytes_rejects_invalid_fields() {
        let mut no_recipient = sample();
        no_recipient.to.clear();
        assert_eq!(no_recipient.to_bytes(), Err(MessageError::NoRecipient));

        let mut nul_body = sample();
        nul_body.html.push('\0');
        assert_eq!(
            nul_body.to_bytes(),
            Err(MessageError::BodyNul { field: "html" })
        );

        let mut bad_domain = sample();
        bad_domain.message_id_domain = Some("evil.test>\r\nBcc: x".to_owned());
        assert!(
            matches!(
                bad_domain.to_bytes(),
                Err(MessageError::InvalidMessageIdDomain { .. })
            ),
            "{:?}",
            bad_domain.to_bytes()
        );
    }

    #[test]
    fn to_bytes_uses_message_id_domain() {
        let mut message = sample();
        message.message_id_domain = Some("mail.convene.test".to_owned());
        let output = build(&message);
        assert!(output.contains("@mail.convene.test>\r\n"), "{output}");
    }
}
