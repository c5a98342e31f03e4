//! Feeds iCalendar bodies to the `text/calendar` request parser and to
//! `convene_ical::parse_bytes`, and writes and reads again whatever imports.
//!
//! The round trip checks what the corpus test in `crates/ical/tests/corpus.rs` checks: the
//! written calendar has no line over 75 octets, reads again without an error and without
//! a skipped event, and contains the same method and events. The one allowed difference is
//! DTSTAMP, which `write` fills with the current time when an event has none.
#![no_main]

use std::collections::HashMap;

use convene_ical::{CalendarEvent, EventTime, Limits, Zone, parse_bytes, write};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let parser = convene_input::parser_for("text/calendar").expect("an iCalendar parser");
    convene_fuzz::parse_with_every_method(parser, body);

    let limits = Limits::default();
    let Ok(first) = parse_bytes(body, &limits) else {
        return;
    };
    let written = write(&first.calendar);
    for line in written.split("\r\n") {
        assert!(
            line.len() <= 75,
            "a written line of {} octets: {line:?}",
            line.len()
        );
    }
    let second = match parse_bytes(written.as_bytes(), &limits) {
        Ok(second) => second,
        Err(error) => panic!("the written calendar is rejected: {error}\n{written}"),
    };
    assert!(
        second.skipped.is_empty(),
        "the written calendar skips events: {:?}\n{written}",
        second.skipped
    );
    // `write` keeps one zone per TZID, so an input whose VCALENDARs define one TZID in two
    // ways cannot come back unchanged. `zones_used` in crates/ical/src/export.rs notes it.
    if has_clashing_tzids(&first.calendar.events) {
        return;
    }
    assert_eq!(first.calendar.method, second.calendar.method, "{written}");
    assert_eq!(
        first.calendar.events.len(),
        second.calendar.events.len(),
        "{written}"
    );
    for (before, after) in first.calendar.events.iter().zip(&second.calendar.events) {
        let mut after = after.clone();
        if before.dtstamp.is_none() {
            after.dtstamp = None;
        }
        assert_eq!(*before, after, "{written}");
    }
});

/// Returns whether two times of `events` share a TZID but not the zone.
fn has_clashing_tzids(events: &[CalendarEvent]) -> bool {
    let mut zones: HashMap<&str, &Zone> = HashMap::new();
    let times = events.iter().flat_map(|event| {
        [&event.start, &event.end]
            .into_iter()
            .chain(&event.rdates)
            .chain(&event.exdates)
            .chain(&event.recurrence_id)
    });
    for zone in times.filter_map(EventTime::zone) {
        if *zones.entry(zone.tzid()).or_insert(zone) != zone {
            return true;
        }
    }
    false
}
