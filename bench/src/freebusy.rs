//! The data for the free-busy comparison with Radicale: loads the first `users` users of
//! [`calendar_data`](crate::calendar_data) into a SQLite file for `convene serve`, writes
//! each user's events as one iCalendar file for Radicale, and records the busy intervals
//! that `Scheduler::busy` returns for the window, timed in-process.
//!
//! Files written to the output directory:
//! - `u<N>.ics`: user N's 100 events, written by `convene_itip::calendar_file`.
//! - `expected.tsv`: per user, `u<N>`, the user id, and the busy intervals as
//!   `START/END` in UTC, comma-separated.
//! - `window.txt`: the window's start and end.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use convene_domain::Interval;
use convene_itip::calendar_event;
use convene_scheduler::Scheduler;
use convene_store::{SqliteStore, Store};
use jiff::{SignedDuration, Timestamp};

use crate::calendar_data::{self, FIRST_DAY};
use crate::scheduling::{self, percentile};

/// Returns the window of the free-busy question: two weeks from Monday of week 2, over the
/// end of DST in the United States (14 March 2027) and in Europe (28 March 2027).
pub fn window() -> Result<Interval> {
    let start = calendar_data::local_instant(
        &jiff::tz::TimeZone::UTC,
        FIRST_DAY + jiff::ToSpan::weeks(2),
        jiff::civil::Time::midnight(),
    );
    Ok(Interval::from_ordered(
        start,
        start.checked_add(SignedDuration::from_hours(14 * 24))?,
    ))
}

/// Loads `users` users into a new SQLite file at `database`, writes the files described
/// above to `out`, and prints the in-process latency of `Scheduler::busy` over `rounds`
/// passes through all users as a Markdown table row.
pub async fn run(database: &Path, users: usize, rounds: usize, out: &Path) -> Result<()> {
    let url = format!("sqlite:{}", database.display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await?);
    let loaded = scheduling::load(store.as_ref(), users).await?;
    let window = window()?;
    let now = Timestamp::now();

    // One iCalendar file per user, with VTIMEZONEs for the zones its events use.
    for (index, user) in loaded.iter().enumerate() {
        let events = calendar_data::events(index, user)
            .iter()
            .map(|event| calendar_event(event, user, &[], "bench.test", now))
            .collect();
        let path = out.join(format!("u{index}.ics"));
        std::fs::write(&path, convene_itip::calendar_file(events))
            .with_context(|| format!("writing {} failed", path.display()))?;
    }
    std::fs::write(
        out.join("window.txt"),
        format!("{} {}\n", window.start(), window.end()),
    )?;

    // The expected answers, then the timed passes.
    let scheduler = Scheduler::new(Arc::clone(&store));
    let mut expected = String::new();
    for (index, user) in loaded.iter().enumerate() {
        let busy = scheduler.busy(user.id, window).await?;
        let intervals: Vec<String> = busy
            .iter()
            .map(|interval| format!("{}/{}", interval.start(), interval.end()))
            .collect();
        writeln!(expected, "u{index}\t{}\t{}", user.id, intervals.join(","))?;
    }
    std::fs::write(out.join("expected.tsv"), expected)?;

    let mut times = Vec::with_capacity(rounds * loaded.len());
    for _ in 0..rounds {
        for user in &loaded {
            let started = Instant::now();
            let busy = scheduler.busy(user.id, window).await?;
            times.push(started.elapsed());
            std::hint::black_box(busy);
        }
    }
    println!(
        "| `Scheduler::busy`, in-process, SQLite | {} | {:.0} | {:.0} |",
        times.len(),
        percentile(&times, 50.0),
        percentile(&times, 99.0)
    );
    store.close().await;
    Ok(())
}
