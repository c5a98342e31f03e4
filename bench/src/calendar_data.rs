//! The calendars that the Scheduler benchmarks load: users in eight time zones with working
//! hours, and 100 events each, of which 20 repeat.
//!
//! Every user's events sit at fixed local times in the user's own zone, so that they never
//! overlap one another whatever the offset or a DST change does:
//!
//! | local time | events |
//! | --- | --- |
//! | 07:00–08:00, 12:00–12:30, 18:00–18:30 | 4 daily series, each ending by COUNT or UNTIL within six weeks |
//! | 08:00–11:45, Monday to Friday | 16 weekly series of 45 minutes; 4 without end, 4 with COUNT, 8 with UNTIL |
//! | 13:00–14:00 and 15:00–16:30, Monday to Friday | 80 single events over the first eight weeks |
//!
//! The first week starts on Monday, [`FIRST_DAY`]. From week 10 on, only the weekly series
//! without end remain, so weekends are free for every user in every zone listed here.

use convene_domain::{
    EmailAddress, Event, EventId, EventRecurrence, EventStatus, Interval, User, UserId,
    WorkingHours,
};
use convene_recur::Rule;
use jiff::civil::{Date, Time, date, time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The zones that users are spread over, from UTC−8 to UTC+9.
pub const ZONES: [&str; 8] = [
    "America/Los_Angeles",
    "America/Chicago",
    "America/New_York",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
];

/// The Monday on which every user's calendar starts.
pub const FIRST_DAY: Date = date(2027, 3, 1);

/// The number of events each user has.
pub const EVENTS_PER_USER: usize = 100;

/// Returns user number `index`: its zone is `ZONES[index % 8]`, and its working days start
/// at 08:00, 09:00 or 10:00 local time, Monday to Friday, for eight hours.
pub fn user(index: usize) -> User {
    let first_hour = 8 + index % 3;
    let hours = ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .map(|day| format!("{day} {first_hour:02}:00-{:02}:00", first_hour + 8))
        .join(",");
    User {
        id: UserId::generate(),
        name: format!("User {index}"),
        email: EmailAddress::parse("email", &format!("u{index}@bench.test"))
            .expect("generated addresses are valid"),
        time_zone: Some(ZONES[index % ZONES.len()].to_owned()),
        working_hours: WorkingHours::parse("working_hours", &hours)
            .expect("generated working hours are valid"),
        phone: None,
        reminders: Default::default(),
    }
}

/// Returns the 100 events of user number `index`, as an import stores them: organized by
/// the user, without participants or reminders, each with an external UID.
pub fn events(index: usize, user: &User) -> Vec<Event> {
    let zone_name = user.time_zone.clone().unwrap_or_else(|| "UTC".to_owned());
    let zone = TimeZone::get(&zone_name).expect("the zones listed are known");
    let mut events = Vec::with_capacity(EVENTS_PER_USER);
    let mut add = |day: Date, start: Time, minutes: i64, rule: Option<String>| {
        let start = local_instant(&zone, day, start);
        let end = start + minutes.minutes();
        let recurrence = rule.map(|rule| EventRecurrence {
            rules: vec![Rule::parse(&rule).expect("generated rules are valid")],
            rdates: Vec::new(),
            exdates: Vec::new(),
        });
        events.push(Event {
            id: EventId::generate(),
            title: "Busy".to_owned(),
            description: None,
            location: None,
            interval: Interval::from_ordered(start, end),
            time_zone: zone_name.clone(),
            organizer: user.id,
            participants: Vec::new(),
            reminders: Vec::new(),
            sequence: 0,
            status: EventStatus::Confirmed,
            all_day: false,
            recurrence,
            external_uid: Some(format!("u{index}-e{}@bench.test", events.len())),
        });
    };

    // Daily series, starting on one of the first five days.
    let first = FIRST_DAY + ((index % 5) as i64).days();
    let until = |weeks: i64| utc_text(FIRST_DAY + weeks.weeks());
    add(
        first,
        time(7, 0, 0, 0),
        30,
        Some("FREQ=DAILY;COUNT=20".to_owned()),
    );
    add(
        first,
        time(7, 30, 0, 0),
        30,
        Some(format!("FREQ=DAILY;UNTIL={}", until(4))),
    );
    add(
        first,
        time(12, 0, 0, 0),
        30,
        Some(format!("FREQ=DAILY;UNTIL={}", until(6))),
    );
    add(
        first,
        time(18, 0, 0, 0),
        30,
        Some("FREQ=DAILY;INTERVAL=2;COUNT=15".to_owned()),
    );

    // Weekly series: slot k is on weekday k % 5 at 08:00 + k / 5 hours.
    for k in 0..16_i64 {
        let day = FIRST_DAY + (k % 5).days();
        let rule = match k % 4 {
            0 => "FREQ=WEEKLY".to_owned(),
            1 => format!("FREQ=WEEKLY;COUNT={}", 4 + index % 7),
            _ => format!("FREQ=WEEKLY;UNTIL={}", until(8)),
        };
        add(day, time(8 + (k / 5) as i8, 0, 0, 0), 45, Some(rule));
    }

    // Single events on the 40 weekdays of the first eight weeks, two a day.
    for i in 0..80_i64 {
        let weekday = i / 2;
        let day = FIRST_DAY + (weekday / 5).weeks() + (weekday % 5).days();
        if i % 2 == 0 {
            add(day, time(13, 0, 0, 0), 60, None);
        } else {
            add(day, time(15, 0, 0, 0), 90, None);
        }
    }
    events
}

/// Returns the start of a weekly series without end of `user` in week `week`: the
/// Monday 08:00 local series, which every user has, so an event then always conflicts.
pub fn busy_monday_morning(user: &User, week: i64) -> Timestamp {
    local_instant(&user.zone(), FIRST_DAY + week.weeks(), time(8, 0, 0, 0))
}

/// Returns start number `slot` of the half-hour slots that are free for every user from
/// week 10 on: Saturday 00:00 UTC to Sunday 18:00 UTC, 84 a weekend, from week `first_week`.
/// In every listed zone that span is Friday 16:00 or later and Monday 03:00 or earlier.
pub fn free_weekend_slot(first_week: i64, slot: usize) -> Timestamp {
    let weekend = (slot / 84) as i64;
    let saturday = FIRST_DAY + (first_week + weekend).weeks() + 5.days();
    local_instant(&TimeZone::UTC, saturday, Time::midnight()) + ((slot % 84) as i64 * 30).minutes()
}

/// Returns the instant of a local date and time in `zone`. The times used here, 07:00 to
/// 19:00 local and midnight UTC, lie outside every DST change of the listed zones.
pub fn local_instant(zone: &TimeZone, day: Date, at: Time) -> Timestamp {
    zone.to_ambiguous_timestamp(day.to_datetime(at))
        .compatible()
        .expect("times of day from 07:00 to 19:00 exist in every listed zone")
}

/// Formats midnight UTC of `day` as an RRULE UNTIL value.
fn utc_text(day: Date) -> String {
    format!("{}T000000Z", day.strftime("%Y%m%d"))
}

/// A deterministic sequence of pseudo-random numbers (xorshift64*), so that every run picks
/// the same participants.
pub struct Picker(u64);

impl Picker {
    pub fn new(seed: u64) -> Picker {
        Picker(seed.max(1))
    }

    /// Returns a number below `bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % bound
    }

    /// Returns `count` distinct numbers below `bound`, all different from `except`.
    pub fn distinct(&mut self, count: usize, bound: usize, except: Option<usize>) -> Vec<usize> {
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let candidate = self.below(bound);
            if Some(candidate) != except && !picked.contains(&candidate) {
                picked.push(candidate);
            }
        }
        picked
    }
}
