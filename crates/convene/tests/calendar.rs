//! iCalendar over HTTP on a real `convene serve` process: import, export and feeds.

mod support;

use serde_json::{Value, json};
use support::Convene;

fn start() -> (Convene, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    (convene, dir)
}

/// A calendar as another application exports it: a weekly meeting in a Windows-named zone
/// with one instance moved, an all-day event, a cancelled event and free time.
const OTHER_CALENDAR: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Other Calendar//EN\r
BEGIN:VEVENT\r
UID:weekly-1@other.test\r
DTSTAMP:20300101T000000Z\r
DTSTART;TZID=W. Europe Standard Time:20300107T090000\r
DTEND;TZID=W. Europe Standard Time:20300107T100000\r
RRULE:FREQ=WEEKLY;COUNT=4\r
SUMMARY:Team meeting\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-1@other.test\r
DTSTAMP:20300101T000000Z\r
RECURRENCE-ID;TZID=W. Europe Standard Time:20300114T090000\r
DTSTART;TZID=W. Europe Standard Time:20300115T140000\r
DTEND;TZID=W. Europe Standard Time:20300115T150000\r
SUMMARY:Team meeting (moved)\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:holiday-1@other.test\r
DTSTAMP:20300101T000000Z\r
DTSTART;VALUE=DATE:20300301\r
DTEND;VALUE=DATE:20300302\r
SUMMARY:Holiday\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:cancelled-1@other.test\r
DTSTAMP:20300101T000000Z\r
DTSTART:20300110T120000Z\r
DTEND:20300110T130000Z\r
STATUS:CANCELLED\r
SUMMARY:Called off\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:free-1@other.test\r
DTSTAMP:20300101T000000Z\r
DTSTART:20300111T120000Z\r
DTEND:20300111T130000Z\r
TRANSP:TRANSPARENT\r
SUMMARY:Lunch, maybe\r
END:VEVENT\r
END:VCALENDAR\r
";

