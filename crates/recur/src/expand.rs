//! The expansion of one rule from its DTSTART, period by period.
//!
//! Every period of the frequency (a year, month, week, day, hour, minute or
//! second, INTERVAL apart) is turned into a sorted set of local candidates.
//! A BY part either narrows the days of the period or lists the times of
//! day. So the expand and limit columns of RFC 5545's table (§3.3.10) both
//! come down to two steps: keep the days of the period that match every day
//! part, then combine them with the listed hours, minutes and seconds. Parts that
//! are missing take their value from DTSTART where the RFC says so. BYSETPOS
//! then picks from the whole period, including candidates before DTSTART,
//! and only the picked candidates from DTSTART on become instances.

use std::collections::VecDeque;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::calendar::{
    SECONDS_PER_DAY, date_from_day, day_from_date, days_in_month, days_in_year, start_of_week,
    week_number, weekday,
};
use crate::error::ExpandError;
use crate::rule::{Frequency, Rule};
use crate::value::DateOrTime;

/// The last local second that jiff can represent: 9999-12-31T23:59:59.
const MAX_LOCAL: i64 = 2_932_896 * SECONDS_PER_DAY - 1;

/// The candidates a run of periods shorter than a day may examine without
/// a candidate before `RuleExpansion::has_reachable_time` runs. The check
/// costs up to about 230,000 candidates, so rules that match within this
/// many never pay for it.
const REACHABILITY_THRESHOLD: u64 = 10_000;

/// The days of the Gregorian cycle: 400 years, 20,871 weeks.
const DAYS_PER_CYCLE: i64 = 146_097;

/// Returns the number of periods after which the sequence of periods
/// repeats the calendar: the 400-year cycle divided among the periods.
fn cycle_periods(frequency: Frequency, interval: i64) -> i64 {
    let units_per_cycle = match frequency {
        Frequency::Yearly => 400,
        Frequency::Monthly => 400 * 12,
        Frequency::Weekly => DAYS_PER_CYCLE / 7,
        Frequency::Daily => DAYS_PER_CYCLE,
        Frequency::Hourly => DAYS_PER_CYCLE * 24,
        Frequency::Minutely => DAYS_PER_CYCLE * 24 * 60,
        Frequency::Secondly => DAYS_PER_CYCLE * SECONDS_PER_DAY,
    };
    units_per_cycle / gcd(units_per_cycle, interval)
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// One instance: `local` is its local time in seconds (see `calendar`) and
/// `key` orders instances of one recurrence, the instant in Unix seconds
/// for a zoned DTSTART and the local time otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Instance {
    pub(crate) key: i64,
    pub(crate) local: i64,
}

/// How the DTSTART of a recurrence places local times.
#[derive(Clone, Debug)]
pub(crate) enum Form {
    Date,
    Floating,
    Zoned(TimeZone),
}

impl Form {
    pub(crate) fn of(value: &DateOrTime) -> Form {
        match value {
            DateOrTime::Date(_) => Form::Date,
            DateOrTime::Floating(_) => Form::Floating,
            DateOrTime::Zoned(zoned) => Form::Zoned(zoned.time_zone().clone()),
        }
    }

