//! Entry points for the fuzz targets in `fuzz/` at the repository root. This module exists
//! only with the `fuzzing` feature and is not part of the crate's interface.

use crate::reply::ReplyParser;

/// Splits `input` into lines at LF, drops one CR before each LF, as the connection reads a
/// server's replies, and feeds the lines to one reply parser.
///
/// Returns the code and lines of each complete reply, in order, and the message of the
/// first error, after which the connection would stop reading. Bytes after the last LF are
/// left out, as a connection closed in the middle of a line is an error of its own.
pub fn parse_replies(input: &[u8]) -> (Vec<(u16, Vec<String>)>, Option<String>) {
    let mut parser = ReplyParser::default();
    let mut replies = Vec::new();
    let mut lines: Vec<&[u8]> = input.split(|&byte| byte == b'\n').collect();
    lines.pop();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parser.push_line(line) {
            Ok(Some(reply)) => replies.push((reply.code, reply.lines)),
            Ok(None) => {}
            Err(error) => return (replies, Some(error.to_string())),
        }
    }
    (replies, None)
}
