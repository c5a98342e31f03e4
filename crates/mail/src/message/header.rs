//! Header fields: folding, unstructured text and mailbox lists.

use crate::address::Mailbox;

use super::encoded_word::{MAX_ENCODED_WORD_LEN, encode_words};

/// Line length that folding keeps to, CRLF excluded (RFC 5322, section 2.1.1).
pub(super) const MAX_LINE_LEN: usize = 78;

/// Line length that no line may exceed, CRLF excluded (RFC 5322, section 2.1.1).
pub(super) const MAX_LINE_OCTETS: usize = 998;

/// One header field being written, folded at whitespace so that lines stay within
/// [`MAX_LINE_LEN`] where the words allow it.
pub(super) struct HeaderField {
    text: String,
    line_len: usize,
    max_line_len: usize,
    /// Whether the current line has a word of the value, not only the field name.
    line_has_word: bool,
}

impl HeaderField {
    /// Starts a field with `name` and its colon.
    pub(super) fn new(name: &str) -> HeaderField {
        let text = format!("{name}:");
        let line_len = text.len();
        HeaderField {
            text,
            line_len,
            max_line_len: line_len,
            line_has_word: false,
        }
    }

    /// Appends `word` after `whitespace`, which is empty where no fold is allowed.
    ///
    /// When the word would end past [`MAX_LINE_LEN`], the field is folded: a CRLF goes before
    /// the whitespace, which then starts the next line. Unfolding removes only the CRLF, so the
    /// field's value is unchanged. A word too long for any line is not moved off the line
    /// with the field name, because folding would not make it fit.
    pub(super) fn push(&mut self, whitespace: &str, word: &str) {
        let len = whitespace.len() + word.len();
        let fits = self.line_len + len <= MAX_LINE_LEN;
        let fits_next_line = len <= MAX_LINE_LEN;
        if !whitespace.is_empty() && !fits && (self.line_has_word || fits_next_line) {
            self.text.push_str("\r\n");
            self.line_len = 0;
        }
        self.text.push_str(whitespace);
        self.text.push_str(word);
        self.line_len += len;
        self.line_has_word = true;
        self.max_line_len = self.max_line_len.max(self.line_len);
    }

    /// Returns how many characters fit after one more space on the current line.
    pub(super) fn room(&self) -> usize {
        MAX_LINE_LEN.saturating_sub(self.line_len + 1)
    }

    /// Returns the length of the longest line so far, CRLF excluded.
    pub(super) fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// Appends the field and its final CRLF to `output`.
    pub(super) fn finish(self, output: &mut Vec<u8>) {
        output.extend_from_slice(self.text.as_bytes());
        output.extend_from_slice(b"\r\n");
    }
}

/// The treatment of printable ASCII words too long for a folded line, in
/// [`push_unstructured`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LongWords {
    /// Writes the whole value as encoded-words, as suits text meant for people (`Subject`).
    Encode,
    /// Keeps the word on a longer line, as suits values whose syntax encoded-words would break,
    /// such as a URL in a custom header. The caller checks [`MAX_LINE_OCTETS`].
    Keep,
}

/// Appends `text` as an unstructured field body (RFC 5322, section 3.2.5).
///
/// Printable ASCII is written as it is, folded at its whitespace. The value is written as
/// encoded-words instead when it contains non-ASCII or control characters, or when it starts
/// or ends with whitespace, which folding and unfolding would not keep. The same holds when
/// it contains `=?`, which a reader would try to decode as an encoded-word, and when a word
/// cannot fit on a folded line and `long_words` is [`LongWords::Encode`].
pub(super) fn push_unstructured(field: &mut HeaderField, text: &str, long_words: LongWords) {
    // An empty value is valid and needs nothing after the colon.
    if text.is_empty() {
        return;
    }
    let words = split_words(text);
    let too_long = words
        .iter()
        .any(|(whitespace, word)| whitespace.len().max(1) + word.len() > MAX_LINE_LEN - 1);
    let needs_encoding = !is_plain_text(text) || (too_long && long_words == LongWords::Encode);
    if needs_encoding {
        push_encoded_words(field, text, field.room());
        return;
    }

    for (index, (whitespace, word)) in words.into_iter().enumerate() {
        // The space after the colon separates the name from the value.
        let whitespace = if index == 0 { " " } else { whitespace };
        field.push(whitespace, word);
    }
}