    /// Places a generated local time. A local time in a DST gap returns
    /// `None`, and one in a fold means its first occurrence.
    pub(crate) fn place_generated(&self, local: i64) -> Option<Instance> {
        match self {
            Form::Date | Form::Floating => Some(Instance { key: local, local }),
            Form::Zoned(zone) => {
                let offset = match zone.to_ambiguous_timestamp(to_datetime(local)?).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset,
                    AmbiguousOffset::Gap { .. } => return None,
                    AmbiguousOffset::Fold { before, .. } => before,
                };
                let key = local - i64::from(offset.seconds());
                Some(Instance { key, local })
            }
        }
    }

    /// Converts an explicit value (DTSTART, RDATE or EXDATE) to this form. A
    /// date takes the time of day `time_of_day` (seconds), and a local time
    /// in a zone is read as RFC 5545 §3.3.5 says: forward by the length of
    /// a gap, and the first occurrence in a fold.
    pub(crate) fn place_value(&self, value: &DateOrTime, time_of_day: i64) -> Option<Instance> {
        let local = match (self, value) {
            (Form::Date, value) => {
                let date = value.local().date();
                return Some(Instance::at(local_from_datetime(
                    date.to_datetime(jiff::civil::Time::midnight()),
                )));
            }
            (Form::Zoned(zone), DateOrTime::Zoned(zoned)) => {
                let timestamp = zoned.timestamp();
                let local = local_from_datetime(zone.to_datetime(timestamp));
                return Some(Instance {
                    key: timestamp.as_second(),
                    local,
                });
            }
            (_, DateOrTime::Date(date)) => {
                local_from_datetime(date.to_datetime(jiff::civil::Time::midnight())) + time_of_day
            }
            (_, value) => local_from_datetime(value.local()),
        };
        match self {
            Form::Zoned(zone) => {
                let timestamp = zone
                    .to_ambiguous_timestamp(to_datetime(local)?)
                    .compatible()
                    .ok()?;
                let local = local_from_datetime(zone.to_datetime(timestamp));
                Some(Instance {
                    key: timestamp.as_second(),
                    local,
                })
            }
            _ => Some(Instance::at(local)),
        }
    }

    /// Builds the output value of an instance.
    pub(crate) fn value(&self, instance: Instance) -> DateOrTime {
        match self {
            Form::Date => {
                let (year, month, day) = date_from_day(instance.local.div_euclid(SECONDS_PER_DAY));
                DateOrTime::Date(jiff::civil::date(year as i16, month as i8, day as i8))
            }
            Form::Floating => DateOrTime::Floating(
                to_datetime(instance.local).expect("generated local times are in range"),
            ),
            Form::Zoned(zone) => {
                let timestamp = jiff::Timestamp::from_second(instance.key)
                    .expect("generated instants are in range");
                DateOrTime::Zoned(timestamp.to_zoned_datetime(zone.clone()))
            }
        }
    }
}

impl Instance {
    fn at(local: i64) -> Instance {
        Instance { key: local, local }
    }
}

pub(crate) fn local_from_datetime(datetime: DateTime) -> i64 {
    let day = day_from_date(
        i64::from(datetime.year()),
        datetime.month() as u8,
        datetime.day() as u8,
    );
    day * SECONDS_PER_DAY
        + i64::from(datetime.hour()) * 3600
        + i64::from(datetime.minute()) * 60
        + i64::from(datetime.second())
}

pub(crate) fn to_datetime(local: i64) -> Option<DateTime> {
    let (year, month, day) = date_from_day(local.div_euclid(SECONDS_PER_DAY));
    let second_of_day = local.rem_euclid(SECONDS_PER_DAY);
    DateTime::new(
        i16::try_from(year).ok()?,
        month as i8,
        day as i8,
        (second_of_day / 3600) as i8,
        (second_of_day / 60 % 60) as i8,
        (second_of_day % 60) as i8,
        0,
    )
    .ok()
}

/// The inclusive UNTIL bound, compared with `Instance::key`.
#[derive(Clone, Copy, Debug)]
enum Until {
    None,
    Key(i64),
}

/// The BY parts of a rule with DTSTART's defaults filled in.
#[derive(Clone, Debug)]
struct Plan {
    frequency: Frequency,
    interval: i64,
    hours: Vec<u8>,
    minutes: Vec<u8>,
    seconds: Vec<u8>,
    months: Vec<u8>,
    week_numbers: Vec<i8>,
    year_days: Vec<i16>,
    month_days: Vec<i8>,
    /// Weekdays without an ordinal, Monday being 0.
    weekdays: Vec<u8>,
    /// Weekdays with an ordinal, as (ordinal, weekday).
    nth_weekdays: Vec<(i8, u8)>,
    /// Whether an ordinal counts within the month (true) or the year.
    ordinal_in_month: bool,
    week_start: u8,
    set_positions: Vec<i16>,
}

