//! Unit tests of the VEVENT mapping and of the content of each kind of message.

use base64::Engine;
use convene_domain::{Event, EventId, EventStatus, NewEvent, NewEventParts, NewUser, User, UserId};
use convene_ical::{EventTime, Method, PartStat, Role, Status};
use convene_mail::{Address, Mailbox};
use jiff::Timestamp;

use super::*;

const UID_DOMAIN: &str = "convene.test";

fn user(name: &str, email: &str, time_zone: Option<&str>) -> User {
    NewUser::new(name, email, time_zone)
        .unwrap()
        .into_user(UserId::generate())
}

struct Fixture {
    organizer: User,
    ada: User,
    bob: User,
    event: Event,
}

/// Returns an event in Berlin on 3 March 2026, 10:00 to 11:00 local time, organized by
/// Olga with Ada (in New York) and Bob (no zone of his own) as participants.
fn fixture(time_zone: &str) -> Fixture {
    let organizer = user("Olga Organizer", "olga@convene.test", Some("Europe/Berlin"));
    let ada = user("Ada Lovelace", "ada@alpha.test", Some("America/New_York"));
    let bob = user("Bob <Builder> & Sons", "bob@beta.test", None);
    let event = NewEvent::new(NewEventParts {
        title: "Quarterly review",
        description: Some("Bring the <figures> & charts.\nSecond line."),
        location: Some("Room 4, Main St."),
        start: timestamp("2026-03-03T09:00:00Z"),
        end: timestamp("2026-03-03T10:00:00Z"),
        time_zone,
        organizer: organizer.id,
        participants: vec![ada.id, bob.id],
        reminders: Vec::new(),
        all_day: false,
        recurrence: None,
    })
    .unwrap()
    .into_event(EventId::generate());
    Fixture {
        organizer,
        ada,
        bob,
        event,
    }
}

