//! The Web Push transport against a push service peer that decrypts each message with the
//! `http_ece` package from PyPI and checks the VAPID token with `cryptography`, both
//! independent of the ring code that encrypts and signs here.

use std::path::Path;
use std::time::Duration;

use convene_channel::HttpOptions;
use convene_channel::push::{
    MAX_PAYLOAD_BYTES, PushClient, PushConfig, PushMessage, Subscription, Urgency, VapidKey,
};
use convene_domain::DeliveryOutcome;
use convene_testkit::{HttpPeer, Peer, require_peers, run_python};

const SUBJECT: &str = "mailto:ops@convene.test";

fn client(key_file: &Path, allow_http: bool) -> PushClient {
    PushClient::new(PushConfig {
        vapid_key_file: key_file.to_owned(),
        subject: SUBJECT.to_owned(),
        http: HttpOptions {
            allow_http,
            ..HttpOptions::default()
        },
    })
    .unwrap()
}

fn subscription(service: &HttpPeer, path: &str) -> Subscription {
    let keys = service
        .subscription()
        .expect("the push service made a subscription");
    Subscription::new(&service.url(path), &keys.p256dh, &keys.auth).unwrap()
}

fn message(payload: &[u8]) -> PushMessage<'_> {
    PushMessage {
        payload,
        ttl: Duration::from_secs(3600),
        urgency: Urgency::Normal,
    }
}

/// Starts a push service whose subscription was made with the key at `key_file`.
fn start_service(test: &str, key_file: &Path) -> Option<(HttpPeer, VapidKey)> {
    if !require_peers(test, &[Peer::Python3, Peer::HttpEce]) {
        return None;
    }
    let key = VapidKey::generate(key_file).unwrap();
    let service = HttpPeer::push_service(Some(key.public_key())).expect("the push service starts");
    Some((service, key))
}

#[tokio::test]
async fn push_message_decrypts_and_vapid_verifies() {
    let directory = tempfile::tempdir().unwrap();
    let key_file = directory.path().join("vapid.pem");
    let Some((service, key)) = start_service("push_message_decrypts_and_vapid_verifies", &key_file)
    else {
        return;
    };
    let client = client(&key_file, true);
    assert_eq!(client.public_key(), key.public_key());
    let subscription = subscription(&service, "/push/subscription-1");
    let payload = r#"{"title":"Planning","body":"Tue 3 Mar, 14:00 (Europe/Berlin) · Room 4"}"#;
    let urgent = PushMessage {
        urgency: Urgency::High,
        ..message(payload.as_bytes())
    };

    let first = client.send(&subscription, &urgent).await;
    let second = client.send(&subscription, &message(b"second")).await;

    for outcome in [&first, &second] {
        let attempt = &outcome.attempt;
        assert_eq!(
            attempt.outcome,
            DeliveryOutcome::Delivered,
            "{attempt:?}\n{}",
            service.log()
        );
        assert_eq!(attempt.reply_code, Some(201));
        assert!(!outcome.endpoint_gone);
    }
    let requests = service.requests().unwrap();
    assert_eq!(requests.len(), 2);
    let request = &requests[0];
    assert_eq!(request.error, None);
    assert_eq!(request.path, "/push/subscription-1");
    assert_eq!(request.plaintext.as_deref(), Some(payload));
    let claims = request.claims.as_ref().expect("the service read the token");
    assert_eq!(claims["aud"], service.url(""));
    assert_eq!(claims["sub"], SUBJECT);
    let header = |name: &str| request.headers.get(name).map(String::as_str);
    assert_eq!(header("ttl"), Some("3600"));
    assert_eq!(header("urgency"), Some("high"));
    assert_eq!(header("content-encoding"), Some("aes128gcm"));
    assert_eq!(header("content-type"), Some("application/octet-stream"));

    assert_eq!(requests[1].error, None);
    assert_eq!(requests[1].plaintext.as_deref(), Some("second"));
    assert_eq!(
        requests[1].headers.get("urgency"),
        None,
        "normal urgency is the default"
    );
}

#[tokio::test]
async fn push_other_vapid_key_is_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let Some((service, _)) = start_service(
        "push_other_vapid_key_is_rejected",
        &directory.path().join("subscribed.pem"),
    ) else {
        return;
    };
    let other_key = directory.path().join("other.pem");
    VapidKey::generate(&other_key).unwrap();
    let client = client(&other_key, true);

    let outcome = client
        .send(&subscription(&service, "/push/1"), &message(b"hello"))
        .await;

    let attempt = &outcome.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::PermanentFailure,
        "{attempt:?}"
    );
    assert_eq!(attempt.reply_code, Some(403));
    assert!(
        attempt.reply_text.contains("VAPID"),
        "{}",
        attempt.reply_text
    );
    assert!(!outcome.endpoint_gone);
    let requests = service.requests().unwrap();
    let error = requests[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("not the key"), "{error}");
}

