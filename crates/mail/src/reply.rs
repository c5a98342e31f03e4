//! SMTP replies and their parser (RFC 5321, section 4.2).

use thiserror::Error;

/// Maximum length of one reply line in octets, without its line ending. RFC 5321 (section
/// 4.5.3.1.5) limits reply lines to 512 octets, but some servers send longer ones, so this
/// is more lenient while still bounding memory.
pub(crate) const MAX_LINE_LEN: usize = 4096;

/// Maximum number of lines in one reply. An EHLO reply has one line per extension, which
/// stays far below this in practice.
pub(crate) const MAX_LINES: usize = 100;

/// A complete, possibly multi-line, SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The three-digit reply code, from 200 to 559.
    pub(crate) code: u16,
    /// The text of each line, without the code and separator. Control characters sent by the
    /// server are replaced with U+FFFD so that the text is safe to log.
    pub(crate) lines: Vec<String>,
}

impl Reply {
    /// Returns whether the code is 2xx (positive completion).
    pub(crate) fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Returns the text of all lines joined by single spaces.
    pub(crate) fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// The reason a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ReplyError {
    /// A line does not start with a valid reply code followed by a space, a hyphen or the
    /// end of the line.
    #[error("malformed reply line {line:?}")]
    Malformed { line: String },
    /// A continuation line has a different code than the first line.
    #[error("reply line with code {found} inside a reply with code {expected}")]
    CodeMismatch { expected: u16, found: u16 },
    /// A line is longer than [`MAX_LINE_LEN`].
    #[error("reply line longer than {MAX_LINE_LEN} octets")]
    LineTooLong,
    /// The reply has more than [`MAX_LINES`] lines.
    #[error("reply with more than {MAX_LINES} lines")]
    TooManyLines,
}

/// Assembles a reply from its lines, one line at a time.
#[derive(Debug, Default)]
pub(crate) struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// Adds one line, without its line ending, and returns the reply if this was its last
    /// line.
    pub(crate) fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if line.len() > MAX_LINE_LEN {
            return Err(ReplyError::LineTooLong);
        }
        if self.lines.len() >= MAX_LINES {
            return Err(ReplyError::TooManyLines);
        }

        let malformed = || ReplyError::Malformed {
            line: sanitize(line),
        };
        let code = parse_code(line).ok_or_else(malformed)?;
        let is_last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(malformed()),
        };
        match self.code {
            Some(expected) if expected != code => {
                return Err(ReplyError::CodeMismatch {
                    expected,
                    found: code,
                });
            }
            _ => self.code = Some(code),
        }
        self.lines.push(sanitize(line.get(4..).unwrap_or_default()));

        if !is_last {
            return Ok(None);
        }
        let lines = std::mem::take(&mut self.lines);
        self.code = None;
        Ok(Some(Reply { code, lines }))
    }
}

/// Parses the three-digit code at the start of `line`: the first digit is 2 to 5 and the
/// second 0 to 5 (RFC 5321, section 4.2).
fn parse_code(line: &[u8]) -> Option<u16> {
    let [
        first @ b'2'..=b'5',
        second @ b'0'..=b'5',
        third @ b'0'..=b'9',
        ..,
    ] = *line
    else {
        return None;
    };
    Some(u16::from(first - b'0') * 100 + u16::from(second - b'0') * 10 + u16::from(third - b'0'))
}

/// Decodes server text as UTF-8 (lossily) and replaces control characters, other than tab,
/// with U+FFFD.
fn sanitize(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `lines` to a new parser and returns the first complete reply or error, and the
    /// number of lines consumed.
    fn parse(lines: &[&[u8]]) -> (Result<Option<Reply>, ReplyError>, usize) {
        let mut parser = ReplyParser::default();
        for (index, line) in lines.iter().enumerate() {
            match parser.push_line(line) {
                Ok(None) => continue,
                result => return (result, index + 1),
            }
        }
        (Ok(None), lines.len())
    }

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply {
            code,
            lines: lines.iter().map(|line| line.to_string()).collect(),
        }
    }

    #[test]
    fn parser_accepts_single_and_multi_line_replies() {
        let cases: [(&[&[u8]], Reply, usize); 5] = [
            (&[b"250 OK"], reply(250, &["OK"]), 1),
            (&[b"250"], reply(250, &[""]), 1),
            (
                &[
                    b"250-mx.alpha.test greets you",
                    b"250-STARTTLS",
                    b"250 SIZE 1000",
                ],
                reply(250, &["mx.alpha.test greets you", "STARTTLS", "SIZE 1000"]),
                3,
            ),
            (
                &[b"421-Too busy", b"421 try later", b"250 OK"],
                reply(421, &["Too busy", "try later"]),
                2,
            ),
            (
                &[b"550 5.1.1 <x@y.test>: no such user"],
                reply(550, &["5.1.1 <x@y.test>: no such user"]),
                1,
            ),
        ];
        for (lines, expected, expected_consumed) in cases {
            let (result, consumed) = parse(lines);
            assert_eq!(result, Ok(Some(expected.clone())), "{lines:?}");
            assert_eq!(consumed, expected_consumed, "{lines:?}");
        }
    }

    #[test]
    fn parser_rejects_malformed_lines() {
        let cases: [&[&[u8]]; 8] = [
            &[b""],
            &[b"25"],
            &[b"OK 250"],
            &[b"2500 OK"],
            &[b"250_OK"],
            &[b"199 informational"],
            &[b"260 second digit too large"],
            &[b"250-first", b"garbage"],
        ];
        for lines in cases {
            let (result, _) = parse(lines);
            assert!(
                matches!(result, Err(ReplyError::Malformed { .. })),
                "{lines:?}: {result:?}"
            );
        }
    }

    #[test]
    fn parser_rejects_code_change_inside_reply() {
        let (result, _) = parse(&[b"250-first", b"251 second"]);
        assert_eq!(
            result,
            Err(ReplyError::CodeMismatch {
                expected: 250,
                found: 251
            })
        );
    }

    #[test]
    fn parser_enforces_limits() {
        let long_line = [b"250 ".as_slice(), &[b'x'; MAX_LINE_LEN]].concat();
        let (result, _) = parse(&[&long_line]);
        assert_eq!(result, Err(ReplyError::LineTooLong));

        let continuation: &[u8] = b"250-more";
        let many_lines = vec![continuation; MAX_LINES + 1];
        let (result, consumed) = parse(&many_lines);
        assert_eq!(result, Err(ReplyError::TooManyLines));
        assert_eq!(consumed, MAX_LINES + 1);
    }

    #[test]
    fn parser_sanitizes_text() {
        let (result, _) = parse(&[b"550 bad\x1b[31m \xff user"]);
        let reply = result.unwrap().unwrap();
        assert_eq!(reply.text(), "bad\u{fffd}[31m \u{fffd} user");
    }

    #[test]
    fn reply_text_joins_lines() {
        assert_eq!(
            reply(550, &["5.1.1 unknown", "user"]).text(),
            "5.1.1 unknown user"
        );
    }
}
