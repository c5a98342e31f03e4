//! Property: `between(from, to)` returns exactly the occurrences that
//! `occurrences()` yields inside `[from, to)`, for random rules, zones and
//! windows.

use convene_recur::{Budget, DateOrTime, Recurrence, Rule};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;

const ZONES: [&str; 4] = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
];
const FREQUENCIES: [&str; 6] = ["MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"];
const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// The drawn parts of one rule.
#[derive(Debug)]
struct RuleParts {
    frequency: usize,
    interval: u32,
    count: Option<u32>,
    hours: Vec<u8>,
    weekdays: Vec<usize>,
    month_days: Vec<i8>,
    months: Vec<u8>,
    set_position: Option<i16>,
}

impl RuleParts {
    /// Builds the rule text, leaving out BYMONTHDAY for WEEKLY, which the RFC
    /// forbids.
    fn text(&self) -> String {
        let frequency_name = FREQUENCIES[self.frequency];
        let mut text = format!("FREQ={frequency_name};INTERVAL={}", self.interval);
        if let Some(count) = self.count {
            text.push_str(&format!(";COUNT={count}"));
        }
        let join = |values: Vec<String>| values.join(",");
        if !self.hours.is_empty() {
            text.push_str(&format!(
                ";BYHOUR={}",
                join(self.hours.iter().map(u8::to_string).collect())
            ));
        }
        if !self.weekdays.is_empty() {
            let names = self
                .weekdays
                .iter()
                .map(|&day| WEEKDAYS[day].to_string())
                .collect();
            text.push_str(&format!(";BYDAY={}", join(names)));
        }
        if !self.month_days.is_empty() && frequency_name != "WEEKLY" {
            let values = self.month_days.iter().map(i8::to_string).collect();
            text.push_str(&format!(";BYMONTHDAY={}", join(values)));
        }
        if !self.months.is_empty() {
            text.push_str(&format!(
                ";BYMONTH={}",
                join(self.months.iter().map(u8::to_string).collect())
            ));
        }
        if let Some(position) = self.set_position {
            text.push_str(&format!(";BYSETPOS={position}"));
        }
        text
    }
}

fn rule_strategy() -> impl Strategy<Value = String> {
    (
        0..FREQUENCIES.len(),
        1u32..4,
        prop::option::weighted(0.3, 1u32..40),
        prop::collection::vec(0u8..24, 0..3),
        prop::collection::vec(0..7usize, 0..3),
        prop::collection::vec(prop_oneof![1i8..=31, -31i8..=-1], 0..2),
        prop::collection::vec(1u8..=12, 0..3),
        prop::option::weighted(0.2, prop_oneof![1i16..=3, -3i16..=-1]),
    )
        .prop_map(
            |(frequency, interval, count, hours, weekdays, month_days, months, set_position)| {
                let parts = RuleParts {
                    frequency,
                    interval,
                    count,
                    hours,
                    weekdays,
                    month_days,
                    months,
                    set_position,
                };
                parts.text()
            },
        )
}

/// Returns the occurrences inside the window by reading `occurrences()`
/// until two days past its end, or `None` when the budget ran out.
fn filtered(
    recurrence: &Recurrence,
    from: Timestamp,
    to: Timestamp,
    zone: &TimeZone,
) -> Option<Vec<DateOrTime>> {
    let stop = to
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap();
    let mut inside = Vec::new();
    for occurrence in recurrence.occurrences() {
        let value = occurrence.ok()?;
        let instant = value.to_timestamp(zone);
        if instant >= stop {
            break;
        }
        if instant >= from && instant < to {
            inside.push(value);
        }
    }
    Some(inside)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn between_equals_filtered_occurrences(
        rule in rule_strategy(),
        zone_index in 0..ZONES.len(),
        zoned in any::<bool>(),
        start_day in 0i64..3000,
        start_minute in 0i64..1440,
        window_start_day in 0i64..4000,
        window_hours in 1i64..2000,
    ) {
        let zone = TimeZone::get(ZONES[zone_index]).unwrap();
        let Ok(rule) = Rule::parse(&rule) else {
            return Err(TestCaseError::reject("rule the RFC forbids"));
        };
        let start_local = jiff::civil::date(2020, 1, 1)
            .at(0, 0, 0, 0)
            .checked_add(jiff::Span::new().days(start_day).minutes(start_minute))
            .unwrap();
        let start = if zoned {
            DateOrTime::Zoned(zone.to_ambiguous_zoned_datetime(start_local).compatible().unwrap())
        } else {
            DateOrTime::Floating(start_local)
        };
        let mut recurrence = Recurrence::new(start);
        recurrence.rules.push(rule);

        let from = Timestamp::from_second(1_577_836_800 + window_start_day * 86_400).unwrap();
        let to = from.checked_add(jiff::SignedDuration::from_hours(window_hours)).unwrap();
        let Some(expected) = filtered(&recurrence, from, to, &zone) else {
            return Err(TestCaseError::reject("the walk from DTSTART ran out of budget"));
        };
        let got = recurrence.between(from, to, &zone, Budget::new(50_000_000)).unwrap();
        prop_assert_eq!(got, expected);
    }
}
