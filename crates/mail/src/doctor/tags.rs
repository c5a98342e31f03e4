//! Tag lists (`v=DKIM1; k=rsa; p=...`), the syntax of DKIM key records (RFC 6376,
//! section 3.2) and DMARC records (RFC 7489, section 6.4).

/// A parsed tag list: names and values in record order, whitespace around them removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tags(Vec<(String, String)>);

impl Tags {
    /// Parses `text`, tags separated by `;` with an optional `;` at the end.
    ///
    /// # Errors
    ///
    /// Returns a description of the first problem: a tag without `=`, an empty or invalid
    /// tag name, or a tag that occurs twice, which both RFCs make the record invalid.
    pub(crate) fn parse(text: &str) -> Result<Tags, String> {
        let mut tags: Vec<(String, String)> = Vec::new();
        let specs: Vec<&str> = text.split(';').collect();
        for (index, spec) in specs.iter().enumerate() {
            // Only the last tag may be empty, after a final ';'.
            if spec.trim().is_empty() && index + 1 == specs.len() {
                break;
            }
            let Some((name, value)) = spec.split_once('=') else {
                return Err(format!("{:?} is not of the form name=value", spec.trim()));
            };
            let name = name.trim();
            let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(format!("{name:?} is not a valid tag name"));
            }
            if tags.iter().any(|(existing, _)| existing == name) {
                return Err(format!("the tag {name}= occurs twice"));
            }
            tags.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok(Tags(tags))
    }

    /// Returns the value of the tag `name`, compared case-sensitively.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
    }

    /// Returns the first tag's name and value.
    pub(crate) fn first(&self) -> Option<(&str, &str)> {
        self.0
            .first()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_trims_and_keeps_order() {
        let tags = Tags::parse(" v=DKIM1 ;k = rsa;\tp=AB CD ;").unwrap();
        assert_eq!(tags.first(), Some(("v", "DKIM1")));
        assert_eq!(tags.get("k"), Some("rsa"));
        assert_eq!(tags.get("p"), Some("AB CD"));
        assert_eq!(tags.get("K"), None);
    }

    #[test]
    fn parse_accepts_empty_values() {
        let tags = Tags::parse("v=DKIM1; p=").unwrap();
        assert_eq!(tags.get("p"), Some(""));
    }

    #[test]
    fn parse_rejects_malformed_lists() {
        let rows = [
            ("v=DKIM1; k", "not of the form"),
            ("v=DKIM1;; p=x", "not of the form"),
            ("v=DKIM1; 1k=rsa", "not a valid tag name"),
            ("p=a; p=b", "occurs twice"),
        ];
        for (text, expected) in rows {
            let error = Tags::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
