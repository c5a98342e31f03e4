//! Properties of the free-slot search, checked against a direct reading of the rules on
//! random calendars.

use convene_domain::Interval;
use convene_domain::slots::{Availability, SlotQuery, free_slots};
use convene_domain::working_hours::{WorkingHours, WorkingPeriod};
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const ZONES: [&str; 5] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
];

/// The window of every search: four days around the change to summer time in Europe.
const WINDOW_START: &str = "2026-03-27T00:00:00Z";
const WINDOW_DAYS: i64 = 4;

#[derive(Debug, Clone)]
struct Person {
    zone: TimeZone,
    hours: WorkingHours,
    busy: Vec<Interval>,
}

fn period() -> impl Strategy<Value = WorkingPeriod> {
    // Working periods between 05:00 and 24:00, clear of the hours in which clocks change.
    (0..7u8, 5 * 4..24 * 4u16, 1..12 * 4u16).prop_map(|(day, start, length)| {
        let day = Weekday::from_monday_zero_offset(day as i8).unwrap();
        let start = start * 15;
        let end = (start + length * 15).min(24 * 60);
        WorkingPeriod::new("p", day, start, end.max(start + 15)).unwrap()
    })
}

fn busy(window: Interval) -> impl Strategy<Value = Interval> {
    let minutes = WINDOW_DAYS * 24 * 60;
    (0..minutes, 1..600i64).prop_map(move |(offset, length)| {
        let start = window.start() + SignedDuration::from_mins(offset);
        Interval::from_ordered(start, start + SignedDuration::from_mins(length))
    })
}

fn person(window: Interval) -> impl Strategy<Value = Person> {
    (
        0..ZONES.len(),
        prop_oneof![
            Just(None),
            prop::collection::vec(period(), 0..8).prop_map(Some)
        ],
        prop::collection::vec(busy(window), 0..12),
    )
        .prop_map(|(zone, periods, busy)| Person {
            zone: TimeZone::get(ZONES[zone]).unwrap(),
            hours: periods.map_or_else(WorkingHours::default, |periods| {
                WorkingHours::new(periods).unwrap()
            }),
            busy,
        })
}

fn window() -> Interval {
    let start: Timestamp = WINDOW_START.parse().unwrap();
    Interval::from_ordered(start, start + SignedDuration::from_hours(24 * WINDOW_DAYS))
}

/// Returns whether `person` may meet during all of `slot`, read minute by minute from the
/// local time: every minute lies in a working period of its local weekday and in no busy
/// interval.
fn can_meet(person: &Person, slot: Interval) -> bool {
    if person.busy.iter().any(|busy| busy.overlaps(&slot)) {
        return false;
    }
    let mut minute = slot.start();
    while minute < slot.end() {
        let local = minute.to_zoned_datetime(person.zone.clone()).datetime();
        let of_day = local.hour() as u16 * 60 + local.minute() as u16;
        let working = person.hours.periods().iter().any(|period| {
            period.day == local.weekday()
                && period.start_minute <= of_day
                && of_day < period.end_minute
        });
        if !working {
            return false;
        }
        minute += SignedDuration::from_mins(1);
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn slots_are_free_and_none_earlier_is_missed(
        people in prop::collection::vec(person(window()), 0..4),
        duration in prop_oneof![Just(15i64), Just(30), Just(45), Just(60), Just(90)],
        granularity in prop_oneof![Just(15i64), Just(30), Just(60)],
        count in 1..8usize,
    ) {
        let window = window();
        let query = SlotQuery {
            window,
            duration: SignedDuration::from_mins(duration),
            granularity: SignedDuration::from_mins(granularity),
            count,
        };
        let availability: Vec<Availability<'_>> = people
            .iter()
            .map(|person| Availability {
                zone: &person.zone,
                working_hours: &person.hours,
                busy: &person.busy,
            })
            .collect();
        let slots = free_slots(&availability, &query);
        prop_assert!(slots.len() <= count);

        // Every possible start on the grid, in order, that suits everyone: the search must
        // return exactly the first `count` of them.
        let mut expected = Vec::new();
        let mut start = window.start();
        while expected.len() < count {
            let end = start + query.duration;
            if end > window.end() {
                break;
            }
            let slot = Interval::from_ordered(start, end);
            if people.iter().all(|person| can_meet(person, slot)) {
                expected.push(slot);
            }
            start += query.granularity;
        }
        prop_assert_eq!(slots, expected);
    }
}
