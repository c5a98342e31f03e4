//! Writing a header field in lines of at most 78 characters (RFC 5322, section 2.1.1).

/// Maximum line length that RFC 5322 recommends, without the CRLF.
pub(crate) const MAX_LINE_LEN: usize = 78;

/// Builds a header field from pieces, starting a continuation line (CRLF and one space)
/// wherever a piece would make the current line longer than [`MAX_LINE_LEN`].
///
/// A piece longer than a whole line still goes on one line, so lines stay within the limit
/// only where the pieces allow it.
pub(crate) struct FoldingWriter {
    text: String,
    line_len: usize,
}

impl FoldingWriter {
    /// Starts a field with `start`, such as `DKIM-Signature:`.
    pub(crate) fn new(start: &str) -> FoldingWriter {
        // Room for a typical DKIM-Signature field with an RSA-2048 signature.
        let mut text = String::with_capacity(640);
        text.push_str(start);
        FoldingWriter {
            text,
            line_len: start.len(),
        }
    }

    /// Appends a space and the concatenation of `parts`, or a line break and `parts` if the
    /// line would get too long.
    pub(crate) fn push_after_space(&mut self, parts: &[&str]) {
        if self.line_len + 1 + total_len(parts) > MAX_LINE_LEN {
            self.break_line();
        } else {
            self.text.push(' ');
            self.line_len += 1;
        }
        self.push_parts(parts);
    }

    /// Appends the concatenation of `parts` directly, or after a line break if the line
    /// would get too long.
    pub(crate) fn push_joined(&mut self, parts: &[&str]) {
        if self.line_len + total_len(parts) > MAX_LINE_LEN {
            self.break_line();
        }
        self.push_parts(parts);
    }

    /// Appends `piece` at the start of a new line.
    pub(crate) fn push_on_new_line(&mut self, piece: &str) {
        self.break_line();
        self.push_raw(piece);
    }

    /// Appends `text`, which may be broken anywhere, filling each line up to the limit.
    pub(crate) fn push_breakable(&mut self, mut text: &str) {
        while !text.is_empty() {
            let room = MAX_LINE_LEN.saturating_sub(self.line_len);
            if room == 0 {
                self.break_line();
                continue;
            }
            // Callers pass ASCII text, so any byte index is a character boundary.
            let (now, later) = text.split_at(room.min(text.len()));
            self.push_raw(now);
            text = later;
        }
    }

    /// Returns the field so far, without a final CRLF.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    fn break_line(&mut self) {
        self.text.push_str("\r\n ");
        self.line_len = 1;
    }

    fn push_raw(&mut self, piece: &str) {
        self.text.push_str(piece);
        self.line_len += piece.len();
    }

    fn push_parts(&mut self, parts: &[&str]) {
        for part in parts {
            self.push_raw(part);
        }
    }
}

fn total_len(parts: &[&str]) -> usize {
    parts.iter().map(|part| part.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_lengths(text: &str) -> Vec<usize> {
        text.split("\r\n").map(str::len).collect()
    }

    #[test]
    fn push_after_space_breaks_before_long_pieces() {
        let mut writer = FoldingWriter::new("Name:");
        for _ in 0..10 {
            writer.push_after_space(&[&"x".repeat(20)]);
        }
        let lengths = line_lengths(writer.as_str());
        assert!(
            lengths.iter().all(|&length| length <= MAX_LINE_LEN),
            "{lengths:?}"
        );
        assert_eq!(lengths[0], 5 + 3 * 21);
        assert!(writer.as_str().contains("\r\n x"));
    }

    #[test]
    fn push_joined_adds_no_space() {
        let mut writer = FoldingWriter::new("h=");
        writer.push_joined(&["From", ":"]);
        writer.push_joined(&["To"]);
        assert_eq!(writer.as_str(), "h=From:To");
    }

    #[test]
    fn push_breakable_fills_lines() {
        let mut writer = FoldingWriter::new("X:");
        writer.push_on_new_line("b=");
        writer.push_breakable(&"A".repeat(200));
        let lengths = line_lengths(writer.as_str());
        assert_eq!(lengths, [2, 78, 78, 49]);
        assert_eq!(writer.as_str().matches('A').count(), 200);
    }

    #[test]
    fn overlong_piece_stays_whole() {
        let mut writer = FoldingWriter::new("X:");
        writer.push_after_space(&[&"d".repeat(90)]);
        assert_eq!(line_lengths(writer.as_str()), [2, 91]);
    }
}