fn timestamp(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn now() -> Timestamp {
    timestamp("2026-03-01T08:00:00Z")
}

fn states(fixture: &Fixture, ada: PartStat, bob: PartStat) -> Vec<AttendeeState> {
    vec![
        AttendeeState {
            user: fixture.ada.clone(),
            partstat: ada,
        },
        AttendeeState {
            user: fixture.bob.clone(),
            partstat: bob,
        },
    ]
}

fn from() -> Mailbox {
    Mailbox::new("Convene", Address::parse("noreply@convene.test").unwrap())
}

/// Builds the message and returns its bytes as text.
fn build(
    kind: InvitationKind,
    fixture: &Fixture,
    attendees: &[AttendeeState],
    recipient: &User,
) -> String {
    let message = invitation(
        kind,
        &fixture.event,
        &fixture.organizer,
        attendees,
        recipient,
        from(),
        UID_DOMAIN,
        now(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    String::from_utf8(message.to_bytes().unwrap()).unwrap()
}

/// Builds the iCalendar object that a message of `kind` carries and parses it back.
fn object(
    kind: InvitationKind,
    fixture: &Fixture,
    attendees: &[AttendeeState],
    recipient: &User,
) -> convene_ical::Calendar {
    let output = build(kind, fixture, attendees, recipient);
    let ics = decode_calendar_part(&output);
    let imported = convene_ical::parse(&ics).unwrap();
    assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
    imported.calendar
}

/// Returns the decoded `text/calendar` part of a message.
fn decode_calendar_part(output: &str) -> String {
    let (_, after) = output
        .split_once("Content-Type: text/calendar")
        .expect("a text/calendar part");
    let (_, body) = after.split_once("\r\n\r\n").unwrap();
    let encoded: String = body
        .split("\r\n")
        .take_while(|line| !line.starts_with("--"))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn calendar_event_keeps_uid_across_updates() {
    let mut fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::NeedsAction, PartStat::NeedsAction);
    let first = calendar_event(
        &fixture.event,
        &fixture.organizer,
        &attendees,
        UID_DOMAIN,
        now(),
    );

    fixture.event.title = "Quarterly review (moved)".to_owned();
    fixture.event.sequence = 1;
    let later = timestamp("2026-03-02T08:00:00Z");
    let second = calendar_event(
        &fixture.event,
        &fixture.organizer,
        &attendees,
        UID_DOMAIN,
        later,
    );

    assert_eq!(first.uid, format!("{}@convene.test", fixture.event.id));
    assert_eq!(second.uid, first.uid);
    assert_eq!(first.sequence, 0);
    assert_eq!(second.sequence, 1);
    assert_eq!(second.dtstamp, Some(later));
}

#[test]
fn calendar_event_writes_local_times_with_tzid() {
    let fixture = fixture("Europe/Berlin");
    let vevent = calendar_event(&fixture.event, &fixture.organizer, &[], UID_DOMAIN, now());
    match &vevent.start {
        EventTime::Zoned { local, zone } => {
            assert_eq!(zone.tzid(), "Europe/Berlin");
            assert_eq!(local.to_string(), "2026-03-03T10:00:00");
        }
        other => panic!("expected a zoned start, got {other:?}"),
    }
    match &vevent.end {
        EventTime::Zoned { local, .. } => assert_eq!(local.to_string(), "2026-03-03T11:00:00"),
        other => panic!("expected a zoned end, got {other:?}"),
    }

    let ics = calendar_file(vec![vevent]);
    assert!(
        ics.contains("DTSTART;TZID=Europe/Berlin:20260303T100000\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"),
        "{ics}"
    );
    assert!(!ics.contains("METHOD"), "{ics}");
    assert!(!ics.contains("VALARM"), "{ics}");
}

#[test]
fn calendar_event_writes_utc_events_in_utc() {
    for zone in ["UTC", "Etc/UTC"] {
        let fixture = fixture(zone);
        let vevent = calendar_event(&fixture.event, &fixture.organizer, &[], UID_DOMAIN, now());
        assert_eq!(
            vevent.start,
            EventTime::Utc(timestamp("2026-03-03T09:00:00Z")),
            "{zone}"
        );
        let ics = calendar_file(vec![vevent]);
        assert!(
            ics.contains("DTSTART:20260303T090000Z\r\n"),
            "{zone}: {ics}"
        );
        assert!(!ics.contains("VTIMEZONE"), "{zone}: {ics}");
    }
}

#[test]
fn calendar_event_writes_repeated_hour_in_utc() {
    // Berlin's clocks go back from 03:00 to 02:00 on 25 October 2026, so 02:30 local time
    // occurs twice. 01:30 UTC is the second 02:30, which TZID time would read as the first.
    let mut fixture = fixture("Europe/Berlin");
    fixture.event.interval = convene_domain::Interval::new(
        timestamp("2026-10-25T00:30:00Z"),
        timestamp("2026-10-25T01:30:00Z"),
        "end",
    )
    .unwrap();
    let vevent = calendar_event(&fixture.event, &fixture.organizer, &[], UID_DOMAIN, now());
    assert!(
        matches!(vevent.start, EventTime::Zoned { .. }),
        "{:?}",
        vevent.start
    );
    assert_eq!(
        vevent.end,
        EventTime::Utc(timestamp("2026-10-25T01:30:00Z"))
    );
}

#[test]
fn calendar_event_maps_partstat_and_rsvp() {
    let fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::Accepted, PartStat::NeedsAction);
    let vevent = calendar_event(
        &fixture.event,
        &fixture.organizer,
        &attendees,
        UID_DOMAIN,
        now(),
    );

    let organizer = vevent.organizer.as_ref().unwrap();
    assert_eq!(organizer.email, "olga@convene.test");
    assert_eq!(organizer.name.as_deref(), Some("Olga Organizer"));
    assert_eq!(vevent.status, Some(Status::Confirmed));
    assert_eq!(vevent.summary.as_deref(), Some("Quarterly review"));
    assert_eq!(vevent.location.as_deref(), Some("Room 4, Main St."));

    let rows: Vec<(&str, &str, bool)> = vevent
        .attendees
        .iter()
        .map(|attendee| {
            (
                attendee.person.email.as_str(),
                attendee.partstat.as_str(),
                attendee.rsvp,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("olga@convene.test", "ACCEPTED", false),
            ("ada@alpha.test", "ACCEPTED", false),
            ("bob@beta.test", "NEEDS-ACTION", true),
        ]
    );
    for attendee in &vevent.attendees {
        assert_eq!(attendee.role, Role::ReqParticipant);
        assert!(attendee.person.name.is_some());
    }
}

#[test]
fn request_carries_method_and_all_attendees() {
    let fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::NeedsAction, PartStat::Tentative);
    let calendar = object(InvitationKind::Request, &fixture, &attendees, &fixture.ada);
    assert_eq!(calendar.method, Some(Method::Request));
    let vevent = &calendar.events[0];
    assert_eq!(vevent.attendees.len(), 3);
    assert_eq!(vevent.status, Some(Status::Confirmed));
    assert_eq!(vevent.dtstamp, Some(now()));

    let output = build(InvitationKind::Request, &fixture, &attendees, &fixture.ada);
    assert!(output.contains("method=REQUEST"), "{output}");
    assert!(
        output.contains("\r\nTo: \"Ada Lovelace\" <ada@alpha.test>\r\n"),
        "{output}"
    );
    assert!(!output.contains("bob@beta.test>"), "{output}");
    assert!(
        output.contains("Reply-To: \"Olga Organizer\" <olga@convene.test>"),
        "{output}"
    );
    assert!(output.contains("filename=\"invite.ics\""), "{output}");
}

#[test]
fn request_subject_shows_recipient_time() {
    let fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::NeedsAction, PartStat::NeedsAction);
    let cases = [
        (&fixture.ada, "Tue 3 Mar 2026 04:00 EST"),
        (&fixture.bob, "Tue 3 Mar 2026 10:00 CET"),
    ];
    for (recipient, when) in cases {
        let output = build(InvitationKind::Request, &fixture, &attendees, recipient);
        let expected = format!("Subject: Invitation: Quarterly review @ {when}\r\n");
        assert!(output.contains(&expected), "{expected:?} in {output}");
    }

    let mut updated = fixture;
    updated.event.sequence = 2;
    let output = build(InvitationKind::Request, &updated, &attendees, &updated.ada);
    assert!(
        output.contains("Subject: Updated invitation: Quarterly review"),
        "{output}"
    );
}

#[test]
fn request_bodies_escape_html() {
    let fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::NeedsAction, PartStat::NeedsAction);
    let message = invitation(
        InvitationKind::Request,
        &fixture.event,
        &fixture.organizer,
        &attendees,
        &fixture.ada,
        from(),
        UID_DOMAIN,
        now(),
    )
    .unwrap();
    let debug = format!("{message:?}");
    assert!(!debug.contains("figures"), "{debug}");

    let rendered = render::render(
        InvitationKind::Request,
        &fixture.event,
        &fixture.organizer,
        &fixture.ada,
        None,
    );
    let when = "When: Tuesday, 3 March 2026, 04:00–05:00 EST (America/New_York)";
    assert!(rendered.text.contains(when), "{}", rendered.text);
    assert!(
        rendered.text.contains("Where: Room 4, Main St."),
        "{}",
        rendered.text
    );
    assert!(
        rendered
            .text
            .contains("Organizer: Olga Organizer <olga@convene.test>"),
        "{}",
        rendered.text
    );
    assert!(
        rendered
            .html
            .contains("Bring the &lt;figures&gt; &amp; charts.<br>"),
        "{}",
        rendered.html
    );
    assert!(!rendered.html.contains("<figures>"), "{}", rendered.html);
    assert!(
        rendered
            .html
            .contains("Olga Organizer &lt;olga@convene.test&gt;"),
        "{}",
        rendered.html
    );
}