impl Plan {
    fn new(rule: &Rule, start_local: i64) -> Plan {
        let start_day = start_local.div_euclid(SECONDS_PER_DAY);
        let second_of_day = start_local.rem_euclid(SECONDS_PER_DAY);
        let (_, start_month, start_month_day) = date_from_day(start_day);
        let frequency = rule.frequency();

        // A time part missing from a rule whose period is longer than that
        // unit takes DTSTART's value; otherwise any value matches.
        let time_part = |given: &[u8], unit: Frequency, start_value: i64| -> Vec<u8> {
            if given.is_empty() && frequency > unit {
                vec![start_value as u8]
            } else {
                given.to_vec()
            }
        };
        let hours = time_part(rule.by_hour(), Frequency::Hourly, second_of_day / 3600);
        let minutes = time_part(
            rule.by_minute(),
            Frequency::Minutely,
            second_of_day / 60 % 60,
        );
        let seconds = time_part(rule.by_second(), Frequency::Secondly, second_of_day % 60);

        let mut months = rule.by_month().to_vec();
        let mut month_days = rule.by_month_day().to_vec();
        let mut weekdays: Vec<u8> = Vec::new();
        let mut nth_weekdays = Vec::new();
        // An ordinal only counts within a month or a year, so shorter
        // frequencies ignore it (see `Rule::parse`).
        let ordinals_apply = frequency >= Frequency::Monthly;
        for entry in rule.by_day() {
            let day = entry.weekday.to_monday_zero_offset() as u8;
            match entry.ordinal {
                Some(ordinal) if ordinals_apply => nth_weekdays.push((ordinal, day)),
                _ if weekdays.contains(&day) => {}
                _ => weekdays.push(day),
            }
        }
        let no_day_part = rule.by_week_no().is_empty()
            && rule.by_year_day().is_empty()
            && rule.by_month_day().is_empty()
            && rule.by_day().is_empty();
        if no_day_part {
            match frequency {
                Frequency::Yearly => {
                    if months.is_empty() {
                        months.push(start_month);
                    }
                    month_days.push(start_month_day as i8);
                }
                Frequency::Monthly => month_days.push(start_month_day as i8),
                Frequency::Weekly => weekdays.push(weekday(start_day)),
                _ => {}
            }
        }

        Plan {
            frequency,
            interval: i64::from(rule.interval()),
            hours,
            minutes,
            seconds,
            ordinal_in_month: frequency == Frequency::Monthly || !rule.by_month().is_empty(),
            months,
            week_numbers: rule.by_week_no().to_vec(),
            year_days: rule.by_year_day().to_vec(),
            month_days,
            weekdays,
            nth_weekdays,
            week_start: rule.week_start().to_monday_zero_offset() as u8,
            set_positions: rule.by_set_pos().to_vec(),
        }
    }

    fn day_matches(&self, day: i64) -> bool {
        let (year, month, month_day) = date_from_day(day);
        if !self.months.is_empty() && !self.months.contains(&month) {
            return false;
        }
        if !self.week_numbers.is_empty() {
            let (week, weeks_in_year) = week_number(day, self.week_start);
            let from_end = week - weeks_in_year - 1;
            let matched = self
                .week_numbers
                .iter()
                .any(|&wanted| i64::from(wanted) == week || i64::from(wanted) == from_end);
            if !matched {
                return false;
            }
        }
        if !self.year_days.is_empty() {
            let year_day = day - day_from_date(year, 1, 1) + 1;
            let from_end = year_day - days_in_year(year) - 1;
            let matched = self
                .year_days
                .iter()
                .any(|&wanted| i64::from(wanted) == year_day || i64::from(wanted) == from_end);
            if !matched {
                return false;
            }
        }
        if !self.month_days.is_empty() {
            let month_day = i64::from(month_day);
            let from_end = month_day - i64::from(days_in_month(year, month)) - 1;
            let matched = self
                .month_days
                .iter()
                .any(|&wanted| i64::from(wanted) == month_day || i64::from(wanted) == from_end);
            if !matched {
                return false;
            }
        }
        if !self.weekdays.is_empty() || !self.nth_weekdays.is_empty() {
            let day_of_week = weekday(day);
            if self.weekdays.contains(&day_of_week) {
                return true;
            }
            let (first, last) = if self.ordinal_in_month {
                let first = day - i64::from(month_day) + 1;
                (first, first + i64::from(days_in_month(year, month)) - 1)
            } else {
                let first = day_from_date(year, 1, 1);
                (first, first + days_in_year(year) - 1)
            };
            let nth = (day - first) / 7 + 1;
            let nth_from_end = -((last - day) / 7 + 1);
            return self.nth_weekdays.iter().any(|&(ordinal, wanted)| {
                wanted == day_of_week
                    && (i64::from(ordinal) == nth || i64::from(ordinal) == nth_from_end)
            });
        }
        true
    }

