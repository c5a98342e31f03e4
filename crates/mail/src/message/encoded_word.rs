//! RFC 2047 encoded-words, which carry non-ASCII text in header fields.

/// Maximum length of one encoded-word, delimiters included (RFC 2047, section 2).
pub(super) const MAX_ENCODED_WORD_LEN: usize = 75;

/// `=?utf-8?q?` or `=?utf-8?b?` plus the closing `?=`.
const DELIMITERS_LEN: usize = 12;

/// The two encodings of RFC 2047, section 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// "Q": printable ASCII stays readable, other bytes become `=XX`.
    Q,
    /// "B": base64, shorter for text that is mostly non-ASCII.
    B,
}

/// Encodes `text` as UTF-8 encoded-words.
///
/// Every word is at most [`MAX_ENCODED_WORD_LEN`] characters long. The first word is also at
/// most `first_len` long, so that it fits on the rest of the current header line, unless that
/// leaves no room for a character. Words end only between characters, because RFC 2047,
/// section 5, forbids splitting a multi-octet character across words. The caller separates
/// the words with folding whitespace, which decoders drop between adjacent encoded-words.
///
/// Whichever of "Q" and "B" gives the shorter output is used for all words.
pub(super) fn encode_words(text: &str, first_len: usize) -> Vec<String> {
    let scheme = if q_len(text.as_bytes()) <= b_len(text.len()) {
        Scheme::Q
    } else {
        Scheme::B
    };
    let first_len = first_len.min(MAX_ENCODED_WORD_LEN);
    // A character of four octets, the maximum in UTF-8, takes 12 characters in "Q" (four
    // `=XX`) and 8 in "B".
    let mut max_payload = if first_len >= DELIMITERS_LEN + 12 {
        first_len - DELIMITERS_LEN
    } else {
        MAX_ENCODED_WORD_LEN - DELIMITERS_LEN
    };

    let mut words = Vec::new();
    let mut start = 0;
    let mut payload_len = 0;
    for (index, character) in text.char_indices() {
        let end = index + character.len_utf8();
        let new_len = match scheme {
            Scheme::Q => payload_len + q_len(&text.as_bytes()[index..end]),
            Scheme::B => b_len(end - start),
        };
        if new_len > max_payload && index > start {
            words.push(encode_word(scheme, &text[start..index]));
            max_payload = MAX_ENCODED_WORD_LEN - DELIMITERS_LEN;
            start = index;
            payload_len = match scheme {
                Scheme::Q => q_len(&text.as_bytes()[index..end]),
                Scheme::B => b_len(end - index),
            };
        } else {
            payload_len = new_len;
        }
    }
    if start < text.len() || words.is_empty() {
        words.push(encode_word(scheme, &text[start..]));
    }
    words
}

fn encode_word(scheme: Scheme, text: &str) -> String {
    match scheme {
        Scheme::Q => {
            let mut word = String::from("=?utf-8?q?");
            for &byte in text.as_bytes() {
                if byte == b' ' {
                    word.push('_');
                } else if is_q_literal(byte) {
                    word.push(char::from(byte));
                } else {
                    word.push_str(&format!("={byte:02X}"));
                }
            }
            word.push_str("?=");
            word
        }
        Scheme::B => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            format!("=?utf-8?b?{encoded}?=")
        }
    }
}

/// Returns whether `byte` may appear as itself in a "Q" encoded-word anywhere, including in
/// a display name: letters, digits and `!*+-/` (RFC 2047, section 5, rule 3).
fn is_q_literal(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!*+-/".contains(&byte)
}

fn q_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&byte| {
            if byte == b' ' || is_q_literal(byte) {
                1
            } else {
                3
            }
        })
        .sum()
}

fn b_len(byte_count: usize) -> usize {
    byte_count.div_ceil(3) * 4
}

#[cfg(test)]
pub(super) mod tests {
    use base64::Engine;

    use super::*;

    /// Decodes one encoded-word written by [`encode_words`], panicking on anything else.
    pub(crate) fn decode_word(word: &str) -> String {
        let inner = word
            .strip_prefix("=?utf-8?")
            .and_then(|rest| rest.strip_suffix("?="))
            .unwrap_or_else(|| panic!("not an encoded-word: {word:?}"));
        let bytes = match inner.split_at(2) {
            ("q?", payload) => decode_q(payload),
            ("b?", payload) => base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap_or_else(|error| panic!("{word:?}: {error}")),
            _ => panic!("unknown encoding in {word:?}"),
        };
        String::from_utf8(bytes)
            .unwrap_or_else(|error| panic!("{word:?} splits a character: {error}"))
    }

    fn decode_q(payload: &str) -> Vec<u8> {
        let bytes = payload.as_bytes();
        let mut output = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'_' => output.push(b' '),
                b'=' => {
                    let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                    output.push(u8::from_str_radix(hex, 16).unwrap());
                    index += 2;
                }
                byte => output.push(byte),
            }
            index += 1;
        }
        output
    }

    #[test]
    fn encode_words_round_trips_and_respects_lengths() {
        let cases = [
            "Überraschung: die Besprechung ist verschoben",
            "会議は午前10時に変更されました、会議室Bでお待ちしています。資料を持参してください。",
            "🎉🎉🎉 party 🎉🎉🎉 at ten 🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉",
            "a",
            "",
            "=?utf-8?q?not_an_encoded_word?= ",
            "Ä",
        ];
        for text in cases {
            for first_len in [0, 20, 24, 40, 75, 200] {
                let words = encode_words(text, first_len);
                for (index, word) in words.iter().enumerate() {
                    let limit = if index == 0 && first_len >= 24 {
                        first_len.min(MAX_ENCODED_WORD_LEN)
                    } else {
                        MAX_ENCODED_WORD_LEN
                    };
                    assert!(word.len() <= limit, "{word:?} longer than {limit}");
                    assert!(word.is_ascii(), "{word:?}");
                }
                let decoded: String = words.iter().map(|word| decode_word(word)).collect();
                assert_eq!(decoded, text, "first_len {first_len}");
            }
        }
    }

    #[test]
    fn encode_words_picks_shorter_scheme() {
        // "Q" takes 8 characters for "Zoë" and "B" 8, so the tie goes to the readable one.
        assert_eq!(encode_words("Zoë", 75), ["=?utf-8?q?Zo=C3=AB?="]);
        assert_eq!(encode_words("a b?c", 75), ["=?utf-8?q?a_b=3Fc?="]);
        assert_eq!(encode_words("Grüße", 75), ["=?utf-8?b?R3LDvMOfZQ==?="]);
        assert_eq!(encode_words("日本語", 75), ["=?utf-8?b?5pel5pys6Kqe?="]);
    }

    #[test]
    fn encode_words_never_splits_characters() {
        // Four-octet characters, so that any split inside one would show up as invalid UTF-8.
        let text = "🎉".repeat(100);
        let words = encode_words(&text, 75);
        assert!(words.len() > 1, "{words:?}");
        for word in &words {
            assert!(decode_word(word).chars().all(|c| c == '🎉'), "{word:?}");
        }
    }
}
