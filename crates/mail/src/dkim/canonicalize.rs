//! The two DKIM canonicalization algorithms, for header fields and for the body (RFC 6376,
//! section 3.4).
//!
//! Every function here works on bytes whose lines all end in CRLF, which is what the signer
//! produces before it canonicalizes anything.

use std::borrow::Cow;
use std::fmt;

use memchr::memchr;

/// A method of preparing header fields or the body for hashing (RFC 6376, section 3.4).
///
/// `Simple` tolerates no change in transit at all. `Relaxed` survives what mail servers
/// commonly do to a message: refolding header lines, changing the case of field names and
/// changing whitespace inside lines or at the end of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Canonicalization {
    /// The `simple` algorithm: header fields unchanged, and only empty lines at the end of
    /// the body removed.
    Simple,
    /// The `relaxed` algorithm: field names lowercased, header lines unfolded and every run
    /// of spaces and tabs reduced to one space or, at the end of a line, removed.
    #[default]
    Relaxed,
}

impl Canonicalization {
    /// Returns the name used in the `c=` tag.
    pub fn name(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }
}

impl fmt::Display for Canonicalization {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

fn is_wsp(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Appends the canonical form of one header field to `output`.
///
/// `field` is the whole field as it appears in the message: name, colon, value and every
/// continuation line, each line ending in CRLF. With `Relaxed`, the name is lowercased and
/// stripped of trailing whitespace, and the value is unfolded, its whitespace runs reduced
/// to one space and stripped at both ends (RFC 6376, section 3.4.2).
pub(crate) fn append_header(
    canonicalization: Canonicalization,
    field: &[u8],
    output: &mut Vec<u8>,
) {
    match canonicalization {
        Canonicalization::Simple => output.extend_from_slice(field),
        Canonicalization::Relaxed => {
            append_relaxed_header_without_crlf(field, output);
            output.extend_from_slice(b"\r\n");
        }
    }
}

/// Appends the relaxed form of `field` without the CRLF that ends it.
///
/// The signer hashes its own `DKIM-Signature` field this way, because RFC 6376,
/// section 3.7, leaves that field's final CRLF out of the hash.
pub(crate) fn append_relaxed_header_without_crlf(field: &[u8], output: &mut Vec<u8>) {
    let colon = memchr(b':', field).unwrap_or(field.len());
    let name = trim_wsp_end(&field[..colon]);
    let name_start = output.len();
    output.extend_from_slice(name);
    output[name_start..].make_ascii_lowercase();
    output.push(b':');

    let value = field.get(colon + 1..).unwrap_or_default();
    if is_plain_value(value) {
        append_unfolded(value, output);
    } else {
        append_relaxed_value_by_word(value, output);
    }
}

/// Returns whether `value` has no tab, no double space and no space before a line break or
/// at its end.
///
/// In such a value every run of whitespace is a single space or a line break followed by
/// one, so unfolding alone leaves single spaces, and only a space at the start remains to be
/// removed. Most fields are like that, including the signer's own `DKIM-Signature`.
fn is_plain_value(value: &[u8]) -> bool {
    !has_reducible_whitespace(value)
}

/// Returns whether `bytes` has a tab, or a space followed by a space, by a CR or by nothing.
///
/// It looks at every pair of neighbouring octets without stopping early, which the compiler
/// turns into vector instructions: faster than searching, since the answer is nearly always
/// no and inputs are a few kilobytes at most.
fn has_reducible_whitespace(bytes: &[u8]) -> bool {
    let Some((&last, _)) = bytes.split_last() else {
        return false;
    };
    let pairs = bytes
        .iter()
        .zip(&bytes[1..])
        .fold(false, |found, (&byte, &next)| {
            found | (byte == b'\t') | ((byte == b' ') & ((next == b' ') | (next == b'\r')))
        });
    pairs | (last == b'\t') | (last == b' ')
}

/// Appends a value that [`is_plain_value`] accepts, unfolded and without its leading space.
///
/// Copying the text between line breaks is much faster than going word by word.
fn append_unfolded(value: &[u8], output: &mut Vec<u8>) {
    let unfolded_start = value.strip_prefix(b"\r\n").unwrap_or(value);
    let mut rest = unfolded_start.strip_prefix(b" ").unwrap_or(unfolded_start);
    while let Some(line_end) = memchr(b'\r', rest) {
        output.extend_from_slice(&rest[..line_end]);
        rest = rest.get(line_end + 2..).unwrap_or_default();
    }
    output.extend_from_slice(rest);
}

/// Appends the relaxed form of any header field value.
///
/// Unfolding removes CR and LF, and every continuation line starts with whitespace, so
/// each run of spaces, tabs, CR and LF becomes one space between words and disappears at
/// either end.
fn append_relaxed_value_by_word(value: &[u8], output: &mut Vec<u8>) {
    let mut rest = value;
    let mut first_word = true;
    while let Some(start) = rest.iter().position(|&byte| !is_header_space(byte)) {
        rest = &rest[start..];
        let end = rest
            .iter()
            .position(|&byte| is_header_space(byte))
            .unwrap_or(rest.len());
        if !first_word {
            output.push(b' ');
        }
        output.extend_from_slice(&rest[..end]);
        first_word = false;
        rest = &rest[end..];
    }
}

fn is_header_space(byte: u8) -> bool {
    is_wsp(byte) || byte == b'\r' || byte == b'\n'
}

/// Returns the canonical form of a body, which is the text after the empty line that ends
/// the header (RFC 6376, section 3.4.3 and 3.4.4).
///
/// Both algorithms drop empty lines at the end of the body and end a non-empty body with
/// CRLF. `Simple` turns an empty body into a single CRLF, while `Relaxed` keeps it empty.
/// `Relaxed` also reduces every run of spaces and tabs to one space and removes it at the end
/// of a line, so a line that contains only whitespace becomes empty, and is dropped too when
/// nothing but empty lines follows.
pub(crate) fn body(canonicalization: Canonicalization, body: &[u8]) -> Cow<'_, [u8]> {
    match canonicalization {
        Canonicalization::Simple => simple_body(body),
        Canonicalization::Relaxed => relaxed_body(body),
    }
}

fn simple_body(body: &[u8]) -> Cow<'_, [u8]> {
    let mut end = body.len();
    while body[..end].ends_with(b"\r\n\r\n") {
        end -= 2;
    }
    let trimmed = &body[..end];
    if trimmed.is_empty() || trimmed == b"\r\n" {
        return Cow::Borrowed(b"\r\n");
    }
    if trimmed.ends_with(b"\r\n") {
        Cow::Borrowed(trimmed)
    } else {
        let mut owned = trimmed.to_vec();
        owned.extend_from_slice(b"\r\n");
        Cow::Owned(owned)
    }
}

