//! The SMS transport against a gateway peer that reads the form with Python's
//! `urllib.parse.parse_qs` and checks HTTP Basic authentication with `base64`.

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use convene_channel::sms::{SmsClient, SmsConfig, SmsSender};
use convene_channel::{HttpOptions, Secret};
use convene_domain::DeliveryOutcome;
use convene_testkit::{HttpPeer, Peer, require_peers};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "peer-auth-token-5f2c";
const FROM: &str = "+14155550100";
const TO: &str = "+4915112345678";

fn config(base_url: String, sender: SmsSender) -> SmsConfig {
    SmsConfig {
        base_url,
        account_sid: ACCOUNT_SID.to_owned(),
        auth_token: Secret::new(AUTH_TOKEN),
        sender,
        http: HttpOptions {
            allow_http: true,
            ..HttpOptions::default()
        },
    }
}

fn start_gateway(test: &str) -> Option<HttpPeer> {
    if !require_peers(test, &[Peer::Python3]) {
        return None;
    }
    Some(HttpPeer::sms_gateway(ACCOUNT_SID, AUTH_TOKEN).expect("the SMS gateway peer starts"))
}

#[tokio::test]
async fn sms_request_has_documented_form() {
    let Some(gateway) = start_gateway("sms_request_has_documented_form") else {
        return;
    };
    let client =
        SmsClient::new(config(gateway.url(""), SmsSender::Number(FROM.to_owned()))).unwrap();
    let body = "Reminder: Planning & review\nTue 3 Mar 2026, 14:00 (Europe/Berlin)\nLocation: Room 4 = 100%";

    let outcome = client.send(TO, body).await;

    let attempt = &outcome.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::Delivered,
        "{attempt:?}\n{}",
        gateway.log()
    );
    assert_eq!(attempt.reply_code, Some(201));
    assert!(attempt.reply_text.contains("SM"), "{}", attempt.reply_text);
    assert!(
        attempt.reply_text.contains("queued"),
        "{}",
        attempt.reply_text
    );
    assert_eq!(
        attempt.destination.as_deref(),
        Some(gateway.addr().to_string().as_str())
    );
    assert!(!attempt.tls);
    assert!(!outcome.endpoint_gone);

    let requests = gateway.requests().unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.error, None);
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(request.auth_user.as_deref(), Some(ACCOUNT_SID));
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    let form = request.form.as_ref().expect("the gateway read a form");
    assert_eq!(form.get("To"), Some(&vec![TO.to_owned()]));
    assert_eq!(form.get("From"), Some(&vec![FROM.to_owned()]));
    assert_eq!(form.get("Body"), Some(&vec![body.to_owned()]));
    assert_eq!(form.len(), 3, "{form:?}");
}

#[tokio::test]
async fn sms_messaging_service_replaces_from() {
    let Some(gateway) = start_gateway("sms_messaging_service_replaces_from") else {
        return;
    };
    let service = "MG0123456789abcdef0123456789abcdef";
    let client = SmsClient::new(config(
        gateway.url(""),
        SmsSender::MessagingService(service.to_owned()),
    ))
    .unwrap();

    let outcome = client.send(TO, "Reminder: Planning").await;

    assert_eq!(
        outcome.attempt.outcome,
        DeliveryOutcome::Delivered,
        "{:?}",
        outcome.attempt
    );
    let requests = gateway.requests().unwrap();
    let form = requests[0].form.as_ref().unwrap();
    assert_eq!(
        form.get("MessagingServiceSid"),
        Some(&vec![service.to_owned()])
    );
    assert!(!form.contains_key("From"), "{form:?}");
}

