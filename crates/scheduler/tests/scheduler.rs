//! The Scheduler over a real SQLite store.

use convene_domain::{
    AddParticipant, CreateEvent, DeliveryState, EmailAddress, FindSlots, Interval, NewUser,
    ReminderOffset, TimeOrDate, UpdateUser, UserId, UserRef, WorkingHours,
};
use convene_scheduler::{Caller, Scheduler, SchedulerError};
use jiff::{SignedDuration, Timestamp};

struct Fixture {
    scheduler: Scheduler,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("convene.db").display());
    let store = convene_store::open(&url).await.unwrap();
    Fixture {
        scheduler: Scheduler::new(store),
        _dir: dir,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn user(scheduler: &Scheduler, email: &str, time_zone: Option<&str>) -> UserId {
    let new_user = NewUser::new(email, email, time_zone).unwrap();
    scheduler.create_user(new_user).await.unwrap().id
}

fn command(organizer: UserId, participants: Vec<UserId>, start: &str, end: &str) -> CreateEvent {
    CreateEvent {
        title: "Planning".to_owned(),
        description: None,
        location: None,
        start: TimeOrDate::Time(at(start)),
        end: TimeOrDate::Time(at(end)),
        time_zone: None,
        organizer: Some(organizer.into()),
        participants: participants.into_iter().map(UserRef::from).collect(),
        reminders: vec![
            ReminderOffset::parse("before", "PT15M").unwrap(),
            ReminderOffset::parse("before", "PT1H").unwrap(),
        ],
        recurrence: None,
    }
}

const NOW: &str = "2030-01-01T00:00:00Z";

#[tokio::test]
async fn event_plans_reminder_per_attendee() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let event = f
        .scheduler
        .create_event(
            command(
                ann,
                vec![bob],
                "2030-01-01T10:00:00Z",
                "2030-01-01T11:00:00Z",
            ),
            at(NOW),
        )
        .await
        .unwrap();
    let deliveries = f.scheduler.deliveries(event.id, at(NOW)).await.unwrap();
    let mut planned: Vec<(UserId, Timestamp)> =
        deliveries.iter().map(|d| (d.user_id, d.due_at)).collect();
    planned.sort();
    let mut expected = vec![
        (ann, at("2030-01-01T09:00:00Z")),
        (ann, at("2030-01-01T09:45:00Z")),
        (bob, at("2030-01-01T09:00:00Z")),
        (bob, at("2030-01-01T09:45:00Z")),
    ];
    expected.sort();
    assert_eq!(planned, expected);
    assert!(deliveries.iter().all(|d| d.state == DeliveryState::Pending));
}

