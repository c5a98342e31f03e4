//! The outcome of a delivery attempt for each recipient.

use crate::address::Address;
use crate::reply::Reply;
use crate::tls::TlsDetails;

/// Whether a recipient got the message, and if not, whether a later retry may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// The receiving server accepted responsibility for the message (a 2xx reply to the
    /// final dot).
    Delivered,
    /// Delivery failed in a way that may succeed later: a 4xx reply, a DNS server failure,
    /// a refused connection or a timeout.
    TemporaryFailure,
    /// Delivery failed and retrying will not help: a 5xx reply, a domain that does not exist
    /// or that declares with a null MX record that it accepts no mail.
    PermanentFailure,
}

impl DeliveryStatus {
    /// Maps a reply code to a status: 2xx to delivered, 5xx to permanent and everything
    /// else, including 4xx and unexpected 3xx codes, to temporary.
    pub(crate) fn from_code(code: u16) -> DeliveryStatus {
        match code {
            200..=299 => DeliveryStatus::Delivered,
            500..=599 => DeliveryStatus::PermanentFailure,
            _ => DeliveryStatus::TemporaryFailure,
        }
    }
}

/// The result of delivering a message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient, as passed to [`Mailer::send`](crate::Mailer::send).
    pub recipient: Address,
    /// Whether the message was delivered, and if not, whether to retry.
    pub status: DeliveryStatus,
    /// The MX host of the final attempt, such as `mx.alpha.test`, the recipient's domain
    /// when the domain has no MX record and its own address was used, or the relay's host
    /// when a relay is configured. `None` when no host was tried, for example because the
    /// MX lookup failed.
    pub mx_host: Option<String>,
    /// Whether the transaction that produced this result ran over TLS, after STARTTLS or
    /// with implicit TLS.
    pub tls: bool,
    /// The TLS protocol version of that transaction, such as `TLSv1.3`, or `None` in plain
    /// text.
    pub tls_version: Option<String>,
    /// The TLS cipher suite of that transaction, by its IANA name as rustls spells it,
    /// such as `TLS13_AES_256_GCM_SHA384`, or `None` in plain text.
    pub tls_cipher_suite: Option<String>,
    /// The server's reply code for this recipient: the reply to `RCPT TO` when that failed,
    /// otherwise the reply to the final dot (or to the greeting, EHLO, `MAIL FROM` or `DATA`
    /// when the session ended there). `None` when the failure was local, such as a DNS error,
    /// a refused connection or a timeout.
    pub reply_code: Option<u16>,
    /// The server's reply text for `reply_code`, or a description of the local error.
    pub reply_text: String,
}

/// A status with the reply or local error that caused it, before it is attributed to a
/// recipient, host and connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: DeliveryStatus,
    pub(crate) reply_code: Option<u16>,
    pub(crate) reply_text: String,
}

impl Outcome {
    /// Creates the outcome of a server reply.
    pub(crate) fn from_reply(reply: &Reply) -> Outcome {
        Outcome {
            status: DeliveryStatus::from_code(reply.code),
            reply_code: Some(reply.code),
            reply_text: reply.text(),
        }
    }

    /// Creates the outcome of a reply that ends a session before any transaction, such as
    /// the greeting or the reply to EHLO or AUTH: 5xx is permanent, and every other code,
    /// even 2xx, is temporary, because no message was sent.
    pub(crate) fn from_rejection(reply: &Reply) -> Outcome {
        let status = match DeliveryStatus::from_code(reply.code) {
            DeliveryStatus::PermanentFailure => DeliveryStatus::PermanentFailure,
            DeliveryStatus::Delivered | DeliveryStatus::TemporaryFailure => {
                DeliveryStatus::TemporaryFailure
            }
        };
        Outcome {
            status,
            ..Outcome::from_reply(reply)
        }
    }

    /// Creates a temporary failure from a local error, such as a refused connection.
    pub(crate) fn temporary(description: impl Into<String>) -> Outcome {
        Outcome {
            status: DeliveryStatus::TemporaryFailure,
            reply_code: None,
            reply_text: description.into(),
        }
    }

    /// Creates a permanent failure found locally, such as a domain that does not exist.
    pub(crate) fn permanent(description: impl Into<String>) -> Outcome {
        Outcome {
            status: DeliveryStatus::PermanentFailure,
            reply_code: None,
            reply_text: description.into(),
        }
    }

    pub(crate) fn into_result(
        self,
        recipient: Address,
        mx_host: Option<String>,
        tls: Option<&TlsDetails>,
    ) -> RecipientResult {
        RecipientResult {
            recipient,
            status: self.status,
            mx_host,
            tls: tls.is_some(),
            tls_version: tls.map(|tls| tls.version.clone()),
            tls_cipher_suite: tls.map(|tls| tls.cipher_suite.clone()),
            reply_code: self.reply_code,
            reply_text: self.reply_text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_code_maps_reply_classes() {
        let cases = [
            (250, DeliveryStatus::Delivered),
            (251, DeliveryStatus::Delivered),
            (354, DeliveryStatus::TemporaryFailure),
            (421, DeliveryStatus::TemporaryFailure),
            (452, DeliveryStatus::TemporaryFailure),
            (550, DeliveryStatus::PermanentFailure),
            (554, DeliveryStatus::PermanentFailure),
        ];
        for (code, expected) in cases {
            assert_eq!(DeliveryStatus::from_code(code), expected, "{code}");
        }
    }

    #[test]
    fn from_rejection_never_delivers() {
        let cases = [
            (220, DeliveryStatus::TemporaryFailure),
            (250, DeliveryStatus::TemporaryFailure),
            (334, DeliveryStatus::TemporaryFailure),
            (421, DeliveryStatus::TemporaryFailure),
            (554, DeliveryStatus::PermanentFailure),
        ];
        for (code, expected) in cases {
            let reply = Reply {
                code,
                lines: vec!["text".to_owned()],
            };
            let outcome = Outcome::from_rejection(&reply);
            assert_eq!(outcome.status, expected, "{code}");
            assert_eq!(outcome.reply_code, Some(code), "{code}");
            assert_eq!(outcome.reply_text, "text", "{code}");
        }
    }
}