/// Appends `mailboxes` as a comma-separated list of `name <address>` entries.
pub(super) fn push_mailbox_list(field: &mut HeaderField, mailboxes: &[Mailbox]) {
    for (index, mailbox) in mailboxes.iter().enumerate() {
        if let Some(name) = mailbox.name.as_deref().filter(|name| !name.is_empty()) {
            push_phrase(field, name);
        }
        let separator = if index + 1 < mailboxes.len() { "," } else { "" };
        field.push(" ", &format!("<{}>{separator}", mailbox.address));
    }
}

/// Appends a display name as a quoted string, or as encoded-words when it is not printable
/// ASCII, contains `=?`, has leading or trailing whitespace, or has a word too long to fold.
///
/// NOTE: Python's `email` package (3.11) keeps the whitespace between two encoded-words of a
/// display name, against RFC 2047, section 6.2. It therefore reads a name that needs several
/// encoded-words (more than about 45 octets of UTF-8) with extra spaces, while readers that
/// follow the RFC show it unchanged.
fn push_phrase(field: &mut HeaderField, name: &str) {
    let words = split_words(name);
    let too_long = words.iter().any(|(whitespace, word)| {
        whitespace.len().max(1) + quoted_len(word) + 2 > MAX_LINE_LEN - 1
    });
    if !is_plain_text(name) || name.contains('\t') || too_long {
        // Full-length words, even when that means folding before the first one, so that a
        // short name stays in one word.
        push_encoded_words(field, name, MAX_ENCODED_WORD_LEN);
        return;
    }

    let last = words.len() - 1;
    for (index, (whitespace, word)) in words.into_iter().enumerate() {
        let mut quoted = String::with_capacity(word.len() + 2);
        if index == 0 {
            quoted.push('"');
        }
        for character in word.chars() {
            if matches!(character, '"' | '\\') {
                quoted.push('\\');
            }
            quoted.push(character);
        }
        if index == last {
            quoted.push('"');
        }
        let whitespace = if index == 0 { " " } else { whitespace };
        field.push(whitespace, &quoted);
    }
}

fn push_encoded_words(field: &mut HeaderField, text: &str, first_len: usize) {
    for word in encode_words(text, first_len) {
        debug_assert!(word.len() <= MAX_ENCODED_WORD_LEN);
        field.push(" ", &word);
    }
}

/// Returns whether `text` can be written as it is: non-empty printable ASCII, spaces and
/// tabs, without `=?` and without whitespace at either end.
fn is_plain_text(text: &str) -> bool {
    let printable = text
        .bytes()
        .all(|byte| (b' '..=b'~').contains(&byte) || byte == b'\t');
    let trimmed = text.trim_matches([' ', '\t']).len() == text.len();
    printable && trimmed && !text.is_empty() && !text.contains("=?")
}

/// Splits `text` into words, each with the run of spaces and tabs before it.
fn split_words(text: &str) -> Vec<(&str, &str)> {
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let word_start = rest.find(|c| c != ' ' && c != '\t').unwrap_or(rest.len());
        let word_end = rest[word_start..]
            .find([' ', '\t'])
            .map_or(rest.len(), |offset| word_start + offset);
        words.push((&rest[..word_start], &rest[word_start..word_end]));
        rest = &rest[word_end..];
    }
    words
}

fn quoted_len(word: &str) -> usize {
    word.len() + word.matches(['"', '\\']).count()
}

#[cfg(test)]
mod tests {
    use super::super::encoded_word::tests::decode_word;
    use super::*;
    use crate::address::Address;

    fn write(field: HeaderField) -> String {
        let mut output = Vec::new();
        field.finish(&mut output);
        String::from_utf8(output).unwrap()
    }

    fn unstructured(name: &str, text: &str, long_words: LongWords) -> String {
        let mut field = HeaderField::new(name);
        push_unstructured(&mut field, text, long_words);
        write(field)
    }

    /// Unfolds a field and decodes its encoded-words the way RFC 2047 says a reader of
    /// unstructured text does: whitespace between two encoded-words is dropped.
    fn decode_unstructured(field: &str) -> String {
        let unfolded = field.trim_end_matches("\r\n").replace("\r\n", "");
        let (_, value) = unfolded.split_once(": ").expect("name and value");
        if !value.starts_with("=?") {
            return value.to_owned();
        }
        value.split(' ').map(decode_word).collect()
    }

