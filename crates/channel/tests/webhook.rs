//! The webhook transport against a receiver that verifies each request with the
//! `standardwebhooks` package from PyPI, an independent implementation of the Standard
//! Webhooks signature scheme.

use std::time::Duration;

use convene_channel::webhook::{
    REMINDER_DUE, ReminderDue, WebhookClient, WebhookConfig, WebhookPayload, WebhookRecipient,
    WebhookSecret,
};
use convene_channel::{HttpOptions, Secret};
use convene_domain::{DeliveryId, DeliveryOutcome};
use convene_testkit::{HttpPeer, Peer, TestCa, require_peers, run_python};

fn payload(delivery: DeliveryId, title: &str) -> WebhookPayload {
    WebhookPayload {
        event_type: REMINDER_DUE.to_owned(),
        timestamp: "2030-01-15T07:45:00Z".to_owned(),
        data: ReminderDue {
            delivery_id: delivery.to_string(),
            event_id: "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f".to_owned(),
            title: title.to_owned(),
            location: None,
            all_day: false,
            start: "2030-01-15T08:00:00Z".to_owned(),
            end: "2030-01-15T09:00:00Z".to_owned(),
            local_start: "2030-01-15T09:00:00+01:00".to_owned(),
            time_zone: "Europe/Berlin".to_owned(),
            offset: "PT15M".to_owned(),
            recipient: WebhookRecipient {
                id: "0190f5d2-7c4e-7b9a-8f3e-000000000001".to_owned(),
                name: "Bob".to_owned(),
                email: "bob@beta.test".to_owned(),
            },
        },
    }
}

fn client(url: String, secret: &Secret) -> WebhookClient {
    WebhookClient::new(WebhookConfig {
        url,
        secret: secret.clone(),
        http: HttpOptions {
            allow_http: true,
            ..HttpOptions::default()
        },
    })
    .unwrap()
}

fn start_receiver(test: &str, secret: &Secret) -> Option<HttpPeer> {
    if !require_peers(test, &[Peer::Python3, Peer::Standardwebhooks]) {
        return None;
    }
    Some(HttpPeer::webhook_receiver(secret.expose()).expect("the webhook receiver starts"))
}

#[tokio::test]
async fn webhook_signature_verifies_with_standardwebhooks() {
    let secret = WebhookSecret::generate();
    let Some(receiver) =
        start_receiver("webhook_signature_verifies_with_standardwebhooks", &secret)
    else {
        return;
    };
    let client = client(receiver.url("/hooks/convene"), &secret);
    let delivery = DeliveryId::generate();
    // Characters outside ASCII must reach the receiver as the same UTF-8 bytes they were
    // signed as.
    let payload = payload(delivery, "Planung für Köln ✓");

    let outcome = client.send(delivery, &payload).await;

    let attempt = &outcome.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::Delivered,
        "{attempt:?}\n{}",
        receiver.log()
    );
    assert_eq!(attempt.reply_code, Some(204));
    assert!(!outcome.endpoint_gone);
    let requests = receiver.requests().unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.error, None);
    assert_eq!(request.path, "/hooks/convene");
    assert_eq!(
        request.headers.get("webhook-id"),
        Some(&delivery.to_string())
    );
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(
        request.payload,
        Some(serde_json::to_value(&payload).unwrap())
    );
}

#[tokio::test]
async fn webhook_id_is_stable_across_retries() {
    let secret = WebhookSecret::generate();
    let Some(receiver) = start_receiver("webhook_id_is_stable_across_retries", &secret) else {
        return;
    };
    let client = client(receiver.url("/"), &secret);
    let first = DeliveryId::generate();
    let second = DeliveryId::generate();

    for delivery in [first, first, second] {
        let outcome = client.send(delivery, &payload(delivery, "Planning")).await;
        assert_eq!(
            outcome.attempt.outcome,
            DeliveryOutcome::Delivered,
            "{:?}",
            outcome.attempt
        );
    }

    let ids: Vec<String> = receiver
        .requests()
        .unwrap()
        .into_iter()
        .map(|request| request.headers["webhook-id"].clone())
        .collect();
    assert_eq!(
        ids,
        [first.to_string(), first.to_string(), second.to_string()]
    );
}