    /// Returns whether BYSETPOS can pick nothing in any period, because every
    /// position lies beyond the most candidates a period can have.
    fn set_positions_out_of_reach(&self) -> bool {
        if self.set_positions.is_empty() {
            return false;
        }
        let max_days: i64 = match self.frequency {
            Frequency::Yearly => 366,
            Frequency::Monthly => 31,
            Frequency::Weekly => 7,
            _ => 1,
        };
        let listed = |list: &[u8], fixed: bool| if fixed { 1 } else { list.len() as i64 };
        let max_candidates = max_days
            * listed(&self.hours, self.frequency <= Frequency::Hourly)
            * listed(&self.minutes, self.frequency <= Frequency::Minutely)
            * listed(&self.seconds, self.frequency == Frequency::Secondly);
        self.set_positions
            .iter()
            .all(|&position| i64::from(position).abs() > max_candidates)
    }

    /// Whether a local time matches the time parts that the period fixes
    /// rather than lists (the hour of an HOURLY period, for example).
    fn fixed_time_matches(&self, local: i64) -> bool {
        let second_of_day = local.rem_euclid(SECONDS_PER_DAY);
        let matches = |list: &[u8], value: i64| list.is_empty() || list.contains(&(value as u8));
        let hour_fixed = self.frequency <= Frequency::Hourly;
        let minute_fixed = self.frequency <= Frequency::Minutely;
        let second_fixed = self.frequency == Frequency::Secondly;
        (!hour_fixed || matches(&self.hours, second_of_day / 3600))
            && (!minute_fixed || matches(&self.minutes, second_of_day / 60 % 60))
            && (!second_fixed || matches(&self.seconds, second_of_day % 60))
    }
}

/// The expansion of one rule: an ordered stream of instances.
#[derive(Clone, Debug)]
pub(crate) struct RuleExpansion<'a> {
    rule: &'a Rule,
    plan: Plan,
    form: Form,
    start_local: i64,
    until: Until,
    /// The index of the next period to fill, counted from DTSTART's period.
    next_period: i64,
    pending: VecDeque<Instance>,
    produced: u64,
    finished: bool,
    /// The last local time of interest: periods that start later are not
    /// filled.
    horizon: i64,
    /// DTSTART placed in its zone. A generated candidate at DTSTART's
    /// written local time becomes this instance even when that local time
    /// falls in a DST gap.
    start: Option<Instance>,
    /// The index of the first period of the current run of periods without
    /// a candidate (see `never_matches_again`).
    empty_since: i64,
    /// The number of periods after which the calendar repeats.
    cycle_periods: i64,
    /// Candidates examined in the current run of periods without a
    /// candidate, for deciding when to run `has_reachable_time`.
    run_examined: u64,
    /// Whether `has_reachable_time` has run for this expansion.
    reachability_checked: bool,
    /// Whether DTSTART takes one of COUNT's places when the rule does not generate it, as
    /// RFC 5545 requires for a recurrence whose DTSTART always counts.
    start_takes_count: bool,
    /// Whether the first instance has been seen, which decides whether DTSTART was among
    /// the generated instances.
    first_seen: bool,
}

