//! The signer: which header fields are signed, the hashes, and the `DKIM-Signature` field.

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use thiserror::Error;
use tracing::debug;

use crate::address::check_domain;

use super::canonicalize::{self, Canonicalization};
use super::fold::FoldingWriter;
use super::header::NormalizedMessage;
use super::key::{MAX_RSA_BITS, PrimitiveError, PrivateKey};

/// The header fields signed when present: `From`, which every message has exactly once,
/// and the fields that a reader sees or that decide how the body is shown.
///
/// Each one that is present is listed once more in `h=` than it occurs, so a verifier
/// rejects the message if another field of that name is added later (RFC 6376, section
/// 5.4). A valid message has each of them at most once (RFC 5322, section 3.6, for all but
/// the MIME fields), so the extra entry can only ever match a field added after signing.
/// Absent fields are not listed, so that a forwarder may still add, for example, `Cc`.
const SIGNED_FIELDS: [&str; 9] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
];

/// The position of `From` in [`SIGNED_FIELDS`].
const FROM: usize = 0;

/// The header fields of one message that a signature covers.
struct Selection {
    /// For each field of the message, in order, its position in [`SIGNED_FIELDS`], if any.
    kinds: Vec<Option<usize>>,
    /// For each name in [`SIGNED_FIELDS`], how many fields of that name the message has.
    counts: [usize; SIGNED_FIELDS.len()],
}

impl Selection {
    fn new(message: &NormalizedMessage) -> Selection {
        let mut counts = [0; SIGNED_FIELDS.len()];
        let kinds = message
            .fields
            .iter()
            .map(|field| {
                let name = message.name(field);
                let kind = SIGNED_FIELDS
                    .iter()
                    .position(|signed| signed.as_bytes().eq_ignore_ascii_case(name));
                if let Some(kind) = kind {
                    counts[kind] += 1;
                }
                kind
            })
            .collect();
        Selection { kinds, counts }
    }

    /// Returns the `h=` list: every name of [`SIGNED_FIELDS`] that is present, each once
    /// more than it occurs.
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        SIGNED_FIELDS
            .iter()
            .zip(self.counts)
            .filter(|&(_, count)| count > 0)
            .flat_map(|(&name, count)| std::iter::repeat_n(name, count + 1))
    }

    /// Appends the canonical form of the selected fields in the order of [`Self::names`].
    ///
    /// A verifier takes, for each name in `h=`, the last field of that name not yet taken
    /// (RFC 6376, section 5.4.2). So repeated fields are signed from the bottom up, and the
    /// extra entry of each name has no field left and adds nothing.
    fn append_fields(
        &self,
        message: &NormalizedMessage,
        canonicalization: Canonicalization,
        output: &mut Vec<u8>,
    ) {
        for kind in (0..SIGNED_FIELDS.len()).filter(|&kind| self.counts[kind] > 0) {
            for (field, _) in message
                .fields
                .iter()
                .zip(&self.kinds)
                .rev()
                .filter(|&(_, &field_kind)| field_kind == Some(kind))
            {
                canonicalize::append_header(canonicalization, message.field_bytes(field), output);
            }
        }
    }
}

/// Settings of a [`Signer`]: who signs, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerConfig {
    /// The signing domain, `d=`, such as `convene.example`. Receivers check DMARC alignment
    /// against the domain of the `From` address, so it should be that domain or a parent.
    pub domain: String,
    /// The selector, `s=`: the public key is looked up at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The canonicalization of header fields. Default: relaxed.
    pub header_canonicalization: Canonicalization,
    /// The canonicalization of the body. Default: relaxed.
    pub body_canonicalization: Canonicalization,
    /// When set, signatures carry `x=`, the signing time plus this duration, after which
    /// verifiers treat them as invalid. Default: none.
    pub expiration: Option<Duration>,
}

impl SignerConfig {
    /// Creates settings for `domain` and `selector` with relaxed canonicalization and no
    /// expiration.
    pub fn new(domain: impl Into<String>, selector: impl Into<String>) -> SignerConfig {
        SignerConfig {
            domain: domain.into(),
            selector: selector.into(),
            header_canonicalization: Canonicalization::Relaxed,
            body_canonicalization: Canonicalization::Relaxed,
            expiration: None,
        }
    }
}

