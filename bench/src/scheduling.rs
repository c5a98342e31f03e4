//! Conflict checks and free-slot searches over a store loaded with
//! [`calendar_data`](crate::calendar_data), in memory or in a SQLite file.
//!
//! Four kinds of check run in turn, each `checks` times, with a 20-attendee event (an
//! organizer and 19 participants picked at random):
//! - `Store::book_event` that finds a conflict: the event starts at the organizer's Monday
//!   08:00 weekly series, so the store returns `Busy` and writes nothing.
//! - `Store::book_event` that finds none: the event takes a weekend half hour that no one
//!   has used, so the store checks all 20 attendees and writes the event.
//! - `Scheduler::create_event`, both ways. It also reads the users and plans reminders (none
//!   here), and on a conflict searches the next 14 days for three free slots.
//!
//! Only the call is timed; building the event or command is not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use convene_domain::{CreateEvent, Event, EventId, EventStatus, FindSlots, Interval, User};
use convene_scheduler::{Scheduler, SchedulerError};
use convene_store::{Store, StoreError};
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::calendar_data::{self, FIRST_DAY, Picker};

/// The attendees of each checked event, the organizer included.
const ATTENDEES: usize = 20;

/// The participants of each free-slot search.
const SLOT_PARTICIPANTS: usize = 50;

