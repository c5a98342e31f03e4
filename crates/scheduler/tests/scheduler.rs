//! The Scheduler over a real SQLite store.

use convene_domain::{
    AddParticipant, CreateEvent, DeliveryState, Interval, NewUser, ReminderOffset, UserId,
};
use convene_scheduler::{Scheduler, SchedulerError};
use jiff::Timestamp;

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
        start: at(start),
        end: at(end),
        time_zone: None,
        organizer,
        participants,
        reminders: vec![
            ReminderOffset::parse("before", "PT15M").unwrap(),
            ReminderOffset::parse("before", "PT1H").unwrap(),
        ],
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
    let SchedulerError::Busy(conflicts) = err else {
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