#[tokio::test]
async fn event_time_zone_defaults_to_organizer() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", Some("Asia/Tokyo")).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let anns = f
        .scheduler
        .create_event(
            command(ann, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
            at(NOW),
        )
        .await
        .unwrap();
    assert_eq!(anns.time_zone, "Asia/Tokyo");
    let bobs = f
        .scheduler
        .create_event(
            command(bob, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
            at(NOW),
        )
        .await
        .unwrap();
    assert_eq!(bobs.time_zone, "UTC");
}

#[tokio::test]
async fn users_resolved_by_address() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let address = |text: &str| UserRef::Address(EmailAddress::parse("email", text).unwrap());

    let mut by_address = command(ann, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    by_address.organizer = Some(address("ANN@alpha.test"));
    by_address.participants = vec![address("Bob@Beta.test")];
    let event = f.scheduler.create_event(by_address, at(NOW)).await.unwrap();
    assert_eq!(event.organizer, ann);
    assert_eq!(event.participants, vec![bob]);

    let rows = [
        (address("nobody@alpha.test"), vec![bob.into()], "organizer"),
        (
            ann.into(),
            vec![bob.into(), address("nobody@alpha.test")],
            "participants/1",
        ),
    ];
    for (organizer, participants, field) in rows {
        let mut unknown = command(ann, vec![], "2030-02-01T10:00:00Z", "2030-02-01T11:00:00Z");
        unknown.organizer = Some(organizer);
        unknown.participants = participants;
        let err = f
            .scheduler
            .create_event(unknown, at(NOW))
            .await
            .unwrap_err();
        let SchedulerError::Invalid(err) = err else {
            panic!("expected Invalid, got {err:?}");
        };
        assert_eq!(err.field, field);
        assert!(err.message.contains("nobody@alpha.test"), "{}", err.message);
        assert!(
            err.message.contains("create the user first"),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn unknown_participant_names_field() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let ghost = UserId::generate();
    let err = f
        .scheduler
        .create_event(
            command(
                ann,
                vec![bob, ghost],
                "2030-01-01T10:00:00Z",
                "2030-01-01T11:00:00Z",
            ),
            at(NOW),
        )
        .await
        .unwrap_err();
    let SchedulerError::Invalid(err) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(err.field, "participants/1");

    let err = f
        .scheduler
        .create_event(
            command(
                ghost,
                vec![],
                "2030-01-01T10:00:00Z",
                "2030-01-01T11:00:00Z",
            ),
            at(NOW),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchedulerError::Invalid(ref e) if e.field == "organizer"),
        "{err:?}"
    );
}

#[tokio::test]
async fn started_event_plans_no_reminders() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let event = f
        .scheduler
        .create_event(
            command(ann, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
            at("2030-01-01T10:00:00Z"),
        )
        .await
        .unwrap();
    assert!(
        f.scheduler
            .deliveries(event.id, at(NOW))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn participant_added_and_removed() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let event = f
        .scheduler
        .create_event(
            command(ann, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
            at(NOW),
        )
        .await
        .unwrap();

    let updated = f
        .scheduler
        .add_participant(event.id, AddParticipant { user: bob }, at(NOW))
        .await
        .unwrap();
    assert_eq!(updated.participants, vec![bob]);
    let bobs = |deliveries: &[convene_domain::Delivery]| {
        deliveries.iter().filter(|d| d.user_id == bob).count()
    };
    assert_eq!(
        bobs(&f.scheduler.deliveries(event.id, at(NOW)).await.unwrap()),
        2
    );

    let updated = f.scheduler.remove_participant(event.id, bob).await.unwrap();
    assert!(updated.participants.is_empty());
    assert_eq!(
        bobs(&f.scheduler.deliveries(event.id, at(NOW)).await.unwrap()),
        0
    );

    let err = f
        .scheduler
        .remove_participant(event.id, bob)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SchedulerError::NotFound {
                what: "participant",
                ..
            }
        ),
        "{err:?}"
    );
    let err = f
        .scheduler
        .remove_participant(event.id, ann)
        .await
        .unwrap_err();
    assert!(matches!(err, SchedulerError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn busy_conflict_names_only_busy_attendee() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let cid = user(&f.scheduler, "cid@gamma.test", None).await;
    f.scheduler
        .create_event(
            command(bob, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
            at(NOW),
        )
        .await
        .unwrap();
    let err = f
        .scheduler
        .create_event(
            command(
                ann,
                vec![bob, cid],
                "2030-01-01T10:30:00Z",
                "2030-01-01T11:30:00Z",
            ),
            at(NOW),
        )
        .await
        .unwrap_err();
    let SchedulerError::Busy { conflicts, .. } = err else {
        panic!("expected Busy, got {err:?}");
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].user, bob);
    let window =
        Interval::new(at("2030-01-01T00:00:00Z"), at("2030-01-02T00:00:00Z"), "to").unwrap();
    assert!(
        f.scheduler.busy(ann, window).await.unwrap().is_empty(),
        "nothing was booked for ann"
    );
}

#[tokio::test]
async fn participant_limit_holds_when_adding() {
    let scheduler = Scheduler::new(convene_store::open("memory:").await.unwrap());
    let max = convene_domain::event::MAX_PARTICIPANTS;
    let organizer = user(&scheduler, "org@alpha.test", None).await;
    let mut participants = Vec::with_capacity(max);
    for i in 0..max {
        participants.push(user(&scheduler, &format!("p{i}@beta.test"), None).await);
    }
    let event = scheduler
        .create_event(
            command(
                organizer,
                participants.clone(),
                "2030-01-01T10:00:00Z",
                "2030-01-01T11:00:00Z",
            ),
            at(NOW),
        )
        .await
        .unwrap();

    let extra = user(&scheduler, "extra@gamma.test", None).await;
    let err = scheduler
        .add_participant(event.id, AddParticipant { user: extra }, at(NOW))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchedulerError::Invalid(ref e) if e.field == "user"),
        "{err:?}"
    );
    // Adding someone who already attends stays a no-op at the limit.
    let again = scheduler
        .add_participant(
            event.id,
            AddParticipant {
                user: participants[0],
            },
            at(NOW),
        )
        .await
        .unwrap();
    assert_eq!(again.participants.len(), max);
}

#[tokio::test]
async fn equal_due_times_plan_one_reminder() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let mut both = command(ann, vec![], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    both.reminders = vec![
        ReminderOffset::parse("before", "PT1H").unwrap(),
        ReminderOffset::parse("before", "PT60M").unwrap(),
    ];
    let event = f.scheduler.create_event(both, at(NOW)).await.unwrap();
    assert_eq!(
        event.reminders.len(),
        2,
        "the event keeps both offsets as written"
    );
    let deliveries = f.scheduler.deliveries(event.id, at(NOW)).await.unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].offset.as_str(), "PT1H");
}

