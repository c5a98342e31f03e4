//! Recurring events: their rules, and the intervals that an event occupies.

use convene_recur::{Budget, DateOrTime, ExpandError, Recurrence, Rule};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::{Interval, ValidationError};

/// The maximum number of RRULEs in one event.
pub const MAX_RULES: usize = 5;

/// The maximum number of RDATEs, and of EXDATEs, in one event.
pub const MAX_DATES: usize = 1_000;

/// The maximum number of instances counted to find a series' end. A longer series counts as unbounded.
/// That is always correct, but makes the series a candidate in every busy-time lookup.
const MAX_COUNTED_INSTANCES: usize = 100_000;

/// The repetition of an event: RRULEs, extra start times and cancelled start times, all read
/// in the event's time zone from its first start (RFC 5545, section 3.8.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventRecurrence {
    pub rules: Vec<Rule>,
    /// Starts added to those the rules generate.
    pub rdates: Vec<Timestamp>,
    /// Starts removed from the set, such as a cancelled or moved instance.
    pub exdates: Vec<Timestamp>,
}

impl EventRecurrence {
    /// Checks the sizes of the lists. `field` names the recurrence in errors.
    pub fn new(
        field: &str,
        rules: Vec<Rule>,
        rdates: Vec<Timestamp>,
        exdates: Vec<Timestamp>,
    ) -> Result<EventRecurrence, ValidationError> {
        if rules.len() > MAX_RULES {
            return Err(ValidationError::new(
                format!("{field}/rrule"),
                format!("at most {MAX_RULES} rules are allowed"),
            ));
        }
        for (name, dates) in [("rdates", &rdates), ("exdates", &exdates)] {
            if dates.len() > MAX_DATES {
                return Err(ValidationError::new(
                    format!("{field}/{name}"),
                    format!("at most {MAX_DATES} dates are allowed"),
                ));
            }
        }
        Ok(EventRecurrence {
            rules,
            rdates,
            exdates,
        })
    }
}

/// The reason a recurrence cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error(transparent)]
    Expand(#[from] ExpandError),
    /// An occurrence starts before the previous one ends.
    #[error(
        "occurrence {index} starts at {start}, before the one before it ends at {previous_end}; \
         repeat the event less often than its length, or shorten it"
    )]
    Overlapping {
        index: usize,
        start: Timestamp,
        previous_end: Timestamp,
    },
}

/// When an event takes place: its first interval and how it repeats.
#[derive(Debug, Clone, Copy)]
pub struct Timing<'a> {
    /// The first occurrence.
    pub interval: Interval,
    /// The zone in which local times, dates and rules are read.
    pub zone: &'a TimeZone,
    /// Whether the event covers whole days, from midnight to midnight in `zone`.
    pub all_day: bool,
    pub recurrence: Option<&'a EventRecurrence>,
}

