//! The hours of the week in which a person accepts meetings.

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::{Interval, ValidationError};

/// The maximum number of periods in one person's working hours: several a day, every day.
pub const MAX_PERIODS: usize = 50;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// One span of working time on one day of the week, in the person's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingPeriod {
    pub day: Weekday,
    /// Minutes after local midnight, from 0 to 1439.
    pub start_minute: u16,
    /// Minutes after local midnight, after `start_minute` and at most 1440, so that a period
    /// may run to the end of the day (`24:00`).
    pub end_minute: u16,
}

impl WorkingPeriod {
    /// Checks and returns a period. `field` names the period in errors.
    pub fn new(
        field: &str,
        day: Weekday,
        start_minute: u16,
        end_minute: u16,
    ) -> Result<WorkingPeriod, ValidationError> {
        if start_minute >= MINUTES_PER_DAY || end_minute > MINUTES_PER_DAY {
            return Err(ValidationError::new(
                field,
                "times must lie between 00:00 and 24:00",
            ));
        }
        if end_minute <= start_minute {
            return Err(ValidationError::new(
                format!("{field}/end"),
                format!(
                    "must be after the start ({}), but is {}; split a period that runs past \
                     midnight into two days",
                    clock(start_minute),
                    clock(end_minute)
                ),
            ));
        }
        Ok(WorkingPeriod {
            day,
            start_minute,
            end_minute,
        })
    }
}

/// A person's working hours: periods of the week in local time.
///
/// Without a setting of their own, a person works Monday to Friday, 09:00 to 17:00.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    periods: Vec<WorkingPeriod>,
}

impl Default for WorkingHours {
    fn default() -> WorkingHours {
        let periods = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ]
        .into_iter()
        .map(|day| WorkingPeriod {
            day,
            start_minute: 9 * 60,
            end_minute: 17 * 60,
        })
        .collect();
        WorkingHours { periods }
    }
}

impl WorkingHours {
    /// Checks and returns working hours. Overlapping periods on the same day are merged.
    /// An empty list is allowed: that person is never available for proposed slots.
    pub fn new(mut periods: Vec<WorkingPeriod>) -> Result<WorkingHours, ValidationError> {
        if periods.len() > MAX_PERIODS {
            return Err(ValidationError::new(
                "working_hours",
                format!("at most {MAX_PERIODS} periods are allowed"),
            ));
        }
        periods.sort_by_key(|period| (period.day.to_monday_zero_offset(), period.start_minute));
        let mut merged: Vec<WorkingPeriod> = Vec::with_capacity(periods.len());
        for period in periods {
            match merged.last_mut() {
                Some(last) if last.day == period.day && period.start_minute <= last.end_minute => {
                    last.end_minute = last.end_minute.max(period.end_minute);
                }
                _ => merged.push(period),
            }
        }
        Ok(WorkingHours { periods: merged })
    }

    /// Parses the text form that `Display` writes: periods such as `monday 09:00-17:00`,
    /// separated by commas. Empty text means no working hours at all.
    pub fn parse(field: &str, text: &str) -> Result<WorkingHours, ValidationError> {
        let mut periods = Vec::new();
        for (index, part) in text.split(',').map(str::trim).enumerate() {
            if part.is_empty() && text.trim().is_empty() {
                break;
            }
            let part_field = format!("{field}/{index}");
            let invalid = || {
                ValidationError::new(
                    &part_field,
                    format!("{part:?} is not a working period such as \"monday 09:00-17:00\""),
                )
            };
            let (day, times) = part.split_once(' ').ok_or_else(invalid)?;
            let (start, end) = times.split_once('-').ok_or_else(invalid)?;
            periods.push(WorkingPeriod::new(
                &part_field,
                parse_weekday(&part_field, day)?,
                parse_clock(&part_field, start)?,
                parse_clock(&part_field, end)?,
            )?);
        }
        WorkingHours::new(periods)
    }

    /// Returns the periods, sorted by day from Monday and by start.
    pub fn periods(&self) -> &[WorkingPeriod] {
        &self.periods
    }

    /// Returns the working intervals that overlap `window`, cut to it, in order.
    ///
    /// Each period is placed on the local dates around the window in `zone`, and its local
    /// times are read as RFC 5545 reads them. A time that a change to daylight saving time
    /// skips moves forward by the length of the gap. A time that occurs twice means the
    /// first of the two.
    pub fn intervals(&self, zone: &TimeZone, window: Interval) -> Vec<Interval> {
        let mut intervals = Vec::new();
        if self.periods.is_empty() {
            return intervals;
        }
        let first = window.start().to_zoned_datetime(zone.clone()).date();
        let last = window.end().to_zoned_datetime(zone.clone()).date();
        // A day before and after, because a period late on one local date can fall in the
        // window's first instant in UTC, and the other way round.
        let mut date = first.yesterday().unwrap_or(first);
        let stop = last.tomorrow().unwrap_or(last);
        while date <= stop {
            for period in self
                .periods
                .iter()
                .filter(|period| period.day == date.weekday())
            {
                let (Some(start), Some(end)) = (
                    local_instant(zone, date, period.start_minute),
                    local_instant(zone, date, period.end_minute),
                ) else {
                    continue;
                };
                let start = start.max(window.start());
                let end = end.min(window.end());
                if start < end {
                    intervals.push(Interval::from_ordered(start, end));
                }
            }
            let Some(next) = date.tomorrow().ok() else {
                break;
            };
            date = next;
        }
        intervals.sort();
        intervals
    }
}