fn relaxed_body(body: &[u8]) -> Cow<'_, [u8]> {
    // A body that ends in CRLF and has no tab, no double space and no space at the end of a
    // line only loses its trailing empty lines. Built messages are like that, and the
    // searches below are much faster than the line-by-line loop.
    let unchanged_lines = body.ends_with(b"\r\n") && !has_reducible_whitespace(body);
    if unchanged_lines {
        let mut end = body.len();
        while body[..end].ends_with(b"\r\n\r\n") {
            end -= 2;
        }
        let trimmed = &body[..end];
        return Cow::Borrowed(if trimmed == b"\r\n" { b"" } else { trimmed });
    }
    Cow::Owned(relaxed_body_by_line(body))
}

/// Returns the relaxed form of any body, going through it line by line.
fn relaxed_body_by_line(body: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(body.len());
    let mut empty_lines = 0;
    for line in body.split_inclusive(|&byte| byte == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let content = trim_wsp_end(content);
        if content.is_empty() {
            // Written out only if a line with content follows.
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            output.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        append_reduced_whitespace(content, &mut output);
        output.extend_from_slice(b"\r\n");
    }
    output
}

/// Appends `line` with every run of spaces and tabs replaced by one space.
///
/// Most lines need no change, so they are checked first and copied whole, which is several
/// times faster than copying byte by byte.
fn append_reduced_whitespace(line: &[u8], output: &mut Vec<u8>) {
    let has_tab = line.contains(&b'\t');
    if !has_tab && !line.windows(2).any(|pair| pair == b"  ") {
        output.extend_from_slice(line);
        return;
    }

    let mut rest = line;
    while let Some(start) = rest.iter().position(|&byte| is_wsp(byte)) {
        output.extend_from_slice(&rest[..start]);
        output.push(b' ');
        let run_len = rest[start..]
            .iter()
            .take_while(|&&byte| is_wsp(byte))
            .count();
        rest = &rest[start + run_len..];
    }
    output.extend_from_slice(rest);
}

fn trim_wsp_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&byte| !is_wsp(byte))
        .map_or(0, |position| position + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example message of RFC 6376, section 3.4.6, as header fields and body.
    const RFC_FIELDS: [&[u8]; 2] = [b"A: X\r\n", b"B : Y\t\r\n\tZ  \r\n"];
    const RFC_BODY: &[u8] = b" C \r\nD \t E\r\n\r\n\r\n";

    fn headers(canonicalization: Canonicalization, fields: &[&[u8]]) -> String {
        let mut output = Vec::new();
        for field in fields {
            append_header(canonicalization, field, &mut output);
        }
        String::from_utf8(output).unwrap()
    }

    fn body_text(canonicalization: Canonicalization, input: &[u8]) -> String {
        String::from_utf8(body(canonicalization, input).into_owned()).unwrap()
    }

    #[test]
    fn relaxed_headers_match_rfc_example() {
        assert_eq!(
            headers(Canonicalization::Relaxed, &RFC_FIELDS),
            "a:X\r\nb:Y Z\r\n"
        );
    }

    #[test]
    fn relaxed_body_matches_rfc_example() {
        assert_eq!(
            body_text(Canonicalization::Relaxed, RFC_BODY),
            " C\r\nD E\r\n"
        );
    }

    #[test]
    fn simple_headers_match_rfc_example() {
        assert_eq!(
            headers(Canonicalization::Simple, &RFC_FIELDS),
            "A: X\r\nB : Y\t\r\n\tZ  \r\n"
        );
    }

    #[test]
    fn simple_body_matches_rfc_example() {
        assert_eq!(
            body_text(Canonicalization::Simple, RFC_BODY),
            " C \r\nD \t E\r\n"
        );
    }

    #[test]
    fn relaxed_body_drops_trailing_whitespace_lines() {
        assert_eq!(
            body_text(Canonicalization::Relaxed, b"Hello\r\n \r\n\t\r\n"),
            "Hello\r\n"
        );
        assert_eq!(
            body(Canonicalization::Relaxed, b"Hello\r\n \r\n\t\r\n"),
            body(Canonicalization::Relaxed, b"Hello\r\n")
        );
    }

    #[test]
    fn relaxed_body_shortcut_matches_line_by_line() {
        let bodies: [&[u8]; 9] = [
            b"",
            b"\r\n",
            b"\r\n\r\n",
            b"a\r\nb\r\n\r\n\r\n",
            b" C\r\nD E\r\n",
            b"a\r\n\r\nb\r\n",
            b"=20 quoted-printable =\r\nsoft break\r\n",
            b"trailing space \r\n",
            b"x",
        ];
        for input in bodies {
            assert_eq!(
                relaxed_body(input).into_owned(),
                relaxed_body_by_line(input),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn relaxed_body_keeps_inner_whitespace_lines_empty() {
        assert_eq!(
            body_text(Canonicalization::Relaxed, b"a\r\n \t \r\nb\r\n"),
            "a\r\n\r\nb\r\n"
        );
    }

    #[test]
    fn bodies_of_only_empty_lines() {
        let cases: [(&[u8], &str, &str); 5] = [
            (b"", "\r\n", ""),
            (b"\r\n", "\r\n", ""),
            (b"\r\n\r\n\r\n", "\r\n", ""),
            (b" \r\n", " \r\n", ""),
            (b"x", "x\r\n", "x\r\n"),
        ];
        for (input, simple, relaxed) in cases {
            let input_text = String::from_utf8_lossy(input);
            assert_eq!(
                body_text(Canonicalization::Simple, input),
                simple,
                "simple {input_text:?}"
            );
            assert_eq!(
                body_text(Canonicalization::Relaxed, input),
                relaxed,
                "relaxed {input_text:?}"
            );
        }
    }

    #[test]
    fn relaxed_header_unfolds_extra_whitespace() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"Subject:\r\n \t Hello   \r\n\t  world \r\n",
                "subject:Hello world\r\n",
            ),
            (b"SUBJECT \t:  x\r\n", "subject:x\r\n"),
            (b"To:\r\n", "to:\r\n"),
            (b"X-Empty:   \r\n  \r\n", "x-empty:\r\n"),
            (b"From: A  B <a@b.test>\r\n", "from:A B <a@b.test>\r\n"),
        ];
        for (field, expected) in cases {
            assert_eq!(
                headers(Canonicalization::Relaxed, &[field]),
                expected,
                "{:?}",
                String::from_utf8_lossy(field)
            );
        }
    }

    #[test]
    fn plain_header_values_unfold_like_word_by_word() {
        let values: [&[u8]; 10] = [
            b"",
            b"\r\n",
            b" x\r\n",
            b"x\r\n",
            b"\r\n x\r\n",
            b" v=1; a=b;\r\n c=d;\r\n b=",
            b" a b\r\n c\r\n d",
            b" =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?UTF-8?Q?_aus?=\r\n",
            b" x",
            b"  x  \r\n\ty \r\n",
        ];
        for value in values {
            let mut by_word = Vec::new();
            append_relaxed_value_by_word(value, &mut by_word);
            let mut either = Vec::new();
            if is_plain_value(value) {
                append_unfolded(value, &mut either);
            } else {
                either.clone_from(&by_word);
            }
            assert_eq!(
                String::from_utf8_lossy(&either),
                String::from_utf8_lossy(&by_word),
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
        assert!(!is_plain_value(b"  x  \r\n\ty \r\n"));
        assert!(is_plain_value(b" v=1; a=b;\r\n c=d;\r\n b="));
    }

    #[test]
    fn relaxed_header_keeps_eight_bit_bytes() {
        let field = "Subject: Grüße\r\n".as_bytes();
        assert_eq!(
            headers(Canonicalization::Relaxed, &[field]),
            "subject:Grüße\r\n"
        );
    }

    #[test]
    fn relaxed_header_without_crlf_omits_only_crlf() {
        let mut output = Vec::new();
        append_relaxed_header_without_crlf(b"DKIM-Signature: v=1;\r\n b=", &mut output);
        assert_eq!(output, b"dkim-signature:v=1; b=");
    }
}
