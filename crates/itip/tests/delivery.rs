//! Each kind of invitation delivered through `convene_mail::Mailer` to aiosmtpd on loopback,
//! with dnsmasq answering the MX lookups, and read back by Python's `email` and `icalendar`
//! packages, which share no code with Convene.

use std::env;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use convene_domain::{Event, EventId, EventStatus, NewEvent, NewEventParts, NewUser, User, UserId};
use convene_itip::{AttendeeState, InvitationKind, PartStat, invitation};
use convene_mail::{Address, DeliveryStatus, Mailbox, Mailer, MailerConfig, Message};
use convene_testkit::{
    DnsConfig, Dnsmasq, Peer, SmtpServer, free_port_on, require_peers, run_python,
};
use jiff::Timestamp;
use serde_json::Value;

/// Prints, as JSON, the recipients and subject of the message on stdin, the `method`
/// parameter of its `text/calendar` part, the attachment's file name, and what
/// `icalendar` reads from the calendar part: METHOD, the VTIMEZONE TZIDs, the number of
/// VALARMs, and the VEVENT's UID, SEQUENCE, STATUS, DTSTART (TZID and the instant in UTC),
/// ORGANIZER and ATTENDEEs with their parameters.
const CHECKER: &str = r#"
import datetime, email, email.policy, json, sys
import icalendar

message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
result = {
    "to": [address.addr_spec for address in message["to"].addresses],
    "subject": str(message["subject"]),
    "defects": [repr(defect) for part in message.walk() for defect in part.defects],
}
calendar = None
for part in message.walk():
    if part.get_content_type() == "text/calendar":
        result["part_method"] = part.get_param("method")
        calendar = icalendar.Calendar.from_ical(part.get_content())
    elif part.get_content_type() == "application/ics":
        result["attachment"] = part.get_filename()

result["method"] = str(calendar.get("method"))
result["vtimezones"] = [str(zone.get("tzid")) for zone in calendar.walk("VTIMEZONE")]
result["valarms"] = len(calendar.walk("VALARM"))
event = calendar.walk("VEVENT")[0]
start = event.get("dtstart")
result["uid"] = str(event.get("uid"))
result["sequence"] = int(event.get("sequence", 0))
result["status"] = str(event.get("status")) if event.get("status") else None
result["dtstart_tzid"] = start.params.get("TZID")
result["dtstart_utc"] = start.dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
organizer = event.get("organizer")
result["organizer"] = {"address": str(organizer), "cn": organizer.params.get("CN")}
attendees = event.get("attendee", [])
if not isinstance(attendees, list):
    attendees = [attendees]
result["attendees"] = [
    {
        "address": str(attendee),
        "cn": attendee.params.get("CN"),
        "partstat": attendee.params.get("PARTSTAT"),
        "rsvp": attendee.params.get("RSVP"),
        "role": attendee.params.get("ROLE"),
    }
    for attendee in attendees
]
print(json.dumps(result))
"#;

const UID_DOMAIN: &str = "convene.test";

fn user(name: &str, email: &str, time_zone: Option<&str>) -> User {
    NewUser::new(name, email, time_zone)
        .unwrap()
        .into_user(UserId::generate())
}

