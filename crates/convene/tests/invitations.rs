//! End to end: invitations as iMIP e-mail. `convene serve` books, changes and cancels an
//! event over HTTP, each participant's MX host receives the messages, and Python's
//! `email` and `icalendar` packages read them back.

mod support;

use std::time::{Duration, Instant};

use convene_testkit::{Peer, SpooledMessage, require_peers, run_python};
use serde_json::{Value, json};
use support::Convene;
use support::world::MailWorld;

/// Reads an invitation: the method parameter of its calendar part and the calendar object
/// as Python's icalendar parses it.
const READER: &str = r#"
import email, email.policy, json, sys
import icalendar
message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
calendar = icalendar.Calendar.from_ical(part.get_content())
event = next(c for c in calendar.walk("VEVENT"))
start = event["DTSTART"]
print(json.dumps({
    "to": str(message["To"]),
    "subject": str(message["Subject"]),
    "part_method": part.get_param("method"),
    "method": str(calendar.get("METHOD")),
    "uid": str(event["UID"]),
    "sequence": int(event.get("SEQUENCE", 0)),
    "status": str(event.get("STATUS", "")),
    "organizer": str(event["ORGANIZER"]),
    "attendees": sorted(
        [str(a), str(a.params.get("PARTSTAT", "")), str(a.params.get("RSVP", ""))]
        for a in (event.get("ATTENDEE") if isinstance(event.get("ATTENDEE"), list) else [event.get("ATTENDEE")])
    ),
    "dtstart_tzid": start.params.get("TZID"),
    "dtstart_utc": start.dt.astimezone(__import__("datetime").timezone.utc).isoformat(),
    "rrule": event.get("RRULE").to_ical().decode() if event.get("RRULE") else None,
    "timezones": [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")],
    "alarms": len(list(event.walk("VALARM"))),
    "defects": [str(d) for d in message.defects],
}))
"#;

fn read(message: &SpooledMessage) -> Value {
    let output = run_python(READER, message.data.as_bytes());
    serde_json::from_slice(&output)
        .unwrap_or_else(|_| panic!("reader printed {:?}", String::from_utf8_lossy(&output)))
}

/// Waits until `count` invitations have arrived, and returns them all, read.
async fn invitations(world: &MailWorld, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let arrived = world.invitations();
        if arrived.len() >= count {
            // Give an unexpected extra message the chance to show up.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return world.invitations().iter().map(read).collect();
        }
        assert!(
            Instant::now() < deadline,
            "only {} invitations arrived",
            arrived.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Returns the one invitation with `method` and `sequence`.
fn find<'a>(all: &'a [Value], method: &str, sequence: u32) -> &'a Value {
    let found: Vec<&Value> = all
        .iter()
        .filter(|invitation| invitation["method"] == method && invitation["sequence"] == sequence)
        .collect();
    assert_eq!(found.len(), 1, "{method} {sequence} in {all:?}");
    found[0]
}

#[tokio::test]
async fn invitations_follow_the_event() {
    if !require_peers(
        "invitations_follow_the_event",
        &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::PythonIcalendar],
    ) {
        return;
    }
    let world = MailWorld::start();
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &world.settings());
    let mut people = Vec::new();
    for (name, email, zone) in [
        ("Ann Organizer", "ann@alpha.test", "Europe/Berlin"),
        ("Bob", "bob@beta.test", "America/New_York"),
    ] {
        let (status, user) = convene
            .post(
                "/v1/users",
                json!({"name": name, "email": email, "time_zone": zone}),
            )
            .await;
        assert_eq!(status, 201, "{user}");
        people.push(user["id"].as_str().unwrap().to_owned());
    }
    let (ann, bob) = (&people[0], &people[1]);

    let (status, event) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Launch review", "location": "Room 4",
                "organizer": ann, "participants": [bob],
                "start": "2030-03-04T10:00:00+01:00", "end": "2030-03-04T11:00:00+01:00",
                "time_zone": "Europe/Berlin",
                "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    let id = event["id"].as_str().unwrap().to_owned();

    let request = &invitations(&world, 1).await[0].clone();
    assert_eq!(request["defects"], json!([]));
    assert!(
        request["to"].as_str().unwrap().contains("bob@beta.test"),
        "{request}"
    );
    assert_eq!(request["method"], "REQUEST");
    assert_eq!(request["part_method"], "REQUEST");
    assert_eq!(request["uid"], format!("{id}@convene.test"));
    assert_eq!(request["sequence"], 0);
    assert!(
        request["organizer"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("mailto:ann@alpha.test"),
        "{request}"
    );
    assert_eq!(
        request["attendees"],
        json!([
            ["mailto:ann@alpha.test", "ACCEPTED", "FALSE"],
            ["mailto:bob@beta.test", "NEEDS-ACTION", "TRUE"],
        ])
    );
    assert_eq!(request["dtstart_tzid"], "Europe/Berlin");
    assert_eq!(request["dtstart_utc"], "2030-03-04T09:00:00+00:00");
    assert_eq!(request["rrule"], "FREQ=WEEKLY;COUNT=4");
    assert_eq!(request["timezones"], json!(["Europe/Berlin"]));
    assert_eq!(request["alarms"], 0);

    // Bob accepts: Ann gets the reply.
    let (status, answered) = convene
        .post(
            &format!("/v1/events/{id}/rsvp"),
            json!({"user": bob, "response": "accepted"}),
        )
        .await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(
        answered["answers"],
        json!([{"user": ann, "response": "accepted"}, {"user": bob, "response": "accepted"}])
    );
    let reply = find(&invitations(&world, 2).await, "REPLY", 0).clone();
    assert_eq!(reply["method"], "REPLY");
    assert!(
        reply["to"].as_str().unwrap().contains("ann@alpha.test"),
        "{reply}"
    );
    assert_eq!(
        reply["attendees"],
        json!([["mailto:bob@beta.test", "ACCEPTED", "FALSE"]])
    );

    // A new time raises SEQUENCE and requests Bob's reply again.
    let (status, moved) = convene
        .patch(
            &format!("/v1/events/{id}"),
            json!({"start": "2030-03-05T14:00:00+01:00", "end": "2030-03-05T15:00:00+01:00"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let update = find(&invitations(&world, 3).await, "REQUEST", 1).clone();
    assert_eq!(update["method"], "REQUEST");
    assert_eq!(update["sequence"], 1);
    assert_eq!(update["uid"], request["uid"]);
    assert_eq!(update["dtstart_utc"], "2030-03-05T13:00:00+00:00");
    assert_eq!(
        update["attendees"],
        json!([
            ["mailto:ann@alpha.test", "ACCEPTED", "FALSE"],
            ["mailto:bob@beta.test", "NEEDS-ACTION", "TRUE"],
        ])
    );

    let (status, _) = convene.delete(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200);
    let all = invitations(&world, 4).await;
    assert_eq!(all.len(), 4, "{all:?}");
    let cancel = find(&all, "CANCEL", 2);

    // The mail queue's attempts show in the metrics: the four invitations, delivered.
    let (status, _, metrics) = convene.get_text("/metrics").await;
    assert_eq!(status, 200);
    let delivered: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("convene_mail_attempts_total{result=\"delivered\"} "))
        .expect("the delivered series")
        .parse()
        .unwrap();
    assert!(delivered >= 4, "{metrics}");
    let timed: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("convene_mail_delivery_seconds_count "))
        .expect("the delivery histogram")
        .parse()
        .unwrap();
    assert_eq!(timed, delivered, "{metrics}");
    assert_eq!(cancel["method"], "CANCEL");
    assert_eq!(cancel["part_method"], "CANCEL");
    assert_eq!(cancel["status"], "CANCELLED");
    assert_eq!(cancel["sequence"], 2);
    assert!(
        cancel["to"].as_str().unwrap().contains("bob@beta.test"),
        "{cancel}"
    );
}