#[tokio::test]
async fn push_service_statuses_are_classified() {
    let directory = tempfile::tempdir().unwrap();
    let key_file = directory.path().join("vapid.pem");
    let Some((service, _)) = start_service("push_service_statuses_are_classified", &key_file)
    else {
        return;
    };
    let client = client(&key_file, true);
    // (path, outcome, status, subscription gone, Retry-After)
    let cases = [
        (
            "/status/410",
            DeliveryOutcome::PermanentFailure,
            410,
            true,
            None,
        ),
        (
            "/status/404",
            DeliveryOutcome::PermanentFailure,
            404,
            true,
            None,
        ),
        (
            "/status/413",
            DeliveryOutcome::PermanentFailure,
            413,
            false,
            None,
        ),
        (
            "/status/429",
            DeliveryOutcome::TemporaryFailure,
            429,
            false,
            None,
        ),
        (
            "/status/503/retry-after/120",
            DeliveryOutcome::TemporaryFailure,
            503,
            false,
            Some(Duration::from_secs(120)),
        ),
    ];
    for (path, expected, status, endpoint_gone, retry_after) in cases {
        let outcome = client
            .send(&subscription(&service, path), &message(b"hello"))
            .await;

        let attempt = &outcome.attempt;
        assert_eq!(attempt.outcome, expected, "{path}: {attempt:?}");
        assert_eq!(attempt.reply_code, Some(status), "{path}");
        assert_eq!(outcome.endpoint_gone, endpoint_gone, "{path}");
        assert_eq!(outcome.retry_after, retry_after, "{path}");
        assert!(
            !attempt.reply_text.contains("/status"),
            "{}",
            attempt.reply_text
        );
    }
}

#[tokio::test]
async fn push_invalid_sends_make_no_request() {
    let directory = tempfile::tempdir().unwrap();
    let key_file = directory.path().join("vapid.pem");
    let Some((service, _)) = start_service("push_invalid_sends_make_no_request", &key_file) else {
        return;
    };
    let https_only = client(&key_file, false);
    let allows_http = client(&key_file, true);
    let subscription = subscription(&service, "/push/1");
    let too_large = vec![b'x'; MAX_PAYLOAD_BYTES + 1];

    let cases = [
        (&https_only, b"hello".as_slice(), "not https"),
        (&allows_http, too_large.as_slice(), "3994 octets"),
    ];
    for (client, payload, text) in cases {
        let outcome = client.send(&subscription, &message(payload)).await;
        let attempt = &outcome.attempt;
        assert_eq!(
            attempt.outcome,
            DeliveryOutcome::PermanentFailure,
            "{attempt:?}"
        );
        assert_eq!(attempt.reply_code, None);
        assert!(attempt.reply_text.contains(text), "{}", attempt.reply_text);
    }
    assert!(service.requests().unwrap().is_empty());
}

#[test]
fn push_loads_key_from_cryptography() {
    if !require_peers(
        "push_loads_key_from_cryptography",
        &[Peer::Python3, Peer::HttpEce],
    ) {
        return;
    }
    // Writes a P-256 key in PKCS#8 and in SEC1 PEM, and the public key in base64url.
    let script = r#"
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
key = ec.generate_private_key(ec.SECP256R1())
public = key.public_key().public_bytes(s.Encoding.X962, s.PublicFormat.UncompressedPoint)
json.dump({
    "pkcs8": key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode(),
    "sec1": key.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()).decode(),
    "public": base64.urlsafe_b64encode(public).rstrip(b"=").decode(),
}, sys.stdout)
"#;
    let output: serde_json::Value = serde_json::from_slice(&run_python(script, b"")).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let pkcs8_file = directory.path().join("pkcs8.pem");
    std::fs::write(&pkcs8_file, output["pkcs8"].as_str().unwrap()).unwrap();

    let key = VapidKey::from_pem_file(&pkcs8_file).unwrap();
    assert_eq!(key.public_key(), output["public"].as_str().unwrap());

    let error = VapidKey::from_pem(output["sec1"].as_str().unwrap().as_bytes()).unwrap_err();
    assert!(
        error.to_string().contains("openssl pkcs8 -topk8"),
        "{error}"
    );
}
