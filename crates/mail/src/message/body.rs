//! Content-Transfer-Encodings (RFC 2045, section 6) that keep every body line 7-bit and
//! short.

use base64::Engine;

/// Maximum length of an encoded line, CRLF excluded, for quoted-printable and base64
/// (RFC 2045, sections 6.7 and 6.8).
pub(super) const MAX_ENCODED_LINE_LEN: usize = 76;

/// Maximum length of a line sent as `7bit` without encoding, CRLF excluded (RFC 5322,
/// section 2.1.1).
const MAX_PLAIN_LINE_LEN: usize = 78;

/// Octets of input per base64 line: 57 octets become 76 characters.
const BASE64_LINE_INPUT: usize = MAX_ENCODED_LINE_LEN / 4 * 3;

/// A transfer encoding and the encoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EncodedBody {
    /// The value of the `Content-Transfer-Encoding` header field.
    pub(super) encoding: &'static str,
    /// The body, lines separated by CRLF.
    pub(super) text: String,
}

/// Encodes text whose line endings are already CRLF.
///
/// The text goes as it is (`7bit`) when it is ASCII without control characters other than
/// tab and every line has at most 78 octets. It must also have no line that ends in a space
/// or tab or starts with `From `, and must not contain `forbidden`, the prefix of the MIME
/// boundaries, which only unencoded text could contain. Any other text is quoted-printable.
///
/// Trailing whitespace is encoded because mail servers may strip it, which would turn a
/// `-- ` signature separator into `--`. A line starting with `From ` would get a `>`
/// prepended by programs that store mail in mbox files.
pub(super) fn encode_text(text: &str, forbidden: &str) -> EncodedBody {
    if is_plain(text) && !text.contains(forbidden) {
        EncodedBody {
            encoding: "7bit",
            text: text.to_owned(),
        }
    } else {
        EncodedBody {
            encoding: "quoted-printable",
            text: encode_quoted_printable(text),
        }
    }
}

/// Encodes binary data as base64 in lines of 76 characters.
pub(super) fn encode_binary(data: &[u8]) -> EncodedBody {
    let lines: Vec<String> = data
        .chunks(BASE64_LINE_INPUT)
        .map(|chunk| base64::engine::general_purpose::STANDARD.encode(chunk))
        .collect();
    EncodedBody {
        encoding: "base64",
        text: lines.join("\r\n"),
    }
}

fn is_plain(text: &str) -> bool {
    text.split("\r\n").all(|line| {
        let printable = line
            .bytes()
            .all(|byte| (b' '..=b'~').contains(&byte) || byte == b'\t');
        printable
            && line.len() <= MAX_PLAIN_LINE_LEN
            && !line.ends_with([' ', '\t'])
            && !line.starts_with("From ")
    })
}

/// Encodes `text`, whose line endings are CRLF, as quoted-printable (RFC 2045, section 6.7).
///
/// Line breaks stay line breaks. Longer lines get soft line breaks (`=` at the end of a
/// line) so that no line exceeds 76 characters. A space or tab at the end of a line becomes
/// `=20` or `=09`. A `.` or `From ` at the start of an output line is encoded as well (`=2E`,
/// `=46`), so the text survives servers that mishandle such lines.
pub(super) fn encode_quoted_printable(text: &str) -> String {
    let mut output = String::with_capacity(text.len() + text.len() / 8);
    for (index, line) in text.split("\r\n").enumerate() {
        if index > 0 {
            output.push_str("\r\n");
        }
        encode_quoted_printable_line(line.as_bytes(), &mut output);
    }
    output
}

fn encode_quoted_printable_line(line: &[u8], output: &mut String) {
    let mut line_len = 0;
    for (index, &byte) in line.iter().enumerate() {
        let is_last = index + 1 == line.len();
        // The last octet may use the column that a soft line break needs otherwise.
        let limit = if is_last {
            MAX_ENCODED_LINE_LEN
        } else {
            MAX_ENCODED_LINE_LEN - 1
        };

        let mut literal = is_literal(line, index, line_len == 0);
        let width = if literal { 1 } else { 3 };
        if line_len + width > limit {
            output.push_str("=\r\n");
            line_len = 0;
            literal = is_literal(line, index, true);
        }

        if literal {
            output.push(char::from(byte));
            line_len += 1;
        } else {
            output.push_str(&format!("={byte:02X}"));
            line_len += 3;
        }
    }
}

