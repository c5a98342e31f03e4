//! Expansion of the shared recurrence cases with convene-recur, timed the same way as
//! `bench/dateutil_expand.py` times python-dateutil: each rule from its DTSTART, the
//! occurrences in the 365 days that start there, at most `limit` of them.
//!
//! Floating values are read in UTC, as dateutil's naive datetimes are. Only the expansion
//! is timed, not the parsing.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use convene_recur::{DateOrTime, Recurrence, Rule, StartInstance};
use jiff::SignedDuration;
use jiff::tz::TimeZone;

/// Expands the rules of `cases` and prints "rules occurrences seconds rejected" on standard
/// output, and writes one count per rule (or "rejected") to `counts_out`.
pub fn run(cases: &Path, limit: usize, counts_out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(cases)
        .with_context(|| format!("reading {} failed", cases.display()))?;
    let mut recurrences = Vec::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let start = DateOrTime::parse(fields[0], None);
        let rule = fields.get(1).map(|rule| Rule::parse(rule));
        recurrences.push(match (start, rule) {
            (Ok(start), Some(Ok(rule))) => {
                let mut recurrence = Recurrence::new(start);
                recurrence.rules.push(rule);
                recurrence.start_instance = StartInstance::WhenGenerated;
                Some(recurrence)
            }
            _ => None,
        });
    }

    let mut counts = Vec::with_capacity(recurrences.len());
    let mut occurrences = 0;
    let started = Instant::now();
    for recurrence in &recurrences {
        let Some(recurrence) = recurrence else {
            counts.push(None);
            continue;
        };
        let end =
            recurrence.start.to_timestamp(&TimeZone::UTC) + SignedDuration::from_hours(365 * 24);
        let mut count = 0;
        for occurrence in recurrence.occurrences() {
            // A rule that runs out of the expander's budget counts what it produced so far.
            let Ok(occurrence) = occurrence else { break };
            if occurrence.to_timestamp(&TimeZone::UTC) >= end || count == limit {
                break;
            }
            count += 1;
        }
        occurrences += count;
        counts.push(Some(count));
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut written = String::new();
    for count in &counts {
        match count {
            Some(count) => writeln!(written, "{count}")?,
            None => writeln!(written, "rejected")?,
        }
    }
    std::fs::write(counts_out, written)
        .with_context(|| format!("writing {} failed", counts_out.display()))?;
    let rejected = counts.iter().filter(|count| count.is_none()).count();
    println!(
        "{} {occurrences} {seconds:.6} {rejected}",
        counts.len() - rejected
    );
    Ok(())
}
