//! Checks the expander against the recurrence cases on which python-dateutil
//! 2.9 and libical 3.0.20 agree (`recurrence/consensus.tsv` of the shared
//! test material, one DTSTART, RRULE and expected list per line).

use std::path::PathBuf;

use convene_recur::{DateOrTime, ExpandError, Recurrence, Rule, StartInstance};

fn cases_path() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/cases/recurrence/consensus.tsv"
    ));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CONVENE_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{} is missing and CONVENE_REQUIRE_PEERS=1 is set",
        path.display()
    );
    eprintln!("skipped: {} is missing", path.display());
    None
}

/// Returns the part that RFC 5545 §3.3.10 forbids in `rule`, judged from
/// the text alone: a BYDAY ordinal outside FREQ=MONTHLY and FREQ=YEARLY.
/// Both reference implementations ignore such an ordinal; this crate
/// rejects the rule instead.
fn forbidden_part(rule: &str) -> Option<&'static str> {
    let mut frequency = "";
    let mut ordinal = false;
    for part in rule.split(';') {
        match part.split_once('=') {
            Some(("FREQ", value)) => frequency = value,
            Some(("BYDAY", value)) => ordinal = value.chars().any(|c| c.is_ascii_digit()),
            _ => {}
        }
    }
    (ordinal && !matches!(frequency, "MONTHLY" | "YEARLY")).then_some("BYDAY")
}

/// Expands one case and returns the texts of its first occurrences, one
/// more than `expected` lists when it lists fewer than twelve.
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
            // Running out of budget after the listed occurrences agrees with
            // a list that ends early: the rule has no instance in reach.
            Err(ExpandError::BudgetExhausted { .. }) if got.len() == expected_len => break,
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
    let (mut checked, mut rejected) = (0, 0);
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "line {}: expected three fields", index + 1);
        let (start, rule, listed) = (fields[0], fields[1], fields[2]);
        let expected: Vec<&str> = listed.split(',').filter(|text| !text.is_empty()).collect();
        checked += 1;

        if let Some(part) = forbidden_part(rule) {
            match Rule::parse(rule) {
                Err(error) if error.part() == part => rejected += 1,
                other => mismatches.push(format!(
                    "line {}: {rule}: expected a rejection naming {part}, got {other:?}",
                    index + 1
                )),
            }
            continue;
        }
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

    eprintln!(
        "{} of {checked} cases pass ({rejected} of them rejected as RFC 5545 requires)",
        checked - mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {checked} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