/// Creates `users` users with their events, in order, through `Store::insert_user` and
/// `Store::import_events` (one transaction per user, as a calendar import stores them), and
/// returns the users.
pub async fn load(store: &dyn Store, users: usize) -> Result<Vec<User>> {
    let started = Instant::now();
    let mut loaded = Vec::with_capacity(users);
    for index in 0..users {
        let user = calendar_data::user(index);
        store.insert_user(&user).await?;
        let events = calendar_data::events(index, &user);
        store
            .import_events(user.id, &events)
            .await
            .with_context(|| format!("storing the events of user {index} failed"))?;
        loaded.push(user);
        if (index + 1) % 100 == 0 || index + 1 == users {
            eprintln!(
                "  {} users loaded in {:.0} s",
                index + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(loaded)
}

/// Runs every kind of check `checks` times and the free-slot search `searches` times, and
/// prints one Markdown table row each, labelled with `store_name`.
pub async fn measure(
    store: Arc<dyn Store>,
    users: &[User],
    store_name: &str,
    checks: usize,
    searches: usize,
) -> Result<()> {
    let scheduler = Scheduler::new(Arc::clone(&store));
    let mut picker = Picker::new(0x5eed);

    // Store::book_event, conflict: the organizer's Monday series in weeks 12 to 51.
    let mut times = Vec::with_capacity(checks);
    for check in 0..checks {
        let (organizer, participants) = attendees(&mut picker, users);
        let start = calendar_data::busy_monday_morning(organizer, 12 + (check % 40) as i64);
        let event = event(organizer, &participants, start);
        let started = Instant::now();
        let result = store.book_event(&event, &[]).await;
        times.push(started.elapsed());
        match result {
            Err(StoreError::Busy(_)) => {}
            other => bail!("a check at a busy time returned {other:?} instead of a conflict"),
        }
    }
    print_row(store_name, "`Store::book_event`", "conflict", &times);

    // Store::book_event, no conflict: weekend half hours from week 12 on.
    let mut times = Vec::with_capacity(checks);
    for check in 0..checks {
        let (organizer, participants) = attendees(&mut picker, users);
        let event = event(
            organizer,
            &participants,
            calendar_data::free_weekend_slot(12, check),
        );
        let started = Instant::now();
        let result = store.book_event(&event, &[]).await;
        times.push(started.elapsed());
        result.context("a check at a free time failed")?;
    }
    print_row(store_name, "`Store::book_event`", "none, booked", &times);

    // Scheduler::create_event, both ways, in weeks that the store checks left alone.
    let now = Timestamp::now();
    let mut times = Vec::with_capacity(checks);
    for check in 0..checks {
        let (organizer, participants) = attendees(&mut picker, users);
        let start = calendar_data::busy_monday_morning(organizer, 60 + (check % 40) as i64);
        let command = command(organizer, &participants, start);
        let started = Instant::now();
        let result = scheduler.create_event(command, now).await;
        times.push(started.elapsed());
        match result {
            Err(SchedulerError::Busy { .. }) => {}
            other => bail!("a check at a busy time returned {other:?} instead of a conflict"),
        }
    }
    print_row(
        store_name,
        "`Scheduler::create_event`",
        "conflict, with suggestions",
        &times,
    );

    let first_free_week = 12 + checks.div_ceil(84) as i64;
    let mut times = Vec::with_capacity(checks);
    for check in 0..checks {
        let (organizer, participants) = attendees(&mut picker, users);
        let start = calendar_data::free_weekend_slot(first_free_week, check);
        let command = command(organizer, &participants, start);
        let started = Instant::now();
        let result = scheduler.create_event(command, now).await;
        times.push(started.elapsed());
        result.context("a check at a free time failed")?;
    }
    print_row(
        store_name,
        "`Scheduler::create_event`",
        "none, booked",
        &times,
    );

    // Scheduler::find_slots: 50 users in UTC, London and Berlin, four weeks from week 6 on.
    // Users from all eight zones share no working hour, so such a search finds nothing.
    let from = calendar_data::local_instant(
        &jiff::tz::TimeZone::UTC,
        FIRST_DAY + 6.weeks(),
        jiff::civil::Time::midnight(),
    );
    let to = from.checked_add(SignedDuration::from_hours(28 * 24))?;
    let mut times = Vec::with_capacity(searches);
    let mut found = 0;
    let slot_candidates: Vec<&User> = users
        .iter()
        .enumerate()
        .filter(|(index, _)| (3..=5).contains(&(index % calendar_data::ZONES.len())))
        .map(|(_, user)| user)
        .collect();
    if slot_candidates.len() < SLOT_PARTICIPANTS {
        bail!(
            "free-slot searches need at least 134 users, so that 50 live in UTC, London or Berlin"
        );
    }
    for _ in 0..searches {
        let participants = picker
            .distinct(SLOT_PARTICIPANTS, slot_candidates.len(), None)
            .into_iter()
            .map(|index| slot_candidates[index].id)
            .collect();
        let command = FindSlots {
            participants,
            duration: SignedDuration::from_hours(1),
            from,
            to,
            count: None,
            granularity: None,
        };
        let started = Instant::now();
        let slots = scheduler.find_slots(command).await?;
        times.push(started.elapsed());
        found += slots.len();
    }
    print_row(
        store_name,
        "`Scheduler::find_slots`",
        &format!(
            "none; 50 users in 3 zones, 4 weeks, {:.1} slots found",
            found as f64 / searches as f64
        ),
        &times,
    );
    Ok(())
}

/// Picks an organizer and 19 other participants.
fn attendees<'a>(picker: &mut Picker, users: &'a [User]) -> (&'a User, Vec<&'a User>) {
    let organizer = picker.below(users.len());
    let participants = picker
        .distinct(ATTENDEES - 1, users.len(), Some(organizer))
        .into_iter()
        .map(|index| &users[index])
        .collect();
    (&users[organizer], participants)
}

/// Builds a 30-minute event of `organizer` with `participants`.
fn event(organizer: &User, participants: &[&User], start: Timestamp) -> Event {
    Event {
        id: EventId::generate(),
        title: "Planning".to_owned(),
        description: None,
        location: None,
        interval: Interval::from_ordered(start, start + SignedDuration::from_mins(30)),
        time_zone: "UTC".to_owned(),
        organizer: organizer.id,
        participants: participants.iter().map(|user| user.id).collect(),
        reminders: Vec::new(),
        sequence: 0,
        status: EventStatus::Confirmed,
        all_day: false,
        recurrence: None,
        external_uid: None,
    }
}

/// Builds the command for the same event as [`event`].
fn command(organizer: &User, participants: &[&User], start: Timestamp) -> CreateEvent {
    CreateEvent {
        title: "Planning".to_owned(),
        description: None,
        location: None,
        start: start.into(),
        end: (start + SignedDuration::from_mins(30)).into(),
        time_zone: Some("UTC".to_owned()),
        organizer: Some(organizer.id.into()),
        participants: participants.iter().map(|user| user.id.into()).collect(),
        reminders: Vec::new(),
        recurrence: None,
    }
}

/// Prints a table row with the median and 99th percentile of `times` in microseconds.
fn print_row(store_name: &str, call: &str, found: &str, times: &[Duration]) {
    println!(
        "| {store_name} | {call} | {found} | {} | {:.0} | {:.0} |",
        times.len(),
        percentile(times, 50.0),
        percentile(times, 99.0)
    );
    eprintln!("  {store_name}: {call} ({found}) done");
}

/// Returns the `p`th percentile of `times` in microseconds, by the nearest-rank method.
pub fn percentile(times: &[Duration], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1].as_secs_f64() * 1e6
}
