//! End to end: `convene serve` books an event over HTTP and its Notifier
//! delivers each reminder through the Mail Broker to the MX host of each
//! recipient's domain, found through a real DNS server.

mod support;

use std::time::Duration;

use convene_mail::dkim::{Algorithm, generate, write_private_key};
use convene_testkit::{DkimVerdict, DkimVerifier, Peer, TxtRecord, require_peers};
use serde_json::json;
use support::Convene;
use support::world::{MailWorld, book_reminder_due_now, book_soon, wait_for_reminders};

#[tokio::test]
async fn reminder_reaches_each_mx() {
    if !require_peers("reminder_reaches_each_mx", &[Peer::Dnsmasq, Peer::Aiosmtpd]) {
        return;
    }
    let world = MailWorld::start();
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &world.settings());
    let (event, people) = book_soon(&convene, Duration::from_secs(3)).await;

    let reminders = wait_for_reminders(&convene, &event, "delivered", |r| {
        r["status"] == "delivered"
    })
    .await;

    // Give a duplicate the chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let messages = world.messages();
    for (email, _) in &people {
        let copies: Vec<_> = messages
            .iter()
            .filter(|m| m.rcpt_tos.contains(email))
            .collect();
        assert_eq!(copies.len(), 1, "{email} got {} copies", copies.len());
        let message = copies[0];
        let over_tls = email.ends_with("@alpha.test");
        assert_eq!(message.tls, over_tls, "{email}: TLS use");
        assert_eq!(message.mail_from, "reminders@convene.test");

        let parsed = support::mail::parse(&message.data);
        assert_eq!(parsed["defects"], json!([]), "{email}: {}", message.data);
        let headers = &parsed["headers"];
        assert_eq!(headers["from"], "Convene <reminders@convene.test>");
        assert!(
            headers["to"].as_str().unwrap().contains(email.as_str()),
            "{email}: To is {}",
            headers["to"]
        );
        assert!(
            headers["subject"]
                .as_str()
                .unwrap()
                .starts_with("Reminder: Launch review on "),
            "{headers}"
        );
        assert!(headers["date"].is_string(), "{headers}");
        assert!(
            headers["message-id"]
                .as_str()
                .unwrap()
                .ends_with("@convene.test>"),
            "{headers}"
        );
        assert_eq!(headers["mime-version"], "1.0");
        assert!(headers.get("bcc").is_none());
        assert_eq!(parsed["content_type"], "multipart/alternative");

        let zone = if email == "bob@beta.test" {
            "(America/New_York)"
        } else {
            "(Europe/Berlin)"
        };
        let text = parsed["text"].as_str().unwrap();
        assert!(
            text.contains("Reminder: Launch review") && text.contains("Room 4"),
            "{text}"
        );
        assert!(
            text.contains(zone),
            "{email} expects times in {zone}: {text}"
        );
        assert!(text.contains("Ann Organizer <ann@alpha.test>"), "{text}");
        assert!(
            parsed["html"]
                .as_str()
                .unwrap()
                .contains("<h1>Reminder: Launch review</h1>")
        );
    }
    // Everyone gets a message of their own, addressed to them alone.
    assert_eq!(messages.len(), people.len(), "one message per person");
    for message in &messages {
        assert_eq!(message.rcpt_tos.len(), 1, "{message:?}");
        let to = support::mail::parse(&message.data)["headers"]["to"]
            .as_str()
            .unwrap()
            .to_owned();
        for (email, _) in &people {
            assert_eq!(
                to.contains(email.as_str()),
                message.rcpt_tos[0] == *email,
                "To: {to} for {:?}",
                message.rcpt_tos
            );
        }
    }

    // The recorded per-recipient results show where and how each went.
    for (email, id) in &people {
        let reminder = reminders.iter().find(|r| r["user"] == id.as_str()).unwrap();
        let attempt = &reminder["last_attempt"];
        let (destination, tls) = match email.split('@').nth(1).unwrap() {
            "alpha.test" => ("mx.alpha.test", true),
            "beta.test" => ("mx.beta.test", false),
            _ => ("gamma.test", false),
        };
        assert_eq!(reminder["attempts"], 1, "{reminder}");
        assert_eq!(attempt["result"], "delivered", "{reminder}");
        assert_eq!(attempt["destination"], destination, "{reminder}");
        assert_eq!(attempt["tls"], tls, "{reminder}");
        assert_eq!(attempt["tls_version"].is_string(), tls, "{reminder}");
        assert_eq!(attempt["tls_cipher"].is_string(), tls, "{reminder}");
        assert_eq!(attempt["reply_code"], 250, "{reminder}");
    }
}

