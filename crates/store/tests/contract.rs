//! One contract suite, run against every store implementation.

use std::sync::Arc;
use std::time::Duration;

use convene_domain::{
    Answer, ApiToken, ChannelKind, Delivery, DeliveryAttempt, DeliveryId, DeliveryOutcome,
    DeliveryState, EmailAddress, Event, EventId, EventRecurrence, EventStatus, FeedId, Interval,
    MailAttemptRecord, MailState, MessageId, OutgoingMessage, OutgoingRecipient, PhoneNumber,
    PushSubscription, PushSubscriptionId, ReminderOffset, ReminderPreferences, TokenId, User,
    UserId, WorkingHours,
};
use convene_store::{
    AttemptRecord, ClaimRequest, MAX_LISTED_CONFLICTS, MemoryStore, PostgresStore, QueueCounts,
    SqliteStore, Store, StoreError,
};
use convene_testkit::TestDatabase;
use jiff::Timestamp;
use sqlx::Connection;

/// A store under test, with whatever keeps it alive (a temporary directory or a database,
/// dropped after the store).
struct Subject {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

async fn memory(_test: &str) -> Option<Subject> {
    Some(Subject {
        store: Arc::new(MemoryStore::new()),
        _dir: None,
        _database: None,
    })
}

async fn sqlite(_test: &str) -> Option<Subject> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("convene.db").display());
    Some(Subject {
        store: Arc::new(SqliteStore::open(&url).await.unwrap()),
        _dir: Some(dir),
        _database: None,
    })
}

/// Opens a store in a new database, or returns `None` when no PostgreSQL server is
/// configured and the test is skipped.
async fn postgres(test: &str) -> Option<Subject> {
    let database = TestDatabase::create(test).await?;
    let store = PostgresStore::open(database.url()).await.unwrap();
    Some(Subject {
        store: Arc::new(store),
        _dir: None,
        _database: Some(database),
    })
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn interval(start: &str, end: &str) -> Interval {
    Interval::new(at(start), at(end), "end").unwrap()
}

async fn user(store: &dyn Store, email: &str) -> UserId {
    let user = User {
        id: UserId::generate(),
        name: email.split('@').next().unwrap().to_owned(),
        email: EmailAddress::parse("email", email).unwrap(),
        time_zone: Some("Europe/Berlin".to_owned()),
        working_hours: Default::default(),
        phone: None,
        reminders: Default::default(),
    };
    store.insert_user(&user).await.unwrap();
    user.id
}

fn event(organizer: UserId, participants: &[UserId], start: &str, end: &str) -> Event {
    Event {
        id: EventId::generate(),
        title: "Planning".to_owned(),
        description: Some("Quarterly\nplanning".to_owned()),
        location: Some("Room 1".to_owned()),
        interval: interval(start, end),
        time_zone: "Europe/Berlin".to_owned(),
        organizer,
        participants: participants.to_vec(),
        reminders: vec![
            ReminderOffset::parse("before", "PT15M").unwrap(),
            ReminderOffset::parse("before", "P1D").unwrap(),
        ],
        sequence: 0,
        status: EventStatus::Confirmed,
        all_day: false,
        recurrence: None,
        external_uid: None,
    }
}

fn plan(event: &Event, users: &[UserId], due: &str) -> Vec<Delivery> {
    users
        .iter()
        .map(|user| Delivery {
            id: DeliveryId::generate(),
            event_id: event.id,
            user_id: *user,
            offset: event.reminders[0].clone(),
            channel: convene_domain::ChannelKind::Email,
            due_at: at(due),
            state: DeliveryState::Pending,
            attempts: 0,
            last_attempt: None,
            message_id: None,
        })
        .collect()
}

fn claim<'a>(now: &str, limit: usize, owner: &'a str) -> ClaimRequest<'a> {
    ClaimRequest {
        now: at(now),
        limit,
        lease: Duration::from_secs(60),
        owner,
    }
}

fn attempt(outcome: DeliveryOutcome, now: &str) -> DeliveryAttempt {
    DeliveryAttempt {
        at: at(now),
        outcome,
        destination: Some("mx.alpha.test".to_owned()),
        tls: true,
        tls_version: Some("TLSv1.3".to_owned()),
        tls_cipher: Some("TLS13_AES_256_GCM_SHA384".to_owned()),
        reply_code: Some(match outcome {
            DeliveryOutcome::Delivered => 250,
            DeliveryOutcome::TemporaryFailure => 451,
            DeliveryOutcome::PermanentFailure => 550,
        }),
        reply_text: "2.0.0 Ok".to_owned(),
    }
}

async fn user_round_trip(store: Arc<dyn Store>) {
    let id = user(&*store, "ann@alpha.test").await;
    let stored = store.user(id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_str(), "ann@alpha.test");
    assert_eq!(stored.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(store.user(UserId::generate()).await.unwrap(), None);

    let other = user(&*store, "bob@beta.test").await;
    let mut found: Vec<UserId> = store
        .users(&[id, UserId::generate(), other])
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.id)
        .collect();
    found.sort();
    let mut expected = vec![id, other];
    expected.sort();
    assert_eq!(found, expected);
}

async fn users_by_email_ignores_case(store: Arc<dyn Store>) {
    let ann = user(&*store, "Ann@Alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let address = |text: &str| EmailAddress::parse("email", text).unwrap();

    let found = store
        .users_by_email(&[
            address("ann@ALPHA.TEST"),
            address("BOB@beta.test"),
            address("nobody@beta.test"),
        ])
        .await
        .unwrap();
    let found_ann = found.iter().find(|user| user.id == ann);
    assert_eq!(
        found_ann.map(|user| user.email.as_str()),
        Some("Ann@Alpha.test")
    );
    assert!(found.iter().any(|user| user.id == bob), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");

    let none = store
        .users_by_email(&[address("ann@beta.test")])
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert!(store.users_by_email(&[]).await.unwrap().is_empty());
}

async fn user_update_replaces_settings(store: Arc<dyn Store>) {
    let id = user(&*store, "ann@alpha.test").await;
    let other = user(&*store, "bob@beta.test").await;
    let original = store.user(id).await.unwrap().unwrap();
    let mut changed = original.clone();
    assert_eq!(changed.working_hours, WorkingHours::default());
    changed.name = "Ann Smith".to_owned();
    changed.time_zone = None;
    changed.working_hours =
        WorkingHours::parse("working_hours", "tuesday 07:30-12:00, saturday 10:00-24:00").unwrap();
    assert!(store.update_user(&changed, &original).await.unwrap());
    assert_eq!(store.user(id).await.unwrap().unwrap(), changed);

    // A change made on the profile as it was before is not written.
    let mut late = original.clone();
    late.name = "Ann Late".to_owned();
    let err = store.update_user(&late, &original).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Stale { what: "user", .. }),
        "{err:?}"
    );
    assert_eq!(store.user(id).await.unwrap().unwrap(), changed);

    // No working hours at all is a setting of its own, not the default.
    let before = changed.clone();
    changed.working_hours = WorkingHours::new(Vec::new()).unwrap();
    assert!(store.update_user(&changed, &before).await.unwrap());
    assert_eq!(store.user(id).await.unwrap().unwrap(), changed);

    let mut taken = changed.clone();
    taken.email = EmailAddress::parse("email", "BOB@beta.test").unwrap();
    let err = store.update_user(&taken, &changed).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "email", .. }),
        "{err:?}"
    );
    assert_eq!(store.user(id).await.unwrap().unwrap(), changed);
    assert_eq!(
        store.user(other).await.unwrap().unwrap().email.as_str(),
        "bob@beta.test"
    );

    let mut missing = changed.clone();
    missing.id = UserId::generate();
    missing.email = EmailAddress::parse("email", "carol@gamma.test").unwrap();
    assert!(!store.update_user(&missing, &missing).await.unwrap());
}

async fn duplicate_email_rejected(store: Arc<dyn Store>) {
    user(&*store, "ann@alpha.test").await;
    let again = User {
        id: UserId::generate(),
        name: "Ann again".to_owned(),
        email: EmailAddress::parse("email", "ANN@alpha.test").unwrap(),
        time_zone: None,
        working_hours: Default::default(),
        phone: None,
        reminders: Default::default(),
    };
    let err = store.insert_user(&again).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "email", .. }),
        "{err:?}"
    );
    assert_eq!(store.user(again.id).await.unwrap(), None);
}

async fn event_round_trip(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let cid = user(&*store, "cid@gamma.test").await;
    let event = event(
        ann,
        &[cid, bob],
        "2030-01-01T10:00:00Z",
        "2030-01-01T11:00:00Z",
    );
    store.book_event(&event, &[]).await.unwrap();
    assert_eq!(store.event(event.id).await.unwrap(), Some(event.clone()));
    assert_eq!(store.event(EventId::generate()).await.unwrap(), None);
}

async fn events_read_together(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let first = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let mut second = event(bob, &[], "2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z");
    second.reminders = vec![
        ReminderOffset::parse("before", "PT15M").unwrap(),
        ReminderOffset::parse("before", "P1D").unwrap(),
    ];
    let other = event(ann, &[], "2030-01-03T10:00:00Z", "2030-01-03T11:00:00Z");
    for event in [&first, &second, &other] {
        store.book_event(event, &[]).await.unwrap();
    }

    let mut read = store
        .events(&[second.id, EventId::generate(), first.id])
        .await
        .unwrap();
    read.sort_by_key(|event| event.id);
    assert_eq!(read, vec![first, second]);
    assert_eq!(store.events(&[]).await.unwrap(), Vec::new());
}

