//! Finding times when every participant is free.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::{Interval, WorkingHours};

/// The maximum number of slots one search may return.
pub const MAX_SLOTS: usize = 100;

/// One participant's schedule, as the search reads it.
#[derive(Debug, Clone)]
pub struct Availability<'a> {
    /// The zone in which `working_hours` are read.
    pub zone: &'a TimeZone,
    pub working_hours: &'a WorkingHours,
    /// Busy intervals in any order; they may overlap.
    pub busy: &'a [Interval],
}

/// A search for free slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotQuery {
    /// Slots lie inside this window.
    pub window: Interval,
    /// The length of each slot. Positive.
    pub duration: SignedDuration,
    /// The step between possible starts, counted from the window's start. Positive.
    pub granularity: SignedDuration,
    /// The maximum number of slots to return.
    pub count: usize,
}

/// Returns the earliest slots of `query.duration` in which every participant is free: inside
/// each person's working hours, in that person's own time zone, and outside all of their
/// busy intervals.
///
/// A slot may start only at the window's start plus a whole number of `granularity` steps.
/// The slots come in order of their start, each the earliest possible start after the one
/// before, so slots may overlap one another: they are alternatives, not a schedule. Without
/// participants, the whole window is free.
pub fn free_slots(people: &[Availability<'_>], query: &SlotQuery) -> Vec<Interval> {
    let mut free = vec![query.window];
    for person in people {
        let working = person.working_hours.intervals(person.zone, query.window);
        free = intersect(&free, &subtract(&working, person.busy));
        if free.is_empty() {
            break;
        }
    }

    let mut slots = Vec::new();
    for interval in free {
        let mut start = first_step_at_or_after(query, interval.start());
        loop {
            if slots.len() >= query.count {
                return slots;
            }
            let Ok(end) = start.checked_add(query.duration) else {
                break;
            };
            if end > interval.end() {
                break;
            }
            slots.push(Interval::from_ordered(start, end));
            let Ok(next) = start.checked_add(query.granularity) else {
                break;
            };
            start = next;
        }
    }
    slots
}

/// Returns the first possible start at or after `instant`.
fn first_step_at_or_after(query: &SlotQuery, instant: Timestamp) -> Timestamp {
    let since_start = instant.duration_since(query.window.start()).as_nanos();
    let step = query.granularity.as_nanos();
    let steps = since_start.div_euclid(step) + i128::from(since_start.rem_euclid(step) != 0);
    let offset = SignedDuration::from_nanos_i128(steps * step);
    query
        .window
        .start()
        .checked_add(offset)
        .unwrap_or(Timestamp::MAX)
}

/// Returns the parts of `available` (sorted, disjoint) that no interval of `busy` covers.
pub fn subtract(available: &[Interval], busy: &[Interval]) -> Vec<Interval> {
    let mut busy = busy.to_vec();
    busy.sort();
    let mut result = Vec::new();
    for interval in available {
        let mut start = interval.start();
        for taken in busy.iter().filter(|taken| taken.overlaps(interval)) {
            if taken.start() > start {
                result.push(Interval::from_ordered(start, taken.start()));
            }
            start = start.max(taken.end());
            if start >= interval.end() {
                break;
            }
        }
        if start < interval.end() {
            result.push(Interval::from_ordered(start, interval.end()));
        }
    }
    result
}

/// Returns the instants in both `a` and `b`, each sorted and disjoint.
pub fn intersect(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut result = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].start().max(b[j].start());
        let end = a[i].end().min(b[j].end());
        if start < end {
            result.push(Interval::from_ordered(start, end));
        }
        if a[i].end() <= b[j].end() {
            i += 1;
        } else {
            j += 1;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start: &str, end: &str) -> Interval {
        Interval::new(start.parse().unwrap(), end.parse().unwrap(), "end").unwrap()
    }

    fn query(window: Interval, minutes: i64, step: i64, count: usize) -> SlotQuery {
        SlotQuery {
            window,
            duration: SignedDuration::from_mins(minutes),
            granularity: SignedDuration::from_mins(step),
            count,
        }
    }

    #[test]
    fn subtract_and_intersect() {
        let day = interval("2026-01-05T09:00:00Z", "2026-01-05T17:00:00Z");
        let busy = [
            interval("2026-01-05T12:00:00Z", "2026-01-05T13:00:00Z"),
            interval("2026-01-05T08:00:00Z", "2026-01-05T10:00:00Z"),
            interval("2026-01-05T12:30:00Z", "2026-01-05T14:00:00Z"),
        ];
        let free = subtract(&[day], &busy);
        assert_eq!(
            free,
            [
                interval("2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z"),
                interval("2026-01-05T14:00:00Z", "2026-01-05T17:00:00Z"),
            ]
        );
        let other = [interval("2026-01-05T11:00:00Z", "2026-01-05T15:00:00Z")];
        assert_eq!(
            intersect(&free, &other),
            [
                interval("2026-01-05T11:00:00Z", "2026-01-05T12:00:00Z"),
                interval("2026-01-05T14:00:00Z", "2026-01-05T15:00:00Z"),
            ]
        );
    }

    #[test]
    fn slots_follow_both_zones_working_hours() {
        let new_york = TimeZone::get("America/New_York").unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let hours = WorkingHours::default();
        let people = [
            Availability {
                zone: &new_york,
                working_hours: &hours,
                busy: &[],
            },
            Availability {
                zone: &berlin,
                working_hours: &hours,
                busy: &[],
            },
        ];
        // Monday 2026-01-05: New York works 14:00-22:00 UTC, Berlin 08:00-16:00 UTC.
        let window = interval("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z");
        let slots = free_slots(&people, &query(window, 60, 30, 10));
        assert_eq!(
            slots,
            [
                interval("2026-01-05T14:00:00Z", "2026-01-05T15:00:00Z"),
                interval("2026-01-05T14:30:00Z", "2026-01-05T15:30:00Z"),
                interval("2026-01-05T15:00:00Z", "2026-01-05T16:00:00Z"),
            ]
        );
    }

    #[test]
    fn slots_start_on_the_grid_from_the_window_start() {
        let utc = TimeZone::UTC;
        let hours = WorkingHours::default();
        let busy = [interval("2026-01-05T09:00:00Z", "2026-01-05T09:10:00Z")];
        let people = [Availability {
            zone: &utc,
            working_hours: &hours,
            busy: &busy,
        }];
        let window = interval("2026-01-05T08:45:00Z", "2026-01-05T12:00:00Z");
        let slots = free_slots(&people, &query(window, 30, 15, 2));
        assert_eq!(
            slots,
            [
                interval("2026-01-05T09:15:00Z", "2026-01-05T09:45:00Z"),
                interval("2026-01-05T09:30:00Z", "2026-01-05T10:00:00Z"),
            ]
        );
    }
}
