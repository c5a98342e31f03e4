//! Normalizing a message's line endings and splitting it into header fields and body.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memchr;

use crate::lines::split_lines;

use super::sign::SignError;

/// A message with CRLF line endings, split into header fields and body.
pub(crate) struct NormalizedMessage<'a> {
    /// The whole message, every line ending in CRLF. It borrows the input when that was
    /// already normalized, as messages from [`Message`](crate::Message) always are.
    pub(crate) bytes: Cow<'a, [u8]>,
    /// The header fields in message order.
    pub(crate) fields: Vec<Field>,
    /// The offset in `bytes` of the body, after the empty line that ends the header. It is
    /// the length of `bytes` when the message has no body.
    pub(crate) body_start: usize,
}

/// One header field, as positions in [`NormalizedMessage::bytes`].
pub(crate) struct Field {
    /// The whole field, from the name to the CRLF after its last continuation line.
    pub(crate) range: Range<usize>,
    /// The field name, without whitespace before the colon.
    pub(crate) name: Range<usize>,
}

impl NormalizedMessage<'_> {
    /// Normalizes `message` as the SMTP transport does before sending it and splits it.
    ///
    /// Every line ending (CRLF, bare LF or bare CR) becomes CRLF, and a final line without
    /// one gets CRLF, exactly as the `DATA` encoding does, because a signature over anything
    /// else would not match what the receiver gets.
    ///
    /// # Errors
    ///
    /// Returns [`SignError::InvalidHeaderLine`] for a header line that is neither a field
    /// (`Name: value`) nor a continuation line after one.
    pub(crate) fn parse(message: &[u8]) -> Result<NormalizedMessage<'_>, SignError> {
        let bytes = if is_normalized(message) {
            Cow::Borrowed(message)
        } else {
            Cow::Owned(normalize(message))
        };

        let mut fields: Vec<Field> = Vec::with_capacity(16);
        let mut body_start = bytes.len();
        let mut start = 0;
        let mut number = 0;
        // Every line ends in CRLF now, so the next LF ends the line.
        while let Some(offset) = memchr(b'\n', &bytes[start..]) {
            let end = start + offset + 1;
            let line = &bytes[start..end - 2];
            number += 1;
            let invalid = |reason| SignError::InvalidHeaderLine {
                line: number,
                reason,
            };

            if line.is_empty() {
                body_start = end;
                break;
            } else if line[0] == b' ' || line[0] == b'\t' {
                let field = fields
                    .last_mut()
                    .ok_or_else(|| invalid("a continuation line comes before any field"))?;
                field.range.end = end;
            } else {
                let colon = memchr(b':', line).ok_or_else(|| invalid("it has no colon"))?;
                let name = trim_wsp_end(&line[..colon]);
                if name.is_empty() || !name.iter().all(|&byte| is_field_name_byte(byte)) {
                    return Err(invalid("the field name is empty or not printable ASCII"));
                }
                fields.push(Field {
                    range: start..end,
                    name: start..start + name.len(),
                });
            }
            start = end;
        }

        Ok(NormalizedMessage {
            bytes,
            fields,
            body_start,
        })
    }

    /// Returns the name of `field`.
    pub(crate) fn name(&self, field: &Field) -> &[u8] {
        &self.bytes[field.name.clone()]
    }

    /// Returns the whole text of `field`, including its final CRLF.
    pub(crate) fn field_bytes(&self, field: &Field) -> &[u8] {
        &self.bytes[field.range.clone()]
    }

    /// Returns the body, empty when the message has none.
    pub(crate) fn body(&self) -> &[u8] {
        &self.bytes[self.body_start..]
    }
}

/// Returns whether every line of `message` ends in CRLF, the last one included, so that
/// normalizing would change nothing.
fn is_normalized(message: &[u8]) -> bool {
    // Exactly when every CR is followed by an LF and every LF follows a CR, each pair of
    // neighbouring octets has a CR first if and only if it has an LF second. The fold looks
    // at every pair without stopping early, which the compiler turns into vector
    // instructions.
    let Some(&first) = message.first() else {
        return true;
    };
    let unpaired = message
        .iter()
        .zip(&message[1..])
        .fold(false, |found, (&byte, &next)| {
            found | ((byte == b'\r') != (next == b'\n'))
        });
    !unpaired && first != b'\n' && message.ends_with(b"\r\n")
}

