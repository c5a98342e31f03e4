//! The service extensions a server announces in its EHLO reply (RFC 5321, section 4.1.1.1).

use crate::reply::Reply;

/// The extensions from an EHLO reply that the client uses. A server greeted with HELO has
/// none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// STARTTLS (RFC 3207): the session can switch to TLS.
    pub(crate) starttls: bool,
    /// PIPELINING (RFC 2920): MAIL, the RCPTs and DATA may be sent without waiting for each
    /// reply.
    pub(crate) pipelining: bool,
    /// 8BITMIME (RFC 6152): the server accepts `BODY=8BITMIME` for messages with 8-bit data.
    pub(crate) eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531): the server accepts UTF-8 addresses. Recorded for the logs only,
    /// because [`Address`](crate::Address) allows ASCII addresses alone, which never need
    /// the `SMTPUTF8` parameter.
    pub(crate) smtputf8: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034): reply texts start with a code such as `5.1.1`, which
    /// stays in the reply text of each result.
    pub(crate) enhanced_status_codes: bool,
    /// SIZE (RFC 1870): the maximum message size in octets, where 0 means no limit.
    pub(crate) size: Option<u64>,
    /// AUTH (RFC 4954): the SASL mechanisms offered, in uppercase.
    pub(crate) auth_mechanisms: Vec<String>,
}

impl Extensions {
    /// Reads the extension keywords from the second and later lines of an EHLO reply.
    /// Keywords are case-insensitive. Unknown keywords and invalid parameters are ignored.
    pub(crate) fn from_ehlo_reply(reply: &Reply) -> Extensions {
        let mut extensions = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            // Some servers still send the pre-standard form `AUTH=PLAIN LOGIN`.
            let (keyword, first_auth_word) = match keyword.split_once('=') {
                Some((keyword, rest)) if keyword.eq_ignore_ascii_case("AUTH") => {
                    (keyword, Some(rest))
                }
                _ => (keyword, None),
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => extensions.starttls = true,
                "PIPELINING" => extensions.pipelining = true,
                "8BITMIME" => extensions.eight_bit_mime = true,
                "SMTPUTF8" => extensions.smtputf8 = true,
                "ENHANCEDSTATUSCODES" => extensions.enhanced_status_codes = true,
                // "SIZE" without a number announces the extension without a fixed limit.
                "SIZE" => {
                    extensions.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "AUTH" => {
                    let mechanisms = first_auth_word.into_iter().chain(words);
                    for mechanism in mechanisms.filter(|word| !word.is_empty()) {
                        let mechanism = mechanism.to_ascii_uppercase();
                        if !extensions.auth_mechanisms.contains(&mechanism) {
                            extensions.auth_mechanisms.push(mechanism);
                        }
                    }
                }
                _ => {}
            }
        }
        extensions
    }

    /// Returns whether the server offers the SASL mechanism `name` (in uppercase).
    pub(crate) fn offers_auth(&self, name: &str) -> bool {
        self.auth_mechanisms.iter().any(|offered| offered == name)
    }

    /// Returns the server's size limit if `message_len` octets exceed it.
    pub(crate) fn exceeded_size_limit(&self, message_len: usize) -> Option<u64> {
        let limit = self.size.filter(|&limit| limit > 0)?;
        (message_len as u64 > limit).then_some(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ehlo_reply(lines: &[&str]) -> Reply {
        Reply {
            code: 250,
            lines: lines.iter().map(|line| line.to_string()).collect(),
        }
    }

    #[test]
    fn from_ehlo_reply_reads_keywords() {
        let reply = ehlo_reply(&[
            "mx.alpha.test",
            "PIPELINING",
            "starttls",
            "SIZE 1024",
            "8BITMIME",
            "SMTPUTF8",
            "EnhancedStatusCodes",
            "AUTH login PLAIN",
            "AUTH=CRAM-MD5 PLAIN",
            "X-UNKNOWN 1 2",
        ]);
        let extensions = Extensions::from_ehlo_reply(&reply);
        assert_eq!(
            extensions,
            Extensions {
                starttls: true,
                pipelining: true,
                eight_bit_mime: true,
                smtputf8: true,
                enhanced_status_codes: true,
                size: Some(1024),
                auth_mechanisms: vec!["LOGIN".into(), "PLAIN".into(), "CRAM-MD5".into()],
            }
        );
        assert!(extensions.offers_auth("PLAIN"));
        assert!(!extensions.offers_auth("XOAUTH2"));
        assert_eq!(extensions.exceeded_size_limit(1024), None);
        assert_eq!(extensions.exceeded_size_limit(1025), Some(1024));
    }

    #[test]
    fn from_ehlo_reply_ignores_greeting_line() {
        // The first line is the server's name and greeting, never a keyword.
        let extensions = Extensions::from_ehlo_reply(&ehlo_reply(&["STARTTLS"]));
        assert_eq!(extensions, Extensions::default());
    }

    #[test]
    fn from_ehlo_reply_treats_bare_size_as_unlimited() {
        let extensions = Extensions::from_ehlo_reply(&ehlo_reply(&["mx", "SIZE", ""]));
        assert_eq!(extensions.size, Some(0));
        assert_eq!(extensions.exceeded_size_limit(usize::MAX), None);
    }
}