async fn overlap_rejected_without_writes(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let cid = user(&*store, "cid@gamma.test").await;
    let first = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store.book_event(&first, &[]).await.unwrap();

    let second = event(cid, &[bob], "2030-01-01T10:30:00Z", "2030-01-01T12:00:00Z");
    let deliveries = plan(&second, &[cid, bob], "2030-01-01T10:15:00Z");
    let err = store.book_event(&second, &deliveries).await.unwrap_err();
    let StoreError::Busy(conflicts) = err else {
        panic!("expected Busy, got {err:?}");
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].user, bob);
    assert_eq!(conflicts[0].busy, vec![first.interval]);
    assert_eq!(store.event(second.id).await.unwrap(), None);
    assert!(
        store
            .deliveries(second.id, at("2030-01-01T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn back_to_back_accepted(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let first = event(ann, &[], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store.book_event(&first, &[]).await.unwrap();
    let after = event(ann, &[], "2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z");
    store.book_event(&after, &[]).await.unwrap();
    let before = event(ann, &[], "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
    store.book_event(&before, &[]).await.unwrap();
}

async fn unknown_attendee_rejected(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let ghost = UserId::generate();
    let event = event(
        ann,
        &[ghost],
        "2030-01-01T10:00:00Z",
        "2030-01-01T11:00:00Z",
    );
    let err = store.book_event(&event, &[]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "user", id } if *id == ghost.to_string()),
        "{err:?}"
    );
    assert_eq!(store.event(event.id).await.unwrap(), None);
}

async fn busy_lists_overlapping_sorted(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let late = event(bob, &[ann], "2030-01-01T15:00:00Z", "2030-01-01T16:00:00Z");
    let early = event(ann, &[], "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
    let outside = event(ann, &[], "2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z");
    for event in [&late, &early, &outside] {
        store.book_event(event, &[]).await.unwrap();
    }
    let window = interval("2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z");
    let busy = store.busy(ann, window).await.unwrap();
    assert_eq!(busy, vec![early.interval, late.interval]);
    let edge = interval("2030-01-01T10:00:00Z", "2030-01-01T15:00:00Z");
    assert!(store.busy(ann, edge).await.unwrap().is_empty());
}

async fn add_participant_checks_conflicts(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let bobs = event(bob, &[], "2030-01-01T10:30:00Z", "2030-01-01T11:30:00Z");
    store.book_event(&bobs, &[]).await.unwrap();
    let anns = event(ann, &[], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store.book_event(&anns, &[]).await.unwrap();

    let err = store.add_participant(anns.id, bob, &[]).await.unwrap_err();
    let StoreError::Busy(conflicts) = err else {
        panic!("expected Busy, got {err:?}");
    };
    assert_eq!(conflicts[0].user, bob);
    assert_eq!(conflicts[0].busy, vec![bobs.interval]);
    assert!(
        store
            .event(anns.id)
            .await
            .unwrap()
            .unwrap()
            .participants
            .is_empty()
    );

    // An existing attendee is a no-op, not a conflict with the event itself.
    store.add_participant(anns.id, ann, &[]).await.unwrap();
    let cid = user(&*store, "cid@gamma.test").await;
    let deliveries = plan(&anns, &[cid], "2030-01-01T09:45:00Z");
    store
        .add_participant(anns.id, cid, &deliveries)
        .await
        .unwrap();
    store
        .add_participant(anns.id, cid, &deliveries)
        .await
        .unwrap();
    assert_eq!(
        store.event(anns.id).await.unwrap().unwrap().participants,
        vec![cid]
    );
    assert_eq!(
        store
            .deliveries(anns.id, at("2030-01-01T00:00:00Z"))
            .await
            .unwrap()
            .len(),
        1
    );

    let err = store
        .add_participant(EventId::generate(), cid, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "event", .. }),
        "{err:?}"
    );
}

async fn update_event_moves_busy_time_and_replans(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let first = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store
        .book_event(&first, &plan(&first, &[ann, bob], "2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    let other = event(bob, &[], "2030-01-01T13:00:00Z", "2030-01-01T14:00:00Z");
    store.book_event(&other, &[]).await.unwrap();

    // One reminder is claimed and in flight while its lease lasts; the other is waiting.
    let claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 1, "w"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let in_flight = claimed[0].user_id;
    let waiting = if in_flight == ann { bob } else { ann };
    let now = at("2030-01-01T09:45:10Z");

    // Moving onto Bob's other event is refused, and nothing changes.
    let mut clash = first.clone();
    clash.interval = interval("2030-01-01T13:30:00Z", "2030-01-01T14:30:00Z");
    clash.title = "Moved".to_owned();
    let err = store
        .update_event(&clash, &first, Some(&[]), now)
        .await
        .unwrap_err();
    let StoreError::Busy(conflicts) = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].user, bob);
    assert_eq!(store.event(first.id).await.unwrap().unwrap(), first);
    assert_eq!(store.deliveries(first.id, now).await.unwrap().len(), 2);

    // A free time moves the busy interval of both and replaces the waiting reminder.
    let mut moved = first.clone();
    moved.interval = interval("2030-01-01T15:00:00Z", "2030-01-01T16:00:00Z");
    moved.sequence = 1;
    moved.reminders.truncate(1);
    let replanned = plan(&moved, &[ann, bob], "2030-01-01T14:45:00Z");
    store
        .update_event(&moved, &first, Some(&replanned), now)
        .await
        .unwrap();
    assert_eq!(store.event(first.id).await.unwrap().unwrap(), moved);
    for attendee in [ann, bob] {
        let busy = store
            .busy(
                attendee,
                interval("2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"),
            )
            .await
            .unwrap();
        assert!(busy.contains(&moved.interval), "{busy:?}");
        assert!(!busy.contains(&first.interval), "{busy:?}");
    }
    let mut due: Vec<(UserId, Timestamp)> = store
        .deliveries(first.id, now)
        .await
        .unwrap()
        .iter()
        .map(|delivery| (delivery.user_id, delivery.due_at))
        .collect();
    due.sort();
    // The claimed reminder stays and keeps the new one out; the waiting one is replaced.
    let mut expected = vec![
        (in_flight, at("2030-01-01T09:45:00Z")),
        (waiting, at("2030-01-01T14:45:00Z")),
    ];
    expected.sort();
    assert_eq!(due, expected);

    // Without deliveries the reminders stay.
    let mut renamed = moved.clone();
    renamed.title = "Renamed".to_owned();
    store
        .update_event(&renamed, &moved, None, now)
        .await
        .unwrap();
    assert_eq!(store.deliveries(first.id, now).await.unwrap().len(), 2);

    // A change made on the event as it was before the rename is not written.
    let mut late = moved.clone();
    late.location = Some("Room 2".to_owned());
    let err = store
        .update_event(&late, &moved, None, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Stale { what: "event", .. }),
        "{err:?}"
    );
    assert_eq!(store.event(first.id).await.unwrap().unwrap(), renamed);

    let mut missing = moved.clone();
    missing.id = EventId::generate();
    let err = store
        .update_event(&missing, &missing, None, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "event", .. }),
        "{err:?}"
    );
}