/// Returns whether `line[index]` may be written as itself in quoted-printable.
fn is_literal(line: &[u8], index: usize, at_line_start: bool) -> bool {
    let byte = line[index];
    let is_last = index + 1 == line.len();
    match byte {
        b' ' | b'\t' => !is_last,
        b'=' => false,
        b'.' if at_line_start => false,
        b'F' if at_line_start && line[index..].starts_with(b"From ") => false,
        b'!'..=b'~' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes quoted-printable as RFC 2045, section 6.7, describes it.
    fn decode_quoted_printable(encoded: &str) -> String {
        let mut bytes = Vec::new();
        let mut lines = encoded.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            let (content, soft_break) = match line.strip_suffix('=') {
                Some(content) => (content, true),
                None => (line, false),
            };
            let mut rest = content.as_bytes();
            while let Some((&byte, tail)) = rest.split_first() {
                if byte == b'=' {
                    let hex = std::str::from_utf8(&tail[..2]).unwrap();
                    bytes.push(u8::from_str_radix(hex, 16).unwrap());
                    rest = &tail[2..];
                } else {
                    bytes.push(byte);
                    rest = tail;
                }
            }
            if !soft_break && lines.peek().is_some() {
                bytes.extend_from_slice(b"\r\n");
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    fn assert_quoted_printable_lines(encoded: &str) {
        for line in encoded.split("\r\n") {
            assert!(line.len() <= MAX_ENCODED_LINE_LEN, "{line:?}");
            assert!(
                line.bytes()
                    .all(|byte| (b' '..=b'~').contains(&byte) || byte == b'\t')
            );
            assert!(
                !line.ends_with([' ', '\t']),
                "trailing whitespace in {line:?}"
            );
            assert!(!line.starts_with('.'), "{line:?}");
            assert!(!line.starts_with("From "), "{line:?}");
        }
    }

    /// Checks each input against its exact encoding and decodes the encoding back.
    fn assert_quoted_printable(cases: &[(&str, &str)]) {
        for &(input, expected) in cases {
            let encoded = encode_quoted_printable(input);
            assert_eq!(encoded, expected, "{input:?}");
            assert_eq!(decode_quoted_printable(&encoded), input);
        }
    }

    #[test]
    fn quoted_printable_encodes_trailing_whitespace() {
        let cases = [
            ("-- \r\nAda", "--=20\r\nAda"),
            ("tab\t\r\n", "tab=09\r\n"),
            ("two  \r\n", "two =20\r\n"),
            ("inner space kept", "inner space kept"),
            ("end ", "end=20"),
            (" ", "=20"),
        ];
        assert_quoted_printable(&cases);
    }

    #[test]
    fn quoted_printable_encodes_special_line_starts() {
        let cases = [
            (".\r\n.dot", "=2E\r\n=2Edot"),
            ("From here\r\nFromage", "=46rom here\r\nFromage"),
            ("a=b", "a=3Db"),
            ("Grüße", "Gr=C3=BC=C3=9Fe"),
        ];
        assert_quoted_printable(&cases);
    }

    #[test]
    fn quoted_printable_breaks_long_lines() {
        let cases = [
            "x".repeat(5000),
            "ü".repeat(1000),
            format!("{}.{}", "x".repeat(75), "y".repeat(10)),
            format!("{}From here", "x".repeat(75)),
            format!("{} {}", "x".repeat(74), "y"),
            format!("{}{}", "x".repeat(75), " "),
            format!("{}=x", "x".repeat(74)),
            "a b ".repeat(300) + "\r\n-- \r\n",
        ];
        for input in cases {
            let encoded = encode_quoted_printable(&input);
            assert_quoted_printable_lines(&encoded);
            assert_eq!(decode_quoted_printable(&encoded), input, "{encoded}");
        }
    }

    #[test]
    fn encode_text_chooses_encoding() {
        let cases = [
            ("short ascii\r\nlines\r\n", "7bit"),
            (".leading dot\r\n", "7bit"),
            ("signature\r\n-- \r\nAda\r\n", "quoted-printable"),
            ("umlaut ü\r\n", "quoted-printable"),
            ("From the start\r\n", "quoted-printable"),
            ("form\u{c}feed", "quoted-printable"),
            ("boundary --=_ lookalike", "quoted-printable"),
        ];
        for (input, expected) in cases {
            assert_eq!(encode_text(input, "=_").encoding, expected, "{input:?}");
        }
        let long_line = "x".repeat(79);
        assert_eq!(encode_text(&long_line, "=_").encoding, "quoted-printable");
        let max_line = "x".repeat(78);
        assert_eq!(encode_text(&max_line, "=_").encoding, "7bit");
    }

    #[test]
    fn encode_binary_wraps_base64() {
        let data: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let encoded = encode_binary(&data);
        assert_eq!(encoded.encoding, "base64");
        let lines: Vec<&str> = encoded.text.split("\r\n").collect();
        assert_eq!(lines.len(), 1000usize.div_ceil(57));
        for line in &lines[..lines.len() - 1] {
            assert_eq!(line.len(), MAX_ENCODED_LINE_LEN);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(lines.concat())
            .unwrap();
        assert_eq!(decoded, data);
        assert_eq!(encode_binary(&[]).text, "");
    }
}
