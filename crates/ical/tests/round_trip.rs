//! Small calendars that once changed on the way through parse, write and parse again.
//!
//! Each case checks the promise of the corpus test: the written calendar reads again
//! without an error or a skipped event and contains the same events.

use convene_ical::{Limits, parse_bytes, write};

/// Wraps `event_lines` in a VCALENDAR with one VEVENT, with CRLF line ends.
fn calendar(event_lines: &[&str]) -> Vec<u8> {
    let mut lines = vec![
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Example//Test//EN",
        "BEGIN:VEVENT",
        "UID:round-trip@example.test",
        "DTSTAMP:20300101T120000Z",
    ];
    lines.extend_from_slice(event_lines);
    lines.extend_from_slice(&["END:VEVENT", "END:VCALENDAR", ""]);
    lines.join("\r\n").into_bytes()
}

fn assert_round_trip(name: &str, input: &[u8]) {
    let limits = Limits::default();
    let first = parse_bytes(input, &limits).unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(
        first.calendar.events.len(),
        1,
        "{name}: {:?}",
        first.skipped
    );

    let written = write(&first.calendar);
    let second = parse_bytes(written.as_bytes(), &limits)
        .unwrap_or_else(|error| panic!("{name}: the written calendar is rejected: {error}"));
    assert!(second.skipped.is_empty(), "{name}: {:?}", second.skipped);
    assert_eq!(first.calendar, second.calendar, "{name}:\n{written}");
}

#[test]
fn zero_duration_all_day_event_is_skipped() {
    let input = calendar(&["DTSTART;VALUE=DATE:20040101", "DURATION:P0D"]);
    let imported = parse_bytes(&input, &Limits::default()).unwrap();
    assert!(imported.calendar.events.is_empty());
    assert_eq!(imported.skipped.len(), 1);
    assert!(
        imported.skipped[0].reason.contains("DURATION"),
        "{}",
        imported.skipped[0].reason
    );
}

#[test]
fn round_trip_keeps_events() {
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "control characters inside RRULE",
            calendar(&[
                "DTSTART;VALUE=DATE:20020218",
                "RRULE:FREQ=YEARLY;INTERVAL=1\0\0\0;BYMONTH=2;BYDAY=3MO",
            ]),
        ),
        (
            "control characters inside parameter values",
            calendar(&[
                "DTSTART:20181123T163000Z",
                "ORGANIZER;CN=Ann\x01 Lee:mailto:ann@example.test",
                "ATTENDEE;PARTSTAT=A\x01\0\x1cROLE;ROLE=CHAIR\t:mailto:bob@example.test",
            ]),
        ),
        (
            "control characters inside addresses",
            calendar(&[
                "DTSTART:20181123T163000Z",
                "ORGANIZER;CN=Ann Lee:mailto:ann@example.te\0\0\x03st",
                "ATTENDEE:mailto:\0mailto:bob@example.test",
            ]),
        ),
        (
            "IANA name with '_' for '/' and no VTIMEZONE",
            calendar(&[
                "DTSTART;TZID=America_Bogota:20140411T113000",
                "RDATE;TZID=America_Bogota:20140413T113000",
            ]),
        ),
        (
            "control characters inside METHOD",
            [
                b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST \0\r\n".as_slice(),
                &calendar(&["DTSTART:20181123T163000Z"])[b"BEGIN:VCALENDAR\r\n".len()..],
            ]
            .concat(),
        ),
    ];
    for (name, input) in cases {
        assert_round_trip(name, &input);
    }
}