#[test]
fn cancel_whole_event_lists_everyone() {
    let mut fixture = fixture("Europe/Berlin");
    fixture.event.status = EventStatus::Cancelled;
    fixture.event.sequence = 1;
    let attendees = states(&fixture, PartStat::Accepted, PartStat::NeedsAction);
    let calendar = object(InvitationKind::Cancel, &fixture, &attendees, &fixture.bob);
    assert_eq!(calendar.method, Some(Method::Cancel));
    let vevent = &calendar.events[0];
    assert_eq!(vevent.status, Some(Status::Cancelled));
    assert_eq!(vevent.sequence, 1);
    assert_eq!(vevent.attendees.len(), 3);
    assert!(vevent.attendees.iter().all(|attendee| !attendee.rsvp));

    let output = build(InvitationKind::Cancel, &fixture, &attendees, &fixture.bob);
    assert!(
        output.contains("Subject: Cancelled: Quarterly review"),
        "{output}"
    );
}

#[test]
fn cancel_for_removed_attendee_names_only_them() {
    let fixture = fixture("Europe/Berlin");
    let remaining = vec![AttendeeState {
        user: fixture.ada.clone(),
        partstat: PartStat::Accepted,
    }];
    let calendar = object(InvitationKind::Cancel, &fixture, &remaining, &fixture.bob);
    assert_eq!(calendar.method, Some(Method::Cancel));
    let vevent = &calendar.events[0];
    assert_eq!(vevent.status, None);
    let emails: Vec<&str> = vevent
        .attendees
        .iter()
        .map(|attendee| attendee.person.email.as_str())
        .collect();
    assert_eq!(emails, ["bob@beta.test"]);

    let output = build(InvitationKind::Cancel, &fixture, &remaining, &fixture.bob);
    assert!(
        output.contains("Subject: Removed from event: Quarterly review"),
        "{output}"
    );
}

