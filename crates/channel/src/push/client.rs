//! The push client: settings, the request and the classification of replies.

use std::path::PathBuf;
use std::time::Duration;

use convene_domain::DeliveryOutcome;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};

use super::encryption::{self, MAX_PAYLOAD_BYTES};
use super::{Subscription, VapidKey};
use crate::ConfigError;
use crate::http::{self, HttpOptions, SendOutcome, Verdict};

/// How long a VAPID token is valid. RFC 8292, section 2 allows at most 24 hours; half of
/// that leaves room for a push service whose clock runs ahead.
const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(12);

/// Settings of a [`PushClient`].
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The PEM file of the VAPID private key, PKCS#8 P-256, such as
    /// [`VapidKey::generate`] writes.
    pub vapid_key_file: PathBuf,
    /// A contact for push service operators, sent as the token's `sub` claim: a `mailto:`
    /// address or an `https:` URL (RFC 8292, section 2.1).
    pub subject: String,
    /// `allow_http` here also permits `http` endpoints.
    pub http: HttpOptions,
}

impl PushConfig {
    /// Creates settings with the default HTTP options.
    pub fn new(vapid_key_file: impl Into<PathBuf>, subject: impl Into<String>) -> PushConfig {
        PushConfig {
            vapid_key_file: vapid_key_file.into(),
            subject: subject.into(),
            http: HttpOptions::default(),
        }
    }
}

/// The urgency of a message for the push service (RFC 8030, section 5.3). Services may
/// hold back less urgent messages to save a device's battery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Urgency {
    VeryLow,
    Low,
    #[default]
    Normal,
    High,
}

impl Urgency {
    fn as_str(self) -> &'static str {
        match self {
            Urgency::VeryLow => "very-low",
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// One message for one subscription.
#[derive(Debug, Clone, Copy)]
pub struct PushMessage<'a> {
    /// The message before encryption, at most [`MAX_PAYLOAD_BYTES`] octets.
    pub payload: &'a [u8],
    /// The time the push service keeps the message while the browser is offline, such as
    /// the time until the event starts. Zero requests delivery now or never. Sent in whole
    /// seconds.
    pub ttl: Duration,
    pub urgency: Urgency,
}

/// Sends Web Push messages signed with one VAPID key.
#[derive(Debug)]
pub struct PushClient {
    http: reqwest::Client,
    vapid: VapidKey,
    subject: String,
    allow_http: bool,
}

impl PushClient {
    /// Reads the VAPID key, checks `config` and builds the client.
    ///
    /// # Errors
    ///
    /// Returns an error naming the setting (`push.vapid_key_file`, `push.subject` or one
    /// under `push.http`) that is invalid.
    pub fn new(config: PushConfig) -> Result<PushClient, ConfigError> {
        check_subject(&config.subject)?;
        let vapid = VapidKey::from_pem_file(&config.vapid_key_file)
            .map_err(|error| ConfigError::new("push.vapid_key_file", error.to_string()))?;
        Ok(PushClient {
            http: http::build_client("push", &config.http)?,
            vapid,
            subject: config.subject,
            allow_http: config.http.allow_http,
        })
    }

    /// Returns the VAPID public key in base64url, the `applicationServerKey` that browsers
    /// must subscribe with.
    pub fn public_key(&self) -> &str {
        self.vapid.public_key()
    }

    /// Encrypts `message` for `subscription`, sends it and classifies the push service's
    /// reply.
    ///
    /// An `http` endpoint while plain HTTP is not allowed, or a payload larger than
    /// [`MAX_PAYLOAD_BYTES`], fails permanently without a request.
    pub async fn send(
        &self,
        subscription: &Subscription,
        message: &PushMessage<'_>,
    ) -> SendOutcome {
        let endpoint = subscription.endpoint();
        let allowed = endpoint.scheme() == "https"
            || (endpoint.scheme() == "http" && self.allow_http && http::is_loopback(endpoint));
        if !allowed {
            return SendOutcome::local(
                DeliveryOutcome::PermanentFailure,
                format!(
                    "the push endpoint at {} uses {}, not https; push services use https, so the subscription is not a real one",
                    http::destination(endpoint),
                    endpoint.scheme()
                ),
            );
        }
        if message.payload.len() > MAX_PAYLOAD_BYTES {
            return SendOutcome::local(
                DeliveryOutcome::PermanentFailure,
                format!(
                    "the push message has {} octets; at most {MAX_PAYLOAD_BYTES} fit in one encrypted record",
                    message.payload.len()
                ),
            );
        }

        let Ok(body) =
            encryption::encrypt(message.payload, subscription.p256dh(), subscription.auth())
        else {
            return SendOutcome::local(
                DeliveryOutcome::TemporaryFailure,
                "encrypting the push message failed in the cryptographic library",
            );
        };
        // The token's audience is the endpoint's origin: scheme, host and any port that is
        // not the scheme's default (RFC 8292, section 2).
        let audience = endpoint.origin().ascii_serialization();
        let expires = Timestamp::now()
            .saturating_add(TOKEN_LIFETIME)
            .unwrap_or(Timestamp::MAX);
        let Ok(authorization) = self.vapid.authorization(&audience, &self.subject, expires) else {
            return SendOutcome::local(
                DeliveryOutcome::TemporaryFailure,
                "signing the VAPID token failed in the cryptographic library",
            );
        };

        let mut request = self
            .http
            .post(endpoint.clone())
            .header(CONTENT_ENCODING, "aes128gcm")
            .header(CONTENT_TYPE, "application/octet-stream")
            .header("TTL", message.ttl.as_secs().to_string())
            .header(AUTHORIZATION, authorization)
            .body(body);
        if message.urgency != Urgency::Normal {
            request = request.header("Urgency", message.urgency.as_str());
        }

        // TODO: endpoints come from users, so one can point Convene at an internal host and
        // read the start of its reply in the attempt's reason. Refusing endpoints that
        // resolve to loopback, private or link-local addresses (with a resolver given to
        // reqwest, and a check of IP literals) would close that, with a setting for tests.
        let reply = match http::send(request, endpoint).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome,
        };
        http::outcome(endpoint, &reply, classify(reply.status))
    }
}

