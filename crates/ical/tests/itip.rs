//! iTIP invitations written by `write`, read back by Python's `icalendar` package.
//!
//! An independent reader checks what Outlook and Apple Calendar depend on: METHOD, the
//! organizer and attendee parameters, SEQUENCE, DTSTAMP, STATUS, no VALARM, and a VTIMEZONE
//! that puts each local time at the right instant.

use std::io::Write;
use std::process::{Command, Stdio};

use convene_ical::{
    Attendee, Calendar, CalendarEvent, EventTime, Method, PartStat, Person, Role, Status, Zone,
    write,
};
use jiff::civil;
use jiff::tz::TimeZone;
use serde_json::Value;

/// Reads an iCalendar object from stdin and prints, as JSON, what `icalendar` found in it.
const READER: &str = r#"
import json, sys
import icalendar

calendar = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
events = []
for event in calendar.walk("VEVENT"):
    def params(prop):
        return {key: str(value) for key, value in prop.params.items()}
    start = event.decoded("DTSTART")
    end = event.decoded("DTEND")
    events.append({
        "uid": str(event["UID"]),
        "sequence": int(event.get("SEQUENCE", 0)),
        "status": str(event.get("STATUS", "")),
        "summary": str(event.get("SUMMARY", "")),
        "dtstamp": event.decoded("DTSTAMP").isoformat(),
        "start": start.isoformat(),
        "start_offset": start.utcoffset().total_seconds(),
        "start_tzid": event["DTSTART"].params.get("TZID", ""),
        "end_offset": end.utcoffset().total_seconds(),
        "organizer": str(event["ORGANIZER"]),
        "organizer_params": params(event["ORGANIZER"]),
        "attendees": [
            {"address": str(attendee), "params": params(attendee)}
            for attendee in (event.get("ATTENDEE") if isinstance(event.get("ATTENDEE"), list) else [event.get("ATTENDEE")])
        ],
        "alarms": len(event.walk("VALARM")),
    })