async fn declined_event_is_not_busy(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let meeting = event(ann, &[bob], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z");
    store.book_event(&meeting, &[]).await.unwrap();
    let day = interval("2030-01-15T00:00:00Z", "2030-01-16T00:00:00Z");
    assert_eq!(store.busy(bob, day).await.unwrap(), [meeting.interval]);

    assert!(
        store
            .set_answer(meeting.id, bob, Answer::Declined, &[])
            .await
            .unwrap()
    );
    assert!(store.busy(bob, day).await.unwrap().is_empty());
    assert_eq!(store.busy(ann, day).await.unwrap(), [meeting.interval]);
    // Bob may be booked at the declined time; Ann may not.
    let other = event(bob, &[], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z");
    store.book_event(&other, &[]).await.unwrap();
    let clash = event(ann, &[], "2030-01-15T10:30:00Z", "2030-01-15T11:30:00Z");
    let err = store.book_event(&clash, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Busy(_)), "{err:?}");

    // Accepting again makes the time busy again.
    assert!(
        store
            .set_answer(meeting.id, bob, Answer::Accepted, &[])
            .await
            .unwrap()
    );
    assert_eq!(
        store.busy(bob, day).await.unwrap(),
        [meeting.interval, other.interval]
    );
}

async fn decline_drops_reminders_until_accepted(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let meeting = event(ann, &[bob], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z");
    let planned = plan(&meeting, &[ann, bob], "2030-01-15T09:45:00Z");
    store.book_event(&meeting, &planned).await.unwrap();
    let now = at("2030-01-01T00:00:00Z");
    let users_with_reminders = |deliveries: Vec<Delivery>| {
        let mut users: Vec<UserId> = deliveries.iter().map(|d| d.user_id).collect();
        users.sort();
        users
    };
    let mut both = vec![ann, bob];
    both.sort();

    assert!(
        store
            .set_answer(meeting.id, bob, Answer::Declined, &[])
            .await
            .unwrap()
    );
    let left = store.deliveries(meeting.id, now).await.unwrap();
    assert_eq!(users_with_reminders(left), [ann]);

    // Tentative after the decline plans Bob's reminders again; a second acceptance adds
    // nothing more.
    let replanned = plan(&meeting, &[bob], "2030-01-15T09:45:00Z");
    for answer in [Answer::Tentative, Answer::Accepted] {
        assert!(
            store
                .set_answer(meeting.id, bob, answer, &replanned)
                .await
                .unwrap()
        );
    }
    let restored = store.deliveries(meeting.id, now).await.unwrap();
    assert_eq!(users_with_reminders(restored), both);

    let stranger = UserId::generate();
    assert!(
        !store
            .set_answer(meeting.id, stranger, Answer::Declined, &[])
            .await
            .unwrap()
    );
}

async fn cancel_event_frees_time_and_drops_waiting_reminders(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let first = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store
        .book_event(&first, &plan(&first, &[ann, bob], "2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    let now = at("2030-01-01T09:00:00Z");
    assert!(store.cancel_event(first.id, now).await.unwrap());
    assert!(store.cancel_event(first.id, now).await.unwrap());
    let cancelled = store.event(first.id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, EventStatus::Cancelled);
    assert_eq!(cancelled.sequence, 1);
    assert_eq!(cancelled.participants, [bob]);
    assert!(store.deliveries(first.id, now).await.unwrap().is_empty());
    let window = interval("2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z");
    assert!(store.busy(bob, window).await.unwrap().is_empty());

    // The time is free again.
    let again = event(bob, &[ann], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store.book_event(&again, &[]).await.unwrap();
    assert!(!store.cancel_event(EventId::generate(), now).await.unwrap());
}

fn weekly(mut event: Event, rule: &str, exdates: &[&str]) -> Event {
    event.recurrence = Some(EventRecurrence {
        rules: vec![convene_recur::Rule::parse(rule).unwrap()],
        rdates: vec![],
        exdates: exdates.iter().map(|text| at(text)).collect(),
    });
    event
}

async fn recurring_events_conflict_by_occurrence(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    // Tuesdays 10:00-11:00 in Berlin from 2030-01-01, without end, but not on 2030-01-15.
    let series = weekly(
        event(ann, &[], "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"),
        "FREQ=WEEKLY",
        &["2030-01-15T09:00:00Z"],
    );
    store.book_event(&series, &[]).await.unwrap();

    // Busy time lists each occurrence in the window, months after the first.
    let busy = store
        .busy(
            ann,
            interval("2030-06-01T00:00:00Z", "2030-06-12T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        busy,
        [
            interval("2030-06-04T08:00:00Z", "2030-06-04T09:00:00Z"),
            interval("2030-06-11T08:00:00Z", "2030-06-11T09:00:00Z"),
        ]
    );

    // A single event on a later Tuesday conflicts with that occurrence only.
    let single = event(ann, &[bob], "2030-03-05T09:30:00Z", "2030-03-05T10:30:00Z");
    let err = store.book_event(&single, &[]).await.unwrap_err();
    let StoreError::Busy(conflicts) = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].user, ann);
    assert_eq!(
        conflicts[0].busy,
        [interval("2030-03-05T09:00:00Z", "2030-03-05T10:00:00Z")]
    );
    // The excluded Tuesday is free.
    let on_gap = event(ann, &[bob], "2030-01-15T09:00:00Z", "2030-01-15T10:00:00Z");
    store.book_event(&on_gap, &[]).await.unwrap();

    // A new series meets the old one on every Tuesday; the conflict lists the first ten.
    let daily = weekly(
        event(bob, &[ann], "2030-02-01T09:30:00Z", "2030-02-01T09:45:00Z"),
        "FREQ=DAILY;COUNT=60",
        &[],
    );
    let err = store.book_event(&daily, &[]).await.unwrap_err();
    let StoreError::Busy(conflicts) = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(conflicts[0].user, ann);
    assert_eq!(conflicts[0].busy.len(), MAX_LISTED_CONFLICTS.min(8));
    assert_eq!(
        conflicts[0].busy[0],
        interval("2030-02-05T09:00:00Z", "2030-02-05T10:00:00Z")
    );

    // Ended series stop conflicting after their last occurrence.
    let short = weekly(
        event(bob, &[], "2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z"),
        "FREQ=WEEKLY;COUNT=2",
        &[],
    );
    store.book_event(&short, &[]).await.unwrap();
    let after = event(bob, &[], "2030-01-16T09:00:00Z", "2030-01-16T10:00:00Z");
    store.book_event(&after, &[]).await.unwrap();
    assert_eq!(store.event(series.id).await.unwrap().unwrap(), series);
}

fn imported(owner: UserId, uid: &str, start: &str, end: &str) -> Event {
    let mut event = event(owner, &[], start, end);
    event.reminders.clear();
    event.external_uid = Some(uid.to_owned());
    event
}

async fn imported_events_are_busy_and_replaced_by_uid(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let booked = event(ann, &[], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store.book_event(&booked, &[]).await.unwrap();

    // Imports are not checked against what is booked: they record time already taken.
    let overlapping = imported(
        ann,
        "a@other.test",
        "2030-01-01T10:30:00Z",
        "2030-01-01T12:00:00Z",
    );
    let series = weekly(
        imported(
            ann,
            "b@other.test",
            "2030-01-02T08:00:00Z",
            "2030-01-02T09:00:00Z",
        ),
        "FREQ=WEEKLY;COUNT=3",
        &[],
    );
    store
        .import_events(ann, &[overlapping.clone(), series.clone()])
        .await
        .unwrap();
    let window = interval("2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z");
    assert_eq!(store.busy(ann, window).await.unwrap().len(), 5);
    assert_eq!(store.event(series.id).await.unwrap().unwrap(), series);

    // The same UID from another person's calendar is theirs alone.
    let theirs = imported(
        bob,
        "a@other.test",
        "2030-01-03T10:00:00Z",
        "2030-01-03T11:00:00Z",
    );
    store
        .import_events(bob, std::slice::from_ref(&theirs))
        .await
        .unwrap();

    // Importing a newer copy replaces the older one, whatever its id.
    let moved = imported(
        ann,
        "a@other.test",
        "2030-01-04T10:00:00Z",
        "2030-01-04T11:00:00Z",
    );
    store
        .import_events(ann, std::slice::from_ref(&moved))
        .await
        .unwrap();
    assert_eq!(store.event(overlapping.id).await.unwrap(), None);
    assert_eq!(store.event(moved.id).await.unwrap().unwrap(), moved);
    assert_eq!(store.event(theirs.id).await.unwrap().unwrap(), theirs);
    assert_eq!(store.busy(ann, window).await.unwrap().len(), 5);

    // A new booking is checked against imported time.
    let clash = event(bob, &[ann], "2030-01-09T08:30:00Z", "2030-01-09T09:30:00Z");
    let err = store.book_event(&clash, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Busy(_)), "{err:?}");

    let err = store
        .import_events(UserId::generate(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
}

async fn feeds_resolve_until_revoked_and_list_events(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let feed = FeedId::generate();
    store.create_feed(feed, ann, "hash-1").await.unwrap();
    let second = FeedId::generate();
    store.create_feed(second, ann, "hash-5").await.unwrap();
    assert_eq!(store.feeds(ann, None, 10).await.unwrap(), [feed, second]);
    assert_eq!(store.feeds(ann, Some(feed), 10).await.unwrap(), [second]);
    assert_eq!(store.feeds(ann, None, 1).await.unwrap(), [feed]);
    assert!(store.feeds(bob, None, 10).await.unwrap().is_empty());
    assert_eq!(store.feed_owner("hash-1").await.unwrap(), Some(ann));
    assert_eq!(store.feed_owner("hash-2").await.unwrap(), None);
    assert!(!store.revoke_feed(bob, feed).await.unwrap());
    assert_eq!(store.feed_owner("hash-1").await.unwrap(), Some(ann));
    assert!(store.revoke_feed(ann, feed).await.unwrap());
    assert!(!store.revoke_feed(ann, feed).await.unwrap());
    assert_eq!(store.feed_owner("hash-1").await.unwrap(), None);
    assert_eq!(store.feeds(ann, None, 10).await.unwrap(), [second]);
    let err = store
        .create_feed(FeedId::generate(), UserId::generate(), "hash-3")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );

    let old = event(ann, &[], "2029-01-01T10:00:00Z", "2029-01-01T11:00:00Z");
    let later = event(bob, &[ann], "2030-02-01T10:00:00Z", "2030-02-01T11:00:00Z");
    let sooner = weekly(
        event(ann, &[], "2029-06-01T10:00:00Z", "2029-06-01T11:00:00Z"),
        "FREQ=WEEKLY",
        &[],
    );
    for booked in [&old, &later, &sooner] {
        store.book_event(booked, &[]).await.unwrap();
    }
    store
        .cancel_event(later.id, at("2029-01-01T00:00:00Z"))
        .await
        .unwrap();
    let since = at("2030-01-01T00:00:00Z");
    let listed: Vec<EventId> = store
        .user_events(ann, since, 10)
        .await
        .unwrap()
        .iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(listed, [sooner.id, later.id]);
    assert_eq!(store.user_events(ann, since, 1).await.unwrap().len(), 1);
}

async fn api_tokens_resolve_until_revoked(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let first = ApiToken {
        id: TokenId::generate(),
        user: ann,
        created_at: at("2029-01-01T10:00:00Z"),
    };
    let second = ApiToken {
        id: TokenId::generate(),
        ..first.clone()
    };
    store.create_api_token(&first, "hash-1").await.unwrap();
    store.create_api_token(&second, "hash-2").await.unwrap();
    assert_eq!(
        store.api_token("hash-1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.api_token("hash-3").await.unwrap(), None);

    let listed = store.api_tokens(ann, None, 10).await.unwrap();
    assert_eq!(listed, [first.clone(), second.clone()]);
    let after_first = store.api_tokens(ann, Some(first.id), 10).await.unwrap();
    assert_eq!(after_first, std::slice::from_ref(&second));
    assert_eq!(
        store.api_tokens(ann, None, 1).await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert!(store.api_tokens(bob, None, 10).await.unwrap().is_empty());

    assert!(!store.revoke_api_token(bob, first.id).await.unwrap());
    assert!(store.revoke_api_token(ann, first.id).await.unwrap());
    assert!(!store.revoke_api_token(ann, first.id).await.unwrap());
    assert_eq!(store.api_token("hash-1").await.unwrap(), None);
    assert_eq!(
        store.api_token("hash-2").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.api_tokens(ann, None, 10).await.unwrap(), [second]);

    let stranger = ApiToken {
        id: TokenId::generate(),
        user: UserId::generate(),
        created_at: at("2029-01-01T10:00:00Z"),
    };
    let err = store
        .create_api_token(&stranger, "hash-4")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
}

async fn users_and_events_listed_by_page(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for n in 0..5 {
        users.push(user(&*store, &format!("person{n}@alpha.test")).await);
    }
    let first_page: Vec<UserId> = store
        .list_users(None, 2)
        .await
        .unwrap()
        .iter()
        .map(|user| user.id)
        .collect();
    assert_eq!(first_page, users[..2]);
    let rest: Vec<UserId> = store
        .list_users(Some(users[1]), 10)
        .await
        .unwrap()
        .iter()
        .map(|user| user.id)
        .collect();
    assert_eq!(rest, users[2..]);

    let ann = users[0];
    let bob = users[1];
    let organized = event(ann, &[], "2029-01-01T10:00:00Z", "2029-01-01T11:00:00Z");
    let attended = event(bob, &[ann], "2029-01-02T10:00:00Z", "2029-01-02T11:00:00Z");
    let elsewhere = event(bob, &[], "2029-01-03T10:00:00Z", "2029-01-03T11:00:00Z");
    let cancelled = event(ann, &[bob], "2029-01-04T10:00:00Z", "2029-01-04T11:00:00Z");
    for booked in [&organized, &attended, &elsewhere, &cancelled] {
        store.book_event(booked, &[]).await.unwrap();
    }
    store
        .cancel_event(cancelled.id, at("2029-01-01T00:00:00Z"))
        .await
        .unwrap();
    let ids = |events: Vec<Event>| events.iter().map(|event| event.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.attended_events(ann, None, 10).await.unwrap()),
        [organized.id, attended.id, cancelled.id]
    );
    assert_eq!(
        ids(store.attended_events(ann, None, 2).await.unwrap()),
        [organized.id, attended.id]
    );
    assert_eq!(
        ids(store
            .attended_events(ann, Some(attended.id), 2)
            .await
            .unwrap()),
        [cancelled.id]
    );
    assert!(
        store
            .attended_events(users[4], None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn remove_participant_drops_pending(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let cid = user(&*store, "cid@gamma.test").await;
    let event = event(
        ann,
        &[bob, cid],
        "2030-01-01T10:00:00Z",
        "2030-01-01T11:00:00Z",
    );
    let deliveries = plan(&event, &[ann, bob, cid], "2030-01-01T09:45:00Z");
    store.book_event(&event, &deliveries).await.unwrap();

    // Cid's reminder was already delivered: that history stays.
    let claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w"))
        .await
        .unwrap();
    let cids = claimed.iter().find(|d| d.user_id == cid).unwrap();
    store
        .record_attempt(
            cids.id,
            &attempt(DeliveryOutcome::Delivered, "2030-01-01T09:45:01Z"),
            None,
        )
        .await
        .unwrap();

    assert!(store.remove_participant(event.id, bob).await.unwrap());
    assert!(store.remove_participant(event.id, cid).await.unwrap());
    assert!(!store.remove_participant(event.id, bob).await.unwrap());
    assert!(
        !store.remove_participant(event.id, ann).await.unwrap(),
        "the organizer is not a participant"
    );

    assert!(
        store
            .event(event.id)
            .await
            .unwrap()
            .unwrap()
            .participants
            .is_empty()
    );
    let left: Vec<(UserId, DeliveryState)> = store
        .deliveries(event.id, at("2030-01-01T10:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.user_id, d.state))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&(cid, DeliveryState::Delivered)));
    assert!(!left.iter().any(|(user, _)| *user == bob));
}

async fn claim_is_exclusive_until_lease_expires(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let event = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let deliveries = plan(&event, &[ann, bob], "2030-01-01T09:45:00Z");
    store.book_event(&event, &deliveries).await.unwrap();

    assert!(
        store
            .claim_due_deliveries(claim("2030-01-01T09:44:59Z", 10, "a"))
            .await
            .unwrap()
            .is_empty()
    );
    let first = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 1, "a"))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let second = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "b"))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(first[0].id, second[0].id);
    assert!(
        store
            .claim_due_deliveries(claim("2030-01-01T09:45:30Z", 10, "c"))
            .await
            .unwrap()
            .is_empty()
    );

    let states: Vec<DeliveryState> = store
        .deliveries(event.id, at("2030-01-01T09:45:30Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.state)
        .collect();
    assert_eq!(states, vec![DeliveryState::Sending, DeliveryState::Sending]);

    // The 60-second leases have expired: a crashed worker's claims return.
    let again = store
        .claim_due_deliveries(claim("2030-01-01T09:46:00Z", 10, "c"))
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
}

async fn attempts_settle_or_retry(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let cid = user(&*store, "cid@gamma.test").await;
    let event = event(
        ann,
        &[bob, cid],
        "2030-01-01T10:00:00Z",
        "2030-01-01T11:00:00Z",
    );
    store
        .book_event(
            &event,
            &plan(&event, &[ann, bob, cid], "2030-01-01T09:45:00Z"),
        )
        .await
        .unwrap();
    let claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let by_user = |user: UserId| claimed.iter().find(|d| d.user_id == user).unwrap().id;

    let delivered = attempt(DeliveryOutcome::Delivered, "2030-01-01T09:45:01Z");
    let temporary = attempt(DeliveryOutcome::TemporaryFailure, "2030-01-01T09:45:01Z");
    let permanent = attempt(DeliveryOutcome::PermanentFailure, "2030-01-01T09:45:01Z");
    assert!(
        store
            .record_attempt(by_user(ann), &delivered, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_attempt(by_user(bob), &temporary, Some(at("2030-01-01T09:50:00Z")))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_attempt(by_user(cid), &permanent, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_attempt(by_user(ann), &delivered, None)
            .await
            .unwrap(),
        "settled twice"
    );

    // Only the temporary failure comes back, and only at its retry time.
    assert!(
        store
            .claim_due_deliveries(claim("2030-01-01T09:49:59Z", 10, "w"))
            .await
            .unwrap()
            .is_empty()
    );
    let retry = store
        .claim_due_deliveries(claim("2030-01-01T09:50:00Z", 10, "w"))
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].user_id, bob);
    assert_eq!(retry[0].attempts, 1);
    assert_eq!(retry[0].last_attempt.as_ref(), Some(&temporary));
    assert!(
        store
            .record_attempt(retry[0].id, &delivered, None)
            .await
            .unwrap()
    );

    let states: Vec<(UserId, DeliveryState, u32)> = store
        .deliveries(event.id, at("2030-01-01T10:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.user_id, d.state, d.attempts))
        .collect();
    assert!(states.contains(&(ann, DeliveryState::Delivered, 1)));
    assert!(states.contains(&(bob, DeliveryState::Delivered, 2)));
    assert!(states.contains(&(cid, DeliveryState::Failed, 1)));

    let history = store.attempts(by_user(bob)).await.unwrap();
    assert_eq!(history, vec![temporary, delivered]);
}

async fn batch_records_apply_independently(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let event = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store
        .book_event(&event, &plan(&event, &[ann, bob], "2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    let claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w"))
        .await
        .unwrap();
    let delivered = attempt(DeliveryOutcome::Delivered, "2030-01-01T09:45:01Z");
    assert!(
        store
            .record_attempt(claimed[0].id, &delivered, None)
            .await
            .unwrap()
    );

    // The settled delivery is skipped; the other one is still recorded.
    let records: Vec<AttemptRecord> = claimed
        .iter()
        .map(|delivery| AttemptRecord {
            delivery: delivery.id,
            attempt: delivered.clone(),
            retry_at: None,
        })
        .collect();
    assert_eq!(
        store.record_attempts(&records).await.unwrap(),
        vec![false, true]
    );
    let deliveries = store
        .deliveries(event.id, at("2030-01-01T10:00:00Z"))
        .await
        .unwrap();
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered && d.attempts == 1)
    );
    assert!(
        deliveries
            .iter()
            .all(|d| d.last_attempt.as_ref() == Some(&delivered))
    );
}

async fn concurrent_bookings_never_double_book(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let mut tasks = Vec::new();
    for minute in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let start = format!("2030-01-01T10:{:02}:00Z", minute * 5);
            let end = format!("2030-01-01T11:{:02}:00Z", minute * 5);
            let event = event(ann, &[], &start, &end);
            store.book_event(&event, &[]).await
        }));
    }
    let mut booked = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => booked += 1,
            Err(StoreError::Busy(_)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(booked, 1);
}

/// Builds a message queued at `created` that expires a day later.
fn outgoing(created: &str, recipients: &[(&str, Option<DeliveryId>)]) -> OutgoingMessage {
    let created = at(created);
    OutgoingMessage {
        id: MessageId::generate(),
        sender: "convene@convene.test".to_owned(),
        data: b"Subject: test\r\n\r\nbody\r\n".to_vec(),
        created_at: created,
        expires_at: created
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap(),
        recipients: recipients
            .iter()
            .map(|(address, delivery)| OutgoingRecipient {
                address: (*address).to_owned(),
                delivery: *delivery,
            })
            .collect(),
    }
}

fn mail_record(
    owner: &str,
    message: MessageId,
    position: u32,
    outcome: DeliveryOutcome,
    now: &str,
    retry_at: Option<&str>,
) -> MailAttemptRecord {
    MailAttemptRecord {
        message,
        position,
        owner: owner.to_owned(),
        attempt: attempt(outcome, now),
        retry_at: retry_at.map(at),
    }
}

async fn queued_delivery_is_handed_over_once(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let event = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let deliveries = plan(&event, &[ann, bob], "2030-01-01T09:45:00Z");
    store.book_event(&event, &deliveries).await.unwrap();
    let claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);

    let recipients: Vec<(&str, Option<DeliveryId>)> = vec![
        ("ann@alpha.test", Some(deliveries[0].id)),
        ("bob@beta.test", Some(deliveries[1].id)),
    ];
    let first = outgoing("2030-01-01T09:45:01Z", &recipients);
    assert_eq!(
        store
            .enqueue_mail(std::slice::from_ref(&first))
            .await
            .unwrap()[0],
        vec![true, true]
    );

    // Handing the same deliveries over again, as after a crash, queues
    // nothing and stores no second message.
    let again = outgoing("2030-01-01T09:45:02Z", &recipients);
    let other = outgoing("2030-01-01T09:45:02Z", &[("cid@gamma.test", None)]);
    let queued = store
        .enqueue_mail(&[again.clone(), other.clone()])
        .await
        .unwrap();
    assert_eq!(queued, vec![vec![false, false], vec![true]]);
    let now = at("2030-01-01T09:45:03Z");
    assert!(store.mail_message(again.id, now).await.unwrap().is_none());
    assert!(store.mail_message(other.id, now).await.unwrap().is_some());

    let states: Vec<(DeliveryState, Option<MessageId>)> = store
        .deliveries(event.id, now)
        .await
        .unwrap()
        .iter()
        .map(|d| (d.state, d.message_id))
        .collect();
    assert_eq!(
        states,
        vec![(DeliveryState::Queued, Some(first.id)); 2],
        "queued deliveries carry their message"
    );
    // The Notifier no longer claims them, even after the lease, and a
    // result it reports late is not applied.
    assert!(
        store
            .claim_due_deliveries(claim("2030-01-01T12:00:00Z", 10, "w"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .record_attempt(
                deliveries[0].id,
                &attempt(DeliveryOutcome::Delivered, "2030-01-01T09:46:00Z"),
                None
            )
            .await
            .unwrap()
    );
    // Removing a participant keeps a delivery that is already queued.
    assert!(store.remove_participant(event.id, bob).await.unwrap());
    assert_eq!(store.deliveries(event.id, now).await.unwrap().len(), 2);

    let message = store.mail_message(first.id, now).await.unwrap().unwrap();
    assert_eq!(message.size, first.data.len() as u64);
    let addresses: Vec<&str> = message
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(addresses, ["ann@alpha.test", "bob@beta.test"]);
    assert!(
        message
            .recipients
            .iter()
            .all(|r| r.state == MailState::Queued)
    );
}

async fn mail_recipients_claimed_and_retried_alone(store: Arc<dyn Store>) {
    let message = outgoing(
        "2030-01-01T09:00:00Z",
        &[
            ("ann@alpha.test", None),
            ("bob@beta.test", None),
            ("cid@gamma.test", None),
        ],
    );
    assert_eq!(
        store
            .enqueue_mail(std::slice::from_ref(&message))
            .await
            .unwrap()[0],
        vec![true; 3]
    );
    assert!(
        store
            .claim_due_mail(claim("2030-01-01T08:59:59Z", 10, "w"))
            .await
            .unwrap()
            .is_empty(),
        "not due before it was created"
    );

    let claimed = store
        .claim_due_mail(claim("2030-01-01T09:00:00Z", 10, "w1"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message, message.id);
    assert_eq!(&*claimed[0].data, message.data.as_slice());
    let positions: Vec<u32> = claimed[0].recipients.iter().map(|r| r.position).collect();
    assert_eq!(positions, [0, 1, 2]);
    assert!(
        store
            .claim_due_mail(claim("2030-01-01T09:00:30Z", 10, "w2"))
            .await
            .unwrap()
            .is_empty(),
        "claims are exclusive while the lease lasts"
    );

    let applied = store
        .record_mail_attempts(&[
            mail_record(
                "w1",
                message.id,
                0,
                DeliveryOutcome::Delivered,
                "2030-01-01T09:00:01Z",
                None,
            ),
            mail_record(
                "w1",
                message.id,
                1,
                DeliveryOutcome::TemporaryFailure,
                "2030-01-01T09:00:01Z",
                Some("2030-01-01T09:10:00Z"),
            ),
            mail_record(
                "w1",
                message.id,
                2,
                DeliveryOutcome::PermanentFailure,
                "2030-01-01T09:00:01Z",
                None,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(applied, [true, true, true]);
    // A settled recipient takes no further result.
    let late = mail_record(
        "w1",
        message.id,
        0,
        DeliveryOutcome::Delivered,
        "2030-01-01T09:00:02Z",
        None,
    );
    assert_eq!(store.record_mail_attempts(&[late]).await.unwrap(), [false]);

    assert!(
        store
            .claim_due_mail(claim("2030-01-01T09:09:59Z", 10, "w"))
            .await
            .unwrap()
            .is_empty(),
        "the retry is not due yet"
    );
    let retry = store
        .claim_due_mail(claim("2030-01-01T09:10:00Z", 10, "w"))
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(
        retry[0].recipients.len(),
        1,
        "only the temporary failure is retried"
    );
    assert_eq!(retry[0].recipients[0].address, "bob@beta.test");
    assert_eq!(retry[0].recipients[0].attempts, 1);

    let view = store
        .mail_message(message.id, at("2030-01-01T09:10:01Z"))
        .await
        .unwrap()
        .unwrap();
    let states: Vec<MailState> = view.recipients.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [MailState::Delivered, MailState::Sending, MailState::Failed]
    );
    let histories: Vec<usize> = view.recipients.iter().map(|r| r.attempts.len()).collect();
    assert_eq!(histories, [1, 1, 1]);
    assert_eq!(view.recipients[2].attempts[0].reply_code, Some(550));
    assert_eq!(
        view.recipients[0].attempts[0].tls_cipher.as_deref(),
        Some("TLS13_AES_256_GCM_SHA384")
    );
}

async fn mail_failure_reaches_delivery_and_organizer(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let event = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let deliveries = plan(&event, &[ann, bob], "2030-01-01T09:45:00Z");
    store.book_event(&event, &deliveries).await.unwrap();
    store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w"))
        .await
        .unwrap();
    let message = outgoing(
        "2030-01-01T09:45:01Z",
        &[
            ("ann@alpha.test", Some(deliveries[0].id)),
            ("bob@beta.test", Some(deliveries[1].id)),
        ],
    );
    store
        .enqueue_mail(std::slice::from_ref(&message))
        .await
        .unwrap();
    store
        .claim_due_mail(claim("2030-01-01T09:45:01Z", 10, "w"))
        .await
        .unwrap();
    store
        .record_mail_attempts(&[
            mail_record(
                "w",
                message.id,
                0,
                DeliveryOutcome::Delivered,
                "2030-01-01T09:45:02Z",
                None,
            ),
            mail_record(
                "w",
                message.id,
                1,
                DeliveryOutcome::PermanentFailure,
                "2030-01-01T09:45:02Z",
                None,
            ),
        ])
        .await
        .unwrap();

    let now = at("2030-01-01T09:46:00Z");
    let states: Vec<(UserId, DeliveryState, u32)> = store
        .deliveries(event.id, now)
        .await
        .unwrap()
        .iter()
        .map(|d| (d.user_id, d.state, d.attempts))
        .collect();
    assert!(
        states.contains(&(ann, DeliveryState::Delivered, 1)),
        "{states:?}"
    );
    assert!(
        states.contains(&(bob, DeliveryState::Failed, 1)),
        "{states:?}"
    );
    let history = store.attempts(deliveries[1].id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].reply_code, Some(550));

    let unreported = store.unreported_failures(10).await.unwrap();
    assert_eq!(unreported.len(), 1);
    assert_eq!(unreported[0].id, deliveries[1].id);
    assert_eq!(
        unreported[0].last_attempt.as_ref().unwrap().reply_code,
        Some(550)
    );

    let notice = outgoing("2030-01-01T09:46:00Z", &[("ann@alpha.test", None)]);
    assert!(
        store
            .report_failures(&[deliveries[1].id], Some(&notice))
            .await
            .unwrap()
    );
    assert!(store.unreported_failures(10).await.unwrap().is_empty());
    // Reporting the same failure again stores no second notice.
    let again = outgoing("2030-01-01T09:46:01Z", &[("ann@alpha.test", None)]);
    assert!(
        !store
            .report_failures(&[deliveries[1].id], Some(&again))
            .await
            .unwrap()
    );
    assert!(store.mail_message(again.id, now).await.unwrap().is_none());
    let queued = store
        .claim_due_mail(claim("2030-01-01T09:46:00Z", 10, "w"))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message, notice.id);
}

async fn repeated_recipient_queued_once(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let event = event(ann, &[], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let deliveries = plan(&event, &[ann], "2030-01-01T09:45:00Z");
    store.book_event(&event, &deliveries).await.unwrap();
    store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w"))
        .await
        .unwrap();
    let other = outgoing("2030-01-01T09:45:01Z", &[("cid@gamma.test", None)]);
    let twice = outgoing(
        "2030-01-01T09:45:01Z",
        &[
            ("ann@alpha.test", Some(deliveries[0].id)),
            ("ann@alpha.test", Some(deliveries[0].id)),
            ("ANN@alpha.test", None),
            ("bob@beta.test", None),
        ],
    );
    let queued = store
        .enqueue_mail(&[other.clone(), twice.clone()])
        .await
        .unwrap();
    assert_eq!(
        queued[0],
        [true],
        "an unrelated message in the batch is stored"
    );
    assert_eq!(queued[1], [true, false, false, true]);

    let claimed = store
        .claim_due_mail(claim("2030-01-01T09:45:01Z", 10, "w"))
        .await
        .unwrap();
    let mut addresses: Vec<&str> = claimed
        .iter()
        .flat_map(|mail| mail.recipients.iter().map(|r| r.address.as_str()))
        .collect();
    addresses.sort();
    assert_eq!(
        addresses,
        ["ann@alpha.test", "bob@beta.test", "cid@gamma.test"]
    );
}

async fn late_result_keeps_the_new_claim(store: Arc<dyn Store>) {
    let message = outgoing("2030-01-01T09:00:00Z", &[("ann@alpha.test", None)]);
    store
        .enqueue_mail(std::slice::from_ref(&message))
        .await
        .unwrap();
    let first = store
        .claim_due_mail(claim("2030-01-01T09:00:00Z", 10, "w1"))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // The first lease has run out, and a second worker takes the recipient.
    let second = store
        .claim_due_mail(claim("2030-01-01T10:00:00Z", 10, "w2"))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);

    // The first worker's late temporary failure must not release the claim
    // the second worker is sending under.
    let late = mail_record(
        "w1",
        message.id,
        0,
        DeliveryOutcome::TemporaryFailure,
        "2030-01-01T10:00:01Z",
        Some("2030-01-01T10:00:01Z"),
    );
    assert_eq!(store.record_mail_attempts(&[late]).await.unwrap(), [false]);
    assert!(
        store
            .claim_due_mail(claim("2030-01-01T10:00:02Z", 10, "w3"))
            .await
            .unwrap()
            .is_empty(),
        "no third claim while the second worker sends"
    );

    // The second worker's own result is applied.
    let own = mail_record(
        "w2",
        message.id,
        0,
        DeliveryOutcome::Delivered,
        "2030-01-01T10:00:03Z",
        None,
    );
    assert_eq!(store.record_mail_attempts(&[own]).await.unwrap(), [true]);
}

async fn queue_counts_follow_deliveries_and_mail(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@beta.test").await;
    let event = event(ann, &[bob], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let deliveries = plan(&event, &[ann, bob], "2030-01-01T09:45:00Z");
    store.book_event(&event, &deliveries).await.unwrap();

    let before_due = store
        .queue_counts(at("2030-01-01T09:44:59Z"))
        .await
        .unwrap();
    assert_eq!(before_due, QueueCounts::default());
    let due = store
        .queue_counts(at("2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    assert_eq!(due.reminders_due, 2);

    // A claimed delivery is still due until it is queued or settled.
    let claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 1, "w"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let after_claim = store
        .queue_counts(at("2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    assert_eq!(after_claim.reminders_due, 2);

    // Queuing one delivery moves it from the reminders to the mail queue.
    let message = outgoing(
        "2030-01-01T09:45:01Z",
        &[
            ("ann@alpha.test", Some(claimed[0].id)),
            ("cid@gamma.test", None),
        ],
    );
    store
        .enqueue_mail(std::slice::from_ref(&message))
        .await
        .unwrap();
    let queued = store
        .queue_counts(at("2030-01-01T09:45:01Z"))
        .await
        .unwrap();
    assert_eq!(
        queued,
        QueueCounts {
            reminders_due: 1,
            mail_queued: 2,
            mail_sending: 0,
        }
    );

    // A live lease counts a recipient as sending, and once it expires, as queued again.
    let sending = store
        .claim_due_mail(claim("2030-01-01T09:45:02Z", 1, "m"))
        .await
        .unwrap();
    assert_eq!(sending.len(), 1);
    let position = sending[0].recipients[0].position;
    let during_lease = store
        .queue_counts(at("2030-01-01T09:45:02Z"))
        .await
        .unwrap();
    assert_eq!(
        (during_lease.mail_queued, during_lease.mail_sending),
        (1, 1)
    );
    let after_lease = store
        .queue_counts(at("2030-01-01T09:46:02Z"))
        .await
        .unwrap();
    assert_eq!((after_lease.mail_queued, after_lease.mail_sending), (2, 0));

    // A settled recipient leaves the queue.
    let applied = store
        .record_mail_attempts(&[mail_record(
            "m",
            message.id,
            position,
            DeliveryOutcome::Delivered,
            "2030-01-01T09:45:03Z",
            None,
        )])
        .await
        .unwrap();
    assert_eq!(applied, vec![true]);
    let settled = store
        .queue_counts(at("2030-01-01T09:45:03Z"))
        .await
        .unwrap();
    assert_eq!((settled.mail_queued, settled.mail_sending), (1, 0));
}

async fn reminder_preferences_round_trip(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let mut stored = store.user(ann).await.unwrap().unwrap();
    assert_eq!(stored.phone, None);
    assert_eq!(stored.reminders, ReminderPreferences::default());

    let read = stored.clone();
    stored.phone = Some(PhoneNumber::parse("phone", "+4915112345678").unwrap());
    stored.reminders = ReminderPreferences::new(
        vec![
            ReminderOffset::parse("before", "P1D").unwrap(),
            ReminderOffset::parse("before", "PT10M").unwrap(),
        ],
        vec![ChannelKind::Sms, ChannelKind::Push, ChannelKind::Webhook],
    )
    .unwrap();
    assert!(store.update_user(&stored, &read).await.unwrap());
    assert_eq!(store.user(ann).await.unwrap(), Some(stored.clone()));
    assert_eq!(store.users(&[ann]).await.unwrap(), vec![stored.clone()]);

    let read = stored.clone();
    stored.phone = None;
    stored.reminders = ReminderPreferences::default();
    assert!(store.update_user(&stored, &read).await.unwrap());
    assert_eq!(store.user(ann).await.unwrap(), Some(stored));
}

async fn one_delivery_per_channel(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let event = event(ann, &[], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let mut planned = Vec::new();
    for channel in [ChannelKind::Email, ChannelKind::Sms, ChannelKind::Push] {
        let mut delivery = plan(&event, &[ann], "2030-01-01T09:45:00Z").remove(0);
        delivery.channel = channel;
        planned.push(delivery);
    }
    // The same person, offset and channel again is one delivery, not two.
    let mut repeated = plan(&event, &[ann], "2030-01-01T09:45:00Z").remove(0);
    repeated.channel = ChannelKind::Sms;
    planned.push(repeated);
    store.book_event(&event, &planned).await.unwrap();

    let mut claimed = store
        .claim_due_deliveries(claim("2030-01-01T09:45:00Z", 10, "w1"))
        .await
        .unwrap();
    claimed.sort_by_key(|delivery| delivery.channel);
    let channels: Vec<ChannelKind> = claimed.iter().map(|delivery| delivery.channel).collect();
    assert_eq!(
        channels,
        [ChannelKind::Email, ChannelKind::Sms, ChannelKind::Push]
    );
    let listed = store
        .deliveries(event.id, at("2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    let mut listed: Vec<ChannelKind> = listed.iter().map(|delivery| delivery.channel).collect();
    listed.sort();
    assert_eq!(listed, channels);
}

async fn push_subscriptions_replace_by_endpoint(store: Arc<dyn Store>) {
    let ann = user(&*store, "ann@alpha.test").await;
    let bob = user(&*store, "bob@alpha.test").await;
    let subscription = |user, endpoint: &str, auth: &str| {
        PushSubscription {
        id: PushSubscriptionId::generate(),
        user,
        endpoint: endpoint.to_owned(),
        p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM".to_owned(),
        auth: auth.to_owned(),
        created_at: at("2030-01-01T08:00:00Z"),
    }
    };
    let first = store
        .add_push_subscription(&subscription(ann, "https://push.alpha.test/1", "a1"), 2)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .add_push_subscription(&subscription(ann, "https://push.alpha.test/2", "a2"), 2)
        .await
        .unwrap()
        .unwrap();
    // A third browser is over the limit of two.
    let rejected = store
        .add_push_subscription(&subscription(ann, "https://push.alpha.test/3", "a4"), 2)
        .await
        .unwrap();
    assert_eq!(rejected, None);
    // The browser registers its endpoint again with new keys: same subscription, even at
    // the limit.
    let renewed = store
        .add_push_subscription(&subscription(ann, "https://push.alpha.test/1", "a3"), 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((renewed.id, renewed.auth.as_str()), (first.id, "a3"));
    // Another person's subscription to the same endpoint is theirs alone.
    store
        .add_push_subscription(&subscription(bob, "https://push.alpha.test/1", "b1"), 2)
        .await
        .unwrap()
        .unwrap();

    let listed = store.push_subscriptions(ann).await.unwrap();
    assert_eq!(listed, vec![renewed.clone(), second.clone()]);
    assert!(!store.remove_push_subscription(bob, first.id).await.unwrap());
    assert!(store.remove_push_subscription(ann, first.id).await.unwrap());
    assert!(!store.remove_push_subscription(ann, first.id).await.unwrap());
    assert_eq!(store.push_subscriptions(ann).await.unwrap(), vec![second]);
    assert_eq!(store.push_subscriptions(bob).await.unwrap().len(), 1);

    let nobody = store
        .add_push_subscription(
            &subscription(UserId::generate(), "https://push.alpha.test/9", "x"),
            2,
        )
        .await;
    assert!(
        matches!(nobody, Err(StoreError::NotFound { .. })),
        "{nobody:?}"
    );
}

macro_rules! contract {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let test = concat!(stringify!($backend), "::", stringify!($case));
                    let Some(subject) = super::$backend(test).await else {
                        return;
                    };
                    super::$case(subject.store.clone()).await;
                }
            )*
        }
    };
}

macro_rules! contract_for_all {
    ($($case:ident),* $(,)?) => {
        contract!(memory: $($case),*);
        contract!(sqlite: $($case),*);
        contract!(postgres: $($case),*);
    };
}

contract_for_all!(
    user_round_trip,
    reminder_preferences_round_trip,
    one_delivery_per_channel,
    push_subscriptions_replace_by_endpoint,
    users_by_email_ignores_case,
    user_update_replaces_settings,
    duplicate_email_rejected,
    event_round_trip,
    events_read_together,
    overlap_rejected_without_writes,
    back_to_back_accepted,
    unknown_attendee_rejected,
    busy_lists_overlapping_sorted,
    add_participant_checks_conflicts,
    remove_participant_drops_pending,
    update_event_moves_busy_time_and_replans,
    recurring_events_conflict_by_occurrence,
    imported_events_are_busy_and_replaced_by_uid,
    feeds_resolve_until_revoked_and_list_events,
    api_tokens_resolve_until_revoked,
    users_and_events_listed_by_page,
    cancel_event_frees_time_and_drops_waiting_reminders,
    declined_event_is_not_busy,
    decline_drops_reminders_until_accepted,
    claim_is_exclusive_until_lease_expires,
    attempts_settle_or_retry,
    batch_records_apply_independently,
    concurrent_bookings_never_double_book,
    queued_delivery_is_handed_over_once,
    mail_recipients_claimed_and_retried_alone,
    mail_failure_reaches_delivery_and_organizer,
    repeated_recipient_queued_once,
    late_result_keeps_the_new_claim,
    queue_counts_follow_deliveries_and_mail,
);

#[tokio::test]
async fn sqlite_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("convene.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let ann = user(&store, "ann@alpha.test").await;
    let event = event(ann, &[], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    store
        .book_event(&event, &plan(&event, &[ann], "2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    drop(store);

    let reopened = SqliteStore::open(&url).await.unwrap();
    assert_eq!(reopened.event(event.id).await.unwrap(), Some(event.clone()));
    assert_eq!(
        reopened
            .deliveries(event.id, at("2030-01-01T09:00:00Z"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sqlite_rejects_url_without_file() {
    for url in ["sqlite:", "sqlite://", "sqlite::memory:"] {
        let err = convene_store::open(url).await.err().expect(url);
        assert!(
            matches!(err, StoreError::UnsupportedUrl { .. }),
            "{url}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opened_twice_at_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("convene.db").display());
        let (first, second) = tokio::join!(SqliteStore::open(&url), SqliteStore::open(&url));
        let first = first.unwrap();
        let second = second.unwrap();
        let ann = user(&first, "ann@alpha.test").await;
        assert!(second.user(ann).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn sqlite_close_leaves_data_in_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convene.db");
    let store = SqliteStore::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let ann = user(&store, "ann@alpha.test").await;
    store.close().await;

    // A copy of the main file alone, without its -wal and -shm files.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let reopened = SqliteStore::open(&format!("sqlite:{}", copy.display()))
        .await
        .unwrap();
    assert!(reopened.user(ann).await.unwrap().is_some());
}

/// Opens `count` stores on one new database, each with a pool of its own as separate
/// processes would have, all at once. Returns `None` when no PostgreSQL server is
/// configured and the test is skipped.
async fn postgres_stores(test: &str, count: usize) -> Option<(TestDatabase, Vec<Arc<dyn Store>>)> {
    let database = TestDatabase::create(test).await?;
    let opens: Vec<_> = (0..count)
        .map(|_| {
            let url = database.url().to_owned();
            tokio::spawn(async move { PostgresStore::open(&url).await })
        })
        .collect();
    let mut stores = Vec::with_capacity(count);
    for open in opens {
        let store: Arc<dyn Store> = Arc::new(open.await.unwrap().unwrap());
        stores.push(store);
    }
    Some((database, stores))
}

/// Books an event for `attendees` new users, the organizer included, with one delivery per
/// attendee due at `due`.
async fn book_crowded_event(
    store: &dyn Store,
    attendees: usize,
    due: &str,
) -> (Event, Vec<Delivery>) {
    let mut users = Vec::with_capacity(attendees);
    for n in 0..attendees {
        users.push(user(store, &format!("user{n}@alpha.test")).await);
    }
    let event = event(
        users[0],
        &users[1..],
        "2030-01-01T10:00:00Z",
        "2030-01-01T11:00:00Z",
    );
    let deliveries = plan(&event, &users, due);
    store.book_event(&event, &deliveries).await.unwrap();
    (event, deliveries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_opened_several_times_at_once() {
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    for _ in 0..3 {
        let Some((database, stores)) =
            postgres_stores("postgres_opened_several_times_at_once", 4).await
        else {
            return;
        };
        let ann = user(&*stores[0], "ann@alpha.test").await;
        for store in &stores[1..] {
            assert!(store.user(ann).await.unwrap().is_some());
        }

        let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut connection)
                .await
                .unwrap();
        assert_eq!(applied, migrations as i64);
    }
}

#[tokio::test]
async fn postgres_open_accepts_both_schemes() {
    let Some(database) = TestDatabase::create("postgres_open_accepts_both_schemes").await else {
        return;
    };
    let url = database.url();
    assert!(url.starts_with("postgres://"), "{url}");
    let long = url.replacen("postgres://", "postgresql://", 1);

    let store = convene_store::open(url).await.unwrap();
    let ann = user(&*store, "ann@alpha.test").await;
    let reopened = convene_store::open(&long).await.unwrap();
    assert!(reopened.user(ann).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_claims_exclusive_across_pools() {
    const DUE: usize = 1_000;
    const NOW: &str = "2030-01-01T09:45:00Z";
    let Some((database, stores)) =
        postgres_stores("postgres_claims_exclusive_across_pools", 2).await
    else {
        return;
    };

    // 1,000 due deliveries, one per attendee of one event, and 1,000 due mail recipients.
    book_crowded_event(&*stores[0], DUE, NOW).await;
    let addresses: Vec<String> = (0..DUE).map(|n| format!("user{n}@beta.test")).collect();
    let messages: Vec<OutgoingMessage> = addresses
        .iter()
        .map(|address| outgoing(NOW, &[(address.as_str(), None)]))
        .collect();
    stores[0].enqueue_mail(&messages).await.unwrap();

    // Four claimers per store take small batches until they find nothing left.
    let mut claimers = Vec::new();
    for (index, store) in stores.iter().enumerate() {
        for claimer in 0..4 {
            let store = store.clone();
            let owner = format!("store{index}-claimer{claimer}");
            claimers.push(tokio::spawn(async move {
                let request = || ClaimRequest {
                    now: at(NOW),
                    limit: 7,
                    lease: Duration::from_secs(600),
                    owner: &owner,
                };
                let mut deliveries = Vec::new();
                let mut recipients = Vec::new();
                loop {
                    let due = store.claim_due_deliveries(request()).await.unwrap();
                    let mail = store.claim_due_mail(request()).await.unwrap();
                    if due.is_empty() && mail.is_empty() {
                        break;
                    }
                    deliveries.extend(due.iter().map(|delivery| delivery.id.to_string()));
                    for message in &mail {
                        recipients.extend(
                            message
                                .recipients
                                .iter()
                                .map(|recipient| (message.message.to_string(), recipient.position)),
                        );
                    }
                }
                (owner.clone(), deliveries, recipients)
            }));
        }
    }

    let mut delivery_owners = std::collections::HashMap::new();
    let mut recipient_owners = std::collections::HashMap::new();
    for claimer in claimers {
        let (owner, deliveries, recipients) = claimer.await.unwrap();
        for delivery in deliveries {
            if let Some(other) = delivery_owners.insert(delivery.clone(), owner.clone()) {
                panic!("delivery {delivery} was claimed by {other} and {owner}");
            }
        }
        for recipient in recipients {
            if let Some(other) = recipient_owners.insert(recipient.clone(), owner.clone()) {
                panic!("recipient {recipient:?} was claimed by {other} and {owner}");
            }
        }
    }
    assert_eq!(delivery_owners.len(), DUE);
    assert_eq!(recipient_owners.len(), DUE);

    // Each stored lease names the claimer that received the row, so no claim replaced
    // another's lease.
    let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let leases: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id::text, lease_owner FROM deliveries")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    assert_eq!(leases.len(), DUE);
    for (id, owner) in leases {
        assert_eq!(owner.as_ref(), delivery_owners.get(&id), "delivery {id}");
    }
    let leases: Vec<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT message_id::text, position, lease_owner FROM mail_recipients")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    assert_eq!(leases.len(), DUE);
    for (message, position, owner) in leases {
        let recipient = (message, u32::try_from(position).unwrap());
        assert_eq!(
            owner.as_ref(),
            recipient_owners.get(&recipient),
            "recipient {recipient:?}"
        );
    }
}

/// Runs `first` and `second` at the same time on separate tasks and returns both results.
async fn at_once<T: Send + 'static>(
    first: impl std::future::Future<Output = T> + Send + 'static,
    second: impl std::future::Future<Output = T> + Send + 'static,
) -> (T, T) {
    let first = tokio::spawn(first);
    let second = tokio::spawn(second);
    (first.await.unwrap(), second.await.unwrap())
}

/// Checks that exactly one of two results is `Ok` and the other is [`StoreError::Busy`].
fn assert_one_booked(round: u32, results: [&Result<(), StoreError>; 2]) {
    let booked = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(booked, 1, "round {round}: {results:?}");
    for result in results {
        assert!(
            // A move that comes second finds the event changed, or the time taken.
            matches!(
                result,
                Ok(()) | Err(StoreError::Busy(_)) | Err(StoreError::Stale { .. })
            ),
            "round {round}: {result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bookings_across_pools_exclusive() {
    let Some((_database, stores)) =
        postgres_stores("postgres_bookings_across_pools_exclusive", 2).await
    else {
        return;
    };
    let ann = user(&*stores[0], "ann@alpha.test").await;
    let bob = user(&*stores[0], "bob@beta.test").await;

    // Each round books two overlapping events for both people, on a day of its own. The
    // two events list the people in opposite orders, so bookings that locked people in the
    // order given would deadlock until PostgreSQL aborted one of them.
    for round in 1..=20 {
        let day = format!("2030-01-{round:02}");
        let first = event(
            ann,
            &[bob],
            &format!("{day}T10:00:00Z"),
            &format!("{day}T11:00:00Z"),
        );
        let second = event(
            bob,
            &[ann],
            &format!("{day}T10:30:00Z"),
            &format!("{day}T11:30:00Z"),
        );
        let (store_a, store_b) = (stores[0].clone(), stores[1].clone());
        let (a, b) = at_once(
            async move { store_a.book_event(&first, &[]).await },
            async move { store_b.book_event(&second, &[]).await },
        )
        .await;
        assert_one_booked(round, [&a, &b]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adding_while_moving_checks_both() {
    let Some((_database, stores)) =
        postgres_stores("postgres_adding_while_moving_checks_both", 2).await
    else {
        return;
    };
    let ann = user(&*stores[0], "ann@alpha.test").await;
    let bob = user(&*stores[0], "bob@beta.test").await;

    // Ann is busy from 10:00 to 11:00. One store adds her to Bob's meeting at 12:00 while
    // the other moves that meeting to 10:30. Either change alone is fine, but whichever
    // comes second must see the first and fail.
    for round in 1..=20 {
        let day = format!("2030-02-{round:02}");
        let busy = event(
            ann,
            &[],
            &format!("{day}T10:00:00Z"),
            &format!("{day}T11:00:00Z"),
        );
        stores[0].book_event(&busy, &[]).await.unwrap();
        let meeting = event(
            bob,
            &[],
            &format!("{day}T12:00:00Z"),
            &format!("{day}T13:00:00Z"),
        );
        stores[0].book_event(&meeting, &[]).await.unwrap();
        let mut moved = meeting.clone();
        moved.interval = interval(&format!("{day}T10:30:00Z"), &format!("{day}T11:30:00Z"));
        moved.sequence += 1;
        let expected = meeting.clone();

        let (store_a, store_b) = (stores[0].clone(), stores[1].clone());
        let (added, updated) = at_once(
            async move { store_a.add_participant(meeting.id, ann, &[]).await },
            async move {
                store_b
                    .update_event(&moved, &expected, None, at("2030-01-01T00:00:00Z"))
                    .await
            },
        )
        .await;
        assert_one_booked(round, [&added, &updated]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_enqueue_across_pools_queues_once() {
    let Some((_database, stores)) =
        postgres_stores("postgres_enqueue_across_pools_queues_once", 2).await
    else {
        return;
    };
    let ann = user(&*stores[0], "ann@alpha.test").await;

    for round in 1..=20u32 {
        let day = format!("2030-03-{round:02}");
        let event = event(
            ann,
            &[],
            &format!("{day}T10:00:00Z"),
            &format!("{day}T11:00:00Z"),
        );
        let due = format!("{day}T09:45:00Z");
        let deliveries = plan(&event, &[ann], &due);
        stores[0].book_event(&event, &deliveries).await.unwrap();

        let delivery = Some(deliveries[0].id);
        let first = outgoing(&due, &[("ann@alpha.test", delivery)]);
        let second = outgoing(&due, &[("ann@alpha.test", delivery)]);
        let (first_id, second_id) = (first.id, second.id);
        let (store_a, store_b) = (stores[0].clone(), stores[1].clone());
        let (a, b) = at_once(
            async move { store_a.enqueue_mail(&[first]).await },
            async move { store_b.enqueue_mail(&[second]).await },
        )
        .await;
        let (a, b) = (a.unwrap(), b.unwrap());
        let winner = match (a[0][0], b[0][0]) {
            (true, false) => first_id,
            (false, true) => second_id,
            other => panic!("round {round}: queued {other:?}, expected exactly one"),
        };

        let stored = stores[1].deliveries(event.id, at(&due)).await.unwrap();
        assert_eq!(stored[0].state, DeliveryState::Queued, "round {round}");
        assert_eq!(stored[0].message_id, Some(winner), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_opposite_batches_both_recorded() {
    const DUE: usize = 200;
    const NOW: &str = "2030-01-01T09:45:00Z";
    let Some((_database, stores)) =
        postgres_stores("postgres_opposite_batches_both_recorded", 2).await
    else {
        return;
    };
    let (event, deliveries) = book_crowded_event(&*stores[0], DUE, NOW).await;

    // Two batches record temporary failures on the same deliveries in opposite orders. Were
    // they written in the order given, each could lock a delivery that the other needs
    // next, and PostgreSQL would abort one again and again while the other finished.
    for round in 0..5 {
        let retry_at = Some(at(NOW));
        let records: Vec<AttemptRecord> = deliveries
            .iter()
            .map(|delivery| AttemptRecord {
                delivery: delivery.id,
                attempt: attempt(DeliveryOutcome::TemporaryFailure, NOW),
                retry_at,
            })
            .collect();
        let reversed: Vec<AttemptRecord> = records.iter().rev().cloned().collect();
        let (store_a, store_b) = (stores[0].clone(), stores[1].clone());
        let (a, b) = at_once(
            async move { store_a.record_attempts(&records).await },
            async move { store_b.record_attempts(&reversed).await },
        )
        .await;
        assert_eq!(a.unwrap(), vec![true; DUE], "round {round}");
        assert_eq!(b.unwrap(), vec![true; DUE], "round {round}");
    }

    let stored = stores[0].deliveries(event.id, at(NOW)).await.unwrap();
    assert!(
        stored.iter().all(|delivery| delivery.attempts == 10),
        "{:?}",
        stored
            .iter()
            .map(|delivery| delivery.attempts)
            .collect::<Vec<_>>()
    );
}