/// Returns a command for an event of `organizer` alone, without reminders.
fn solo_event(organizer: UserId, start: &str, end: &str) -> CreateEvent {
    CreateEvent {
        reminders: vec![],
        ..command(organizer, vec![], start, end)
    }
}

fn search(participants: Vec<UserId>, from: &str, to: &str, count: usize) -> FindSlots {
    FindSlots {
        participants,
        duration: SignedDuration::from_hours(1),
        from: at(from),
        to: at(to),
        count: Some(count),
        granularity: Some(SignedDuration::from_mins(30)),
    }
}

/// New York and Berlin change to and from summer time on different dates in 2026 (8 March
/// and 1 November in New York, 29 March and 25 October in Berlin). The shared working hours
/// of the two, both 09:00-17:00 local, move in UTC with each change.
#[tokio::test]
async fn slots_follow_working_hours_across_dst() {
    let f = fixture().await;
    let new_york = user(&f.scheduler, "ny@alpha.test", Some("America/New_York")).await;
    let berlin = user(&f.scheduler, "berlin@beta.test", Some("Europe/Berlin")).await;

    // Each Monday: the first and last start of a one-hour meeting, in UTC.
    let cases = [
        ("2026-03-02", "14:00", "15:00"), // both on standard time
        ("2026-03-09", "13:00", "15:00"), // New York on summer time, Berlin not yet
        ("2026-03-30", "13:00", "14:00"), // both on summer time
        ("2026-10-26", "13:00", "15:00"), // Berlin back on standard time, New York not yet
        ("2026-11-02", "14:00", "15:00"), // both on standard time again
    ];
    for (day, first, last) in cases {
        let slots = f
            .scheduler
            .find_slots(search(
                vec![new_york, berlin],
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
                100,
            ))
            .await
            .unwrap();
        let starts: Vec<String> = slots
            .iter()
            .map(|slot| slot.start().strftime("%H:%M").to_string())
            .collect();
        assert_eq!(
            starts.first().map(String::as_str),
            Some(first),
            "{day}: {starts:?}"
        );
        assert_eq!(
            starts.last().map(String::as_str),
            Some(last),
            "{day}: {starts:?}"
        );
    }
}