print(json.dumps({
    "method": str(calendar.get("METHOD", "")),
    "version": str(calendar.get("VERSION", "")),
    "prodid": str(calendar.get("PRODID", "")),
    "timezones": [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")],
    "events": events,
}))
"#;

fn python_icalendar_available() -> bool {
    let available = Command::new("python3")
        .args(["-c", "import icalendar"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if available {
        return true;
    }
    if std::env::var("CONVENE_REQUIRE_PEERS").is_ok_and(|value| value == "1") {
        panic!(
            "Python's icalendar package is missing and CONVENE_REQUIRE_PEERS=1; install it: python3 -m pip install icalendar"
        );
    }
    eprintln!(
        "skipped: itip: Python's icalendar package is not installed (python3 -m pip install icalendar)"
    );
    false
}

fn read_with_python(ics: &str) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", READER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(ics.as_bytes())
        .expect("python3 reads the calendar");
    let output = child.wait_with_output().expect("python3 runs");
    assert!(
        output.status.success(),
        "icalendar failed to read the calendar: {}\n{ics}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the reader prints JSON")
}

fn invitation(method: Method, zone: Zone, month: i8) -> Calendar {
    let local = civil::date(2026, month, 15).at(9, 30, 0, 0);
    let mut event = CalendarEvent::new(
        "meeting-1@convene.test",
        EventTime::Zoned {
            local,
            zone: zone.clone(),
        },
        EventTime::Zoned {
            local: local
                .checked_add(jiff::SignedDuration::from_hours(1))
                .unwrap(),
            zone,
        },
    );
    event.sequence = 2;
    event.dtstamp = Some("2026-01-10T08:00:00Z".parse().unwrap());
    event.summary = Some("Planning, Q3; budget".to_string());
    event.status = Some(if method == Method::Cancel {
        Status::Cancelled
    } else {
        Status::Confirmed
    });
    event.organizer = Some(Person {
        email: "ada@convene.test".to_string(),
        name: Some("Lovelace, Ada".to_string()),
    });
    event.attendees = vec![
        Attendee {
            person: Person {
                email: "grace@convene.test".to_string(),
                name: Some("Grace Hopper".to_string()),
            },
            partstat: if method == Method::Reply {
                PartStat::Accepted
            } else {
                PartStat::NeedsAction
            },
            rsvp: true,
            role: Role::ReqParticipant,
        },
        Attendee {
            person: Person {
                email: "alan@convene.test".to_string(),
                name: None,
            },
            partstat: PartStat::NeedsAction,
            rsvp: false,
            role: Role::OptParticipant,
        },
    ];
    Calendar {
        method: Some(method),
        events: vec![event],
    }
}

#[test]
fn itip_methods_read_by_icalendar() {
    if !python_icalendar_available() {
        return;
    }
    let zone = Zone::iana("Europe/Berlin").unwrap();
    for (method, name) in [
        (Method::Request, "REQUEST"),
        (Method::Cancel, "CANCEL"),
        (Method::Reply, "REPLY"),
    ] {
        let ics = write(&invitation(method.clone(), zone.clone(), 7));
        let read = read_with_python(&ics);

        assert_eq!(read["method"], name, "{ics}");
        assert_eq!(read["version"], "2.0");
        assert_eq!(read["prodid"], convene_ical::PRODUCT_ID);
        assert_eq!(read["timezones"], serde_json::json!(["Europe/Berlin"]));
        let event = &read["events"][0];
        assert_eq!(event["uid"], "meeting-1@convene.test");
        assert_eq!(event["sequence"], 2);
        assert_eq!(event["summary"], "Planning, Q3; budget");
        assert_eq!(event["dtstamp"], "2026-01-10T08:00:00+00:00");
        assert_eq!(event["alarms"], 0);
        let status = if method == Method::Cancel {
            "CANCELLED"
        } else {
            "CONFIRMED"
        };
        assert_eq!(event["status"], status);
        assert_eq!(event["organizer"], "mailto:ada@convene.test");
        assert_eq!(event["organizer_params"]["CN"], "Lovelace, Ada");

        let grace = &event["attendees"][0];
        assert_eq!(grace["address"], "mailto:grace@convene.test");
        assert_eq!(grace["params"]["CN"], "Grace Hopper");
        assert_eq!(grace["params"]["ROLE"], "REQ-PARTICIPANT");
        let partstat = if method == Method::Reply {
            "ACCEPTED"
        } else {
            "NEEDS-ACTION"
        };
        assert_eq!(grace["params"]["PARTSTAT"], partstat);
        assert_eq!(grace["params"]["RSVP"], "TRUE");
        let alan = &event["attendees"][1];
        assert_eq!(alan["params"]["ROLE"], "OPT-PARTICIPANT");
        assert_eq!(alan["params"]["RSVP"], "FALSE");
        assert!(alan["params"].get("CN").is_none(), "{alan}");
    }
}

/// Offsets that Python computes for zones whose TZID is not an IANA name: a Windows name
/// and a zone that only its rules define, which the reader can take only from the VTIMEZONE.
#[test]
fn vtimezone_offsets_read_by_icalendar() {
    if !python_icalendar_available() {
        return;
    }
    let windows = Zone::new(
        "W. Europe Standard Time",
        TimeZone::get("Europe/Berlin").unwrap(),
    );
    let rules = Zone::new(
        "Convene Test Zone",
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap(),
    );
    let cases = [
        (windows.clone(), 1, 3600.0),
        (windows, 7, 7200.0),
        (rules.clone(), 1, -18000.0),
        (rules, 7, -14400.0),
    ];
    for (zone, month, offset) in cases {
        let tzid = zone.tzid().to_string();
        let ics = write(&invitation(Method::Request, zone, month));
        let read = read_with_python(&ics);
        let event = &read["events"][0];
        assert_eq!(event["start_tzid"], tzid.as_str(), "{ics}");
        assert_eq!(
            event["start_offset"], offset,
            "{tzid} in month {month}:\n{ics}"
        );
        assert_eq!(
            event["end_offset"], offset,
            "{tzid} in month {month}:\n{ics}"
        );
    }
}
