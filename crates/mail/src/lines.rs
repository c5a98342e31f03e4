//! Splitting text into lines at any of the three line endings found in practice.

use memchr::memchr2;

/// Returns the lines of `input` and whether the input ended with a line ending.
///
/// A line ends at CRLF, at a bare LF or at a bare CR, and the returned lines exclude their
/// ending. SMTP and RFC 5322 allow only CRLF, so callers rejoin the lines with CRLF.
pub(crate) fn split_lines(input: &[u8]) -> (Vec<&[u8]>, bool) {
    let mut lines = Vec::new();
    let mut start = 0;
    // Every message passes through here before each transaction and each DKIM signature,
    // and memchr2 finds the next CR or LF many octets at a time.
    while let Some(offset) = memchr2(b'\r', b'\n', &input[start..]) {
        let position = start + offset;
        lines.push(&input[start..position]);
        let crlf = input[position] == b'\r' && input.get(position + 1) == Some(&b'\n');
        start = position + if crlf { 2 } else { 1 };
    }

    let ends_with_line_ending = start == input.len() && !input.is_empty();
    if start < input.len() {
        lines.push(&input[start..]);
    }
    (lines, ends_with_line_ending)
}

/// Replaces every line ending in `text` (CRLF, bare LF or bare CR) with CRLF.
pub(crate) fn to_crlf(text: &str) -> String {
    let (lines, ends_with_line_ending) = split_lines(text.as_bytes());
    let mut output = Vec::with_capacity(text.len() + lines.len());
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            output.extend_from_slice(b"\r\n");
        }
        output.extend_from_slice(line);
    }
    if ends_with_line_ending {
        output.extend_from_slice(b"\r\n");
    }
    // Only ASCII CR and LF bytes were replaced, so the output is still UTF-8.
    String::from_utf8(output).expect("replacing ASCII line endings keeps UTF-8 valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_handles_every_line_ending() {
        let cases: [(&str, &[&str], bool); 8] = [
            ("", &[], false),
            ("one", &["one"], false),
            ("one\r\n", &["one"], true),
            ("one\ntwo", &["one", "two"], false),
            ("one\rtwo\r", &["one", "two"], true),
            ("one\r\n\r\ntwo", &["one", "", "two"], false),
            ("\n", &[""], true),
            ("a\r\rb\n\nc", &["a", "", "b", "", "c"], false),
        ];
        for (input, expected, expected_ending) in cases {
            let (lines, ends_with_line_ending) = split_lines(input.as_bytes());
            let lines: Vec<&str> = lines
                .iter()
                .map(|line| std::str::from_utf8(line).unwrap())
                .collect();
            assert_eq!(lines, expected, "{input:?}");
            assert_eq!(ends_with_line_ending, expected_ending, "{input:?}");
        }
    }

    /// Splits `input` one octet at a time: the plain reading of the rules above.
    fn split_lines_by_octet(input: &[u8]) -> (Vec<&[u8]>, bool) {
        let mut lines = Vec::new();
        let mut start = 0;
        let mut position = 0;
        while position < input.len() {
            match input[position] {
                b'\r' if input.get(position + 1) == Some(&b'\n') => {
                    lines.push(&input[start..position]);
                    position += 2;
                    start = position;
                }
                b'\r' | b'\n' => {
                    lines.push(&input[start..position]);
                    position += 1;
                    start = position;
                }
                _ => position += 1,
            }
        }
        let ends_with_line_ending = !input.is_empty() && start == input.len();
        if start < input.len() {
            lines.push(&input[start..]);
        }
        (lines, ends_with_line_ending)
    }

    #[test]
    fn split_lines_matches_octet_scan() {
        let pieces: [&[u8]; 6] = [b"\r", b"\n", b"\r\n", b"\n\r", b"a", b"bc"];
        // Every sequence of five pieces, so that each ending meets each neighbour.
        for index in 0..pieces.len().pow(5) {
            let mut input = Vec::new();
            let mut rest = index;
            for _ in 0..5 {
                input.extend_from_slice(pieces[rest % pieces.len()]);
                rest /= pieces.len();
            }
            assert_eq!(
                split_lines(&input),
                split_lines_by_octet(&input),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn to_crlf_normalises_mixed_endings() {
        assert_eq!(to_crlf("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd");
        assert_eq!(to_crlf("ä\n"), "ä\r\n");
        assert_eq!(to_crlf(""), "");
    }
}