impl<'a> RuleExpansion<'a> {
    /// Makes DTSTART take one of COUNT's places when the rule does not generate it.
    pub(crate) fn start_takes_count(mut self, takes: bool) -> RuleExpansion<'a> {
        self.start_takes_count = takes;
        self
    }

    /// Prepares the expansion of `rule` from `start`, checking that the
    /// rule fits DTSTART's form.
    ///
    /// `written_local` is DTSTART's local time as written, which differs
    /// from `start`'s own local time when a zoned DTSTART fell in a DST gap
    /// and was moved forward. Instances take the written time of day, so a
    /// daily rule from 01:30 on the day of a gap goes on at 01:30.
    pub(crate) fn new(
        rule: &'a Rule,
        start: &DateOrTime,
        written_local: DateTime,
    ) -> Result<RuleExpansion<'a>, ExpandError> {
        let form = Form::of(start);
        let start_local = local_from_datetime(written_local);
        let start_instance = form.place_value(start, 0);
        let until = match rule.until() {
            None => Until::None,
            Some(until) => Until::Key(until_key(rule, until, start, &form)?),
        };
        if let Form::Date = form {
            let time_part = [
                (!rule.by_hour().is_empty(), "BYHOUR"),
                (!rule.by_minute().is_empty(), "BYMINUTE"),
                (!rule.by_second().is_empty(), "BYSECOND"),
                (rule.frequency() < Frequency::Daily, "FREQ"),
            ];
            if let Some((_, part)) = time_part.iter().find(|(present, _)| *present) {
                return Err(ExpandError::TimeOfDayForDate {
                    rule: rule.to_string(),
                    part,
                });
            }
        }
        let plan = Plan::new(rule, start_local);

        // Local times differ from instants by less than two days, so no
        // period that starts later than that after UNTIL has an instance.
        let mut horizon = MAX_LOCAL;
        let mut finished = false;
        if let Until::Key(until) = until {
            let margin = match form {
                Form::Zoned(_) => 2 * SECONDS_PER_DAY,
                _ => 0,
            };
            horizon = horizon.min(until.saturating_add(margin));
            finished = start_instance.is_some_and(|start| until < start.key);
        }
        finished |= plan.set_positions_out_of_reach();
        Ok(RuleExpansion {
            rule,
            cycle_periods: cycle_periods(plan.frequency, plan.interval),
            plan,
            form,
            start_local,
            until,
            next_period: 0,
            pending: VecDeque::new(),
            produced: 0,
            finished,
            horizon,
            start: start_instance,
            empty_since: 0,
            run_examined: 0,
            reachability_checked: false,
            start_takes_count: false,
            first_seen: false,
        })
    }

    /// Skips the periods that end before the local time `local`, unless the
    /// rule has a COUNT, which only a walk from DTSTART can honour.
    pub(crate) fn seek(&mut self, local: i64) {
        if self.rule.count().is_some() || local <= self.start_local {
            return;
        }
        self.next_period = self.period_containing(local).max(0);
        self.empty_since = self.next_period;
        self.run_examined = 0;
    }

    /// Ends the expansion at the first period that starts after the local
    /// time `local`.
    pub(crate) fn stop_after(&mut self, local: i64) {
        self.horizon = self.horizon.min(local);
    }

    /// Returns the next instance, adding the candidates it examines to
    /// `examined` and failing once that exceeds `budget`.
    pub(crate) fn next(
        &mut self,
        examined: &mut u64,
        budget: u64,
    ) -> Result<Option<Instance>, ExpandError> {
        loop {
            if let Some(instance) = self.pending.pop_front() {
                return Ok(Some(instance));
            }
            if self.finished {
                return Ok(None);
            }
            if *examined > budget {
                let after = to_datetime(self.period_start(self.next_period).min(MAX_LOCAL))
                    .map(|datetime| datetime.to_string())
                    .unwrap_or_default();
                return Err(ExpandError::BudgetExhausted {
                    rule: self.rule.to_string(),
                    examined: *examined,
                    after,
                });
            }
            self.fill_next_period(examined)?;
        }
    }

    /// Decides for a frequency shorter than a day whether some period from
    /// now on starts on a matching day at a matching time of day, and
    /// returns the answer with the number of candidates it examined.
    ///
    /// Periods start at `t0 + k * step` local seconds. Moving by whole
    /// 400-year cycles changes neither whether a day matches nor the time of
    /// day. So a day `d` and a time of day `t` hold a period start in some
    /// later cycle exactly when `86_400 * d + t` is congruent to `t0` modulo
    /// `gcd(146_097 * 86_400, step)`, and one pass over the times of a day
    /// and one over the days of a cycle decide the question.
    fn has_reachable_time(&self) -> (bool, u64) {
        let unit = self.unit_seconds();
        let step = self.plan.interval * unit;
        let t0 = self.period_start(0);
        let modulus = gcd(DAYS_PER_CYCLE * SECONDS_PER_DAY, step);

        let matching_times: std::collections::HashSet<i64> = (0..SECONDS_PER_DAY)
            .step_by(unit as usize)
            .filter(|&time| self.plan.fixed_time_matches(time))
            .map(|time| time % modulus)
            .collect();
        let mut cost = (SECONDS_PER_DAY / unit) as u64;
        if matching_times.is_empty() {
            return (false, cost);
        }

        let first_day = t0.div_euclid(SECONDS_PER_DAY);
        for day in first_day..first_day + DAYS_PER_CYCLE {
            cost += 1;
            let residue = (t0 - day * SECONDS_PER_DAY).rem_euclid(modulus);
            if matching_times.contains(&residue) && self.plan.day_matches(day) {
                return (true, cost);
            }
        }
        (false, cost)
    }

    fn unit_seconds(&self) -> i64 {
        match self.plan.frequency {
            Frequency::Secondly => 1,
            Frequency::Minutely => 60,
            Frequency::Hourly => 3600,
            _ => SECONDS_PER_DAY,
        }
    }

    fn start_month_index(&self) -> i64 {
        let (year, month, _) = date_from_day(self.start_local.div_euclid(SECONDS_PER_DAY));
        year * 12 + i64::from(month) - 1
    }

    /// The first local second of period `index`.
    fn period_start(&self, index: i64) -> i64 {
        let start_day = self.start_local.div_euclid(SECONDS_PER_DAY);
        let step = index.saturating_mul(self.plan.interval);
        let day = match self.plan.frequency {
            Frequency::Yearly => {
                let (year, _, _) = date_from_day(start_day);
                day_from_date((year + step).min(10_000), 1, 1)
            }
            Frequency::Monthly => {
                let month_index = (self.start_month_index() + step).min(120_000);
                day_from_date(
                    month_index.div_euclid(12),
                    (month_index.rem_euclid(12) + 1) as u8,
                    1,
                )
            }
            Frequency::Weekly => start_of_week(start_day, self.plan.week_start)
                .saturating_add(step.saturating_mul(7)),
            Frequency::Daily => start_day.saturating_add(step),
            _ => {
                let unit = self.unit_seconds();
                let base = self.start_local - self.start_local.rem_euclid(unit);
                return base.saturating_add(step.saturating_mul(unit));
            }
        };
        day.saturating_mul(SECONDS_PER_DAY)
    }

    fn period_containing(&self, local: i64) -> i64 {
        let start_day = self.start_local.div_euclid(SECONDS_PER_DAY);
        let day = local.div_euclid(SECONDS_PER_DAY);
        let interval = self.plan.interval;
        match self.plan.frequency {
            Frequency::Yearly => {
                let (start_year, _, _) = date_from_day(start_day);
                let (year, _, _) = date_from_day(day);
                (year - start_year).div_euclid(interval)
            }
            Frequency::Monthly => {
                let (year, month, _) = date_from_day(day);
                (year * 12 + i64::from(month) - 1 - self.start_month_index()).div_euclid(interval)
            }
            Frequency::Weekly => {
                let first = start_of_week(start_day, self.plan.week_start);
                (day - first).div_euclid(7 * interval)
            }
            Frequency::Daily => (day - start_day).div_euclid(interval),
            _ => {
                let unit = self.unit_seconds();
                let base = self.start_local - self.start_local.rem_euclid(unit);
                (local - base).div_euclid(unit * interval)
            }
        }
    }

    /// The index of the first period that starts at or after `local`.
    fn first_period_from(&self, local: i64) -> i64 {
        let index = self.period_containing(local);
        if self.period_start(index) >= local {
            index
        } else {
            index + 1
        }
    }

    /// Turns the next period into instances. Periods shorter than a day
    /// whose day or fixed hour or minute cannot match are skipped in one
    /// step, so a SECONDLY rule limited to one month does not visit every
    /// second of the other eleven.
    fn fill_next_period(&mut self, examined: &mut u64) -> Result<(), ExpandError> {
        let examined_before = *examined;
        self.fill_period(examined)?;
        self.run_examined += *examined - examined_before;
        if !self.finished && self.never_matches_again(examined) {
            self.finished = true;
        }
        Ok(())
    }

    /// Decides whether the current run of periods without a candidate goes
    /// on forever, which ends the expansion instead of spending the budget.
    ///
    /// The Gregorian calendar repeats every 400 years, which are 146,097
    /// days and a whole number of weeks, so period `i + cycle_periods` has
    /// the candidates of period `i` moved by 146,097 days. A run of
    /// `cycle_periods` periods without a candidate therefore never ends,
    /// and no earlier run can be mistaken for one: a period with a
    /// candidate, even one before DTSTART, returns a cycle later. Periods
    /// shorter than a day can need billions of periods for a cycle, so for
    /// them `has_reachable_time` decides the question once the run has cost
    /// more than `REACHABILITY_THRESHOLD` candidates.
    fn never_matches_again(&mut self, examined: &mut u64) -> bool {
        if self.next_period - self.empty_since >= self.cycle_periods {
            return true;
        }
        if self.plan.frequency >= Frequency::Daily
            || self.reachability_checked
            || self.run_examined < REACHABILITY_THRESHOLD
        {
            return false;
        }
        self.reachability_checked = true;
        let (reachable, cost) = self.has_reachable_time();
        *examined += cost;
        !reachable
    }

    fn fill_period(&mut self, examined: &mut u64) -> Result<(), ExpandError> {
        let index = self.next_period;
        let period_start = self.period_start(index);
        if period_start > self.horizon {
            // Nothing after 9999-12-31 can be represented, and nothing after
            // UNTIL or the window's end is wanted.
            self.finished = true;
            return Ok(());
        }
        self.next_period = index + 1;

        let candidates = if self.plan.frequency < Frequency::Daily {
            *examined += 1;
            let day = period_start.div_euclid(SECONDS_PER_DAY);
            if !self.plan.day_matches(day) {
                self.next_period = self
                    .first_period_from((day + 1) * SECONDS_PER_DAY)
                    .max(index + 1);
                return Ok(());
            }
            if !self.plan.fixed_time_matches(period_start) {
                let second_of_day = period_start.rem_euclid(SECONDS_PER_DAY);
                let fails =
                    |list: &[u8], value: i64| !list.is_empty() && !list.contains(&(value as u8));
                let boundary = if fails(&self.plan.hours, second_of_day / 3600) {
                    period_start - second_of_day % 3600 + 3600
                } else if self.plan.frequency <= Frequency::Minutely
                    && fails(&self.plan.minutes, second_of_day / 60 % 60)
                {
                    period_start - second_of_day % 60 + 60
                } else {
                    period_start + 1
                };
                self.next_period = self.first_period_from(boundary).max(index + 1);
                return Ok(());
            }
            self.times_in_period(&[period_start], examined)
        } else {
            let days = self.days_in_period(period_start, examined);
            let midnights: Vec<i64> = days.iter().map(|day| day * SECONDS_PER_DAY).collect();
            self.times_in_period(&midnights, examined)
        };
        let candidates = self.select_positions(candidates);
        if !candidates.is_empty() {
            self.empty_since = index + 1;
            self.run_examined = 0;
        }

        for local in candidates {
            if local < self.start_local {
                continue;
            }
            if local > MAX_LOCAL {
                self.finished = true;
                break;
            }
            let placed = if local == self.start_local {
                self.start
            } else {
                self.form.place_generated(local)
            };
            let Some(instance) = placed else {
                continue;
            };
            if let Until::Key(until) = self.until
                && instance.key > until
            {
                self.finished = true;
                break;
            }
            if !self.first_seen {
                self.first_seen = true;
                if self.start_takes_count && local != self.start_local {
                    self.produced += 1;
                }
            }
            if let Some(count) = self.rule.count()
                && self.produced >= u64::from(count)
            {
                self.finished = true;
                break;
            }
            self.produced += 1;
            self.pending.push_back(instance);
        }
        if let Some(count) = self.rule.count()
            && self.produced >= u64::from(count)
        {
            self.finished = true;
        }
        Ok(())
    }

    /// Returns the matching days of a period of a day or longer.
    fn days_in_period(&self, period_start: i64, examined: &mut u64) -> Vec<i64> {
        let first = period_start.div_euclid(SECONDS_PER_DAY);
        let (year, month, _) = date_from_day(first);
        let length = match self.plan.frequency {
            Frequency::Yearly => days_in_year(year),
            Frequency::Monthly => i64::from(days_in_month(year, month)),
            Frequency::Weekly => 7,
            _ => 1,
        };
        *examined += length as u64;
        (first..first + length)
            .filter(|&day| self.plan.day_matches(day))
            .collect()
    }

    /// Combines the period's starting points with the listed times: every
    /// hour, minute and second for days, and the units below the frequency
    /// for shorter periods.
    fn times_in_period(&self, starts: &[i64], examined: &mut u64) -> Vec<i64> {
        let all = |list: &[u8], fixed: bool| -> Vec<Option<u8>> {
            if fixed {
                vec![None]
            } else {
                list.iter().map(|&value| Some(value)).collect()
            }
        };
        let hours = all(&self.plan.hours, self.plan.frequency <= Frequency::Hourly);
        let minutes = all(
            &self.plan.minutes,
            self.plan.frequency <= Frequency::Minutely,
        );
        let seconds = all(
            &self.plan.seconds,
            self.plan.frequency == Frequency::Secondly,
        );

        let mut candidates =
            Vec::with_capacity(starts.len() * hours.len() * minutes.len() * seconds.len());
        for &start in starts {
            for hour in &hours {
                for minute in &minutes {
                    for second in &seconds {
                        let offset = hour.map_or(0, |h| i64::from(h) * 3600)
                            + minute.map_or(0, |m| i64::from(m) * 60)
                            + second.map_or(0, i64::from);
                        candidates.push(start + offset);
                    }
                }
            }
        }
        *examined += candidates.len().saturating_sub(1) as u64;
        candidates
    }

    /// Applies BYSETPOS: positions count from 1 at the start of the period's
    /// candidates and from -1 at its end.
    fn select_positions(&self, candidates: Vec<i64>) -> Vec<i64> {
        if self.plan.set_positions.is_empty() {
            return candidates;
        }
        let length = candidates.len() as i64;
        let mut picked: Vec<i64> = self
            .plan
            .set_positions
            .iter()
            .filter_map(|&position| {
                let index = if position > 0 {
                    i64::from(position) - 1
                } else {
                    length + i64::from(position)
                };
                usize::try_from(index)
                    .ok()
                    .and_then(|index| candidates.get(index).copied())
            })
            .collect();
        picked.sort_unstable();
        picked.dedup();
        picked
    }
}