#[tokio::test]
async fn webhook_wrong_secret_fails_permanently() {
    let receiver_secret = WebhookSecret::generate();
    let Some(receiver) = start_receiver("webhook_wrong_secret_fails_permanently", &receiver_secret)
    else {
        return;
    };
    let client = client(receiver.url("/"), &WebhookSecret::generate());
    let delivery = DeliveryId::generate();

    let outcome = client.send(delivery, &payload(delivery, "Planning")).await;

    let attempt = &outcome.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::PermanentFailure,
        "{attempt:?}"
    );
    assert_eq!(attempt.reply_code, Some(400));
    assert!(
        attempt.reply_text.contains("No matching signature"),
        "{}",
        attempt.reply_text
    );
    let requests = receiver.requests().unwrap();
    let error = requests[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("verification failed"), "{error}");
}

#[test]
fn webhook_tampered_body_fails_verification() {
    if !require_peers(
        "webhook_tampered_body_fails_verification",
        &[Peer::Python3, Peer::Standardwebhooks],
    ) {
        return;
    }
    let secret = WebhookSecret::generate();
    let signer = WebhookSecret::parse(&secret).unwrap();
    let body = r#"{"type":"reminder.due","data":{"title":"Planning"}}"#;
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = signer.sign("msg-1", timestamp, body.as_bytes());
    let input = serde_json::json!({
        "secret": secret.expose(),
        "id": "msg-1",
        "timestamp": timestamp.to_string(),
        "signature": signature,
        "body": body,
    });
    // Verifies the signature over the body as sent, over a changed body, and with another
    // timestamp and id, and prints one verdict per case.
    let script = r#"
import json, sys
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
case = json.load(sys.stdin)
webhook = Webhook(case["secret"])
def verdict(body, msg_id, timestamp):
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp,
               "webhook-signature": case["signature"]}
    try:
        webhook.verify(body.encode(), headers)
        return "valid"
    except WebhookVerificationError:
        return "invalid"
body = case["body"]
print(verdict(body, case["id"], case["timestamp"]))
print(verdict(body.replace("Planning", "Plannink"), case["id"], case["timestamp"]))
print(verdict(body, case["id"], str(int(case["timestamp"]) - 1)))
print(verdict(body, "msg-2", case["timestamp"]))
"#;

    let output = run_python(script, input.to_string().as_bytes());

    let verdicts: Vec<String> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(verdicts, ["valid", "invalid", "invalid", "invalid"]);
}

#[tokio::test]
async fn webhook_receiver_statuses_are_classified() {
    let secret = WebhookSecret::generate();
    let Some(receiver) = start_receiver("webhook_receiver_statuses_are_classified", &secret) else {
        return;
    };
    // (path, outcome, status, endpoint gone, Retry-After)
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
        (
            "/status/502",
            DeliveryOutcome::TemporaryFailure,
            502,
            false,
            None,
        ),
    ];
    for (path, expected, status, endpoint_gone, retry_after) in cases {
        let client = client(receiver.url(path), &secret);
        let delivery = DeliveryId::generate();

        let outcome = client.send(delivery, &payload(delivery, "Planning")).await;

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
async fn webhook_https_trusts_configured_ca() {
    if !require_peers(
        "webhook_https_trusts_configured_ca",
        &[Peer::Python3, Peer::Standardwebhooks],
    ) {
        return;
    }
    let ca = TestCa::generate().unwrap();
    let certificate = ca.issue(&["127.0.0.1"]).unwrap();
    let secret = WebhookSecret::generate();
    let receiver = HttpPeer::webhook_receiver_over_tls(
        secret.expose(),
        (certificate.cert_path(), certificate.key_path()),
    )
    .expect("the webhook receiver starts with TLS");
    let trusting = WebhookClient::new(WebhookConfig {
        url: receiver.url("/hooks"),
        secret: secret.clone(),
        http: HttpOptions {
            ca_certificates: vec![ca.cert_path().to_owned()],
            ..HttpOptions::default()
        },
    })
    .unwrap();
    let untrusting =
        WebhookClient::new(WebhookConfig::new(receiver.url("/hooks"), secret)).unwrap();
    let delivery = DeliveryId::generate();

    let trusted = trusting
        .send(delivery, &payload(delivery, "Planning"))
        .await;
    let untrusted = untrusting
        .send(delivery, &payload(delivery, "Planning"))
        .await;

    assert!(receiver.url("").starts_with("https://"));
    let attempt = &trusted.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::Delivered,
        "{attempt:?}\n{}",
        receiver.log()
    );
    assert!(attempt.tls);
    let attempt = &untrusted.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::TemporaryFailure,
        "{attempt:?}"
    );
    assert_eq!(attempt.reply_code, None);
    assert!(
        attempt.reply_text.contains("certificate"),
        "{}",
        attempt.reply_text
    );
    assert_eq!(
        receiver.requests().unwrap().len(),
        1,
        "only the trusting client got through"
    );
}
