//! Web Push subscriptions: where a person's browsers receive push messages.

use crate::{PushSubscriptionId, UserId, ValidationError};

/// Maximum length of a push endpoint URL, in octets.
pub const MAX_ENDPOINT_OCTETS: usize = 2048;

/// A browser's push subscription (RFC 8030), as the browser's Push API reports it and its
/// owner registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub id: PushSubscriptionId,
    pub user: UserId,
    /// The push service's URL for this browser; messages are POSTed to it.
    pub endpoint: String,
    /// The browser's P-256 public key, an uncompressed point of 65 octets, in base64url.
    pub p256dh: String,
    /// The browser's 16-octet authentication secret, in base64url.
    pub auth: String,
    pub created_at: jiff::Timestamp,
}

/// A validated request to register a push subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPushSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

impl NewPushSubscription {
    /// Checks the endpoint's form (an `https` or `http` URL with a host) and that both keys
    /// are base64url text of the lengths RFC 8291 gives them. Field names follow the
    /// browser's `PushSubscription.toJSON()`: `endpoint`, `keys/p256dh`, `keys/auth`.
    pub fn new(
        endpoint: &str,
        p256dh: &str,
        auth: &str,
    ) -> Result<NewPushSubscription, ValidationError> {
        let rest = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty()
        });
        if !host_ok
            || endpoint.len() > MAX_ENDPOINT_OCTETS
            || endpoint
                .bytes()
                .any(|byte| byte.is_ascii_control() || byte == b' ')
        {
            return Err(ValidationError::new(
                "endpoint",
                format!(
                    "must be the https URL that the browser's push subscription reports, at most {MAX_ENDPOINT_OCTETS} octets"
                ),
            ));
        }
        Ok(NewPushSubscription {
            endpoint: endpoint.to_owned(),
            p256dh: base64url_of_length("keys/p256dh", p256dh, 65, "a P-256 public key")?,
            auth: base64url_of_length("keys/auth", auth, 16, "an authentication secret")?,
        })
    }
}

/// Checks that `value` is base64url (padding allowed) of exactly `octets` octets and returns
/// it without padding.
fn base64url_of_length(
    field: &str,
    value: &str,
    octets: usize,
    kind: &str,
) -> Result<String, ValidationError> {
    let trimmed = value.trim_end_matches('=');
    let alphabet_ok = trimmed
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    // Unpadded base64 of n octets has ceil(4n / 3) characters.
    if !alphabet_ok || trimmed.len() != (4 * octets).div_ceil(3) {
        return Err(ValidationError::new(
            field,
            format!(
                "must be {kind} of {octets} octets in base64url, as the browser's PushSubscription.toJSON() gives it"
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256DH: &str =
        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";
    const AUTH: &str = "tBHItJI5svbpez7KI4CCXg";

    #[test]
    fn accepts_a_browser_subscription() {
        let sub =
            NewPushSubscription::new("https://push.example.test/send/abc", P256DH, AUTH).unwrap();
        assert_eq!(sub.p256dh, P256DH);
        let padded = NewPushSubscription::new(
            "https://push.example.test/x",
            P256DH,
            "tBHItJI5svbpez7KI4CCXg==",
        )
        .unwrap();
        assert_eq!(padded.auth, AUTH);
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            ("ftp://push.example.test/x", P256DH, AUTH, "endpoint"),
            ("https:///x", P256DH, AUTH, "endpoint"),
            ("https://push.example.test/x y", P256DH, AUTH, "endpoint"),
            (
                "https://push.example.test/x",
                &P256DH[1..],
                AUTH,
                "keys/p256dh",
            ),
            (
                "https://push.example.test/x",
                P256DH,
                "tBHItJI5svbpez7KI4CC+g",
                "keys/auth",
            ),
        ];
        for (endpoint, p256dh, auth, field) in cases {
            let err = NewPushSubscription::new(endpoint, p256dh, auth).unwrap_err();
            assert_eq!(err.field, field, "{endpoint} {p256dh} {auth}");
        }
    }
}