/// Checks UNTIL against DTSTART's form (RFC 5545 §3.3.10) and returns it as
/// an instance key.
fn until_key(
    rule: &Rule,
    until: &DateOrTime,
    start: &DateOrTime,
    form: &Form,
) -> Result<i64, ExpandError> {
    let mismatch = |fix: &'static str| ExpandError::UntilForm {
        rule: rule.to_string(),
        until_form: until.form_name(),
        start_form: start.form_name(),
        fix,
    };
    match (form, until) {
        (Form::Date, DateOrTime::Date(date)) => Ok(local_from_datetime(
            date.to_datetime(jiff::civil::Time::midnight()),
        )),
        (Form::Date, _) => Err(mismatch("write UNTIL as a date (YYYYMMDD)")),
        (Form::Floating, DateOrTime::Floating(datetime)) => Ok(local_from_datetime(*datetime)),
        (Form::Floating, _) => Err(mismatch(
            "write UNTIL as a local date-time (YYYYMMDDTHHMMSS) without Z",
        )),
        (Form::Zoned(_), DateOrTime::Zoned(zoned)) if zoned.time_zone() == &TimeZone::UTC => {
            Ok(zoned.timestamp().as_second())
        }
        (Form::Zoned(_), _) => Err(mismatch("write UNTIL in UTC (YYYYMMDDTHHMMSSZ)")),
    }
}