/// Returns `message` with every line ending made CRLF and a CRLF after the last line.
fn normalize(message: &[u8]) -> Vec<u8> {
    let (lines, _) = split_lines(message);
    let mut bytes = Vec::with_capacity(message.len() + lines.len() + 2);
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// Returns whether `byte` may appear in a field name: printable ASCII except the colon
/// (RFC 5322, section 3.6.8).
fn is_field_name_byte(byte: u8) -> bool {
    (33..=126).contains(&byte) && byte != b':'
}

fn trim_wsp_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&byte| byte != b' ' && byte != b'\t')
        .map_or(0, |position| position + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(message: &str) -> NormalizedMessage<'_> {
        NormalizedMessage::parse(message.as_bytes()).expect("valid message")
    }

    fn field_texts(message: &NormalizedMessage<'_>) -> Vec<String> {
        message
            .fields
            .iter()
            .map(|field| String::from_utf8_lossy(message.field_bytes(field)).into_owned())
            .collect()
    }

    #[test]
    fn parse_normalizes_line_endings_like_the_transport() {
        let message = parse("From: a@b.test\nSubject: x\r\n\tcontinued\r\rbody\rmore");
        assert_eq!(
            &message.bytes[..],
            b"From: a@b.test\r\nSubject: x\r\n\tcontinued\r\n\r\nbody\r\nmore\r\n"
        );
        assert_eq!(
            field_texts(&message),
            ["From: a@b.test\r\n", "Subject: x\r\n\tcontinued\r\n"]
        );
        assert_eq!(message.body(), b"body\r\nmore\r\n");
    }

    #[test]
    fn parse_finds_names() {
        let message = parse("From: a\r\nTO : b\r\nto: c\r\n\r\n");
        let names: Vec<&[u8]> = message
            .fields
            .iter()
            .map(|field| message.name(field))
            .collect();
        assert_eq!(names, [&b"From"[..], b"TO", b"to"]);
        assert_eq!(message.body(), b"");
    }

    #[test]
    fn is_normalized_accepts_only_crlf_line_endings() {
        let cases: [(&[u8], bool); 11] = [
            (b"", true),
            (b"\r\n", true),
            (b"a\r\nb\r\n", true),
            (b"a\r\n\r\nb\r\n", true),
            (b"a", false),
            (b"a\r\nb", false),
            (b"\n", false),
            (b"a\nb\r\n", false),
            (b"a\rb\r\n", false),
            (b"a\r\r\n", false),
            (b"a\r\n\r", false),
        ];
        for (input, expected) in cases {
            assert_eq!(
                is_normalized(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
            // Normalizing changes exactly the messages that are not normalized yet.
            assert_eq!(normalize(input) == input, expected);
        }
    }

    #[test]
    fn parse_borrows_normalized_messages() {
        let input = b"From: a\r\n\r\nbody\r\n";
        let message = NormalizedMessage::parse(input).unwrap();
        assert!(matches!(message.bytes, Cow::Borrowed(_)));
        let message = NormalizedMessage::parse(b"From: a\n\nbody\n").unwrap();
        assert!(matches!(message.bytes, Cow::Owned(_)));
        assert_eq!(&message.bytes[..], input);
    }

    #[test]
    fn parse_accepts_message_without_body() {
        let message = parse("From: a\r\nSubject: b");
        assert_eq!(message.fields.len(), 2);
        assert_eq!(message.body_start, message.bytes.len());
    }

    #[test]
    fn parse_keeps_header_like_lines_in_body() {
        let message = parse("From: a\r\n\r\nnot a field\r\n\tindented\r\n");
        assert_eq!(message.fields.len(), 1);
        assert_eq!(message.body(), b"not a field\r\n\tindented\r\n");
    }

    #[test]
    fn parse_rejects_invalid_header_lines() {
        let cases = [
            (" leading: continuation\r\n", 1),
            ("From: a\r\nno colon here\r\n", 2),
            ("From: a\r\n: empty name\r\n", 2),
            ("From: a\r\nBad Name: x\r\n", 2),
        ];
        for (text, expected_line) in cases {
            let error = NormalizedMessage::parse(text.as_bytes()).err();
            assert!(
                matches!(error, Some(SignError::InvalidHeaderLine { line, .. }) if line == expected_line),
                "{text:?}: {error:?}"
            );
        }
    }
}