/// Classifies the push service's status.
fn classify(status: StatusCode) -> Verdict {
    let verdict = |outcome, endpoint_gone, advice| Verdict {
        outcome,
        endpoint_gone,
        advice,
    };
    match status.as_u16() {
        200..=299 => verdict(DeliveryOutcome::Delivered, false, None),
        404 | 410 => verdict(
            DeliveryOutcome::PermanentFailure,
            true,
            Some("the subscription expired or was removed; delete it"),
        ),
        413 => verdict(
            DeliveryOutcome::PermanentFailure,
            false,
            Some("the push service takes no message this large"),
        ),
        400 | 401 | 403 => verdict(
            DeliveryOutcome::PermanentFailure,
            false,
            Some(
                "the push service rejected the request or its VAPID authorization; check push.subject and that the browser subscribed with this server's VAPID public key",
            ),
        ),
        408 | 429 | 500..=599 => verdict(DeliveryOutcome::TemporaryFailure, false, None),
        300..=399 => verdict(
            DeliveryOutcome::PermanentFailure,
            false,
            Some("the push service redirects, which RFC 8030 does not provide for"),
        ),
        400..=499 => verdict(DeliveryOutcome::PermanentFailure, false, None),
        // A status outside the classes HTTP defines is no reason to give up, so the
        // message is retried.
        _ => verdict(DeliveryOutcome::TemporaryFailure, false, None),
    }
}

/// Checks that `subject` is a `mailto:` address or an `https:` URL.
fn check_subject(subject: &str) -> Result<(), ConfigError> {
    let valid = match subject.split_once(':') {
        Some(("mailto", address)) => address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty()),
        Some(("https", _)) => http::check_url("push.subject", subject, false).is_ok(),
        _ => false,
    };
    if valid && !subject.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "push.subject",
            format!(
                "{subject:?} is not a contact; give a mailto: address or an https: URL, such as mailto:ops@example.org"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        use DeliveryOutcome::*;
        let cases = [
            (200, Delivered, false),
            (201, Delivered, false),
            (202, Delivered, false),
            (301, PermanentFailure, false),
            (400, PermanentFailure, false),
            (401, PermanentFailure, false),
            (403, PermanentFailure, false),
            (404, PermanentFailure, true),
            (408, TemporaryFailure, false),
            (410, PermanentFailure, true),
            (413, PermanentFailure, false),
            (429, TemporaryFailure, false),
            (500, TemporaryFailure, false),
            (503, TemporaryFailure, false),
        ];
        for (status, outcome, endpoint_gone) in cases {
            let verdict = classify(StatusCode::from_u16(status).unwrap());
            assert_eq!(verdict.outcome, outcome, "{status}");
            assert_eq!(verdict.endpoint_gone, endpoint_gone, "{status}");
        }
    }

    #[test]
    fn vapid_rejections_say_so() {
        for status in [400, 401, 403] {
            let verdict = classify(StatusCode::from_u16(status).unwrap());
            assert!(verdict.advice.unwrap().contains("VAPID"), "{status}");
        }
    }

    #[test]
    fn subject_is_mailto_or_https() {
        for valid in ["mailto:ops@example.org", "https://example.org/contact"] {
            assert!(check_subject(valid).is_ok(), "{valid}");
        }
        for invalid in [
            "ops@example.org",
            "mailto:",
            "mailto:ops",
            "http://example.org",
            "https://",
            "",
        ] {
            let error = check_subject(invalid).unwrap_err();
            assert_eq!(error.setting, "push.subject", "{invalid}");
        }
    }

    #[test]
    fn missing_key_file_names_setting() {
        let config = PushConfig::new("/nonexistent/vapid.pem", "mailto:ops@example.org");
        let error = PushClient::new(config).unwrap_err();
        assert_eq!(error.setting, "push.vapid_key_file");
        assert!(error.reason.contains("/nonexistent/vapid.pem"), "{error}");
    }
}