#[test]
fn reply_carries_only_answering_attendee() {
    let fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::Declined, PartStat::NeedsAction);
    let kind = InvitationKind::Reply {
        attendee: fixture.ada.id,
    };
    let calendar = object(kind, &fixture, &attendees, &fixture.organizer);
    assert_eq!(calendar.method, Some(Method::Reply));
    let vevent = &calendar.events[0];
    assert_eq!(vevent.attendees.len(), 1);
    assert_eq!(vevent.attendees[0].person.email, "ada@alpha.test");
    assert_eq!(vevent.attendees[0].partstat, PartStat::Declined);
    assert_eq!(
        vevent
            .organizer
            .as_ref()
            .map(|person| person.email.as_str()),
        Some("olga@convene.test")
    );

    let output = build(kind, &fixture, &attendees, &fixture.organizer);
    assert!(output.contains("method=REPLY"), "{output}");
    assert!(
        output.contains("Subject: Ada Lovelace declined: Quarterly review"),
        "{output}"
    );
    assert!(
        output.contains("Reply-To: \"Ada Lovelace\" <ada@alpha.test>"),
        "{output}"
    );
}

#[test]
fn invitation_rejects_wrong_recipients() {
    let fixture = fixture("Europe/Berlin");
    let attendees = states(&fixture, PartStat::NeedsAction, PartStat::NeedsAction);
    let stranger = user("Stranger", "stranger@gamma.test", None);
    let mut cancelled = fixture.event.clone();
    cancelled.status = EventStatus::Cancelled;
    let other_organizer = user("Other", "other@gamma.test", None);

    let run = |kind, event: &Event, organizer: &User, recipient: &User| {
        invitation(
            kind,
            event,
            organizer,
            &attendees,
            recipient,
            from(),
            UID_DOMAIN,
            now(),
        )
        .unwrap_err()
    };
    let ada_reply = InvitationKind::Reply {
        attendee: fixture.ada.id,
    };
    let cases = [
        (
            run(
                InvitationKind::Request,
                &fixture.event,
                &other_organizer,
                &fixture.ada,
            ),
            ItipError::OrganizerMismatch {
                expected: fixture.organizer.id,
                given: other_organizer.id,
            },
        ),
        (
            run(
                InvitationKind::Request,
                &fixture.event,
                &fixture.organizer,
                &fixture.organizer,
            ),
            ItipError::RecipientIsOrganizer {
                recipient: fixture.organizer.id,
            },
        ),
        (
            run(
                InvitationKind::Request,
                &fixture.event,
                &fixture.organizer,
                &stranger,
            ),
            ItipError::RecipientNotInvited {
                recipient: stranger.id,
            },
        ),
        (
            run(
                InvitationKind::Request,
                &cancelled,
                &fixture.organizer,
                &fixture.ada,
            ),
            ItipError::EventCancelled,
        ),
        (
            run(
                InvitationKind::Cancel,
                &fixture.event,
                &fixture.organizer,
                &fixture.ada,
            ),
            ItipError::RecipientStillInvited {
                recipient: fixture.ada.id,
            },
        ),
        (
            run(
                InvitationKind::Cancel,
                &cancelled,
                &fixture.organizer,
                &stranger,
            ),
            ItipError::RecipientNotInvited {
                recipient: stranger.id,
            },
        ),
        (
            run(ada_reply, &fixture.event, &fixture.organizer, &fixture.bob),
            ItipError::ReplyNotToOrganizer {
                recipient: fixture.bob.id,
            },
        ),
        (
            run(
                InvitationKind::Reply {
                    attendee: stranger.id,
                },
                &fixture.event,
                &fixture.organizer,
                &fixture.organizer,
            ),
            ItipError::UnknownAttendee {
                attendee: stranger.id,
            },
        ),
        (
            run(
                ada_reply,
                &fixture.event,
                &fixture.organizer,
                &fixture.organizer,
            ),
            ItipError::ReplyWithoutAnswer {
                attendee: fixture.ada.id,
            },
        ),
    ];
    for (index, (actual, expected)) in cases.into_iter().enumerate() {
        assert_eq!(actual, expected, "case {index}");
    }
}

