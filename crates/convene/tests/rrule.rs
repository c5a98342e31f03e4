//! `convene rrule`, run as a child process: every shared consensus case, the
//! DST acceptance cases and the errors for invalid input.

use std::path::PathBuf;
use std::process::Command;

/// The exit status and output of one `convene rrule` run.
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn rrule(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_convene"))
        .arg("rrule")
        .args(args)
        .env_clear()
        .output()
        .expect("starting convene failed");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn lines(output: &Output) -> Vec<&str> {
    output.stdout.lines().collect()
}

fn consensus_path() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/cases/recurrence/consensus.tsv"
    ));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CONVENE_REQUIRE_CASES").as_deref() != Ok("1"),
        "{} is missing and CONVENE_REQUIRE_CASES=1 is set",
        path.display()
    );
    eprintln!("skipped: {} is missing", path.display());
    None
}

/// Runs every consensus case through the command, one process each (about
/// 5 ms per process in a debug build). Each must print exactly the listed
/// occurrences and exit with status 0; a list shorter than twelve means the
/// rule has no more. A missing file skips the test unless
/// `CONVENE_REQUIRE_CASES=1` is set.
#[test]
fn rrule_matches_consensus_cases() {
    let Some(path) = consensus_path() else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (start, rule, listed) = (fields[0], fields[1], fields[2]);
        let expected: Vec<&str> = listed.split(',').filter(|text| !text.is_empty()).collect();
        checked += 1;

        let output = rrule(&["--dtstart", start, rule]);
        if lines(&output) != expected || output.code != Some(0) {
            mismatches.push(format!(
                "line {}: --dtstart {start} {rule}\n  expected {}\n  got      {} (exit {:?}) {}",
                index + 1,
                expected.join(","),
                lines(&output).join(","),
                output.code,
                output.stderr.trim()
            ));
        }
    }
    eprintln!("{} of {checked} cases pass", checked - mismatches.len());
    assert!(
        mismatches.is_empty(),
        "{} of {checked} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn rrule_skips_spring_gap_in_london() {
    let output = rrule(&[
        "--dtstart",
        "20240330T000000",
        "--tz",
        "Europe/London",
        "--from",
        "2024-03-31T00:00:00Z",
        "--to",
        "2024-03-31T12:00:00Z",
        "FREQ=DAILY;BYHOUR=0,1,2,3,4;BYMINUTE=0,30",
    ]);

    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(
        lines(&output),
        [
            "2024-03-31T00:00:00+00:00",
            "2024-03-31T00:30:00+00:00",
            "2024-03-31T02:00:00+01:00",
            "2024-03-31T02:30:00+01:00",
            "2024-03-31T03:00:00+01:00",
            "2024-03-31T03:30:00+01:00",
            "2024-03-31T04:00:00+01:00",
            "2024-03-31T04:30:00+01:00",
        ]
    );
}

#[test]
fn rrule_repeats_autumn_fold_once() {
    let output = rrule(&[
        "--dtstart",
        "20241026T000000",
        "--tz",
        "Europe/London",
        "--from",
        "2024-10-26T23:00:00Z",
        "--to",
        "2024-10-27T12:00:00Z",
        "FREQ=DAILY;BYHOUR=0,1,2,3,4;BYMINUTE=0,30",
    ]);

    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(
        lines(&output),
        [
            "2024-10-27T00:00:00+01:00",
            "2024-10-27T00:30:00+01:00",
            "2024-10-27T01:00:00+01:00",
            "2024-10-27T01:30:00+01:00",
            "2024-10-27T02:00:00+00:00",
            "2024-10-27T02:30:00+00:00",
            "2024-10-27T03:00:00+00:00",
            "2024-10-27T03:30:00+00:00",
            "2024-10-27T04:00:00+00:00",
            "2024-10-27T04:30:00+00:00",
        ]
    );
}

