//! `convene ics check` and `convene ics normalize`, run as child processes on files of the
//! shared iCalendar corpus and on bad input.

mod support;

use std::fs;
use std::path::PathBuf;

use support::cli::run;

/// Returns the path of a corpus file, or `None` (after saying the test is skipped) when the
/// corpus is missing.
fn corpus_file(test: &str, name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/cases/icalendar/files"
    ))
    .join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CONVENE_REQUIRE_CASES").is_ok_and(|value| value == "1") {
        panic!(
            "{test}: the corpus file {} is missing and CONVENE_REQUIRE_CASES=1 is set",
            path.display()
        );
    }
    eprintln!("skipped: {test}: no corpus file at {}", path.display());
    None
}

fn write_temp(dir: &tempfile::TempDir, name: &str, contents: &[u8]) -> String {
    let path = dir.path().join(name);
    fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn check_counts_events_of_corpus_files() {
    let (Some(first), Some(second)) = (
        corpus_file("check", "001.ics"),
        corpus_file("check", "004.ics"),
    ) else {
        return;
    };
    let output = run(
        &[
            "ics",
            "check",
            first.to_str().unwrap(),
            second.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert_eq!(output.code, Some(0), "{}", output.describe());
    let lines: Vec<&str> = output
        .stdout
        .lines()
        .filter(|line| !line.starts_with("  "))
        .collect();
    assert_eq!(lines.len(), 2, "{}", output.describe());
    assert!(
        lines[0].contains("001.ics: ") && lines[0].contains("event(s) to import, "),
        "{}",
        output.describe()
    );
    assert!(
        lines[1].contains("004.ics: 1 event(s) to import, 0 skipped"),
        "{}",
        output.describe()
    );
}

#[test]
fn check_reports_skips_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let skips = write_temp(
        &dir,
        "skips.ics",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:good\r\nDTSTART:20260301T090000Z\r\nEND:VEVENT\r\n\
          BEGIN:VEVENT\r\nUID:bad\r\nDTSTART;TZID=Nowhere/Middle:20260301T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let output = run(&["ics", "check", &skips], &[], b"");
    assert_eq!(output.code, Some(0), "{}", output.describe());
    assert!(
        output
            .stdout
            .contains("skips.ics: 1 event(s) to import, 1 skipped"),
        "{}",
        output.describe()
    );
    assert!(
        output
            .stdout
            .contains("line 7: VEVENT \"bad\" skipped: line 9: DTSTART"),
        "{}",
        output.describe()
    );
    assert!(
        output.stdout.contains("Nowhere/Middle"),
        "{}",
        output.describe()
    );

    let not_calendar = write_temp(&dir, "notes.txt", b"shopping list\neggs\n");
    let missing = dir.path().join("missing.ics");
    let output = run(
        &[
            "ics",
            "check",
            &skips,
            &not_calendar,
            missing.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert_eq!(output.code, Some(1), "{}", output.describe());
    assert!(
        output.stdout.contains("skips.ics: 1 event(s) to import"),
        "{}",
        output.describe()
    );
    assert!(
        output
            .stdout
            .contains("notes.txt: rejected: line 1: no BEGIN:VCALENDAR"),
        "{}",
        output.describe()
    );
    assert!(
        output.stdout.contains("missing.ics: rejected: cannot read"),
        "{}",
        output.describe()
    );
}

#[test]
fn normalize_writes_vtimezone_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(
        &dir,
        "outlook.ics",
        b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
          DTSTART;TZID=W. Europe Standard Time:20260302T090000\r\nDURATION:PT30M\r\n\
          RRULE:FREQ=WEEKLY;BYDAY=MO\r\nSUMMARY:Stand-up\\, short\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
          TRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let output = run(&["ics", "normalize", &input], &[], b"");
    assert_eq!(output.code, Some(0), "{}", output.describe());
    let text = output.stdout.replace("\r\n ", "");
    assert!(
        text.starts_with("BEGIN:VCALENDAR\r\n"),
        "{}",
        output.describe()
    );
    assert!(text.contains("METHOD:REQUEST\r\n"), "{}", output.describe());
    assert!(
        text.contains("BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n"),
        "{}",
        output.describe()
    );
    assert!(
        text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
        "{}",
        output.describe()
    );
    assert!(
        text.contains("DTSTART;TZID=W. Europe Standard Time:20260302T090000\r\nDTEND;TZID=W. Europe Standard Time:20260302T093000\r\n"),
        "{}",
        output.describe()
    );
    assert!(
        text.contains("SUMMARY:Stand-up\\, short\r\n"),
        "{}",
        output.describe()
    );
    assert!(!text.contains("VALARM"), "{}", output.describe());
}

#[test]
fn normalize_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "empty.ics", b"");
    let output = run(&["ics", "normalize", &input], &[], b"");
    assert_eq!(output.code, Some(1), "{}", output.describe());
    assert!(output.stdout.is_empty(), "{}", output.describe());
    assert!(
        output
            .stderr
            .contains("empty.ics is rejected: the input is empty"),
        "{}",
        output.describe()
    );
}
