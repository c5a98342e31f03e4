//! Reminders by SMS, Web Push and webhook from a running `convene serve`, to peers on
//! loopback that check them independently: an SMS gateway that reads the form with
//! Python's `urllib`, a webhook receiver that verifies with `standardwebhooks`, and a push
//! service that decrypts with `http_ece` and checks the VAPID token with `cryptography`.

mod support;

use std::time::{Duration, Instant};

use convene_testkit::{HttpPeer, Peer, ReceivedRequest, require_peers};
use serde_json::{Value, json};
use support::{Convene, cli};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "gateway-token-for-tests";
const BOB_PHONE: &str = "+4915112345678";

/// Waits until `peer` has received `count` requests and returns them.
fn wait_for(peer: &HttpPeer, count: usize, convene: &Convene) -> Vec<ReceivedRequest> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let requests = peer.requests().unwrap();
        if requests.len() >= count {
            return requests;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} requests arrived\npeer: {}\nconvene: {}",
            requests.len(),
            peer.log(),
            convene.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn reminders_reach_sms_push_and_webhook_peers() {
    let test = "reminders_reach_sms_push_and_webhook_peers";
    if !require_peers(
        test,
        &[Peer::Python3, Peer::Standardwebhooks, Peer::HttpEce],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("vapid.pem");

    // The keys come from Convene's own commands, as an administrator would make them.
    let keygen = cli::run(
        &["push", "keygen", "--out", key_file.to_str().unwrap()],
        &[],
        b"",
    );
    assert_eq!(keygen.code, Some(0), "{}", keygen.describe());
    let public_key = keygen.stdout.trim().to_owned();
    let secret = cli::run(&["webhook", "secret"], &[], b"");
    assert_eq!(secret.code, Some(0), "{}", secret.describe());
    let secret = secret.stdout.trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");

    let gateway = HttpPeer::sms_gateway(ACCOUNT_SID, AUTH_TOKEN).expect("the SMS gateway starts");
    let receiver = HttpPeer::webhook_receiver(&secret).expect("the webhook receiver starts");
    let push = HttpPeer::push_service(Some(&public_key)).expect("the push service starts");
    let convene = Convene::start(
        &dir.path().join("convene.db"),
        &[
            ("CONVENE_NOTIFIER_INTERVAL", "200ms".to_owned()),
            ("CONVENE_SMS_ACCOUNT_SID", ACCOUNT_SID.to_owned()),
            ("CONVENE_SMS_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
            ("CONVENE_SMS_FROM", "+15005550006".to_owned()),
            ("CONVENE_SMS_URL", gateway.url("")),
            (
                "CONVENE_PUSH_VAPID_KEY_FILE",
                key_file.display().to_string(),
            ),
            ("CONVENE_PUSH_SUBJECT", "mailto:ops@convene.test".to_owned()),
            ("CONVENE_WEBHOOK_URL", receiver.url("/hooks/convene")),
            ("CONVENE_WEBHOOK_SECRET", secret.clone()),
            ("CONVENE_CHANNEL_ALLOW_HTTP", "true".to_owned()),
        ],
    );
    assert!(
        !convene.log().contains(AUTH_TOKEN),
        "the log shows a secret"
    );
    assert!(!convene.log().contains(&secret), "the log shows a secret");

    let (status, key) = convene.get("/v1/push/key").await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(key["public_key"], public_key);

    let ann = convene.user("Ann", "ann@alpha.test").await;
    // Bob reads times in New York and wants every reminder by SMS, push and webhook, ten
    // minutes before, for events that set no reminders of their own.
    let (status, bob) = convene
        .post(
            "/v1/users",
            json!({
                "name": "Bob",
                "email": "bob@beta.test",
                "time_zone": "America/New_York",
                "phone": BOB_PHONE,
                "reminders": [{"before": "PT10M"}],
                "channels": ["sms", "push", "webhook"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{bob}");
    assert_eq!(bob["phone"], BOB_PHONE);
    let bob_id = bob["id"].as_str().unwrap().to_owned();
    let bob_client = support::client(bob["token"].as_str());

    // Only Bob and the administrator see his number.
    let ann_user = convene.get(&format!("/v1/users/{ann}")).await.1;
    assert_eq!(ann_user["channels"], json!(["email"]));
    let seen_by_admin = convene.get(&format!("/v1/users/{bob_id}")).await.1;
    assert_eq!(seen_by_admin["phone"], BOB_PHONE);

    let keys = push
        .subscription()
        .expect("the push service made a subscription");
    let registered = bob_client
        .post(convene.url(&format!("/v1/users/{bob_id}/push-subscriptions")))
        .json(&json!({
            "endpoint": push.url("/push/bob-laptop"),
            "expirationTime": null,
            "keys": {"p256dh": keys.p256dh, "auth": keys.auth},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let location = registered.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let subscription: Value = registered.json().await.unwrap();
    assert!(location.ends_with(subscription["id"].as_str().unwrap()));

    // The event starts in five minutes, so Bob's ten-minute reminder is already due.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    let start = jiff::Timestamp::from_second(start.as_second()).unwrap();
    let end = start + jiff::SignedDuration::from_mins(30);
    let (status, event) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Budget review",
                "location": "Room 4",
                "start": start.to_string(),
                "end": end.to_string(),
                "time_zone": "Europe/Berlin",
                "organizer": ann,
                "participants": [bob_id],
            }),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    let event_id = event["id"].as_str().unwrap().to_owned();
    let new_york_start = start
        .to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .strftime("%H:%M")
        .to_string();

    let sms = wait_for(&gateway, 1, &convene).remove(0);
    assert_eq!(sms.status, 201, "{sms:?}");
    let form = sms.form.clone().unwrap();
    assert_eq!(form["To"], [BOB_PHONE]);
    assert_eq!(form["From"], ["+15005550006"]);
    let body = &form["Body"][0];
    assert!(body.contains("Budget review"), "{body}");
    assert!(
        body.contains(&new_york_start),
        "{body} lacks {new_york_start}"
    );
    assert!(body.contains("Room 4"), "{body}");
    assert_eq!(sms.auth_user.as_deref(), Some(ACCOUNT_SID));

    let hook = wait_for(&receiver, 1, &convene).remove(0);
    assert_eq!(
        (hook.status, hook.error.as_deref()),
        (204, None),
        "{hook:?}"
    );
    let payload = hook.payload.clone().unwrap();
    assert_eq!(payload["type"], "reminder.due");
    assert_eq!(payload["data"]["event_id"], event_id);
    assert_eq!(payload["data"]["recipient"]["email"], "bob@beta.test");
    assert_eq!(payload["data"]["time_zone"], "America/New_York");
    assert_eq!(payload["data"]["offset"], "PT10M");
    let local_start = payload["data"]["local_start"].as_str().unwrap();
    assert!(local_start.contains(&new_york_start), "{local_start}");

    let pushed = wait_for(&push, 1, &convene).remove(0);
    assert_eq!(
        (pushed.status, pushed.error.as_deref()),
        (201, None),
        "{pushed:?}"
    );
    let message: Value = serde_json::from_str(pushed.plaintext.as_deref().unwrap()).unwrap();
    assert_eq!(message["title"], "Reminder: Budget review");
    assert_eq!(message["event"], event_id);
    assert!(
        message["body"].as_str().unwrap().contains(&new_york_start),
        "{message}"
    );
    assert_eq!(
        pushed.claims.as_ref().unwrap()["sub"],
        "mailto:ops@convene.test"
    );

    // Each channel's delivery is recorded as delivered, and Ann, who set no defaults, has
    // none.
    let deadline = Instant::now() + Duration::from_secs(30);
    let reminders = loop {
        let (status, reminders) = convene
            .get(&format!("/v1/events/{event_id}/reminders"))
            .await;
        assert_eq!(status, 200, "{reminders}");
        let items = reminders["items"].as_array().unwrap().clone();
        if items.iter().all(|item| item["status"] == "delivered") || Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut channels: Vec<&str> = reminders
        .iter()
        .map(|item| item["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(channels, ["push", "sms", "webhook"], "{reminders:?}");
    for item in &reminders {
        assert_eq!(item["status"], "delivered", "{item}");
        assert_eq!(item["user"], bob_id.as_str());
    }
    // Nothing was sent twice.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(gateway.requests().unwrap().len(), 1);
    assert_eq!(receiver.requests().unwrap().len(), 1);
    assert_eq!(push.requests().unwrap().len(), 1);
}
