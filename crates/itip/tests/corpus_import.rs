//! Every iCalendar file of the shared corpus imported as a person's busy time.
//!
//! Checks that no file panics the import, that every event it keeps has a valid interval
//! and a recurrence the expander can answer, that its occurrences in the following year
//! can be listed, and that each event maps back to a VEVENT with its UID and times.

use std::fs;
use std::path::{Path, PathBuf};

use convene_domain::{Interval, NewUser, UserId};
use convene_ical::{EventTime, Limits, parse_bytes};
use convene_itip::{calendar_event, import_events};
use convene_recur::Budget;
use jiff::SignedDuration;

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cases/icalendar/files");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CONVENE_REQUIRE_CASES").is_ok_and(|value| value == "1") {
        panic!(
            "the iCalendar corpus is missing at {} and CONVENE_REQUIRE_CASES=1 is set",
            dir.display()
        );
    }
    eprintln!(
        "skipped: corpus_import: no iCalendar corpus at {}",
        dir.display()
    );
    None
}

#[test]
fn corpus_import() {
    let Some(dir) = corpus_dir() else { return };
    let owner = NewUser::new("Owner", "owner@convene.test", Some("America/Chicago"))
        .unwrap()
        .into_user(UserId::generate());
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "ics"))
        .collect();
    paths.sort();
    let (mut files, mut events, mut skipped, mut failures) = (0, 0, 0, Vec::new());
    for path in &paths {
        let bytes = fs::read(path).unwrap();
        let Ok(parsed) = parse_bytes(&bytes, &Limits::default()) else {
            continue;
        };
        files += 1;
        let imported = import_events(&parsed.calendar, &owner);
        skipped += imported.skipped.len();
        for event in &imported.events {
            events += 1;
            let name = path.file_name().unwrap().to_string_lossy();
            let uid = event.external_uid.clone().unwrap_or_default();
            let zone = event.zone();
            let first = event.interval;
            let year = Interval::from_ordered(
                first.start(),
                first
                    .start()
                    .checked_add(SignedDuration::from_hours(366 * 24))
                    .unwrap_or(jiff::Timestamp::MAX),
            );
            match event.timing(&zone).occurrences(year, Budget::DEFAULT) {
                Ok(occurrences) => {
                    if occurrences.first() != Some(&first) && event.recurrence.is_none() {
                        failures.push(format!("{name} {uid}: first occurrence {occurrences:?}"));
                    }
                }
                Err(err) => failures.push(format!("{name} {uid}: {err}")),
            }
            let mapped = calendar_event(event, &owner, &[], "convene.test", first.start());
            if mapped.uid != uid {
                failures.push(format!("{name}: UID {uid:?} became {:?}", mapped.uid));
            }
            if event.all_day != matches!(mapped.start, EventTime::Date(_)) {
                failures.push(format!(
                    "{name} {uid}: all-day {} but {:?}",
                    event.all_day, mapped.start
                ));
            }
        }
    }
    eprintln!("corpus import: {files} files read, {events} events imported, {skipped} skipped");
    assert!(events > 1000, "only {events} events imported");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