#[tokio::test]
async fn slots_avoid_events_and_follow_changed_working_hours() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", Some("UTC")).await;
    let bob = user(&f.scheduler, "bob@beta.test", Some("UTC")).await;
    f.scheduler
        .create_event(
            solo_event(ann, "2030-01-07T09:00:00Z", "2030-01-07T10:30:00Z"),
            at(NOW),
        )
        .await
        .unwrap();
    let slots = f
        .scheduler
        .find_slots(search(
            vec![ann, bob],
            "2030-01-07T00:00:00Z",
            "2030-01-08T00:00:00Z",
            2,
        ))
        .await
        .unwrap();
    let expected = |start: &str, end: &str| Interval::new(at(start), at(end), "end").unwrap();
    assert_eq!(
        slots,
        [
            expected("2030-01-07T10:30:00Z", "2030-01-07T11:30:00Z"),
            expected("2030-01-07T11:00:00Z", "2030-01-07T12:00:00Z"),
        ]
    );

    // Bob starts at 13:00 from now on.
    let hours = WorkingHours::parse("working_hours", "monday 13:00-18:00").unwrap();
    let updated = f
        .scheduler
        .update_user(
            bob,
            UpdateUser {
                working_hours: Some(hours.clone()),
                ..UpdateUser::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.working_hours, hours);
    assert_eq!(f.scheduler.user(bob).await.unwrap().working_hours, hours);
    let slots = f
        .scheduler
        .find_slots(search(
            vec![ann, bob],
            "2030-01-07T00:00:00Z",
            "2030-01-08T00:00:00Z",
            1,
        ))
        .await
        .unwrap();
    assert_eq!(
        slots,
        [expected("2030-01-07T13:00:00Z", "2030-01-07T14:00:00Z")]
    );
}

#[tokio::test]
async fn conflict_suggests_next_free_slots() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", Some("Europe/Berlin")).await;
    let event = |start: &str, end: &str| solo_event(ann, start, end);
    let now = at(NOW);
    // Monday 2030-01-07, 09:00-11:00 in Berlin.
    f.scheduler
        .create_event(event("2030-01-07T08:00:00Z", "2030-01-07T10:00:00Z"), now)
        .await
        .unwrap();
    let err = f
        .scheduler
        .create_event(event("2030-01-07T09:00:00Z", "2030-01-07T10:00:00Z"), now)
        .await
        .unwrap_err();
    let SchedulerError::Busy {
        conflicts,
        suggestions,
    } = err
    else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(conflicts.len(), 1);
    let starts: Vec<Timestamp> = suggestions.iter().map(Interval::start).collect();
    assert_eq!(
        starts,
        [
            at("2030-01-07T10:00:00Z"),
            at("2030-01-07T10:30:00Z"),
            at("2030-01-07T11:00:00Z"),
        ]
    );

    // A request at odd minutes gets suggestions on the hour and the half hour.
    let err = f
        .scheduler
        .create_event(event("2030-01-07T08:07:00Z", "2030-01-07T08:52:00Z"), now)
        .await
        .unwrap_err();
    let SchedulerError::Busy { suggestions, .. } = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(
        suggestions[0],
        Interval::new(
            at("2030-01-07T10:00:00Z"),
            at("2030-01-07T10:45:00Z"),
            "end"
        )
        .unwrap()
    );
}