async fn busy(convene: &Convene, user: &str, from: &str, to: &str) -> Value {
    let (status, body) = convene
        .get(&format!("/v1/users/{user}/busy?from={from}&to={to}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["busy"].clone()
}

#[tokio::test]
async fn imported_calendar_counts_as_busy_time() {
    let (convene, _dir) = start();
    let (status, ann) = convene
        .post(
            "/v1/users",
            json!({"name": "Ann", "email": "ann@alpha.test", "time_zone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, 201);
    let ann = ann["id"].as_str().unwrap().to_owned();

    let (status, report) = convene
        .post_bytes(
            &format!("/v1/users/{ann}/calendar"),
            "text/calendar; charset=utf-8",
            OTHER_CALENDAR.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    // The series, its moved instance and the holiday; the cancelled and free events not.
    assert_eq!(report["imported"], 3, "{report}");
    let reasons: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|skip| skip["uid"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["cancelled-1@other.test", "free-1@other.test"]);

    assert_eq!(
        busy(
            &convene,
            &ann,
            "2030-01-01T00:00:00Z",
            "2030-02-01T00:00:00Z"
        )
        .await,
        json!([
            {"start": "2030-01-07T08:00:00Z", "end": "2030-01-07T09:00:00Z"},
            {"start": "2030-01-15T13:00:00Z", "end": "2030-01-15T14:00:00Z"},
            {"start": "2030-01-21T08:00:00Z", "end": "2030-01-21T09:00:00Z"},
            {"start": "2030-01-28T08:00:00Z", "end": "2030-01-28T09:00:00Z"},
        ])
    );
    // The all-day event covers the whole day in Ann's zone.
    assert_eq!(
        busy(
            &convene,
            &ann,
            "2030-03-01T00:00:00Z",
            "2030-03-03T00:00:00Z"
        )
        .await,
        json!([{"start": "2030-02-28T23:00:00Z", "end": "2030-03-01T23:00:00Z"}])
    );

    // Importing the same file again replaces, and does not double, the imported events.
    let (status, report) = convene
        .post_bytes(
            &format!("/v1/users/{ann}/calendar"),
            "text/calendar",
            OTHER_CALENDAR.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        busy(
            &convene,
            &ann,
            "2030-01-01T00:00:00Z",
            "2030-02-01T00:00:00Z"
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        4
    );

    // Booking over imported time is a conflict.
    let bob = convene.user("Bob", "bob@beta.test").await;
    let (status, problem) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Sync", "organizer": bob, "participants": [ann],
                "start": "2030-01-21T08:30:00Z", "end": "2030-01-21T09:30:00Z",
            }),
        )
        .await;
    assert_eq!(status, 409, "{problem}");

    // Removing the imported calendar frees the time, and only imported time.
    let (status, sync) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Sync", "organizer": ann,
                "start": "2030-01-22T08:30:00Z", "end": "2030-01-22T09:30:00Z",
            }),
        )
        .await;
    assert_eq!(status, 201, "{sync}");
    let response = convene
        .client
        .delete(convene.url(&format!("/v1/users/{ann}/calendar")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let removed: Value = response.json().await.unwrap();
    assert_eq!(removed["removed"], 3, "{removed}");
    assert_eq!(
        busy(
            &convene,
            &ann,
            "2030-01-01T00:00:00Z",
            "2030-02-01T00:00:00Z"
        )
        .await,
        json!([{"start": "2030-01-22T08:30:00Z", "end": "2030-01-22T09:30:00Z"}])
    );
    let (status, report) = convene
        .post_bytes(
            &format!("/v1/users/{ann}/calendar"),
            "text/calendar",
            OTHER_CALENDAR.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{report}");

    // Bad input leaves the stored calendar alone.
    for (content_type, body, expected) in [
        ("application/json", b"{}".to_vec(), 415),
        ("text/calendar", b"not a calendar".to_vec(), 422),
    ] {
        let (status, problem) = convene
            .post_bytes(&format!("/v1/users/{ann}/calendar"), content_type, body)
            .await;
        assert_eq!(status, expected, "{problem}");
    }
    assert_eq!(
        busy(
            &convene,
            &ann,
            "2030-01-01T00:00:00Z",
            "2030-02-01T00:00:00Z"
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        5
    );
}

#[tokio::test]
async fn event_exported_and_feed_served_until_revoked() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let (status, created) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Planning", "organizer": ann, "participants": [bob],
                "start": "2030-01-07T09:00:00+01:00", "end": "2030-01-07T10:00:00+01:00",
                "time_zone": "Europe/Berlin",
                "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();

    let (status, content_type, text) = convene.get_text(&format!("/v1/events/{id}.ics")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/calendar; charset=utf-8");
    let parsed = convene_ical::parse(&text).unwrap();
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    let exported = &parsed.calendar.events[0];
    // The UID domain is the domain of the sender address the harness sets.
    assert_eq!(exported.uid, format!("{id}@convene.test"));
    assert_eq!(exported.rrule, ["FREQ=WEEKLY;COUNT=3"]);
    assert_eq!(exported.start.zone().unwrap().tzid(), "Europe/Berlin");
    assert!(text.contains("BEGIN:VTIMEZONE"), "{text}");
    assert!(!text.contains("METHOD"), "{text}");
    assert!(!text.contains("VALARM"), "{text}");

    // The event's own URL returns the same calendar to a client that prefers it, and 406
    // to one that accepts neither JSON nor iCalendar.
    let negotiated = |accept: &'static str| {
        convene
            .client
            .get(convene.url(&format!("/v1/events/{id}")))
            .header("accept", accept)
            .send()
    };
    let response = negotiated("text/calendar, application/json;q=0.5")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["vary"], "accept");
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let negotiated_text = response.text().await.unwrap();
    let reparsed = convene_ical::parse(&negotiated_text).unwrap();
    assert_eq!(reparsed.calendar.events[0].uid, exported.uid);
    let response = negotiated("text/html").await.unwrap();
    assert_eq!(response.status(), 406);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let (status, feed) = convene
        .post(&format!("/v1/users/{bob}/feeds"), json!({}))
        .await;
    assert_eq!(status, 201, "{feed}");
    let url = feed["url"].as_str().unwrap().to_owned();
    let (status, content_type, text) = convene.get_text(&url).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/calendar; charset=utf-8");
    let parsed = convene_ical::parse(&text).unwrap();
    assert_eq!(parsed.calendar.events.len(), 1);
    assert_eq!(parsed.calendar.events[0].uid, exported.uid);

    // A guessed token finds nothing, and a revoked feed stops.
    let (status, _, _) = convene.get_text("/v1/feeds/not-a-token.ics").await;
    assert_eq!(status, 404);
    let feed_id = feed["id"].as_str().unwrap();
    let (status, _, _) = convene.get_text(&url.replace(".ics", "")).await;
    assert_eq!(status, 404);
    let response = convene
        .client
        .delete(convene.url(&format!("/v1/users/{bob}/feeds/{feed_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let (status, _, _) = convene.get_text(&url).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dense_or_overlapping_recurrences_never_lose_busy_time() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let event = |rule: &str, start: &str, end: &str| {
        json!({
            "title": "Dense", "organizer": ann, "start": start, "end": end,
            "recurrence": {"rrule": rule},
        })
    };

    // A million one-second occurrences cannot be checked over the horizon.
    let (status, problem) = convene
        .post(
            "/v1/events",
            event(
                "FREQ=SECONDLY;COUNT=1000000",
                "2030-02-01T10:00:00Z",
                "2030-02-01T10:00:01Z",
            ),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "recurrence/rrule");
    // Occurrences that overlap one another are refused.
    let (status, problem) = convene
        .post(
            "/v1/events",
            event(
                "FREQ=HOURLY;COUNT=5",
                "2030-02-01T10:00:00Z",
                "2030-02-01T12:00:00Z",
            ),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "recurrence/rrule");

    // The start takes one of COUNT's places (RFC 5545), even when the rule skips it.
    let (status, created) = convene
        .post(
            "/v1/events",
            event(
                "FREQ=MONTHLY;BYMONTHDAY=6;COUNT=3",
                "2030-03-05T10:00:00Z",
                "2030-03-05T10:30:00Z",
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let starts: Vec<Value> = busy(
        &convene,
        &ann,
        "2030-03-01T00:00:00Z",
        "2030-12-01T00:00:00Z",
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|interval| interval["start"].clone())
    .collect();
    assert_eq!(
        starts,
        [
            json!("2030-03-05T10:00:00Z"),
            json!("2030-03-06T10:00:00Z"),
            json!("2030-04-06T10:00:00Z"),
        ]
    );

    // An imported rule too dense to list counts as busy from its start on.
    let dense = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:dense@x\r\n\
        DTSTAMP:20300101T000000Z\r\nDTSTART:20300304T100000Z\r\nDTEND:20300304T100001Z\r\n\
        RRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (status, report) = convene
        .post_bytes(
            &format!("/v1/users/{bob}/calendar"),
            "text/calendar",
            dense.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(
        busy(
            &convene,
            &bob,
            "2030-06-01T00:00:00Z",
            "2030-07-01T00:00:00Z"
        )
        .await,
        json!([{"start": "2030-06-01T00:00:00Z", "end": "2030-07-01T00:00:00Z"}])
    );
    let (status, found) = convene
        .post(
            "/v1/availability",
            json!({"participants": [bob], "duration": "PT30M",
                   "from": "2030-06-03T00:00:00Z", "to": "2030-06-10T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["slots"], json!([]));
    for recurrence in [Value::Null, json!({"rrule": "FREQ=WEEKLY"})] {
        let (status, problem) = convene
            .post(
                "/v1/events",
                json!({
                    "title": "Sync", "organizer": ann, "participants": [bob],
                    "start": "2030-06-03T09:00:00Z", "end": "2030-06-03T09:30:00Z",
                    "recurrence": recurrence,
                }),
            )
            .await;
        assert_eq!(status, 409, "{problem}");
    }

    // A cancelled event keeps its participants.
    let (status, sync) = convene
        .post(
            "/v1/events",
            json!({"title": "Sync", "organizer": ann, "participants": [bob],
                   "start": "2030-01-07T09:00:00Z", "end": "2030-01-07T09:30:00Z"}),
        )
        .await;
    assert_eq!(status, 201, "{sync}");
    let id = sync["id"].as_str().unwrap();
    convene.delete(&format!("/v1/events/{id}")).await;
    let (status, problem) = convene
        .delete(&format!("/v1/events/{id}/participants/{bob}"))
        .await;
    assert_eq!(status, 409, "{problem}");
    let (_, kept) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(kept["participants"], json!([bob]));
}
