//! The signing secret and the `v1` signature of the Standard Webhooks specification.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{ConfigError, Secret};

/// The prefix that marks a symmetric signing secret.
const SECRET_PREFIX: &str = "whsec_";

/// The key sizes that the specification allows for HMAC-SHA256, in bytes: at least 24
/// (192 bits) and at most 64 (512 bits).
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The size of a generated key, in bytes.
const GENERATED_KEY_BYTES: usize = 32;

/// Standard base64, with or without padding, as secrets are written by different tools.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The key that signs webhook requests, read from its `whsec_<base64>` form.
///
/// `Debug` leaves the key out.
#[derive(Clone)]
pub struct WebhookSecret {
    key: hmac::Key,
}

impl WebhookSecret {
    /// Reads a secret of the form `whsec_` followed by the base64 of a 24 to 64 byte key.
    ///
    /// # Errors
    ///
    /// Returns an error for the setting `webhook.secret` when the prefix is missing, the
    /// rest is not base64 or the key has another size. The message never contains the
    /// secret.
    pub fn parse(secret: &Secret) -> Result<WebhookSecret, ConfigError> {
        let setting = "webhook.secret";
        let Some(encoded) = secret.expose().strip_prefix(SECRET_PREFIX) else {
            return Err(ConfigError::new(
                setting,
                "does not start with whsec_; give the whsec_ secret that the receiver checks signatures with",
            ));
        };
        let key = Zeroizing::new(LENIENT_BASE64.decode(encoded).map_err(|_| {
            ConfigError::new(setting, "the text after whsec_ is not standard base64")
        })?);
        if !KEY_BYTES.contains(&key.len()) {
            return Err(ConfigError::new(
                setting,
                format!(
                    "the key has {} bytes; the Standard Webhooks specification asks for {} to {}",
                    key.len(),
                    KEY_BYTES.start(),
                    KEY_BYTES.end()
                ),
            ));
        }
        Ok(WebhookSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// Generates a new secret of 32 random bytes in its `whsec_` form, to give to the
    /// receiver and to Convene's settings.
    ///
    /// # Panics
    ///
    /// Panics when the operating system's random number generator fails, which leaves
    /// no safe way to make a key.
    pub fn generate() -> Secret {
        let mut key = Zeroizing::new([0u8; GENERATED_KEY_BYTES]);
        SystemRandom::new()
            .fill(key.as_mut())
            .expect("the operating system's random number generator works");
        Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(key.as_ref())))
    }

    /// Returns the `webhook-signature` value for a message: `v1,` and the base64
    /// HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("WebhookSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_parses_and_differs() {
        let first = WebhookSecret::generate();
        let second = WebhookSecret::generate();
        assert!(first.expose().starts_with("whsec_"));
        assert_ne!(first, second);
        let key = STANDARD
            .decode(&first.expose()[SECRET_PREFIX.len()..])
            .unwrap();
        assert_eq!(key.len(), GENERATED_KEY_BYTES);
        assert!(WebhookSecret::parse(&first).is_ok());
    }

    #[test]
    fn signature_matches_hmac_of_id_timestamp_body() {
        // HMAC-SHA256 with the key "0123456789abcdef01234567" (24 bytes) over
        // "msg_1.1700000000.{}", computed with Python's hmac module.
        let secret = Secret::new(format!(
            "whsec_{}",
            STANDARD.encode("0123456789abcdef01234567")
        ));
        let signer = WebhookSecret::parse(&secret).unwrap();
        assert_eq!(
            signer.sign("msg_1", 1_700_000_000, b"{}"),
            "v1,DjijpYnPcWcWSiPdvC93sCoKwGNWcH97A32JApk39OU="
        );
    }

    #[test]
    fn invalid_secrets_are_rejected_without_echo() {
        let short = format!("whsec_{}", STANDARD.encode([7u8; 16]));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        let unpadded = format!("whsec_{}", STANDARD.encode([7u8; 32]).trim_end_matches('='));
        assert!(WebhookSecret::parse(&Secret::new(unpadded)).is_ok());
        for (text, expected) in [
            ("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "whsec_"),
            ("whsec_not*base64!", "base64"),
            (short.as_str(), "16 bytes"),
            (long.as_str(), "65 bytes"),
        ] {
            let error = WebhookSecret::parse(&Secret::new(text)).unwrap_err();
            assert_eq!(error.setting, "webhook.secret");
            assert!(error.reason.contains(expected), "{text}: {error}");
            assert!(!error.to_string().contains(&text[6..]), "{error}");
        }
    }

    #[test]
    fn debug_hides_key() {
        let secret = WebhookSecret::parse(&WebhookSecret::generate()).unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }
}
