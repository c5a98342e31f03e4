//! Every iCalendar file of the shared corpus through parse, write and parse again.
//!
//! Checks that no file panics the reader, that each file imports or is rejected with a
//! message, and that every imported event survives the round trip unchanged: UID, times and
//! zones, recurrence, overrides, iTIP fields and texts.

use std::fs;
use std::path::{Path, PathBuf};

use convene_ical::{Calendar, Limits, parse_bytes, write};

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
        "skipped: corpus_round_trip: no iCalendar corpus at {}",
        dir.display()
    );
    None
}

#[test]
fn corpus_round_trip() {
    let Some(dir) = corpus_dir() else { return };
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("the corpus directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "ics"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no .ics files in {}", dir.display());

    let limits = Limits::default();
    let (mut imported, mut rejected, mut events, mut skipped) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = fs::read(path).expect("a corpus file is readable");
        // Truncated copies stand in for damaged files, which must not panic the reader either.
        for quarter in 1..4 {
            let cut = &bytes[..bytes.len() * quarter / 4];
            if std::panic::catch_unwind(|| parse_bytes(cut, &limits)).is_err() {
                failures.push(format!(
                    "{name}: parse panicked on the first {} bytes",
                    cut.len()
                ));
            }
        }
        let first = match std::panic::catch_unwind(|| parse_bytes(&bytes, &limits)) {
            Err(_) => {
                failures.push(format!("{name}: parse panicked"));
                continue;
            }
            Ok(Err(error)) => {
                rejected += 1;
                if error.to_string().is_empty() {
                    failures.push(format!("{name}: rejected without a message"));
                }
                continue;
            }
            Ok(Ok(first)) => first,
        };
        imported += 1;
        events += first.calendar.events.len();
        skipped += first.skipped.len();

        let written = write(&first.calendar);
        if let Some(long) = written.split("\r\n").find(|line| line.len() > 75) {
            failures.push(format!(
                "{name}: written line of {} octets: {long:?}",
                long.len()
            ));
        }
        match parse_bytes(written.as_bytes(), &limits) {
            Err(error) => {
                failures.push(format!("{name}: the written calendar is rejected: {error}"))
            }
            Ok(second) => {
                if let Some(skip) = second.skipped.first() {
                    failures.push(format!(
                        "{name}: the written calendar skips an event: {skip}"
                    ));
                }
                compare(&name, &first.calendar, &second.calendar, &mut failures);
            }
        }
    }

    eprintln!(
        "corpus: {} files, {imported} imported, {rejected} rejected, {events} events, {skipped} events skipped, {} failures",
        paths.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn compare(name: &str, first: &Calendar, second: &Calendar, failures: &mut Vec<String>) {
    if first.method != second.method {
        failures.push(format!(
            "{name}: METHOD {:?} became {:?}",
            first.method, second.method
        ));
    }
    if first.events.len() != second.events.len() {
        failures.push(format!(
            "{name}: {} events became {}",
            first.events.len(),
            second.events.len()
        ));
        return;
    }
    for (before, after) in first.events.iter().zip(&second.events) {
        // An event without DTSTAMP is written with the current time, as RFC 5545 requires.
        let mut after = after.clone();
        if before.dtstamp.is_none() {
            after.dtstamp = None;
        }
        if *before != after {
            failures.push(format!(
                "{name}: event {:?} changed:\n  before {before:?}\n  after  {after:?}",
                before.uid
            ));
        }
    }
}
