//! Email addresses and mailboxes.

use std::fmt;

use thiserror::Error;

/// Maximum length of a local part in octets (RFC 5321, section 4.5.3.1.1).
const MAX_LOCAL_PART_LEN: usize = 64;

/// Maximum length of a domain in octets (RFC 5321, section 4.5.3.1.2).
const MAX_DOMAIN_LEN: usize = 255;

/// Maximum length of one DNS label in octets (RFC 1035, section 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Maximum length of a whole address: a path is at most 256 octets including the two angle
/// brackets (RFC 5321, section 4.5.3.1.3).
const MAX_ADDRESS_LEN: usize = 254;

/// An email address of the form `local@domain`, safe to put into an SMTP command or a header.
///
/// The local part is kept as given, because its case may matter to the receiving server.
/// The domain is stored in lowercase, because domain names are case-insensitive.
///
/// Only what SMTP without extensions carries is accepted: ASCII addresses whose local part
/// is a dot-atom (letters, digits, dots and ``!#$%&'*+-/=?^_`{|}~``) and whose domain is a
/// host name. Quoted local parts, address literals such as `user@[192.0.2.1]` and
/// internationalized addresses (which need the SMTPUTF8 extension) are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(String);

/// The reason an address was rejected by [`Address::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// The address is empty.
    #[error("invalid email address: empty")]
    Empty,
    /// The address contains a character that could end an SMTP command or a header line, or
    /// separate words (CR, LF, NUL, space, tab or another control character).
    #[error("invalid email address {address:?}: contains control character or space {character:?}")]
    ControlCharacter { address: String, character: char },
    /// The address contains a character outside ASCII.
    #[error(
        "invalid email address {address:?}: contains non-ASCII character {character:?} \
         (internationalized addresses need SMTPUTF8, which is not supported)"
    )]
    NonAscii { address: String, character: char },
    /// The address has no `@`.
    #[error("invalid email address {address:?}: missing '@'")]
    MissingAt { address: String },
    /// The part before the `@` is empty, too long, or contains a character not allowed in a
    /// dot-atom.
    #[error("invalid email address {address:?}: invalid local part ({reason})")]
    InvalidLocalPart {
        address: String,
        reason: &'static str,
    },
    /// The part after the `@` is missing or not a valid host name.
    #[error("invalid email address {address:?}: invalid domain ({reason})")]
    InvalidDomain {
        address: String,
        reason: &'static str,
    },
    /// The whole address is longer than an SMTP path allows.
    #[error("invalid email address: {len} octets long, the maximum is {MAX_ADDRESS_LEN}")]
    TooLong { len: usize },
}

impl Address {
    /// Parses and validates `local@domain`.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(character) = input.chars().find(|c| c.is_ascii_control() || *c == ' ') {
            return Err(AddressError::ControlCharacter {
                address: input.to_owned(),
                character,
            });
        }
        if let Some(character) = input.chars().find(|c| !c.is_ascii()) {
            return Err(AddressError::NonAscii {
                address: input.to_owned(),
                character,
            });
        }
        if input.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong { len: input.len() });
        }

        // A dot-atom local part contains no '@', so the first '@' ends it.
        let Some((local_part, domain)) = input.split_once('@') else {
            return Err(AddressError::MissingAt {
                address: input.to_owned(),
            });
        };
        if let Err(reason) = check_local_part(local_part) {
            return Err(AddressError::InvalidLocalPart {
                address: input.to_owned(),
                reason,
            });
        }
        if let Err(reason) = check_domain(domain) {
            return Err(AddressError::InvalidDomain {
                address: input.to_owned(),
                reason,
            });
        }
        Ok(Address(format!(
            "{local_part}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    /// Returns the address as `local@domain`, with the domain in lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the part before the `@`.
    pub fn local_part(&self) -> &str {
        let (local_part, _) = self
            .0
            .split_once('@')
            .expect("a parsed address contains '@'");
        local_part
    }

    /// Returns the domain in lowercase.
    pub fn domain(&self) -> &str {
        let (_, domain) = self
            .0
            .split_once('@')
            .expect("a parsed address contains '@'");
        domain
    }
}

impl fmt::Display for Address {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Address, AddressError> {
        Address::parse(input)
    }
}

/// An address with an optional display name, as in `"Ada Lovelace" <ada@example.test>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name. [`Message::to_bytes`](crate::Message::to_bytes) rejects names that
    /// contain CR, LF or NUL and encodes the rest as the header syntax requires.
    pub name: Option<String>,
    /// The address.
    pub address: Address,
}

impl Mailbox {
    /// Creates a mailbox with a display name.
    pub fn new(name: impl Into<String>, address: Address) -> Mailbox {
        Mailbox {
            name: Some(name.into()),
            address,
        }
    }
}

impl From<Address> for Mailbox {
    fn from(address: Address) -> Mailbox {
        Mailbox {
            name: None,
            address,
        }
    }
}

fn check_local_part(local_part: &str) -> Result<(), &'static str> {
    if local_part.is_empty() {
        return Err("empty");
    }
    if local_part.len() > MAX_LOCAL_PART_LEN {
        return Err("longer than 64 octets");
    }
    if local_part.starts_with('.') || local_part.ends_with('.') || local_part.contains("..") {
        return Err("a dot at the start or end, or two dots in a row");
    }
    if !local_part
        .bytes()
        .all(|byte| byte == b'.' || is_atext(byte))
    {
        return Err("contains a character that needs quoting");
    }
    Ok(())
}