/// The reason [`Signer::new`] rejected its settings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The signing domain is not a host name.
    #[error("invalid DKIM domain {domain:?}: {reason}; use the domain of the From address")]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    /// The selector is not a sequence of DNS labels.
    #[error("invalid DKIM selector {selector:?}: {reason}; use DNS labels such as \"mail2026\"")]
    InvalidSelector {
        selector: String,
        reason: &'static str,
    },
    /// The expiration is shorter than one second, so `x=` would not be after `t=`.
    #[error("invalid DKIM expiration {expiration:?}: it must be at least one second")]
    ExpirationTooShort { expiration: Duration },
}

/// The reason [`Signer::sign`] could not sign a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignError {
    /// A line of the header is neither a field nor a continuation of one.
    #[error("invalid message: header line {line} is not a header field because {reason}")]
    InvalidHeaderLine {
        /// The line number, counted from 1.
        line: usize,
        reason: &'static str,
    },
    /// The message does not have exactly one `From` field, which RFC 5322 requires and
    /// DKIM must sign.
    #[error("invalid message: it has {count} From header fields, but exactly one is required")]
    FromCount { count: usize },
    /// The signing time is before 1970, which `t=` cannot express.
    #[error("invalid DKIM signing time {time}: it is before 1970; check the system clock")]
    TimeBeforeEpoch { time: Timestamp },
    /// The signature primitive failed.
    #[error(transparent)]
    Primitive(#[from] PrimitiveError),
}

/// Signs messages with one key for one domain and selector.
///
/// A signer is immutable, so one instance can sign from many tasks at once.
#[derive(Debug)]
pub struct Signer {
    config: SignerConfig,
    key: PrivateKey,
}

impl Signer {
    /// Creates a signer after checking `config`.
    ///
    /// # Errors
    ///
    /// Returns an error when the domain or selector is not a valid DNS name or the
    /// expiration is shorter than a second.
    pub fn new(config: SignerConfig, key: PrivateKey) -> Result<Signer, ConfigError> {
        check_domain(&config.domain).map_err(|reason| ConfigError::InvalidDomain {
            domain: config.domain.clone(),
            reason,
        })?;
        check_domain(&config.selector).map_err(|reason| ConfigError::InvalidSelector {
            selector: config.selector.clone(),
            reason,
        })?;
        if let Some(expiration) = config.expiration
            && expiration < Duration::from_secs(1)
        {
            return Err(ConfigError::ExpirationTooShort { expiration });
        }
        Ok(Signer { config, key })
    }

    /// Returns the settings.
    pub fn config(&self) -> &SignerConfig {
        &self.config
    }

