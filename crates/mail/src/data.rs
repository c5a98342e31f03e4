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
        for (input, expected) in cases {
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
    fn encode_data_keeps_eight_bit_bytes() {
        let encoded = encode_data("Grüße\n".as_bytes());
        assert_eq!(encoded, "Grüße\r\n.\r\n".as_bytes());
    }
}