#[test]
fn rrule_prints_count_and_dates() {
    let output = rrule(&[
        "--dtstart",
        "20260131",
        "--count",
        "3",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
    ]);

    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(lines(&output), ["20260131", "20260228", "20260331"]);
}

#[test]
fn rrule_from_without_to_prints_twelve() {
    let output = rrule(&[
        "--dtstart",
        "20260101T090000",
        "--from",
        "2030-01-01T00:00:00Z",
        "FREQ=DAILY",
    ]);

    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(lines(&output).len(), 12);
    assert_eq!(lines(&output)[0], "20300101T090000");
}

#[test]
fn rrule_rejects_invalid_input() {
    // Each case: arguments, and a text the message must contain.
    let cases: [(&[&str], &str); 9] = [
        (&["--dtstart", "2026", "FREQ=DAILY"], "--dtstart"),
        (&["--dtstart", "20260230T090000", "FREQ=DAILY"], "--dtstart"),
        (
            &[
                "--dtstart",
                "20260101T090000",
                "--tz",
                "Mars/Base",
                "FREQ=DAILY",
            ],
            "--tz",
        ),
        (
            &["--dtstart", "20260101T090000", "FREQ=DAILY;BYMONTHDAY=32"],
            "BYMONTHDAY",
        ),
        (
            &["--dtstart", "20260101T090000", "FREQ=FORTNIGHTLY"],
            "FREQ",
        ),
        (
            &[
                "--dtstart",
                "20260101T090000",
                "FREQ=DAILY;COUNT=2;UNTIL=20260201T000000",
            ],
            "COUNT",
        ),
        (
            &[
                "--dtstart",
                "20260101T090000",
                "FREQ=DAILY;UNTIL=20260201T000000Z",
            ],
            "UNTIL",
        ),
        (
            &[
                "--dtstart",
                "20260101T090000",
                "--from",
                "2026-02-01T00:00:00Z",
                "--to",
                "2026-01-01T00:00:00Z",
                "FREQ=DAILY",
            ],
            "--from",
        ),
        (
            &[
                "--dtstart",
                "20260101T090000",
                "--from",
                "yesterday",
                "FREQ=DAILY",
            ],
            "--from",
        ),
    ];
    for (args, named) in cases {
        let output = rrule(args);
        assert_eq!(output.code, Some(2), "{args:?}: {}", output.stderr);
        assert!(output.stderr.contains(named), "{args:?}: {}", output.stderr);
        assert!(output.stdout.is_empty(), "{args:?}: {}", output.stdout);
    }
}

#[test]
fn rrule_never_matching_prints_nothing() {
    let output = rrule(&[
        "--dtstart",
        "20260101T090000",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    ]);

    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert!(output.stdout.is_empty(), "{}", output.stdout);
    assert!(output.stderr.is_empty(), "{}", output.stderr);
}

#[test]
fn rrule_reports_exhausted_budget() {
    // A window in 2030 cannot skip ahead past COUNT, which only a walk
    // from DTSTART honours: about 126 million seconds, beyond the budget.
    let output = rrule(&[
        "--dtstart",
        "20260101T000000",
        "--from",
        "2030-01-01T00:00:00Z",
        "--to",
        "2030-01-02T00:00:00Z",
        "FREQ=SECONDLY;COUNT=1000000000",
    ]);

    assert_eq!(output.code, Some(1), "{}", output.stderr);
    assert!(
        output.stderr.contains("produced no instance"),
        "{}",
        output.stderr
    );
}

#[test]
fn rrule_start_in_gap_keeps_written_time() {
    let output = rrule(&[
        "--dtstart",
        "20240331T013000",
        "--tz",
        "Europe/London",
        "--count",
        "3",
        "FREQ=DAILY",
    ]);

    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(
        lines(&output),
        [
            "2024-03-31T02:30:00+01:00",
            "2024-04-01T01:30:00+01:00",
            "2024-04-02T01:30:00+01:00",
        ]
    );
}