    /// Returns the signing key, whose `Debug` output shows only its algorithm and size.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Signs `message` with the current time as `t=`. See [`Signer::sign_at`].
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_at(message, Timestamp::now())
    }

    /// Signs `message`, the complete message as [`Message::to_bytes`](crate::Message)
    /// builds it, and returns it with a `DKIM-Signature` field in front.
    ///
    /// The message is first normalized as the SMTP transport sends it: every line ending
    /// becomes CRLF and the last line gets one. The returned message is that normalized
    /// form, so sending it changes nothing that the signature covers. The field signs
    /// `From` and, when present, `To`, `Cc`, `Subject`, `Date`, `Message-ID`, `Reply-To`,
    /// `MIME-Version` and `Content-Type`, each listed in `h=` once more than it occurs, so
    /// that adding another such field breaks the signature. It has no `l=` tag, so the
    /// whole body is signed.
    ///
    /// # Errors
    ///
    /// Returns an error when a header line is malformed, the message does not have exactly
    /// one `From` field, `now` is before 1970 or the signature primitive fails.
    pub fn sign_at(&self, message: &[u8], now: Timestamp) -> Result<Vec<u8>, SignError> {
        // An Ed25519 signature takes only about 8 µs, so the work around it shows in the
        // cost of a call. That work is kept to the hashing that RFC 6376 requires and one
        // copy of the message. The input is borrowed when its line endings are already CRLF,
        // the checks for whitespace that canonicalization would change are vectorized, and
        // the field is written into one buffer.
        let message = NormalizedMessage::parse(message)?;
        let selection = Selection::new(&message);
        if selection.counts[FROM] != 1 {
            return Err(SignError::FromCount {
                count: selection.counts[FROM],
            });
        }
        let signed_at =
            u64::try_from(now.as_second()).map_err(|_| SignError::TimeBeforeEpoch { time: now })?;

        // The body hash, bh=.
        let canonical_body = canonicalize::body(self.config.body_canonicalization, message.body());
        let body_hash = digest(&SHA256, &canonical_body);

        // The field without the signature value, which is part of the signed data.
        let mut field = self.unsigned_field(signed_at, &selection, body_hash.as_ref());

        // The signed data: the selected fields, then this field without its final CRLF.
        let mut signed_data = Vec::with_capacity(1024);
        selection.append_fields(
            &message,
            self.config.header_canonicalization,
            &mut signed_data,
        );
        match self.config.header_canonicalization {
            Canonicalization::Simple => signed_data.extend_from_slice(field.as_str().as_bytes()),
            Canonicalization::Relaxed => canonicalize::append_relaxed_header_without_crlf(
                field.as_str().as_bytes(),
                &mut signed_data,
            ),
        }

        let signature = self.key.sign(&signed_data)?;
        let mut encoded = [0; base64_len(MAX_SIGNATURE_LEN)];
        field.push_breakable(encode_base64(&signature, &mut encoded));

        let mut output = Vec::with_capacity(field.as_str().len() + 2 + message.bytes.len());
        output.extend_from_slice(field.as_str().as_bytes());
        output.extend_from_slice(b"\r\n");
        output.extend_from_slice(&message.bytes);
        debug!(
            domain = %self.config.domain,
            selector = %self.config.selector,
            algorithm = %self.key.algorithm(),
            "signed message with DKIM"
        );
        Ok(output)
    }

    /// Builds the `DKIM-Signature` field up to and including `b=`.
    ///
    /// `b=` starts its own line and the value will follow it directly, so that removing
    /// the value, as verifiers do before hashing (RFC 6376, section 3.5), restores exactly
    /// this text under both canonicalizations.
    fn unsigned_field(
        &self,
        signed_at: u64,
        selection: &Selection,
        body_hash: &[u8],
    ) -> FoldingWriter {
        let config = &self.config;
        let mut field = FoldingWriter::new("DKIM-Signature:");
        field.push_after_space(&["v=1;"]);
        field.push_after_space(&["a=", self.key.algorithm().name(), ";"]);
        field.push_after_space(&[
            "c=",
            config.header_canonicalization.name(),
            "/",
            config.body_canonicalization.name(),
            ";",
        ]);
        field.push_after_space(&["d=", &config.domain, ";"]);
        field.push_after_space(&["s=", &config.selector, ";"]);
        let mut digits = [0; 20];
        field.push_after_space(&["t=", decimal(signed_at, &mut digits), ";"]);
        if let Some(expiration) = config.expiration {
            let expires_at = signed_at.saturating_add(expiration.as_secs());
            field.push_after_space(&["x=", decimal(expires_at, &mut digits), ";"]);
        }

        let mut names = selection.names().peekable();
        let mut first = true;
        while let Some(name) = names.next() {
            let separator = if names.peek().is_some() { ":" } else { ";" };
            if first {
                field.push_after_space(&["h=", name, separator]);
                first = false;
            } else {
                field.push_joined(&[name, separator]);
            }
        }
        let mut encoded = [0; base64_len(32)];
        field.push_after_space(&["bh=", encode_base64(body_hash, &mut encoded), ";"]);
        field.push_on_new_line("b=");
        field
    }
}

/// The length of the longest signature, made with an RSA key of [`MAX_RSA_BITS`] bits.
const MAX_SIGNATURE_LEN: usize = MAX_RSA_BITS as usize / 8;

/// Returns the length of the padded base64 encoding of `len` bytes.
const fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Writes the base64 encoding of `bytes` into `buffer` and returns it.
///
/// # Panics
///
/// Panics if `buffer` is shorter than `base64_len(bytes.len())`.
fn encode_base64<'a>(bytes: &[u8], buffer: &'a mut [u8]) -> &'a str {
    let len = STANDARD
        .encode_slice(bytes, buffer)
        .expect("the buffer is as long as the encoding");
    std::str::from_utf8(&buffer[..len]).expect("base64 is ASCII")
}

/// Writes `value` in decimal into `buffer` and returns it, without the allocation that
/// `format!` makes.
fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[start..]).expect("decimal digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_names_oversign_present_fields() {
        let message = NormalizedMessage::parse(
            b"From: a@b.test\r\nTo: c@d.test\r\nTo: e@f.test\r\nSubject: x\r\nX-Other: y\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            Selection::new(&message).names().collect::<Vec<_>>(),
            ["From", "From", "To", "To", "To", "Subject", "Subject"]
        );
    }
}
