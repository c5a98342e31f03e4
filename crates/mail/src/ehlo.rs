//! The service extensions a server announces in its EHLO reply (RFC 5321, section 4.1.1.1).

use crate::reply::Reply;

/// The extensions from an EHLO reply that the client uses. A server greeted with HELO has
/// none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// STARTTLS (RFC 3207): the session can switch to TLS.
    pub(crate) starttls: bool,
    /// 8BITMIME (RFC 6152): the server accepts `BODY=8BITMIME` for messages with 8-bit data.
    pub(crate) eight_bit_mime: bool,
    /// SIZE (RFC 1870): the maximum message size in octets, where 0 means no limit.
    pub(crate) size: Option<u64>,
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
            if keyword.eq_ignore_ascii_case("STARTTLS") {
                extensions.starttls = true;
            } else if keyword.eq_ignore_ascii_case("8BITMIME") {
                extensions.eight_bit_mime = true;
            } else if keyword.eq_ignore_ascii_case("SIZE") {
                // "SIZE" without a number announces the extension without a fixed limit.
                extensions.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
            }
        }
        extensions
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
        ]);
        let extensions = Extensions::from_ehlo_reply(&reply);
        assert_eq!(
            extensions,
            Extensions {
                starttls: true,
                eight_bit_mime: true,
                size: Some(1024)
            }
        );
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