/// Returns whether `byte` is an `atext` character of RFC 5322, section 3.2.3.
fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte)
}

/// Checks that `domain` is a host name: dot-separated labels of letters, digits and inner
/// hyphens, within the DNS length limits.
pub(crate) fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.is_empty() {
        return Err("empty");
    }
    if domain.len() > MAX_DOMAIN_LEN {
        return Err("longer than 255 octets");
    }
    if domain.starts_with('[') {
        return Err("address literals are not supported");
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > MAX_LABEL_LEN {
            return Err("label longer than 63 octets");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("label starts or ends with '-'");
        }
        if !label
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        {
            return Err("label contains a character other than a letter, digit or '-'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_valid_addresses() {
        let cases = [
            ("ada@example.test", "ada", "example.test"),
            ("Ada.Lovelace@Example.TEST", "Ada.Lovelace", "example.test"),
            ("first+tag@mx-1.alpha.test", "first+tag", "mx-1.alpha.test"),
            ("o'hara@a.test", "o'hara", "a.test"),
            ("user@localhost", "user", "localhost"),
        ];
        for (input, local_part, domain) in cases {
            let address = Address::parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
            assert_eq!(address.local_part(), local_part, "{input}");
            assert_eq!(address.domain(), domain, "{input}");
        }
    }

    #[test]
    fn parse_keeps_local_part_case() {
        let address = Address::parse("Ada@EXAMPLE.test").unwrap();
        assert_eq!(address.as_str(), "Ada@example.test");
    }

    #[test]
    fn parse_rejects_injection_characters() {
        let cases = [
            ("ada@example.test\r\nRCPT TO:<eve@evil.test>", '\r'),
            ("ada@example.test\nBcc: eve@evil.test", '\n'),
            ("ada\0@example.test", '\0'),
            ("ada lovelace@example.test", ' '),
            ("ada@exa\tmple.test", '\t'),
        ];
        for (input, expected) in cases {
            match Address::parse(input) {
                Err(AddressError::ControlCharacter { character, .. }) => {
                    assert_eq!(character, expected, "{input:?}");
                }
                other => panic!("{input:?}: expected ControlCharacter, got {other:?}"),
            }
        }
    }

    /// Returns the name of the error variant, so that cases can be written as rows.
    fn variant(error: &AddressError) -> &'static str {
        match error {
            AddressError::Empty => "Empty",
            AddressError::ControlCharacter { .. } => "ControlCharacter",
            AddressError::NonAscii { .. } => "NonAscii",
            AddressError::MissingAt { .. } => "MissingAt",
            AddressError::InvalidLocalPart { .. } => "InvalidLocalPart",
            AddressError::InvalidDomain { .. } => "InvalidDomain",
            AddressError::TooLong { .. } => "TooLong",
        }
    }

    #[test]
    fn parse_rejects_malformed_addresses() {
        let cases = [
            ("", "Empty"),
            ("ada.example.test", "MissingAt"),
            ("@example.test", "InvalidLocalPart"),
            (".ada@example.test", "InvalidLocalPart"),
            ("a..b@example.test", "InvalidLocalPart"),
            ("<ada>@example.test", "InvalidLocalPart"),
            ("\"ada\"@example.test", "InvalidLocalPart"),
            ("ada@", "InvalidDomain"),
            ("ada@example..test", "InvalidDomain"),
            ("ada@example.test>", "InvalidDomain"),
            ("ada@b@example.test", "InvalidDomain"),
            ("ada@[192.0.2.1]", "InvalidDomain"),
            ("ada@-example.test", "InvalidDomain"),
            ("adä@example.test", "NonAscii"),
        ];
        for (input, expected) in cases {
            match Address::parse(input) {
                Err(error) => assert_eq!(variant(&error), expected, "{input:?}: {error}"),
                Ok(address) => panic!("{input:?}: accepted as {address}"),
            }
        }
    }

    #[test]
    fn parse_rejects_overlong_parts() {
        let local_part = "a".repeat(65);
        let long_local = Address::parse(&format!("{local_part}@example.test"));
        assert!(
            matches!(long_local, Err(AddressError::InvalidLocalPart { .. })),
            "{long_local:?}"
        );

        let label = "b".repeat(64);
        let long_label = Address::parse(&format!("ada@{label}.test"));
        assert!(
            matches!(long_label, Err(AddressError::InvalidDomain { .. })),
            "{long_label:?}"
        );

        let domain = vec!["c".repeat(60); 5].join(".");
        let long_address = Address::parse(&format!("ada@{domain}"));
        assert!(
            matches!(long_address, Err(AddressError::TooLong { .. })),
            "{long_address:?}"
        );
    }
}
