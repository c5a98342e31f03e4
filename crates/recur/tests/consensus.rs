//! Checks the expander against the recurrence cases on which python-dateutil
//! 2.9 and libical 3.0.20 agree (`recurrence/consensus.tsv` of the shared
//! test material, one DTSTART, RRULE and expected list per line).
//!
//! Every case must give exactly its listed occurrences: at most twelve, and
//! a shorter list means the expansion ends normally after them.

use std::path::PathBuf;

use convene_recur::{DateOrTime, Recurrence, Rule, StartInstance};

/// Returns the path of the cases, or `None` after printing that the test is
/// skipped. With `CONVENE_REQUIRE_CASES=1` a missing file fails the test.
fn cases_path() -> Option<PathBuf> {
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

/// Expands one case and returns the texts of its first occurrences, one
/// more than `expected_len` when that is under twelve, so that an
/// expansion which goes on too long shows up.
fn expand(start: &str, rule: &str, expected_len: usize) -> Result<Vec<String>, String> {
    let start = DateOrTime::parse(start, None).map_err(|error| error.to_string())?;
    let rule = Rule::parse(rule).map_err(|error| error.to_string())?;
    let mut recurrence = Recurrence::new(start);
    recurrence.rules.push(rule);
    recurrence.start_instance = StartInstance::WhenGenerated;
    let wanted = if expected_len < 12 {
        expected_len + 1
    } else {
        12
    };
    let mut got = Vec::new();
    for occurrence in recurrence.occurrences().take(wanted) {
        match occurrence {
            Ok(value) => got.push(value.to_string()),
            Err(error) => return Err(format!("after {got:?}: {error}")),
        }
    }
    Ok(got)
}

#[test]
fn consensus_cases_match() {
    let Some(path) = cases_path() else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "line {}: expected three fields", index + 1);
        let (start, rule, listed) = (fields[0], fields[1], fields[2]);
        let expected: Vec<&str> = listed.split(',').filter(|text| !text.is_empty()).collect();
        checked += 1;

        match expand(start, rule, expected.len()) {
            Ok(got) if got == expected => {}
            Ok(got) => mismatches.push(format!(
                "line {}: DTSTART {start} {rule}\n  expected {}\n  got      {}",
                index + 1,
                expected.join(","),
                got.join(",")
            )),
            Err(error) => mismatches.push(format!(
                "line {}: DTSTART {start} {rule}: {error}",
                index + 1
            )),
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