    fn assert_line_lengths(field: &str, max: usize) {
        for line in field.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= max, "line of {} in {field:?}", line.len());
        }
    }

    #[test]
    fn unstructured_folds_ascii_at_whitespace() {
        let text = "word ".repeat(40) + "end";
        let field = unstructured("Subject", &text, LongWords::Encode);
        assert!(!field.contains("=?"), "{field}");
        assert_line_lengths(&field, MAX_LINE_LEN);
        assert_eq!(decode_unstructured(&field), text);

        let field = unstructured("Subject", "a  b\tc", LongWords::Encode);
        assert_eq!(field, "Subject: a  b\tc\r\n");

        let field = unstructured("Subject", "", LongWords::Encode);
        assert_eq!(field, "Subject:\r\n");
    }

    #[test]
    fn unstructured_encodes_long_non_ascii_subject() {
        let cases = [
            "Überraschung: die Besprechung am Donnerstag ist auf Freitag, 10:00 Uhr, \
             verschoben worden, bitte den Kalender prüfen"
                .to_owned(),
            "会議は午前10時に変更されました。".repeat(8),
            "Ä".repeat(500),
            "🎉 ".repeat(60),
            format!("{} {}", "x".repeat(90), "é".repeat(30)),
        ];
        for text in cases {
            let field = unstructured("Subject", &text, LongWords::Encode);
            assert!(field.starts_with("Subject: =?utf-8?"), "{field}");
            assert_line_lengths(&field, MAX_LINE_LEN);
            assert_eq!(decode_unstructured(&field), text);
        }
    }

    #[test]
    fn unstructured_encodes_what_readers_would_change() {
        let cases = [
            "=?utf-8?q?spoofed?=",
            " leading space",
            "trailing tab\t",
            "bell\u{7}",
            &"x".repeat(100),
        ];
        for text in cases {
            let field = unstructured("Subject", text, LongWords::Encode);
            assert!(field.starts_with("Subject: =?utf-8?"), "{text:?}: {field}");
            assert_line_lengths(&field, MAX_LINE_LEN);
            assert_eq!(decode_unstructured(&field), text);
        }
    }

    #[test]
    fn unstructured_keeps_long_words_when_asked() {
        let url = format!("<https://convene.test/unsubscribe/{}>", "a".repeat(100));
        let field = unstructured("List-Unsubscribe", &url, LongWords::Keep);
        assert_eq!(field, format!("List-Unsubscribe: {url}\r\n"));
    }

    #[test]
    fn mailbox_list_quotes_and_folds() {
        let address = Address::parse("ada@alpha.test").unwrap();
        let mailboxes = vec![
            Mailbox::new(
                "Lovelace, Ada \"Countess\" \\ <eve@evil.test>",
                address.clone(),
            ),
            Mailbox::from(Address::parse("bob@beta.test").unwrap()),
            Mailbox::new("Zoë Müller", address.clone()),
            Mailbox::new("=?utf-8?q?eve?=", address.clone()),
            Mailbox::new("", address),
        ];
        let mut field = HeaderField::new("To");
        push_mailbox_list(&mut field, &mailboxes);
        let field = write(field);
        assert_line_lengths(&field, MAX_LINE_LEN);
        let unfolded = field.replace("\r\n", "");
        assert_eq!(
            unfolded,
            "To: \"Lovelace, Ada \\\"Countess\\\" \\\\ <eve@evil.test>\" <ada@alpha.test>, \
             <bob@beta.test>, =?utf-8?b?Wm/DqyBNw7xsbGVy?= <ada@alpha.test>, \
             =?utf-8?b?PT91dGYtOD9xP2V2ZT89?= <ada@alpha.test>, <ada@alpha.test>"
        );
    }

    #[test]
    fn mailbox_list_keeps_short_names_in_one_word() {
        // Two addresses leave 34 characters on the line, less than the 48 that the name's
        // encoded-word takes.
        let mut mailboxes: Vec<Mailbox> = (0..2)
            .map(|index| Mailbox::from(Address::parse(&format!("user{index}@alpha.test")).unwrap()))
            .collect();
        mailboxes.push(Mailbox::new(
            "José Müller-Lüdenscheidt",
            Address::parse("jose@beta.test").unwrap(),
        ));
        let mut field = HeaderField::new("To");
        push_mailbox_list(&mut field, &mailboxes);
        let field = write(field);
        assert_line_lengths(&field, MAX_LINE_LEN);
        assert_eq!(field.matches("=?utf-8?").count(), 1, "{field}");
    }

    #[test]
    fn folding_never_breaks_a_word() {
        let mut field = HeaderField::new("X-Test");
        field.push(" ", &"a".repeat(100));
        field.push("", ",");
        field.push(" ", "b");
        assert_eq!(
            write(field),
            format!("X-Test: {},\r\n b\r\n", "a".repeat(100))
        );
    }
}
