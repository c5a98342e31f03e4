//! New events sent as `text/calendar` to a real `convene serve` process.

mod support;

use serde_json::{Value, json};
use support::Convene;

const CALENDAR: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Convene//Test//EN\r\n\
BEGIN:VEVENT\r\n\
UID:review-1@alpha.test\r\n\
DTSTAMP:20300101T000000Z\r\n\
SUMMARY:Design review\r\n\
DESCRIPTION:Walk through the new layout\r\n\
LOCATION:Room 4\r\n\
DTSTART;TZID=Europe/Berlin:20300115T090000\r\n\
DTEND;TZID=Europe/Berlin:20300115T100000\r\n\
RRULE:FREQ=WEEKLY;COUNT=3\r\n\
ORGANIZER;CN=Ann:mailto:ann@alpha.test\r\n\
ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@alpha.test\r\n\
ATTENDEE;CN=Bob;RSVP=TRUE:mailto:BOB@beta.test\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
DESCRIPTION:Reminder\r\n\
TRIGGER:-PT15M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

fn start() -> (Convene, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    (convene, dir)
}

/// Creates Ann and Bob and returns their ids.
async fn users(convene: &Convene) -> (String, String) {
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    (ann, bob)
}

/// Fetches an event and replaces its id and the user ids in it with fixed names, so that
/// views from two servers compare equal when they describe the same event.
async fn view(convene: &Convene, created: &Value, ann: &str, bob: &str) -> String {
    let id = created["id"].as_str().unwrap();
    let (status, mut fetched) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200, "{fetched}");
    fetched.as_object_mut().unwrap().remove("id");
    fetched
        .to_string()
        .replace(id, "EVENT")
        .replace(ann, "ANN")
        .replace(bob, "BOB")
}

#[tokio::test]
async fn ical_event_matches_json_event() {
    let (json_server, _json_dir) = start();
    let (ann, bob) = users(&json_server).await;
    let body = json!({
        "title": "Design review",
        "description": "Walk through the new layout",
        "location": "Room 4",
        "start": "2030-01-15T09:00:00+01:00",
        "end": "2030-01-15T10:00:00+01:00",
        "time_zone": "Europe/Berlin",
        "organizer": ann,
        "participants": [bob],
        "reminders": [{"before": "PT15M"}],
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
    });
    let (status, created) = json_server.post("/v1/events", body).await;
    assert_eq!(status, 201, "{created}");
    let from_json = view(&json_server, &created, &ann, &bob).await;

    let (ical_server, _ical_dir) = start();
    let (ann, bob) = users(&ical_server).await;
    let (status, created) = ical_server
        .post_bytes(
            "/v1/events",
            "text/calendar; charset=utf-8",
            CALENDAR.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let from_ical = view(&ical_server, &created, &ann, &bob).await;

    assert_eq!(from_ical, from_json);
}

#[tokio::test]
async fn ical_unknown_attendee_rejected() {
    let (convene, _dir) = start();
    users(&convene).await;
    let calendar = CALENDAR.replace("mailto:BOB@beta.test", "mailto:carol@gamma.test");
    let (status, problem) = convene
        .post_bytes("/v1/events", "text/calendar", calendar.into_bytes())
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "participants/0");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("carol@gamma.test"), "{problem}");
    assert!(detail.contains("create the user first"), "{problem}");
}

#[tokio::test]
async fn ical_two_events_rejected() {
    let (convene, _dir) = start();
    users(&convene).await;
    let (head, rest) = CALENDAR.split_once("BEGIN:VEVENT").unwrap();
    let (event, tail) = rest.split_once("END:VEVENT\r\n").unwrap();
    let event = format!("BEGIN:VEVENT{event}END:VEVENT\r\n");
    let second = event.replace("review-1@alpha.test", "review-2@alpha.test");
    let calendar = format!("{head}{event}{second}{tail}");
    let (status, problem) = convene
        .post_bytes("/v1/events", "text/calendar", calendar.into_bytes())
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "VEVENT");
}

#[tokio::test]
async fn ical_rejected_for_other_requests() {
    let (convene, _dir) = start();
    let (status, problem) = convene
        .post_bytes("/v1/users", "text/calendar", CALENDAR.as_bytes().to_vec())
        .await;
    assert_eq!(status, 415, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("only for new events"), "{problem}");
}
