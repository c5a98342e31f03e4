//! The computations on event times that both stores share: occurrences of stored events
//! inside a window, conflicts of a new event, and the stored text forms of recurrences.

use convene_domain::{Event, EventRecurrence, Interval, Timing, ValidationError};
use convene_recur::{Budget, Rule};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::StoreError;

/// How far from its first start a new event is checked for conflicts unless the store is
/// opened with another horizon: a little over a year, so that a weekly series meets every
/// yearly event once.
pub const DEFAULT_CONFLICT_HORIZON: SignedDuration = SignedDuration::from_hours(400 * 24);

/// The maximum number of busy intervals that one conflict lists for one person.
pub const MAX_LISTED_CONFLICTS: usize = 10;

/// Settings that change what a store checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How far after a new or moved event's first start its occurrences are checked for
    /// conflicts.
    pub conflict_horizon: SignedDuration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            conflict_horizon: DEFAULT_CONFLICT_HORIZON,
        }
    }
}

/// The maximum number of candidates one stored event may take in one lookup. An hourly series over the
/// conflict horizon needs about ten thousand.
const LOOKUP_CANDIDATES: u64 = 200_000;

/// Returns the occurrences of a stored event inside `window`.
///
/// A stored rule that needs more candidates than [`LOOKUP_CANDIDATES`] for the window
/// counts as busy from its first start, or the window's, to the window's end, with a
/// warning. That keeps a lookup's time and memory bounded, never loses busy time, and
/// never fails every lookup because of one rule.
pub(crate) fn stored_occurrences(timing: &Timing<'_>, window: Interval) -> Vec<Interval> {
    match timing.occurrences(window, Budget::new(LOOKUP_CANDIDATES)) {
        Ok(occurrences) => occurrences,
        Err(err) => {
            tracing::warn!(error = %err, "a stored recurrence is too dense to expand; counting the rest of the window as busy");
            let start = timing.interval.start().max(window.start());
            if start < window.end() {
                vec![Interval::from_ordered(start, window.end())]
            } else {
                Vec::new()
            }
        }
    }
}

/// Returns the window in which a new event is checked for conflicts, and its occurrences
/// there.
pub(crate) fn occurrences_to_check(
    event: &Event,
    horizon: SignedDuration,
) -> Result<(Interval, Vec<Interval>), StoreError> {
    let zone = event.zone();
    let timing = event.timing(&zone);
    let mut end = event
        .interval
        .start()
        .checked_add(horizon)
        .unwrap_or(Timestamp::MAX);
    if let Some(last) = timing.last_end() {
        end = end.min(last);
    }
    let window = Interval::from_ordered(event.interval.start(), end.max(event.interval.end()));
    let occurrences = timing
        .occurrences(window, Budget::new(LOOKUP_CANDIDATES))
        .map_err(|_| {
            StoreError::Invalid(ValidationError::new(
                "recurrence/rrule",
                format!(
                    "the occurrences up to {} days ahead, which are checked for conflicts, \
                     take more than {LOOKUP_CANDIDATES} steps to list; repeat the event less \
                     often",
                    horizon.as_hours() / 24
                ),
            ))
        })?;
    Ok((window, occurrences))
}

/// Returns the busy intervals that overlap any of `occurrences`, both sorted by start, at
/// most [`MAX_LISTED_CONFLICTS`].
pub(crate) fn conflicting(busy: &[Interval], occurrences: &[Interval]) -> Vec<Interval> {
    let mut found = Vec::new();
    let mut next = 0;
    for taken in busy {
        // Occurrences that end before this busy interval starts end before every later one
        // starts too, because the busy intervals are sorted by start.
        while next < occurrences.len() && occurrences[next].end() <= taken.start() {
            next += 1;
        }
        let overlaps = occurrences[next..]
            .iter()
            .take_while(|occurrence| occurrence.start() < taken.end())
            .any(|occurrence| occurrence.overlaps(taken));
        if overlaps {
            found.push(*taken);
            if found.len() == MAX_LISTED_CONFLICTS {
                break;
            }
        }
    }
    found
}

/// Returns the end of an event's last occurrence, or [`Timestamp::MAX`] for a series without
/// end, for the index that finds the events overlapping a window.
pub(crate) fn series_end(event: &Event) -> Timestamp {
    let zone = event.zone();
    event.timing(&zone).last_end().unwrap_or(Timestamp::MAX)
}

/// Returns the stored text of a recurrence's rules, one a line.
pub(crate) fn rules_text(recurrence: &EventRecurrence) -> String {
    recurrence
        .rules
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Returns the stored text of instants: microseconds since the epoch, comma-separated.
pub(crate) fn instants_text(instants: &[Timestamp]) -> String {
    instants
        .iter()
        .map(|instant| instant.as_microsecond().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a recurrence back from its stored texts.
pub(crate) fn recurrence_from_text(
    rules: &str,
    rdates: Option<&str>,
    exdates: Option<&str>,
) -> Result<EventRecurrence, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(what);
    let rules = rules
        .lines()
        .map(|line| {
            Rule::parse(line).map_err(|err| corrupt(format!("stored RRULE {line:?}: {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let instants = |text: Option<&str>| -> Result<Vec<Timestamp>, StoreError> {
        text.unwrap_or("")
            .split(',')
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<i64>()
                    .ok()
                    .and_then(|micros| Timestamp::from_microsecond(micros).ok())
                    .ok_or_else(|| corrupt(format!("stored instant {part:?}")))
            })
            .collect()
    };
    Ok(EventRecurrence {
        rules,
        rdates: instants(rdates)?,
        exdates: instants(exdates)?,
    })
}

/// Returns the occurrences in `window` of an event stored with these times.
pub(crate) fn occurrences_of(
    interval: Interval,
    time_zone: &str,
    all_day: bool,
    recurrence: Option<&EventRecurrence>,
    window: Interval,
) -> Vec<Interval> {
    let zone = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    let timing = Timing {
        interval,
        zone: &zone,
        all_day,
        recurrence,
    };
    stored_occurrences(&timing, window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start: &str, end: &str) -> Interval {
        Interval::new(start.parse().unwrap(), end.parse().unwrap(), "end").unwrap()
    }

    #[test]
    fn conflicting_lists_busy_intervals_that_meet_an_occurrence() {
        let occurrences = [
            interval("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"),
            interval("2030-01-08T09:00:00Z", "2030-01-08T10:00:00Z"),
        ];
        let busy = [
            interval("2030-01-01T08:00:00Z", "2030-01-01T09:00:00Z"),
            interval("2030-01-01T09:30:00Z", "2030-01-01T09:45:00Z"),
            interval("2030-01-05T00:00:00Z", "2030-01-06T00:00:00Z"),
            interval("2030-01-07T00:00:00Z", "2030-01-09T00:00:00Z"),
        ];
        assert_eq!(conflicting(&busy, &occurrences), [busy[1], busy[3]]);
    }

    #[test]
    fn stored_texts_round_trip() {
        let recurrence = EventRecurrence {
            rules: vec![
                Rule::parse("FREQ=WEEKLY;BYDAY=MO,WE").unwrap(),
                Rule::parse("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3").unwrap(),
            ],
            rdates: vec!["2030-01-02T03:04:05.000006Z".parse().unwrap()],
            exdates: vec![],
        };
        let rdates = instants_text(&recurrence.rdates);
        let back = recurrence_from_text(
            &rules_text(&recurrence),
            Some(&rdates),
            Some(&instants_text(&recurrence.exdates)),
        )
        .unwrap();
        assert_eq!(back, recurrence);
    }
}