#[tokio::test]
async fn undeliverable_reminder_is_reported_to_the_organizer_once() {
    if !require_peers(
        "undeliverable_reminder_is_reported_to_the_organizer_once",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = MailWorld::start();
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &world.settings());
    let ann = convene.user("Ann Organizer", "ann@alpha.test").await;
    let nil = convene.user("Nil Nowhere", "nil@null.test").await;
    let event = book_reminder_due_now(&convene, "Budget", &ann, &[&nil]).await;
    let event = event.as_str();

    let reminders = wait_for_reminders(&convene, event, "settled", |r| {
        r["status"] == "delivered" || r["status"] == "failed"
    })
    .await;
    let failed = reminders
        .iter()
        .find(|r| r["user"] == nil.as_str())
        .unwrap();
    assert_eq!(failed["status"], "failed", "{failed}");
    let reason = failed["last_attempt"]["reply_text"].as_str().unwrap();
    assert!(reason.contains("null MX"), "{reason}");

    // The mail queue shows the same failure on the message.
    let message = failed["message"].as_str().unwrap();
    let (status, view) = convene.get(&format!("/v1/messages/{message}")).await;
    assert_eq!(status, 200, "{view}");
    let recipient = view["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "nil@null.test")
        .unwrap();
    assert_eq!(recipient["status"], "failed", "{view}");
    assert_eq!(recipient["reminder"], failed["id"], "{view}");

    // Ann gets her reminder and one notice naming the failed address.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let notices = loop {
        let notices: Vec<_> = world
            .messages()
            .into_iter()
            .filter(|m| m.data.contains("Undelivered reminders"))
            .collect();
        if !notices.is_empty() || std::time::Instant::now() > deadline {
            break notices;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Several more polls must not report the failure again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = world.messages();
    let count = all
        .iter()
        .filter(|m| m.data.contains("Undelivered reminders"))
        .count();
    assert_eq!(count, 1, "{all:#?}\n{}", convene.log());
    let notice = &notices[0];
    assert_eq!(notice.rcpt_tos, ["ann@alpha.test"]);
    let parsed = support::mail::parse(&notice.data);
    assert_eq!(parsed["defects"], json!([]), "{}", notice.data);
    assert!(
        parsed["headers"]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Undelivered reminders: Budget on "),
        "{parsed}"
    );
    let text = parsed["text"].as_str().unwrap();
    assert!(
        text.contains("Nil Nowhere <nil@null.test> (PT1H before)") && text.contains("null MX"),
        "{text}"
    );
    assert!(
        all.iter()
            .any(|m| m.rcpt_tos == ["ann@alpha.test"] && m.data.contains("Reminder: Budget")),
        "Ann's own reminder arrives"
    );

    // Metrics count reminders apart from the invitation to Nil, which failed too, and
    // from the notice to Ann.
    let (status, _, metrics) = convene.get_text("/metrics").await;
    assert_eq!(status, 200);
    let sample = |line: &str| {
        metrics
            .lines()
            .find_map(|text| text.strip_prefix(line))
            .map(|value| value.trim().parse::<f64>().unwrap())
            .unwrap_or_else(|| panic!("{line} missing from\n{metrics}"))
    };
    assert_eq!(sample("convene_reminders_total{result=\"sent\"}"), 1.0);
    assert_eq!(sample("convene_reminders_total{result=\"failed\"}"), 1.0);
    assert!(sample("convene_mail_attempts_total{result=\"permanent_failure\"}") >= 2.0);
}

#[tokio::test]
async fn reminders_and_notices_are_signed_with_dkim() {
    if !require_peers(
        "reminders_and_notices_are_signed_with_dkim",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::Dkimpy],
    ) {
        return;
    }
    let world = MailWorld::start();
    let dir = tempfile::tempdir().unwrap();
    let key = generate(Algorithm::RsaSha256, 2048, "s2026", "convene.test").unwrap();
    let key_path = dir.path().join("dkim.pem");
    write_private_key(&key_path, &key.private_pem).unwrap();
    let records = TxtRecord::parse_zone_lines(&key.dns_record).unwrap();
    let mut settings = world.settings();
    settings.extend([
        ("CONVENE_DKIM_KEY", key_path.to_str().unwrap().to_owned()),
        ("CONVENE_DKIM_DOMAIN", "convene.test".to_owned()),
        ("CONVENE_DKIM_SELECTOR", "s2026".to_owned()),
    ]);
    let convene = Convene::start(&dir.path().join("convene.db"), &settings);
    assert!(
        convene.log().contains("dkim_selector=Some(\"s2026\")"),
        "{}",
        convene.log()
    );

    // Bob gets a reminder, and the reminder to Nil fails, so Ann gets a notice too.
    let ann = convene.user("Ann Organizer", "ann@alpha.test").await;
    let bob = convene.user("Bob Beta", "bob@beta.test").await;
    let nil = convene.user("Nil Nowhere", "nil@null.test").await;
    let event = book_reminder_due_now(&convene, "Signed review", &ann, &[&bob, &nil]).await;
    wait_for_reminders(&convene, &event, "settled", |r| {
        r["status"] == "delivered" || r["status"] == "failed"
    })
    .await;

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let messages = world.messages();
        let notice = messages
            .iter()
            .any(|m| m.data.contains("Undelivered reminders"));
        if notice || std::time::Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Ann's and Bob's reminders and Ann's notice.
    assert_eq!(messages.len(), 3, "{messages:#?}\n{}", convene.log());
    for message in &messages {
        assert!(
            message.data.starts_with("DKIM-Signature:"),
            "{}",
            message.data
        );
        assert_eq!(message.data.matches("DKIM-Signature:").count(), 1);
        let verdict = DkimVerifier::Dkimpy
            .verify(message.data.as_bytes(), &records)
            .unwrap();
        assert_eq!(
            verdict,
            DkimVerdict::Pass,
            "{:?}: {}",
            message.rcpt_tos,
            message.data
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m.rcpt_tos == ["ann@alpha.test"] && m.data.contains("Undelivered reminders")),
        "the notice is among the verified messages"
    );
}
