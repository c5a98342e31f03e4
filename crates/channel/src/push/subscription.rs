//! A browser's push subscription: the endpoint and the keys that messages are encrypted to.

use std::fmt;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use reqwest::Url;
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;

use crate::http;

/// Octets of an uncompressed P-256 point: the prefix 0x04 and two 32-octet coordinates.
pub(crate) const PUBLIC_KEY_BYTES: usize = 65;
/// Octets of the authentication secret (RFC 8291, section 3.2).
pub(crate) const AUTH_SECRET_BYTES: usize = 16;

/// base64url, with or without padding: browsers omit it, some libraries add it.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A browser's push subscription, checked and decoded.
///
/// `Debug` shows the endpoint's host only, because anyone with the endpoint URL can send
/// to the browser, and leaves the authentication secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct Subscription {
    endpoint: Url,
    p256dh: [u8; PUBLIC_KEY_BYTES],
    auth: [u8; AUTH_SECRET_BYTES],
}

/// A subscription field that is invalid, named as in the browser's
/// `PushSubscription.toJSON()`: `endpoint`, `keys/p256dh` or `keys/auth`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct SubscriptionError {
    pub field: &'static str,
    /// The problem, without the field's value when that is a key.
    pub reason: String,
}

impl Subscription {
    /// Reads a subscription as the browser's `PushSubscription.toJSON()` gives it: the
    /// endpoint URL, the P-256 public key `p256dh` and the authentication secret `auth`,
    /// both in base64url.
    ///
    /// The endpoint may be `http` here; [`PushClient`](super::PushClient) sends to it only
    /// when its settings allow plain HTTP.
    ///
    /// # Errors
    ///
    /// Returns an error naming the field that is not a URL, not base64url, of the wrong
    /// length, or not a point on the P-256 curve.
    pub fn new(
        endpoint: &str,
        p256dh: &str,
        auth: &str,
    ) -> Result<Subscription, SubscriptionError> {
        let error = |field, reason: String| SubscriptionError { field, reason };

        let endpoint = Url::parse(endpoint).map_err(|parse_error| {
            error(
                "endpoint",
                format!("not a URL ({parse_error}); give the endpoint that the browser's push subscription reports"),
            )
        })?;
        http::check_parsed_url("endpoint", &endpoint, true)
            .map_err(|config_error| error("endpoint", config_error.reason))?;

        let p256dh: [u8; PUBLIC_KEY_BYTES] = decode_key(p256dh).map_err(|reason| {
            error(
                "keys/p256dh",
                format!("{reason}; give the browser's P-256 public key, 65 octets in base64url"),
            )
        })?;
        if p256dh[0] != 0x04 || !is_p256_point(&p256dh) {
            return Err(error(
                "keys/p256dh",
                "not an uncompressed point on the P-256 curve; give the key that the browser's getKey(\"p256dh\") reports".to_owned(),
            ));
        }
        let auth: [u8; AUTH_SECRET_BYTES] = decode_key(auth).map_err(|reason| {
            error(
                "keys/auth",
                format!(
                    "{reason}; give the browser's authentication secret, 16 octets in base64url"
                ),
            )
        })?;

        Ok(Subscription {
            endpoint,
            p256dh,
            auth,
        })
    }

    /// Returns the URL that messages are POSTed to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub(crate) fn p256dh(&self) -> &[u8; PUBLIC_KEY_BYTES] {
        &self.p256dh
    }

    pub(crate) fn auth(&self) -> &[u8; AUTH_SECRET_BYTES] {
        &self.auth
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Subscription")
            .field("endpoint_host", &http::destination(&self.endpoint))
            .finish_non_exhaustive()
    }
}

/// Decodes base64url text of exactly `N` octets.
fn decode_key<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let bytes = BASE64URL
        .decode(text)
        .map_err(|_| "not base64url".to_owned())?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{} octets instead of {N}", bytes.len()))
}

/// Checks that `point` is on the P-256 curve by agreeing a key with it. ring has no separate
/// check, but agrees keys only with valid points.
fn is_p256_point(point: &[u8]) -> bool {
    let Ok(private_key) = EphemeralPrivateKey::generate(&ECDH_P256, &SystemRandom::new()) else {
        return false;
    };
    agreement::agree_ephemeral(
        private_key,
        &UnparsedPublicKey::new(&ECDH_P256, point),
        |_| (),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A subscription from RFC 8291, appendix A.
    const ENDPOINT: &str = "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV";
    const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn reads_browser_subscription() {
        let subscription = Subscription::new(ENDPOINT, P256DH, AUTH).unwrap();
        assert_eq!(subscription.endpoint().as_str(), ENDPOINT);
        assert_eq!(subscription.p256dh()[0], 0x04);
        let padded = Subscription::new(ENDPOINT, P256DH, "BTBZMqHH6r4Tts7J_aSIgg==").unwrap();
        assert_eq!(padded.auth(), subscription.auth());
    }

    #[test]
    fn names_the_invalid_field() {
        let mut off_curve = BASE64URL.decode(P256DH).unwrap();
        off_curve[64] ^= 1;
        let off_curve = BASE64URL.encode(off_curve);
        let cases = [
            ("push.example.net/x", P256DH, AUTH, "endpoint", "not a URL"),
            (
                "ftp://push.example.net/x",
                P256DH,
                AUTH,
                "endpoint",
                "scheme",
            ),
            (
                ENDPOINT,
                &P256DH[..40],
                AUTH,
                "keys/p256dh",
                "octets instead of 65",
            ),
            (ENDPOINT, "BCVx+r7N", AUTH, "keys/p256dh", "base64url"),
            (ENDPOINT, &off_curve, AUTH, "keys/p256dh", "P-256"),
            (
                ENDPOINT,
                P256DH,
                "BTBZMqHH6r4Tts7J",
                "keys/auth",
                "octets instead of 16",
            ),
        ];
        for (endpoint, p256dh, auth, field, expected) in cases {
            let error = Subscription::new(endpoint, p256dh, auth).unwrap_err();
            assert_eq!(error.field, field, "{error}");
            assert!(error.reason.contains(expected), "{error}");
        }
    }

    #[test]
    fn debug_shows_host_only() {
        let subscription = Subscription::new(ENDPOINT, P256DH, AUTH).unwrap();
        let printed = format!("{subscription:?}");
        assert!(printed.contains("push.example.net"), "{printed}");
        assert!(!printed.contains("JzLQ3raZ"), "{printed}");
    }
}