#[tokio::test]
async fn bad_searches_name_the_field() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", Some("UTC")).await;
    let cases = [
        (
            search(vec![], "2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z", 1),
            "participants",
        ),
        (
            search(vec![ann], "2030-01-08T00:00:00Z", "2030-01-07T00:00:00Z", 1),
            "to",
        ),
        (
            search(vec![ann], "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z", 1),
            "to",
        ),
        (
            search(vec![ann], "2030-01-07T00:00:00Z", "2030-01-07T00:30:00Z", 1),
            "duration",
        ),
        (
            search(
                vec![ann],
                "2030-01-07T00:00:00Z",
                "2030-01-08T00:00:00Z",
                1000,
            ),
            "count",
        ),
        (
            search(
                vec![UserId::generate()],
                "2030-01-07T00:00:00Z",
                "2030-01-08T00:00:00Z",
                1,
            ),
            "participants/0",
        ),
    ];
    for (command, field) in cases {
        match f.scheduler.find_slots(command).await {
            Err(SchedulerError::Invalid(err)) => assert_eq!(err.field, field),
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn tokens_authenticate_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("convene.db").display());
    let scheduler =
        Scheduler::new(convene_store::open(&url).await.unwrap()).with_admin_token("admin-secret-1");
    let ann = user(&scheduler, "ann@alpha.test", None).await;

    assert_eq!(
        scheduler.authenticate("admin-secret-1").await.unwrap(),
        Some(Caller::Admin)
    );
    assert_eq!(
        scheduler.authenticate("admin-secret-2").await.unwrap(),
        None
    );

    let (first, secret) = scheduler.issue_token(ann, at(NOW)).await.unwrap();
    let (second, other_secret) = scheduler.issue_token(ann, at(NOW)).await.unwrap();
    assert!(secret.starts_with("cnv_"), "{secret}");
    assert_ne!(secret, other_secret);
    assert_eq!(
        scheduler.authenticate(&secret).await.unwrap(),
        Some(Caller::User(ann))
    );
    let listed = scheduler.tokens(ann, None, 10).await.unwrap();
    assert_eq!(listed, [first.clone(), second.clone()]);

    scheduler.revoke_token(ann, first.id).await.unwrap();
    assert_eq!(scheduler.authenticate(&secret).await.unwrap(), None);
    assert_eq!(
        scheduler.authenticate(&other_secret).await.unwrap(),
        Some(Caller::User(ann))
    );
    let err = scheduler.revoke_token(ann, first.id).await.unwrap_err();
    assert!(
        matches!(err, SchedulerError::NotFound { what: "token", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn users_create_events_only_as_organizer() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    let slot = |day: u32| {
        let mut command = command(
            ann,
            vec![],
            &format!("2030-01-{day:02}T10:00:00Z"),
            &format!("2030-01-{day:02}T11:00:00Z"),
        );
        command.organizer = None;
        command
    };

    let own = f
        .scheduler
        .create_event_as(Caller::User(ann), slot(2), at(NOW))
        .await
        .unwrap();
    assert_eq!(own.organizer, ann);

    let mut by_address = slot(3);
    by_address.organizer = Some(UserRef::Address(
        EmailAddress::parse("email", "ANN@alpha.test").unwrap(),
    ));
    let own = f
        .scheduler
        .create_event_as(Caller::User(ann), by_address, at(NOW))
        .await
        .unwrap();
    assert_eq!(own.organizer, ann);

    let mut for_bob = slot(4);
    for_bob.organizer = Some(bob.into());
    let err = f
        .scheduler
        .create_event_as(Caller::User(ann), for_bob.clone(), at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, SchedulerError::Forbidden { .. }), "{err:?}");

    let booked = f
        .scheduler
        .create_event_as(Caller::Admin, for_bob, at(NOW))
        .await
        .unwrap();
    assert_eq!(booked.organizer, bob);

    let err = f
        .scheduler
        .create_event_as(Caller::Admin, slot(5), at(NOW))
        .await
        .unwrap_err();
    match err {
        SchedulerError::Invalid(err) => assert_eq!(err.field, "organizer"),
        other => panic!("expected an invalid organizer, got {other:?}"),
    }
}

#[tokio::test]
async fn push_subscriptions_are_bounded_per_person() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let subscription = |n: usize| {
        convene_domain::NewPushSubscription::new(
            &format!("https://push.alpha.test/{n}"),
            "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
            "tBHItJI5svbpez7KI4CCXg",
        )
        .unwrap()
    };
    let max = convene_scheduler::MAX_PUSH_SUBSCRIPTIONS;
    for n in 0..max {
        f.scheduler
            .subscribe_push(ann, subscription(n), at("2030-01-01T00:00:00Z"))
            .await
            .unwrap();
    }
    let err = f
        .scheduler
        .subscribe_push(ann, subscription(max), at("2030-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SchedulerError::Invalid(invalid) if invalid.field == "endpoint"),
        "{err:?}"
    );
    // A browser that registers again only renews its keys.
    f.scheduler
        .subscribe_push(ann, subscription(0), at("2030-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        f.scheduler.push_subscriptions(ann).await.unwrap().len(),
        max
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_bound_holds_under_concurrency() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let max = convene_scheduler::MAX_PUSH_SUBSCRIPTIONS;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..2 * max {
        let scheduler = f.scheduler.clone();
        tasks.spawn(async move {
            let subscription = convene_domain::NewPushSubscription::new(
                &format!("https://push.alpha.test/{n}"),
                "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                "tBHItJI5svbpez7KI4CCXg",
            )
            .unwrap();
            scheduler
                .subscribe_push(ann, subscription, at("2030-01-01T00:00:00Z"))
                .await
                .is_ok()
        });
    }
    let mut accepted = 0;
    while let Some(joined) = tasks.join_next().await {
        accepted += usize::from(joined.unwrap());
    }

    assert_eq!(accepted, max);
    let stored = f.scheduler.push_subscriptions(ann).await.unwrap().len();
    assert_eq!(stored, max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_move_and_rename_both_kept() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    let bob = user(&f.scheduler, "bob@beta.test", None).await;
    for day in 1..=10 {
        let start = format!("2030-02-{day:02}T05:00:00Z");
        let end = format!("2030-02-{day:02}T05:30:00Z");
        let event = f
            .scheduler
            .create_event(command(ann, vec![bob], &start, &end), at(NOW))
            .await
            .unwrap()
            .id;
        let moved_start = at(&format!("2030-02-{day:02}T08:00:00Z"));
        let moved_end = at(&format!("2030-02-{day:02}T08:30:00Z"));
        let title = format!("Planning {day}");
        let move_command = convene_domain::UpdateEvent {
            start: Some(TimeOrDate::Time(moved_start)),
            end: Some(TimeOrDate::Time(moved_end)),
            ..convene_domain::UpdateEvent::default()
        };
        let rename_command = convene_domain::UpdateEvent {
            title: Some(title.clone()),
            ..convene_domain::UpdateEvent::default()
        };
        let (mover, renamer) = (f.scheduler.clone(), f.scheduler.clone());
        let moving =
            tokio::spawn(async move { mover.update_event(event, move_command, at(NOW)).await });
        let renaming =
            tokio::spawn(async move { renamer.update_event(event, rename_command, at(NOW)).await });
        moving.await.unwrap().unwrap();
        renaming.await.unwrap().unwrap();

        // Both requests succeeded, so both changes are stored, and every reminder is
        // planned from the stored time: 15 minutes and an hour before 08:00.
        let stored = f.scheduler.event(event).await.unwrap();
        assert_eq!(stored.interval.start(), moved_start, "day {day}");
        assert_eq!(stored.title, title, "day {day}");
        let deliveries = f.scheduler.deliveries(event, at(NOW)).await.unwrap();
        let expected = [
            at(&format!("2030-02-{day:02}T07:00:00Z")),
            at(&format!("2030-02-{day:02}T07:45:00Z")),
        ];
        assert!(!deliveries.is_empty(), "day {day}");
        for delivery in &deliveries {
            assert!(
                expected.contains(&delivery.due_at),
                "day {day}: {delivery:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_user_updates_keep_each_field() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test", None).await;
    for round in 0..10 {
        let name = format!("Ann {round}");
        let before = ReminderOffset::parse("before", &format!("PT{}M", round + 1)).unwrap();
        let rename = UpdateUser {
            name: Some(name.clone()),
            ..UpdateUser::default()
        };
        let remind = UpdateUser {
            reminders: Some(vec![before.clone()]),
            ..UpdateUser::default()
        };
        let (renamer, reminder) = (f.scheduler.clone(), f.scheduler.clone());
        let renaming = tokio::spawn(async move { renamer.update_user(ann, rename).await });
        let reminding = tokio::spawn(async move { reminder.update_user(ann, remind).await });
        renaming.await.unwrap().unwrap();
        reminding.await.unwrap().unwrap();

        // Each request changed another field and succeeded, so both changes stay.
        let stored = f.scheduler.user(ann).await.unwrap();
        assert_eq!(stored.name, name, "round {round}");
        assert_eq!(stored.reminders.before, vec![before], "round {round}");
    }
}
