//! The message as sent after the SMTP `DATA` command.

use crate::lines::split_lines;

/// Encodes `message` for transmission after `DATA` (RFC 5321, section 4.5.2), including the
/// terminating `.` line.
///
/// Every line ending becomes CRLF, because a bare CR or LF is not allowed on the wire and
/// servers treat it inconsistently. A line that starts with `.` gets a second `.`, which the
/// server removes again, so that no line of the message can end the data early. The output
/// ends with `CRLF . CRLF`.
pub(crate) fn encode_data(message: &[u8]) -> Vec<u8> {
    let (lines, _) = split_lines(message);
    let mut output = Vec::with_capacity(message.len() + message.len() / 32 + 5);
    for line in lines {
        if line.first() == Some(&b'.') {
            output.push(b'.');
        }
        output.extend_from_slice(line);
        output.extend_from_slice(b"\r\n");
    }
    output.extend_from_slice(b".\r\n");
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks each input against its exact expected DATA bytes.
    fn assert_encodings(cases: &[(&[u8], &[u8])]) {
        for &(input, expected) in cases {
            let encoded = encode_data(input);
            assert_eq!(
                String::from_utf8_lossy(&encoded),
                String::from_utf8_lossy(expected),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn encode_data_normalises_and_stuffs() {
        let cases: [(&[u8], &[u8]); 9] = [
            (b"hello\n.\nworld\r", b"hello\r\n..\r\nworld\r\n.\r\n"),
            (b"hello\r\nworld\r\n", b"hello\r\nworld\r\n.\r\n"),
            (b"no final line ending", b"no final line ending\r\n.\r\n"),
            (b".leading dot", b"..leading dot\r\n.\r\n"),
            (b"..two dots\r\n", b"...two dots\r\n.\r\n"),
            (b"a.b\r\n .c\r\n", b"a.b\r\n .c\r\n.\r\n"),
            (
                b"bare\rcr\rthen.\r.dot",
                b"bare\r\ncr\r\nthen.\r\n..dot\r\n.\r\n",
            ),
            (b"", b".\r\n"),
            (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
        ];
        assert_encodings(&cases);
    }

    #[test]
    fn encode_data_stuffs_every_end_of_data_lookalike() {
        // Each input contains a line holding only "." between line endings of some kind,
        // which a server that accepts bare LF or CR could take as the end of the data.
        let cases: [(&[u8], &[u8]); 8] = [
            (b"hello\n.\nworld", b"hello\r\n..\r\nworld\r\n.\r\n"),
            (
                b"hello\r\r\n.\n\rworld\r",
                b"hello\r\n\r\n..\r\n\r\nworld\r\n.\r\n",
            ),
            (b"a\r\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b".\r\nstart", b"..\r\nstart\r\n.\r\n"),
            (b"end\n.", b"end\r\n..\r\n.\r\n"),
        ];
        assert_encodings(&cases);
    }

    #[test]
    fn encode_data_ends_only_at_terminator() {
        let pieces: [&[u8]; 6] = [b"\r", b"\n", b"\r\n", b".", b"x", b".."];
        // Every sequence of four pieces, so that each way of surrounding a dot is covered.
        for index in 0..pieces.len().pow(4) {
            let mut input = Vec::new();
            let mut rest = index;
            for _ in 0..4 {
                input.extend_from_slice(pieces[rest % pieces.len()]);
                rest /= pieces.len();
            }
            let encoded = encode_data(&input);

            let terminator = encoded
                .windows(5)
                .position(|window| window == b"\r\n.\r\n")
                .map(|position| position + 2);
            // The data starts right after the CRLF of the DATA reply, so a first line holding
            // only "." would end it as well.
            assert!(!encoded.starts_with(b".\r\n"), "{input:?} -> {encoded:?}");
            let expected_end = encoded.len() - 3;
            match terminator {
                Some(position) => assert_eq!(position, expected_end, "{input:?} -> {encoded:?}"),
                None => assert_eq!(encoded, b".\r\n", "{input:?}"),
            }
            for (position, &byte) in encoded.iter().enumerate() {
                let next = encoded.get(position + 1);
                let previous = position.checked_sub(1).map(|p| encoded[p]);
                if byte == b'\r' {
                    assert_eq!(next, Some(&b'\n'), "bare CR in {encoded:?}");
                }
                if byte == b'\n' {
                    assert_eq!(previous, Some(b'\r'), "bare LF in {encoded:?}");
                }
            }
        }
    }

    #[test]
    fn encode_data_keeps_eight_bit_bytes() {
        let encoded = encode_data("Grüße\n".as_bytes());
        assert_eq!(encoded, "Grüße\r\n.\r\n".as_bytes());
    }
}
