//! Content lines (RFC 5545 §3.1): unfolding, the split into name, parameters and value, and
//! the line numbers that errors cite.

use std::borrow::Cow;

/// One unfolded content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentLine {
    /// The 1-based number of the physical line on which this content line starts.
    pub line: usize,
    /// The property name in upper case.
    pub name: String,
    pub params: Vec<Param>,
    /// The raw value, still escaped.
    pub value: String,
}

impl ContentLine {
    /// Returns the first value of the parameter `name` (upper case), with RFC 6868 escapes
    /// decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|param| param.name == name)
            .and_then(|param| param.values.first())
            .map(String::as_str)
    }
}

/// A property parameter with its values, unquoted and with RFC 6868 escapes decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    /// The parameter name in upper case.
    pub name: String,
    pub values: Vec<String>,
}

/// A physical line that is no valid content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidLine {
    pub line: usize,
    pub reason: String,
}

/// Splits `input` into unfolded logical lines, each with the number of its first physical line.
///
/// Lines end with CRLF, LF or a lone CR. A line that starts with a space or a tab continues
/// the previous one, and the bytes are joined before they are decoded, so a UTF-8 character
/// split across a fold comes out whole. A line that is not UTF-8 is read as Windows-1252's
/// Latin-1 subset, byte for byte, because older Outlook exports use that encoding.
pub(crate) fn unfold(input: &[u8]) -> Vec<(usize, String)> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut logical: Vec<(usize, Vec<u8>)> = Vec::new();
    for (index, physical) in physical_lines(input).enumerate() {
        let number = index + 1;
        match physical.first() {
            Some(b' ' | b'\t') if !logical.is_empty() => {
                if let Some((_, bytes)) = logical.last_mut() {
                    bytes.extend_from_slice(&physical[1..]);
                }
            }
            // The first line continues nothing, so its leading white space is dropped.
            _ => logical.push((number, physical.trim_ascii_start().to_vec())),
        }
    }
    logical
        .into_iter()
        .filter(|(_, bytes)| !bytes.iter().all(u8::is_ascii_whitespace))
        .map(|(number, bytes)| (number, decode(bytes)))
        .collect()
}

fn physical_lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = input;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|&byte| byte == b'\n' || byte == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let next = match (rest.get(end), rest.get(end + 1)) {
            (Some(b'\r'), Some(b'\n')) => end + 2,
            (Some(_), _) => end + 1,
            (None, _) => end,
        };
        rest = &rest[next..];
        Some(line)
    })
}

fn decode(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => error
            .into_bytes()
            .iter()
            .map(|&byte| char::from(byte))
            .collect(),
    }
}

/// Splits one logical line into name, parameters and value.
pub(crate) fn parse_line(line: usize, text: &str) -> Result<ContentLine, InvalidLine> {
    let invalid = |reason: String| InvalidLine { line, reason };

    let name_end = text.find([';', ':']).ok_or_else(|| {
        invalid(format!(
            "no colon in {}; a content line is NAME:VALUE",
            quote(text)
        ))
    })?;
    let name = &text[..name_end];
    if name.is_empty()
        || !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err(invalid(format!(
            "invalid property name {}; names contain only letters, digits and '-'",
            quote(name)
        )));
    }

    let mut params = Vec::new();
    let mut rest = &text[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let (param, remaining) = parse_param(after).map_err(&invalid)?;
        params.push(param);
        rest = remaining;
    }
    let value = rest
        .strip_prefix(':')
        .ok_or_else(|| invalid(format!("no value after the parameters of {name}")))?;

    Ok(ContentLine {
        line,
        name: name.to_ascii_uppercase(),
        params,
        value: value.to_string(),
    })
}

/// Parses `NAME=value,value` up to the next unquoted `;` or `:`.
fn parse_param(text: &str) -> Result<(Param, &str), String> {
    let equals = text
        .find(['=', ';', ':'])
        .filter(|&index| text.as_bytes()[index] == b'=')
        .ok_or_else(|| format!("parameter without '=' in {}", quote(text)))?;
    let name = text[..equals].trim().to_ascii_uppercase();
    let mut values = Vec::new();
    let mut rest = &text[equals + 1..];
    loop {
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let close = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quoted value of parameter {name}"))?;
            value = &quoted[..close];
            rest = &quoted[close + 1..];
        } else {
            let end = rest.find([',', ';', ':']).unwrap_or(rest.len());
            value = &rest[..end];
            rest = &rest[end..];
        }
        // RFC 5545 allows no control characters in a parameter value, and `write` drops them,
        // so they are dropped here too.
        let value: Cow<'_, str> = if value.contains(char::is_control) {
            Cow::Owned(value.chars().filter(|ch| !ch.is_control()).collect())
        } else {
            Cow::Borrowed(value)
        };
        values.push(decode_caret(&value).into_owned());
        match rest.strip_prefix(',') {
            Some(after) => rest = after,
            None => break,
        }
    }
    Ok((Param { name, values }, rest))
}

/// Decodes RFC 6868 escapes in a parameter value: `^n` newline, `^'` double quote, `^^` caret.
fn decode_caret(value: &str) -> Cow<'_, str> {
    if !value.contains('^') {
        return Cow::Borrowed(value);
    }
    let mut decoded = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, chars.peek()) {
            ('^', Some('n' | 'N')) => {
                chars.next();
                decoded.push('\n');
            }
            ('^', Some('\'')) => {
                chars.next();
                decoded.push('"');
            }
            ('^', Some('^')) => {
                chars.next();
                decoded.push('^');
            }
            _ => decoded.push(ch),
        }
    }
    Cow::Owned(decoded)
}

/// Quotes at most 40 characters of `text` for an error message.
pub(crate) fn quote(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfold_joins_character_split_across_fold() {
        // "é" is C3 A9 in UTF-8, and the fold falls between the two bytes.
        let input = b"SUMMARY:caf\xC3\r\n \xA9 au lait\r\nUID:1\r\n";
        let lines = unfold(input);
        assert_eq!(lines[0], (1, "SUMMARY:café au lait".to_string()));
        assert_eq!(lines[1], (3, "UID:1".to_string()));
    }

    #[test]
    fn unfold_accepts_lf_cr_and_tab_continuations() {
        let lines = unfold(b"A:1\nB:2\rC:3\r\n\tx\r\n\r\nD:4");
        let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_str()).collect();
        assert_eq!(texts, ["A:1", "B:2", "C:3x", "D:4"]);
        assert_eq!(lines[3].0, 6);
    }

    #[test]
    fn unfold_reads_latin1_when_not_utf8() {
        let lines = unfold(b"SUMMARY:Caf\xE9\r\n");
        assert_eq!(lines[0].1, "SUMMARY:Café");
    }

    #[test]
    fn parse_line_splits_quoted_parameters() {
        let line = parse_line(
            7,
            "attendee;CN=\"Doe, Jane: ^'J^'\";ROLE=CHAIR;X=a,\"b;c\":mailto:jane@example.org",
        )
        .unwrap();
        assert_eq!(line.name, "ATTENDEE");
        assert_eq!(line.param("CN"), Some("Doe, Jane: \"J\""));
        assert_eq!(line.param("ROLE"), Some("CHAIR"));
        assert_eq!(line.params[2].values, ["a", "b;c"]);
        assert_eq!(line.value, "mailto:jane@example.org");
    }

    #[test]
    fn parse_line_rejects_line_without_colon() {
        let error = parse_line(3, "this is not a property").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.reason.contains("NAME:VALUE"), "{}", error.reason);
    }
}