fn timestamp(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Checks that Python's `icalendar` package can be imported, following the convention of
/// `require_peers`: skip, or fail when `CONVENE_REQUIRE_PEERS=1`.
fn require_icalendar(test: &str) -> bool {
    let installed = Command::new("python3")
        .args(["-c", "import icalendar"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if installed {
        return true;
    }
    let hint = "install the PyPI package icalendar: python3 -m pip install icalendar";
    if env::var("CONVENE_REQUIRE_PEERS").is_ok_and(|value| value == "1") {
        panic!("{test}: icalendar is not installed and CONVENE_REQUIRE_PEERS=1; {hint}");
    }
    eprintln!("skipped: {test}: icalendar not installed ({hint})");
    false
}

/// One message to deliver, with the label that the assertions use.
struct Outgoing {
    label: &'static str,
    message: Message,
}

#[tokio::test]
async fn invitations_reach_smtp_server_intact() {
    let test = "invitations_reach_smtp_server_intact";
    if !require_peers(test, &[Peer::Dnsmasq, Peer::Aiosmtpd, Peer::Python3])
        || !require_icalendar(test)
    {
        return;
    }

    // Every recipient domain has its MX on one aiosmtpd at 127.0.0.2.
    let server_ip: IpAddr = "127.0.0.2".parse().unwrap();
    let port = free_port_on(&[server_ip]);
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("alpha.test", "mx.convene.test", 10)
            .mx("beta.test", "mx.convene.test", 10)
            .mx("convene.test", "mx.convene.test", 10)
            .host("mx.convene.test", server_ip),
    )
    .expect("dnsmasq starts");
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(server_ip, port, None, spool.path()).expect("aiosmtpd starts");
    let mailer = Mailer::new(MailerConfig {
        dns_server: Some(dns.addr()),
        smtp_port: port,
        helo_name: "client.convene.test".to_owned(),
        ..MailerConfig::default()
    })
    .expect("valid mailer configuration");

    let organizer = user("Olga Organizer", "olga@convene.test", Some("Europe/Berlin"));
    let ada = user("Ada Lovelace", "ada@alpha.test", Some("America/New_York"));
    let bob = user("Bob Builder", "bob@beta.test", None);
    let event: Event = NewEvent::new(NewEventParts {
        title: "Quarterly review",
        description: Some("Figures & charts"),
        location: Some("Room 4"),
        start: timestamp("2026-03-03T09:00:00Z"),
        end: timestamp("2026-03-03T10:00:00Z"),
        time_zone: "Europe/Berlin",
        organizer: organizer.id,
        participants: vec![ada.id, bob.id],
        reminders: Vec::new(),
        all_day: false,
        recurrence: None,
    })
    .unwrap()
    .into_event(EventId::generate());
    let from = Mailbox::new("Convene", Address::parse("noreply@convene.test").unwrap());
    let now = timestamp("2026-03-01T08:00:00Z");
    let both_invited = vec![
        AttendeeState {
            user: ada.clone(),
            partstat: PartStat::NeedsAction,
        },
        AttendeeState {
            user: bob.clone(),
            partstat: PartStat::NeedsAction,
        },
    ];

    // The update moves the event by an hour, raises SEQUENCE, drops Bob and records Ada's
    // acceptance. The whole event is cancelled afterwards.
    let mut updated = event.clone();
    updated.interval = convene_domain::Interval::new(
        timestamp("2026-03-03T10:00:00Z"),
        timestamp("2026-03-03T11:00:00Z"),
        "end",
    )
    .unwrap();
    updated.sequence = 1;
    updated.participants = vec![ada.id];
    let ada_accepted = vec![AttendeeState {
        user: ada.clone(),
        partstat: PartStat::Accepted,
    }];
    let mut cancelled = updated.clone();
    cancelled.status = EventStatus::Cancelled;
    cancelled.sequence = 2;

    let build = |kind, event: &Event, attendees: &[AttendeeState], recipient: &User| {
        invitation(
            kind,
            event,
            &organizer,
            attendees,
            recipient,
            from.clone(),
            UID_DOMAIN,
            now,
        )
        .unwrap_or_else(|error| panic!("{error}"))
    };
    let reply = InvitationKind::Reply { attendee: ada.id };
    let outgoing = [
        Outgoing {
            label: "request",
            message: build(InvitationKind::Request, &event, &both_invited, &ada),
        },
        Outgoing {
            label: "update",
            message: build(InvitationKind::Request, &updated, &ada_accepted, &ada),
        },
        Outgoing {
            label: "removal",
            message: build(InvitationKind::Cancel, &updated, &ada_accepted, &bob),
        },
        Outgoing {
            label: "reply",
            message: build(reply, &updated, &ada_accepted, &organizer),
        },
        Outgoing {
            label: "cancel",
            message: build(InvitationKind::Cancel, &cancelled, &ada_accepted, &ada),
        },
    ];

    // Sent one after another, so the spool keeps this order.
    let sender = Address::parse("noreply@convene.test").unwrap();
    for item in &outgoing {
        let bytes = item.message.to_bytes().unwrap();
        let results = mailer
            .send(&sender, &item.message.envelope_recipients(), &bytes)
            .await;
        assert_eq!(results.len(), 1, "{}: {results:#?}", item.label);
        assert_eq!(
            results[0].status,
            DeliveryStatus::Delivered,
            "{}: {results:#?}",
            item.label
        );
    }

    let received = server.messages().unwrap();
    assert_eq!(received.len(), outgoing.len(), "{}", server.log());
    let parsed: Vec<Value> = received
        .iter()
        .map(|message| {
            serde_json::from_slice(&run_python(CHECKER, message.data.as_bytes()))
                .expect("JSON from the checker")
        })
        .collect();
    let [request, update, removal, reply, cancel] = &parsed[..] else {
        unreachable!("the length is checked above");
    };
    let uid = format!("{}@convene.test", event.id);

    for (label, message) in [
        ("request", request),
        ("update", update),
        ("removal", removal),
        ("reply", reply),
        ("cancel", cancel),
    ] {
        assert_eq!(message["defects"], serde_json::json!([]), "{label}");
        assert_eq!(message["part_method"], message["method"], "{label}");
        assert_eq!(message["uid"], uid.as_str(), "{label}");
        assert_eq!(message["dtstart_tzid"], "Europe/Berlin", "{label}");
        assert_eq!(
            message["vtimezones"],
            serde_json::json!(["Europe/Berlin"]),
            "{label}"
        );
        assert_eq!(message["valarms"], 0, "{label}");
        assert_eq!(message["attachment"], "invite.ics", "{label}");
        assert_eq!(
            message["organizer"],
            serde_json::json!({"address": "mailto:olga@convene.test", "cn": "Olga Organizer"}),
            "{label}"
        );
    }

    // The request: METHOD:REQUEST, the organizer and both participants, each asked to answer.
    assert_eq!(request["method"], "REQUEST");
    assert_eq!(request["to"], serde_json::json!(["ada@alpha.test"]));
    assert_eq!(request["sequence"], 0);
    assert_eq!(request["status"], "CONFIRMED");
    assert_eq!(request["dtstart_utc"], "2026-03-03T09:00:00Z");
    assert_eq!(
        request["attendees"],
        serde_json::json!([
            {"address": "mailto:olga@convene.test", "cn": "Olga Organizer",
             "partstat": "ACCEPTED", "rsvp": "FALSE", "role": "REQ-PARTICIPANT"},
            {"address": "mailto:ada@alpha.test", "cn": "Ada Lovelace",
             "partstat": "NEEDS-ACTION", "rsvp": "TRUE", "role": "REQ-PARTICIPANT"},
            {"address": "mailto:bob@beta.test", "cn": "Bob Builder",
             "partstat": "NEEDS-ACTION", "rsvp": "TRUE", "role": "REQ-PARTICIPANT"},
        ])
    );
    assert!(
        request["subject"]
            .as_str()
            .unwrap()
            .starts_with("Invitation: Quarterly review @ Tue 3 Mar 2026 04:00 EST"),
        "{}",
        request["subject"]
    );

    // The update: same UID, higher SEQUENCE, the new time.
    assert_eq!(update["method"], "REQUEST");
    assert_eq!(update["sequence"], 1);
    assert_eq!(update["dtstart_utc"], "2026-03-03T10:00:00Z");
    assert_eq!(update["attendees"][1]["partstat"], "ACCEPTED");
    assert_eq!(update["attendees"][1]["rsvp"], "FALSE");

    // The removal: METHOD:CANCEL for Bob alone, without STATUS.
    assert_eq!(removal["method"], "CANCEL");
    assert_eq!(removal["to"], serde_json::json!(["bob@beta.test"]));
    assert_eq!(removal["status"], Value::Null);
    let removed: Vec<&str> = removal["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attendee| attendee["address"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["mailto:bob@beta.test"]);

    // The reply: METHOD:REPLY to the organizer with Ada's answer only.
    assert_eq!(reply["method"], "REPLY");
    assert_eq!(reply["to"], serde_json::json!(["olga@convene.test"]));
    assert_eq!(
        reply["attendees"],
        serde_json::json!([
            {"address": "mailto:ada@alpha.test", "cn": "Ada Lovelace",
             "partstat": "ACCEPTED", "rsvp": "FALSE", "role": "REQ-PARTICIPANT"},
        ])
    );

    // The cancellation of the whole event: METHOD:CANCEL, STATUS:CANCELLED, higher SEQUENCE.
    assert_eq!(cancel["method"], "CANCEL");
    assert_eq!(cancel["status"], "CANCELLED");
    assert_eq!(cancel["sequence"], 2);
    assert_eq!(cancel["attendees"].as_array().unwrap().len(), 2);
}