#[tokio::test]
async fn sms_gateway_errors_are_classified() {
    let Some(gateway) = start_gateway("sms_gateway_errors_are_classified") else {
        return;
    };
    let sender = SmsSender::Number(FROM.to_owned());
    let client = SmsClient::new(config(gateway.url(""), sender.clone())).unwrap();
    let wrong_token = SmsClient::new(SmsConfig {
        auth_token: Secret::new("not-the-token"),
        ..config(gateway.url(""), sender.clone())
    })
    .unwrap();
    let unavailable = SmsClient::new(config(gateway.url("/status/503"), sender.clone())).unwrap();
    let limited = SmsClient::new(config(
        gateway.url("/status/429/retry-after/7"),
        sender.clone(),
    ))
    .unwrap();

    // (client, recipient, outcome, status, text in the reason, Retry-After)
    let cases = [
        (
            &client,
            "+15005550001",
            DeliveryOutcome::PermanentFailure,
            400,
            "error 21211",
            None,
        ),
        (
            &client,
            "+15005550004",
            DeliveryOutcome::PermanentFailure,
            400,
            "error 21610",
            None,
        ),
        (
            &wrong_token,
            TO,
            DeliveryOutcome::TemporaryFailure,
            401,
            "administrator",
            None,
        ),
        (
            &unavailable,
            TO,
            DeliveryOutcome::TemporaryFailure,
            503,
            "HTTP 503",
            None,
        ),
        (
            &limited,
            TO,
            DeliveryOutcome::TemporaryFailure,
            429,
            "HTTP 429",
            Some(Duration::from_secs(7)),
        ),
    ];
    for (client, to, expected, status, text, retry_after) in cases {
        let outcome = client.send(to, "Reminder: Planning").await;
        let attempt = &outcome.attempt;
        assert_eq!(attempt.outcome, expected, "{to} {status}: {attempt:?}");
        assert_eq!(attempt.reply_code, Some(status), "{to}: {attempt:?}");
        assert!(
            attempt.reply_text.contains(text),
            "{to}: {}",
            attempt.reply_text
        );
        assert!(
            !attempt.reply_text.contains(AUTH_TOKEN),
            "{}",
            attempt.reply_text
        );
        assert_eq!(outcome.retry_after, retry_after, "{to} {status}");
    }
}

#[tokio::test]
async fn sms_invalid_input_fails_without_request() {
    let Some(gateway) = start_gateway("sms_invalid_input_fails_without_request") else {
        return;
    };
    let client =
        SmsClient::new(config(gateway.url(""), SmsSender::Number(FROM.to_owned()))).unwrap();

    let cases = [
        ("015112345678", "Reminder", "E.164"),
        (TO, "", "1 to 1600"),
        (TO, &"x".repeat(1601), "1 to 1600"),
    ];
    for (to, body, text) in cases {
        let outcome = client.send(to, body).await;
        assert_eq!(outcome.attempt.outcome, DeliveryOutcome::PermanentFailure);
        assert_eq!(outcome.attempt.reply_code, None);
        assert!(
            outcome.attempt.reply_text.contains(text),
            "{}",
            outcome.attempt.reply_text
        );
    }
    assert!(gateway.requests().unwrap().is_empty());
}

#[tokio::test]
async fn sms_refused_connection_is_temporary() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = SmsClient::new(config(
        format!("http://127.0.0.1:{port}"),
        SmsSender::Number(FROM.to_owned()),
    ))
    .unwrap();

    let outcome = client.send(TO, "Reminder: Planning").await;

    let attempt = &outcome.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::TemporaryFailure,
        "{attempt:?}"
    );
    assert_eq!(attempt.reply_code, None);
    assert!(
        attempt.reply_text.starts_with("connecting to 127.0.0.1:"),
        "{}",
        attempt.reply_text
    );
    assert!(
        !attempt.reply_text.contains("Accounts"),
        "{}",
        attempt.reply_text
    );
}

#[tokio::test]
async fn sms_silent_gateway_times_out() {
    // No real gateway accepts a request and then never replies on purpose, so this one
    // is written here: it accepts the connection and keeps it open until the test ends.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (release, released) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let connection = listener.accept();
        let _ = released.recv();
        drop(connection);
    });
    let mut config = config(format!("http://{addr}"), SmsSender::Number(FROM.to_owned()));
    config.http.request_timeout = Duration::from_secs(1);
    let client = SmsClient::new(config).unwrap();

    let outcome = client.send(TO, "Reminder: Planning").await;

    release.send(()).unwrap();
    holder.join().unwrap();
    let attempt = &outcome.attempt;
    assert_eq!(
        attempt.outcome,
        DeliveryOutcome::TemporaryFailure,
        "{attempt:?}"
    );
    assert!(
        attempt.reply_text.contains("timed out"),
        "{}",
        attempt.reply_text
    );
}