/// Returns the instant of `minute` minutes after local midnight on `date` in `zone`.
fn local_instant(zone: &TimeZone, date: Date, minute: u16) -> Option<Timestamp> {
    let midnight = date.to_datetime(jiff::civil::Time::midnight());
    let local = midnight
        .checked_add(Span::new().minutes(i64::from(minute)))
        .ok()?;
    zone.to_ambiguous_zoned_datetime(local)
        .compatible()
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Formats minutes after midnight as `HH:MM`.
pub fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes after midnight.
pub fn parse_clock(field: &str, text: &str) -> Result<u16, ValidationError> {
    let invalid = || {
        ValidationError::new(
            field,
            format!("{text:?} is not a time of day; use HH:MM from 00:00 to 24:00, such as 09:30"),
        )
    };
    let (hours, minutes) = text.split_once(':').ok_or_else(invalid)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(invalid());
    }
    let hours: u16 = hours.parse().map_err(|_| invalid())?;
    let minutes: u16 = minutes.parse().map_err(|_| invalid())?;
    if minutes > 59 || hours > 24 || (hours == 24 && minutes > 0) {
        return Err(invalid());
    }
    Ok(hours * 60 + minutes)
}

/// Parses a day of the week: its English name or its RFC 5545 code (`MO` to `SU`), in any
/// letter case.
pub fn parse_weekday(field: &str, text: &str) -> Result<Weekday, ValidationError> {
    let day = match text.to_ascii_lowercase().as_str() {
        "monday" | "mo" => Weekday::Monday,
        "tuesday" | "tu" => Weekday::Tuesday,
        "wednesday" | "we" => Weekday::Wednesday,
        "thursday" | "th" => Weekday::Thursday,
        "friday" | "fr" => Weekday::Friday,
        "saturday" | "sa" => Weekday::Saturday,
        "sunday" | "su" => Weekday::Sunday,
        _ => {
            return Err(ValidationError::new(
                field,
                format!("{text:?} is not a day of the week; use monday to sunday"),
            ));
        }
    };
    Ok(day)
}

/// Returns the English name of a day of the week in lower case, as [`parse_weekday`] reads it.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

impl fmt::Display for WorkingPeriod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {}-{}",
            weekday_name(self.day),
            clock(self.start_minute),
            clock(self.end_minute)
        )
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, period) in self.periods.iter().enumerate() {
            if index > 0 {
                formatter.write_str(", ")?;
            }
            write!(formatter, "{period}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start: &str, end: &str) -> Interval {
        Interval::new(start.parse().unwrap(), end.parse().unwrap(), "end").unwrap()
    }

    #[test]
    fn default_hours_follow_local_time_across_dst() {
        let hours = WorkingHours::default();
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        // Friday before and Monday after the change to summer time on 2026-03-29.
        let got = hours.intervals(
            &zone,
            interval("2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z"),
        );
        assert_eq!(
            got,
            [
                interval("2026-03-27T08:00:00Z", "2026-03-27T16:00:00Z"),
                interval("2026-03-30T07:00:00Z", "2026-03-30T15:00:00Z"),
            ]
        );
    }

    #[test]
    fn intervals_are_cut_to_the_window() {
        let hours = WorkingHours::default();
        let zone = TimeZone::get("America/New_York").unwrap();
        let got = hours.intervals(
            &zone,
            interval("2026-06-01T15:00:00Z", "2026-06-01T18:00:00Z"),
        );
        assert_eq!(
            got,
            [interval("2026-06-01T15:00:00Z", "2026-06-01T18:00:00Z")]
        );
    }

    #[test]
    fn period_in_a_gap_starts_after_it() {
        let periods = vec![WorkingPeriod::new("p", Weekday::Sunday, 150, 240).unwrap()];
        let hours = WorkingHours::new(periods).unwrap();
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        // 02:30 does not exist on 2026-03-29 in Berlin: it moves to 03:30 CEST (01:30 UTC).
        let got = hours.intervals(
            &zone,
            interval("2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z"),
        );
        assert_eq!(
            got,
            [interval("2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z")]
        );
    }

    #[test]
    fn overlapping_periods_merge_and_bad_ones_are_named() {
        let hours = WorkingHours::new(vec![
            WorkingPeriod::new("a", Weekday::Monday, 600, 720).unwrap(),
            WorkingPeriod::new("b", Weekday::Monday, 540, 660).unwrap(),
        ])
        .unwrap();
        assert_eq!(
            hours.periods(),
            [WorkingPeriod {
                day: Weekday::Monday,
                start_minute: 540,
                end_minute: 720
            }]
        );
        let error = WorkingPeriod::new("working_hours/0", Weekday::Monday, 600, 540).unwrap_err();
        assert_eq!(error.field, "working_hours/0/end");
    }

    #[test]
    fn text_form_round_trips() {
        let hours = WorkingHours::default();
        let text = hours.to_string();
        assert!(text.starts_with("monday 09:00-17:00, tuesday 09:00-17:00"));
        assert_eq!(WorkingHours::parse("w", &text).unwrap(), hours);
        let empty = WorkingHours::new(Vec::new()).unwrap();
        assert_eq!(WorkingHours::parse("w", &empty.to_string()).unwrap(), empty);
        let error = WorkingHours::parse("w", "monday 09:00-17:00, funday 1-2").unwrap_err();
        assert_eq!(error.field, "w/1");
    }

    #[test]
    fn clock_parsing() {
        assert_eq!(parse_clock("f", "09:30").unwrap(), 570);
        assert_eq!(parse_clock("f", "24:00").unwrap(), 1440);
        for bad in ["9:30", "24:01", "12:60", "noon", "", "12:3"] {
            assert!(parse_clock("f", bad).is_err(), "{bad}");
        }
        assert_eq!(clock(570), "09:30");
        assert_eq!(parse_weekday("d", "TU").unwrap(), Weekday::Tuesday);
        assert!(parse_weekday("d", "tues").is_err());
    }
}