impl Timing<'_> {
    /// Returns the occurrences that overlap `window`, in order of their start.
    ///
    /// A timed occurrence lasts exactly as long as the first, as RFC 5545 requires when the
    /// length comes from DTEND. An all-day occurrence covers as many local days as the first,
    /// whatever the length of those days.
    ///
    /// # Errors
    ///
    /// Returns the expander's error when a rule needs more candidates than `budget` allows.
    pub fn occurrences(
        &self,
        window: Interval,
        budget: Budget,
    ) -> Result<Vec<Interval>, ExpandError> {
        let Some(recurrence) = self.expander() else {
            return Ok(if self.interval.overlaps(&window) {
                vec![self.interval]
            } else {
                Vec::new()
            });
        };
        // An occurrence that starts up to one length before the window still overlaps it.
        // A day more covers all-day occurrences whose days are longer than the first.
        let reach = self.length() + SignedDuration::from_hours(25);
        let from = window.start().checked_sub(reach).unwrap_or(Timestamp::MIN);
        let starts = recurrence.between(from, window.end(), self.zone, budget)?;
        Ok(starts
            .iter()
            .filter_map(|start| self.occurrence(start))
            .filter(|occurrence| occurrence.overlaps(&window))
            .collect())
    }

    /// Returns the end of the last occurrence, or `None` when the series has no end or too
    /// many occurrences to count.
    pub fn last_end(&self) -> Option<Timestamp> {
        let Some(recurrence) = self.expander() else {
            return Some(self.interval.end());
        };
        if recurrence
            .rules
            .iter()
            .any(|rule| rule.count().is_none() && rule.until().is_none())
        {
            return None;
        }
        let mut last = None;
        for (index, start) in recurrence.occurrences().enumerate() {
            if index >= MAX_COUNTED_INSTANCES {
                return None;
            }
            let occurrence = self.occurrence(&start.ok()?)?;
            last = Some(last.map_or(occurrence.end(), |end: Timestamp| end.max(occurrence.end())));
        }
        last
    }

    /// Checks the first `count` occurrences: that the rules can be expanded from the first
    /// start, and that no occurrence begins before the one before it ends, because one
    /// person cannot attend two occurrences of the same event at once.
    pub fn check(&self, count: usize) -> Result<(), RecurrenceError> {
        let Some(recurrence) = self.expander() else {
            return Ok(());
        };
        let mut previous: Option<Interval> = None;
        for (index, start) in recurrence.occurrences().take(count).enumerate() {
            let Some(occurrence) = self.occurrence(&start?) else {
                continue;
            };
            if let Some(previous) = previous
                && occurrence.start() < previous.end()
            {
                return Err(RecurrenceError::Overlapping {
                    index: index + 1,
                    start: occurrence.start(),
                    previous_end: previous.end(),
                });
            }
            previous = Some(occurrence);
        }
        Ok(())
    }

    fn length(&self) -> SignedDuration {
        self.interval.end().duration_since(self.interval.start())
    }

    /// Returns the days an all-day event covers.
    fn days(&self) -> i32 {
        let start = self.local_date(self.interval.start());
        let end = self.local_date(self.interval.end());
        (end - start).get_days().max(1)
    }

    fn local_date(&self, instant: Timestamp) -> Date {
        instant.to_zoned_datetime(self.zone.clone()).date()
    }

    fn midnight(&self, date: Date) -> Option<Timestamp> {
        self.zone
            .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
            .compatible()
            .ok()
    }

    /// Returns the interval of the occurrence that starts at `start`.
    fn occurrence(&self, start: &DateOrTime) -> Option<Interval> {
        if self.all_day {
            let date = match start {
                DateOrTime::Date(date) => *date,
                other => other.local().date(),
            };
            let end = date.checked_add(jiff::Span::new().days(self.days())).ok()?;
            let (start, end) = (self.midnight(date)?, self.midnight(end)?);
            return (start < end).then(|| Interval::from_ordered(start, end));
        }
        let start = start.to_timestamp(self.zone);
        let end = start.checked_add(self.length()).ok()?;
        Some(Interval::from_ordered(start, end))
    }

    /// Returns the expander's form of the recurrence, or `None` for a single event.
    fn expander(&self) -> Option<Recurrence> {
        let recurrence = self.recurrence?;
        let value = |instant: Timestamp| {
            if self.all_day {
                DateOrTime::Date(self.local_date(instant))
            } else {
                DateOrTime::Zoned(instant.to_zoned_datetime(self.zone.clone()))
            }
        };
        let mut expander = Recurrence::new(value(self.interval.start()));
        expander.rules = recurrence.rules.clone();
        expander.rdates = recurrence.rdates.iter().copied().map(value).collect();
        expander.exdates = recurrence.exdates.iter().copied().map(value).collect();
        Some(expander)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn interval(start: &str, end: &str) -> Interval {
        Interval::new(at(start), at(end), "end").unwrap()
    }

    fn weekly(rule: &str, exdates: &[&str]) -> EventRecurrence {
        EventRecurrence {
            rules: vec![Rule::parse(rule).unwrap()],
            rdates: vec![],
            exdates: exdates.iter().map(|text| at(text)).collect(),
        }
    }

    #[test]
    fn weekly_meeting_keeps_local_time_across_dst() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let recurrence = weekly("FREQ=WEEKLY;COUNT=4", &["2026-03-30T07:00:00Z"]);
        // Mondays 09:00-10:00 in Berlin from 2026-03-23; clocks change on 2026-03-29.
        let timing = Timing {
            interval: interval("2026-03-23T08:00:00Z", "2026-03-23T09:00:00Z"),
            zone: &zone,
            all_day: false,
            recurrence: Some(&recurrence),
        };
        let window = interval("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z");
        assert_eq!(
            timing.occurrences(window, Budget::DEFAULT).unwrap(),
            [
                interval("2026-03-23T08:00:00Z", "2026-03-23T09:00:00Z"),
                interval("2026-04-06T07:00:00Z", "2026-04-06T08:00:00Z"),
                interval("2026-04-13T07:00:00Z", "2026-04-13T08:00:00Z"),
            ]
        );
        assert_eq!(timing.last_end(), Some(at("2026-04-13T08:00:00Z")));
        // A window that cuts into an occurrence still finds it.
        let inside = interval("2026-04-06T07:30:00Z", "2026-04-06T07:31:00Z");
        assert_eq!(
            timing.occurrences(inside, Budget::DEFAULT).unwrap(),
            [interval("2026-04-06T07:00:00Z", "2026-04-06T08:00:00Z")]
        );
    }

    #[test]
    fn unbounded_series_expands_far_from_its_start() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let recurrence = weekly("FREQ=DAILY", &[]);
        let timing = Timing {
            interval: interval("1990-01-01T14:00:00Z", "1990-01-01T14:30:00Z"),
            zone: &zone,
            all_day: false,
            recurrence: Some(&recurrence),
        };
        assert_eq!(timing.last_end(), None);
        let window = interval("2030-07-01T00:00:00Z", "2030-07-02T00:00:00Z");
        assert_eq!(
            timing.occurrences(window, Budget::DEFAULT).unwrap(),
            [interval("2030-07-01T13:00:00Z", "2030-07-01T13:30:00Z")]
        );
    }

    #[test]
    fn all_day_occurrences_cover_local_days() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let recurrence = weekly("FREQ=YEARLY;COUNT=2", &[]);
        // 2026-03-28 and 29 in Berlin: the second day is 23 hours long.
        let timing = Timing {
            interval: interval("2026-03-27T23:00:00Z", "2026-03-29T22:00:00Z"),
            zone: &zone,
            all_day: true,
            recurrence: Some(&recurrence),
        };
        let window = interval("2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z");
        assert_eq!(
            timing.occurrences(window, Budget::DEFAULT).unwrap(),
            [interval("2027-03-27T23:00:00Z", "2027-03-29T22:00:00Z")]
        );
    }
}