#[test]
fn recurrence_and_all_day_keep_their_forms() {
    let mut f = fixture("Europe/Berlin");
    f.event.recurrence = Some(convene_domain::EventRecurrence {
        rules: vec![convene_recur::Rule::parse("FREQ=WEEKLY;COUNT=5").unwrap()],
        rdates: vec![],
        exdates: vec![timestamp("2026-03-31T08:00:00Z")],
    });
    let mapped = calendar_event(&f.event, &f.organizer, &[], UID_DOMAIN, now());
    assert_eq!(mapped.rrule, ["FREQ=WEEKLY;COUNT=5"]);
    // 31 March is after the change to summer time: 10:00 local is 08:00 UTC.
    let EventTime::Zoned { local, zone } = &mapped.exdates[0] else {
        panic!("expected a local EXDATE, got {:?}", mapped.exdates);
    };
    assert_eq!(local.to_string(), "2026-03-31T10:00:00");
    assert_eq!(zone.tzid(), "Europe/Berlin");

    f.event.all_day = true;
    f.event.recurrence = None;
    f.event.interval = convene_domain::Interval::new(
        timestamp("2026-03-02T23:00:00Z"),
        timestamp("2026-03-04T23:00:00Z"),
        "end",
    )
    .unwrap();
    let mapped = calendar_event(&f.event, &f.organizer, &[], UID_DOMAIN, now());
    assert_eq!(mapped.start, EventTime::Date("2026-03-03".parse().unwrap()));
    assert_eq!(mapped.end, EventTime::Date("2026-03-05".parse().unwrap()));
    assert!(mapped.rrule.is_empty());
}
