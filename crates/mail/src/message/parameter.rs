//! MIME parameters such as `filename`, with RFC 2231 encoding for values that are not
//! short printable ASCII.

/// Maximum length of one parameter section, so that a leading space and a trailing `;` still
/// fit in a 78-character line.
const MAX_SECTION_LEN: usize = 76;

/// Returns `name=value` as one or more parameter sections, to be joined with `;` and folding
/// whitespace in a `Content-Type` or `Content-Disposition` header field.
///
/// A printable ASCII value that fits is written as a quoted string. Any other value is
/// percent-encoded as UTF-8 (RFC 2231, section 4: `name*=utf-8''...`) and, when too long for
/// one line, split into numbered sections (section 3: `name*0*=`, `name*1*=`, ...). A value
/// containing `=?` is always percent-encoded, because some readers, Python's `email` package
/// among them, decode encoded-words even inside quoted parameter values.
///
/// Sections end only between characters. RFC 2231 would allow a split inside a multi-octet
/// character, but readers that decode each section on its own then show garbage.
pub(super) fn encode_parameter(name: &str, value: &str) -> Vec<String> {
    let printable = value.bytes().all(|byte| (b' '..=b'~').contains(&byte));
    if printable && !value.contains("=?") {
        let mut quoted = format!("{name}=\"");
        for character in value.chars() {
            if matches!(character, '"' | '\\') {
                quoted.push('\\');
            }
            quoted.push(character);
        }
        quoted.push('"');
        if quoted.len() <= MAX_SECTION_LEN {
            return vec![quoted];
        }
    }

    let whole = format!("{name}*=utf-8''{}", percent_encode(value));
    if whole.len() <= MAX_SECTION_LEN {
        return vec![whole];
    }

    let mut sections = Vec::new();
    let mut section = format!("{name}*0*=utf-8''");
    let mut has_value = false;
    for character in value.chars() {
        let mut buffer = [0; 4];
        let encoded = percent_encode(character.encode_utf8(&mut buffer));
        if has_value && section.len() + encoded.len() > MAX_SECTION_LEN {
            sections.push(section);
            section = format!("{name}*{}*=", sections.len());
        }
        section.push_str(&encoded);
        has_value = true;
    }
    sections.push(section);
    sections
}

/// Percent-encodes every octet of `value` that is not an `attribute-char` of RFC 2231,
/// section 7: everything except ASCII letters, digits and ``!#$&+-.^_`{|}~``.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`{|}~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Joins the sections of one parameter back into its value, as an RFC 2231 reader does.
    fn decode_sections(name: &str, sections: &[String]) -> String {
        let mut bytes = Vec::new();
        for (index, section) in sections.iter().enumerate() {
            let quoted_prefix = format!("{name}=\"");
            if let Some(quoted) = section.strip_prefix(&quoted_prefix) {
                let inner = quoted.strip_suffix('"').unwrap();
                return inner.replace("\\\"", "\"").replace("\\\\", "\\");
            }
            let prefix = match (index, sections.len()) {
                (0, 1) => format!("{name}*=utf-8''"),
                (0, _) => format!("{name}*0*=utf-8''"),
                _ => format!("{name}*{index}*="),
            };
            let encoded = section
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{section:?} does not start with {prefix:?}"));
            let mut rest = encoded.as_bytes();
            let mut section_bytes = Vec::new();
            while let Some((&byte, tail)) = rest.split_first() {
                if byte == b'%' {
                    let hex = std::str::from_utf8(&tail[..2]).unwrap();
                    section_bytes.push(u8::from_str_radix(hex, 16).unwrap());
                    rest = &tail[2..];
                } else {
                    section_bytes.push(byte);
                    rest = tail;
                }
            }
            assert!(
                std::str::from_utf8(&section_bytes).is_ok(),
                "{section:?} splits a character"
            );
            bytes.extend(section_bytes);
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn encode_parameter_quotes_short_ascii() {
        assert_eq!(
            encode_parameter("filename", "report.pdf"),
            ["filename=\"report.pdf\""]
        );
        assert_eq!(
            encode_parameter("filename", "a \"b\" \\c;d.pdf"),
            ["filename=\"a \\\"b\\\" \\\\c;d.pdf\""]
        );
    }

    #[test]
    fn encode_parameter_uses_rfc2231_for_non_ascii() {
        assert_eq!(
            encode_parameter("filename", "Grüße, 2025.pdf"),
            ["filename*=utf-8''Gr%C3%BC%C3%9Fe%2C%202025.pdf"]
        );
        assert_eq!(
            encode_parameter("filename", "=?utf-8?q?x?=.pdf"),
            ["filename*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D.pdf"]
        );
    }

    #[test]
    fn encode_parameter_continues_long_values() {
        let cases = [
            "Jahresübersicht für das Geschäftsjahr 2025 – Protokolle und Anlagen (endgültig).pdf"
                .to_owned(),
            "会議資料".repeat(20) + ".pdf",
            "long ascii name ".repeat(10) + ".txt",
            "🎉".repeat(40),
        ];
        for value in cases {
            let sections = encode_parameter("filename", &value);
            assert!(sections.len() > 1, "{sections:?}");
            assert!(
                sections[0].starts_with("filename*0*=utf-8''"),
                "{sections:?}"
            );
            for section in &sections {
                assert!(section.len() <= MAX_SECTION_LEN, "{section:?}");
                assert!(section.is_ascii(), "{section:?}");
            }
            assert_eq!(decode_sections("filename", &sections), value);
        }
    }
}
