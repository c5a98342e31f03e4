//! The Notifier over a real SQLite store, with a scripted channel that
//! injects the delivery outcomes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use convene_channel::{Channel, FailureNotice, NoticeError, Recipient, Reminder, Reporter};
use convene_domain::{
    ChannelKind, CreateEvent, DeliveryAttempt, DeliveryOutcome, DeliveryState, NewUser,
    ReminderOffset, TimeOrDate, User, UserId,
};
use convene_notifier::{Notifier, NotifierConfig};
use convene_scheduler::Scheduler;
use jiff::Timestamp;

/// Records every send and reports the queued outcomes, then `Delivered`.
#[derive(Default)]
struct ScriptedChannel {
    outcomes: Mutex<VecDeque<DeliveryOutcome>>,
    /// The wait reported with each temporary failure, like an HTTP peer's `Retry-After`.
    retry_after: Mutex<Option<Duration>>,
    sent: Mutex<Vec<(String, String)>>,
    notices: Mutex<Vec<FailureNotice>>,
}

fn scripted_attempt(outcome: DeliveryOutcome) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome,
        destination: Some("mx.test".to_owned()),
        tls: false,
        tls_version: None,
        tls_cipher: None,
        reply_code: Some(if outcome == DeliveryOutcome::Delivered {
            250
        } else {
            451
        }),
        reply_text: "scripted".to_owned(),
    }
}

#[async_trait]
impl Channel for ScriptedChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        for (i, recipient) in recipients.iter().enumerate() {
            self.sent.lock().unwrap().push((
                reminder.event.title.clone(),
                recipient.user.email.to_string(),
            ));
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(DeliveryOutcome::Delivered);
            let retry_after = match outcome {
                DeliveryOutcome::TemporaryFailure => *self.retry_after.lock().unwrap(),
                _ => None,
            };
            reporter.attempt_after(i, scripted_attempt(outcome), retry_after);
        }
    }

    async fn send_failure_notice(&self, notice: &FailureNotice) -> Result<bool, NoticeError> {
        self.notices.lock().unwrap().push(notice.clone());
        Ok(true)
    }
}

struct Fixture {
    scheduler: Scheduler,
    store: Arc<dyn convene_store::Store>,
    channel: Arc<ScriptedChannel>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("convene.db").display());
    let store = convene_store::open(&url).await.unwrap();
    Fixture {
        scheduler: Scheduler::new(store.clone()),
        store,
        channel: Arc::new(ScriptedChannel::default()),
        _dir: dir,
    }
}

fn notifier(f: &Fixture, worker: &str) -> Notifier {
    let config = NotifierConfig {
        poll_interval: Duration::from_millis(50),
        batch_size: 10,
        lease: Duration::from_secs(60),
        retry_initial: Duration::from_secs(60),
        retry_max: Duration::from_secs(600),
        worker_id: worker.to_owned(),
    };
    Notifier::new(f.store.clone(), f.channel.clone(), config)
}

async fn user(scheduler: &Scheduler, email: &str) -> UserId {
    scheduler
        .create_user(NewUser::new(email, email, None).unwrap())
        .await
        .unwrap()
        .id
}

/// Books an event starting an hour after `now` with one PT15M reminder for
/// three attendees.
async fn book(f: &Fixture, now: Timestamp, end: &str) -> (convene_domain::EventId, Vec<UserId>) {
    let ann = user(&f.scheduler, "ann@alpha.test").await;
    let bob = user(&f.scheduler, "bob@beta.test").await;
    let cid = user(&f.scheduler, "cid@gamma.test").await;
    let event = f
        .scheduler
        .create_event(
            CreateEvent {
                title: "Planning".to_owned(),
                description: None,
                location: None,
                start: TimeOrDate::Time("2030-01-01T10:00:00Z".parse().unwrap()),
                end: TimeOrDate::Time(end.parse().unwrap()),
                time_zone: None,
                organizer: Some(ann.into()),
                participants: vec![bob.into(), cid.into()],
                reminders: vec![ReminderOffset::parse("before", "PT15M").unwrap()],
                recurrence: None,
            },
            now,
        )
        .await
        .unwrap();
    (event.id, vec![ann, bob, cid])
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Returns the deliveries of `event`, checking that all of them are delivered.
async fn delivered(f: &Fixture, event: convene_domain::EventId) -> Vec<convene_domain::Delivery> {
    let deliveries = f
        .scheduler
        .deliveries(event, at("2030-01-01T09:50:00Z"))
        .await
        .unwrap();
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered),
        "{deliveries:?}"
    );
    deliveries
}

/// Books the event of [`book`], makes the first of its three sends fail temporarily with
/// `retry_after` as the wait the peer asked for, and runs one poll when the reminders are
/// due.
async fn fail_first_send(
    retry_after: Option<Duration>,
) -> (Fixture, convene_domain::EventId, Notifier) {
    let f = fixture().await;
    let (event, _) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    f.channel
        .outcomes
        .lock()
        .unwrap()
        .push_back(DeliveryOutcome::TemporaryFailure);
    *f.channel.retry_after.lock().unwrap() = retry_after;
    let notifier = notifier(&f, "w1");
    assert_eq!(
        notifier.run_once(at("2030-01-01T09:45:00Z")).await.unwrap(),
        3
    );
    (f, event, notifier)
}

#[tokio::test]
async fn due_reminders_sent_once() {
    let f = fixture().await;
    let (event, _) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    let notifier = notifier(&f, "w1");

    assert_eq!(
        notifier.run_once(at("2030-01-01T09:44:59Z")).await.unwrap(),
        0
    );
    assert_eq!(
        notifier.run_once(at("2030-01-01T09:45:00Z")).await.unwrap(),
        3
    );
    assert_eq!(
        notifier.run_once(at("2030-01-01T09:50:00Z")).await.unwrap(),
        0
    );

    let mut sent: Vec<String> = f
        .channel
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, to)| to.clone())
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        vec!["ann@alpha.test", "bob@beta.test", "cid@gamma.test"]
    );
    let deliveries = delivered(&f, event).await;
    assert!(
        deliveries
            .iter()
            .all(|d| d.last_attempt.as_ref().unwrap().reply_code == Some(250))
    );
}

#[tokio::test]
async fn temporary_failure_retried_after_backoff() {
    let (f, event, notifier) = fail_first_send(None).await;
    let deliveries = f
        .scheduler
        .deliveries(event, Timestamp::now())
        .await
        .unwrap();
    let pending: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .collect();
    assert_eq!(pending.len(), 1, "{deliveries:?}");
    assert_eq!(pending[0].attempts, 1);

    // The retry is due within the first backoff (60 s minus jitter), which
    // is measured from the real time of the failed attempt.
    let later = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(61))
        .unwrap();
    assert_eq!(notifier.run_once(later).await.unwrap(), 1);
    let deliveries = f.scheduler.deliveries(event, later).await.unwrap();
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered),
        "{deliveries:?}"
    );
    assert_eq!(f.channel.sent.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn retry_waits_for_requested_delay() {
    let (f, event, notifier) = fail_first_send(Some(Duration::from_secs(2 * 60 * 60))).await;

    // The backoff alone would retry within 60 s, and even its maximum is 10 minutes.
    let after_backoff = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_mins(11))
        .unwrap();
    assert_eq!(notifier.run_once(after_backoff).await.unwrap(), 0);
    let deliveries = f.scheduler.deliveries(event, after_backoff).await.unwrap();
    let pending: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .collect();
    assert_eq!(pending.len(), 1, "{deliveries:?}");

    let after_wait = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(2 * 60 * 60 + 1))
        .unwrap();
    assert_eq!(notifier.run_once(after_wait).await.unwrap(), 1);
    assert_eq!(f.channel.sent.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn endless_requested_delay_fails_for_good() {
    // Retry-After: 18446744073709551615, a wait past any timestamp.
    let (f, event, _notifier) = fail_first_send(Some(Duration::from_secs(u64::MAX))).await;

    let deliveries = f
        .scheduler
        .deliveries(event, Timestamp::now())
        .await
        .unwrap();
    let failed: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{deliveries:?}");
    let reason = &failed[0].last_attempt.as_ref().unwrap().reply_text;
    assert!(reason.contains("the event will have ended"), "{reason}");
}

#[tokio::test]
async fn temporary_failure_not_retried_past_event_end() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test").await;
    // Attempts are stamped with the real clock, so the event is placed
    // relative to it: it ends 20 seconds from now, well before the first
    // retry (at least 48 seconds away) could happen.
    let now = Timestamp::now();
    let seconds = |s: i64| now.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
    let event = f
        .scheduler
        .create_event(
            CreateEvent {
                title: "Stand-up".to_owned(),
                description: None,
                location: None,
                start: TimeOrDate::Time(seconds(10)),
                end: TimeOrDate::Time(seconds(20)),
                time_zone: None,
                organizer: Some(ann.into()),
                participants: vec![],
                reminders: vec![ReminderOffset::parse("before", "PT15M").unwrap()],
                recurrence: None,
            },
            now,
        )
        .await
        .unwrap();
    f.channel
        .outcomes
        .lock()
        .unwrap()
        .push_back(DeliveryOutcome::TemporaryFailure);

    assert_eq!(notifier(&f, "w1").run_once(now).await.unwrap(), 1);
    let deliveries = f.scheduler.deliveries(event.id, now).await.unwrap();
    assert_eq!(deliveries[0].state, DeliveryState::Failed);
    let attempt = deliveries[0].last_attempt.as_ref().unwrap();
    assert_eq!(attempt.outcome, DeliveryOutcome::PermanentFailure);
    assert!(
        attempt.reply_text.contains("not retried"),
        "{}",
        attempt.reply_text
    );
}

#[tokio::test]
async fn removed_participant_not_reminded() {
    let f = fixture().await;
    let (event, users) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    f.scheduler
        .remove_participant(event, users[1])
        .await
        .unwrap();
    notifier(&f, "w1")
        .run_once(at("2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    let sent: Vec<String> = f
        .channel
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, to)| to.clone())
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(!sent.contains(&"bob@beta.test".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_send_twice() {
    let f = fixture().await;
    for i in 0..5 {
        let organizer = user(&f.scheduler, &format!("org{i}@alpha.test")).await;
        f.scheduler
            .create_event(
                CreateEvent {
                    title: format!("Meeting {i}"),
                    description: None,
                    location: None,
                    start: TimeOrDate::Time("2030-01-01T10:00:00Z".parse().unwrap()),
                    end: TimeOrDate::Time("2030-01-01T11:00:00Z".parse().unwrap()),
                    time_zone: None,
                    organizer: Some(organizer.into()),
                    participants: vec![],
                    reminders: vec![
                        ReminderOffset::parse("before", "PT15M").unwrap(),
                        ReminderOffset::parse("before", "PT10M").unwrap(),
                    ],
                    recurrence: None,
                },
                at("2030-01-01T09:00:00Z"),
            )
            .await
            .unwrap();
    }

    let first = notifier(&f, "w1");
    let second = notifier(&f, "w2");
    let now = at("2030-01-01T09:55:00Z");
    let (a, b) = tokio::join!(first.run_once(now), second.run_once(now));
    let claimed = a.unwrap() + b.unwrap();
    let (c, d) = tokio::join!(first.run_once(now), second.run_once(now));
    let claimed = claimed + c.unwrap() + d.unwrap();

    assert_eq!(claimed, 10);
    assert_eq!(f.channel.sent.lock().unwrap().len(), 10);
}

/// Reports the first recipient at once, then waits for `release` before
/// reporting the others, or forever when `release` is never notified.
struct StallingChannel {
    release: tokio::sync::Notify,
}

#[async_trait]
impl Channel for StallingChannel {
    async fn send(&self, _reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        reporter.attempt(0, scripted_attempt(DeliveryOutcome::Delivered));
        self.release.notified().await;
        for i in 1..recipients.len() {
            reporter.attempt(i, scripted_attempt(DeliveryOutcome::Delivered));
        }
    }

    async fn send_failure_notice(&self, _notice: &FailureNotice) -> Result<bool, NoticeError> {
        Ok(false)
    }
}

fn stalling_notifier(f: &Fixture, channel: Arc<StallingChannel>, lease: Duration) -> Notifier {
    let config = NotifierConfig {
        poll_interval: Duration::from_millis(50),
        batch_size: 10,
        lease,
        retry_initial: Duration::from_secs(60),
        retry_max: Duration::from_secs(600),
        worker_id: "stalling".to_owned(),
    };
    Notifier::new(f.store.clone(), channel, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_result_recorded_while_others_wait() {
    let f = fixture().await;
    let (event, users) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    let channel = Arc::new(StallingChannel {
        release: tokio::sync::Notify::new(),
    });
    let notifier = stalling_notifier(&f, channel.clone(), Duration::from_secs(600));
    let poll = tokio::spawn(async move { notifier.run_once(at("2030-01-01T09:45:00Z")).await });

    // The first recipient's result is stored while the others are still
    // being sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let deliveries = f
            .scheduler
            .deliveries(event, at("2030-01-01T09:45:01Z"))
            .await
            .unwrap();
        let delivered = deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Delivered)
            .count();
        if delivered == 1 {
            assert_eq!(
                deliveries
                    .iter()
                    .filter(|d| d.state == DeliveryState::Sending)
                    .count(),
                2
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first result was never stored: {deliveries:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    channel.release.notify_one();
    assert_eq!(poll.await.unwrap().unwrap(), users.len());
    delivered(&f, event).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_cut_off_before_lease_expires() {
    let f = fixture().await;
    let (event, _) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    let channel = Arc::new(StallingChannel {
        release: tokio::sync::Notify::new(),
    });
    // A one-second lease leaves the send 750 ms; the channel never finishes.
    let notifier = stalling_notifier(&f, channel, Duration::from_secs(1));
    assert_eq!(
        notifier.run_once(at("2030-01-01T09:45:00Z")).await.unwrap(),
        3
    );

    let deliveries = f
        .scheduler
        .deliveries(event, at("2030-01-01T09:45:00Z"))
        .await
        .unwrap();
    let delivered = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Delivered)
        .count();
    assert_eq!(delivered, 1, "{deliveries:?}");
    let retried: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .collect();
    assert_eq!(retried.len(), 2, "{deliveries:?}");
    for delivery in retried {
        let attempt = delivery.last_attempt.as_ref().unwrap();
        assert_eq!(attempt.outcome, DeliveryOutcome::TemporaryFailure);
        assert!(
            attempt.reply_text.contains("send time limit"),
            "{}",
            attempt.reply_text
        );
    }
}

/// A SQLite store whose result writes take longer than the lease, as when
/// another process holds the database's write lock, and whose first reads of
/// several events may fail.
struct SlowRecordStore {
    inner: Arc<dyn convene_store::Store>,
    delay: Duration,
    /// How many more calls of `events` fail.
    failing_event_reads: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl convene_store::Store for SlowRecordStore {
    async fn insert_user(&self, user: &User) -> Result<(), convene_store::StoreError> {
        self.inner.insert_user(user).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>, convene_store::StoreError> {
        self.inner.user(id).await
    }
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, convene_store::StoreError> {
        self.inner.users(ids).await
    }
    async fn users_by_email(
        &self,
        addresses: &[convene_domain::EmailAddress],
    ) -> Result<Vec<User>, convene_store::StoreError> {
        self.inner.users_by_email(addresses).await
    }
    async fn update_user(
        &self,
        user: &User,
        expected: &User,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.update_user(user, expected).await
    }
    async fn update_event(
        &self,
        event: &convene_domain::Event,
        expected: &convene_domain::Event,
        deliveries: Option<&[convene_domain::Delivery]>,
        now: Timestamp,
    ) -> Result<(), convene_store::StoreError> {
        self.inner
            .update_event(event, expected, deliveries, now)
            .await
    }
    async fn import_events(
        &self,
        owner: UserId,
        events: &[convene_domain::Event],
    ) -> Result<(), convene_store::StoreError> {
        self.inner.import_events(owner, events).await
    }
    async fn set_answer(
        &self,
        event: convene_domain::EventId,
        user: UserId,
        answer: convene_domain::Answer,
        deliveries: &[convene_domain::Delivery],
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.set_answer(event, user, answer, deliveries).await
    }
    async fn answers(
        &self,
        event: convene_domain::EventId,
    ) -> Result<Vec<(UserId, convene_domain::Answer)>, convene_store::StoreError> {
        self.inner.answers(event).await
    }
    async fn remove_imported(&self, owner: UserId) -> Result<usize, convene_store::StoreError> {
        self.inner.remove_imported(owner).await
    }
    async fn user_events(
        &self,
        user: UserId,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<convene_domain::Event>, convene_store::StoreError> {
        self.inner.user_events(user, since, limit).await
    }
    async fn create_feed(
        &self,
        id: convene_domain::FeedId,
        user: UserId,
        token_hash: &str,
    ) -> Result<(), convene_store::StoreError> {
        self.inner.create_feed(id, user, token_hash).await
    }
    async fn feeds(
        &self,
        user: UserId,
        after: Option<convene_domain::FeedId>,
        limit: usize,
    ) -> Result<Vec<convene_domain::FeedId>, convene_store::StoreError> {
        self.inner.feeds(user, after, limit).await
    }
    async fn feed_owner(
        &self,
        token_hash: &str,
    ) -> Result<Option<UserId>, convene_store::StoreError> {
        self.inner.feed_owner(token_hash).await
    }
    async fn revoke_feed(
        &self,
        user: UserId,
        id: convene_domain::FeedId,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.revoke_feed(user, id).await
    }
    async fn add_push_subscription(
        &self,
        subscription: &convene_domain::PushSubscription,
        limit: usize,
    ) -> Result<Option<convene_domain::PushSubscription>, convene_store::StoreError> {
        self.inner.add_push_subscription(subscription, limit).await
    }
    async fn push_subscriptions(
        &self,
        user: UserId,
    ) -> Result<Vec<convene_domain::PushSubscription>, convene_store::StoreError> {
        self.inner.push_subscriptions(user).await
    }
    async fn remove_push_subscription(
        &self,
        user: UserId,
        id: convene_domain::PushSubscriptionId,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.remove_push_subscription(user, id).await
    }
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, convene_store::StoreError> {
        self.inner.list_users(after, limit).await
    }
    async fn attended_events(
        &self,
        user: UserId,
        after: Option<convene_domain::EventId>,
        limit: usize,
    ) -> Result<Vec<convene_domain::Event>, convene_store::StoreError> {
        self.inner.attended_events(user, after, limit).await
    }
    async fn create_api_token(
        &self,
        token: &convene_domain::ApiToken,
        token_hash: &str,
    ) -> Result<(), convene_store::StoreError> {
        self.inner.create_api_token(token, token_hash).await
    }
    async fn api_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<convene_domain::ApiToken>, convene_store::StoreError> {
        self.inner.api_token(token_hash).await
    }
    async fn api_tokens(
        &self,
        user: UserId,
        after: Option<convene_domain::TokenId>,
        limit: usize,
    ) -> Result<Vec<convene_domain::ApiToken>, convene_store::StoreError> {
        self.inner.api_tokens(user, after, limit).await
    }
    async fn revoke_api_token(
        &self,
        user: UserId,
        id: convene_domain::TokenId,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.revoke_api_token(user, id).await
    }
    async fn cancel_event(
        &self,
        id: convene_domain::EventId,
        now: Timestamp,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.cancel_event(id, now).await
    }
    async fn book_event(
        &self,
        event: &convene_domain::Event,
        deliveries: &[convene_domain::Delivery],
    ) -> Result<(), convene_store::StoreError> {
        self.inner.book_event(event, deliveries).await
    }
    async fn event(
        &self,
        id: convene_domain::EventId,
    ) -> Result<Option<convene_domain::Event>, convene_store::StoreError> {
        self.inner.event(id).await
    }
    async fn events(
        &self,
        ids: &[convene_domain::EventId],
    ) -> Result<Vec<convene_domain::Event>, convene_store::StoreError> {
        let failing = &self.failing_event_reads;
        let fail = failing
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |left| left.checked_sub(1),
            )
            .is_ok();
        if fail {
            return Err(convene_store::StoreError::Corrupt(
                "injected read failure".to_owned(),
            ));
        }
        self.inner.events(ids).await
    }
    async fn add_participant(
        &self,
        event: convene_domain::EventId,
        user: UserId,
        deliveries: &[convene_domain::Delivery],
    ) -> Result<(), convene_store::StoreError> {
        self.inner.add_participant(event, user, deliveries).await
    }
    async fn remove_participant(
        &self,
        event: convene_domain::EventId,
        user: UserId,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.remove_participant(event, user).await
    }
    async fn busy(
        &self,
        user: UserId,
        window: convene_domain::Interval,
    ) -> Result<Vec<convene_domain::Interval>, convene_store::StoreError> {
        self.inner.busy(user, window).await
    }
    async fn claim_due_deliveries(
        &self,
        request: convene_store::ClaimRequest<'_>,
    ) -> Result<Vec<convene_domain::Delivery>, convene_store::StoreError> {
        self.inner.claim_due_deliveries(request).await
    }
    async fn record_attempts(
        &self,
        records: &[convene_store::AttemptRecord],
    ) -> Result<Vec<bool>, convene_store::StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.record_attempts(records).await
    }
    async fn deliveries(
        &self,
        event: convene_domain::EventId,
        now: Timestamp,
    ) -> Result<Vec<convene_domain::Delivery>, convene_store::StoreError> {
        self.inner.deliveries(event, now).await
    }
    async fn unreported_failures(
        &self,
        limit: usize,
    ) -> Result<Vec<convene_domain::Delivery>, convene_store::StoreError> {
        self.inner.unreported_failures(limit).await
    }
    async fn attempts(
        &self,
        delivery: convene_domain::DeliveryId,
    ) -> Result<Vec<DeliveryAttempt>, convene_store::StoreError> {
        self.inner.attempts(delivery).await
    }
    async fn queue_counts(
        &self,
        now: jiff::Timestamp,
    ) -> Result<convene_store::QueueCounts, convene_store::StoreError> {
        self.inner.queue_counts(now).await
    }
}

#[async_trait]
impl convene_store::MailStore for SlowRecordStore {
    async fn enqueue_mail(
        &self,
        messages: &[convene_domain::OutgoingMessage],
    ) -> Result<Vec<Vec<bool>>, convene_store::StoreError> {
        self.inner.enqueue_mail(messages).await
    }
    async fn claim_due_mail(
        &self,
        request: convene_store::ClaimRequest<'_>,
    ) -> Result<Vec<convene_domain::ClaimedMail>, convene_store::StoreError> {
        self.inner.claim_due_mail(request).await
    }
    async fn record_mail_attempts(
        &self,
        records: &[convene_domain::MailAttemptRecord],
    ) -> Result<Vec<bool>, convene_store::StoreError> {
        self.inner.record_mail_attempts(records).await
    }
    async fn report_failures(
        &self,
        failures: &[convene_domain::DeliveryId],
        notice: Option<&convene_domain::OutgoingMessage>,
    ) -> Result<bool, convene_store::StoreError> {
        self.inner.report_failures(failures, notice).await
    }
    async fn mail_message(
        &self,
        id: convene_domain::MessageId,
        now: Timestamp,
    ) -> Result<Option<convene_domain::MailMessage>, convene_store::StoreError> {
        self.inner.mail_message(id, now).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_result_write_not_resent() {
    let f = fixture().await;
    let ann = user(&f.scheduler, "ann@alpha.test").await;
    let now = Timestamp::now();
    let event = f
        .scheduler
        .create_event(
            CreateEvent {
                title: "Review".to_owned(),
                description: None,
                location: None,
                start: TimeOrDate::Time(
                    now.checked_add(jiff::SignedDuration::from_secs(600))
                        .unwrap(),
                ),
                end: TimeOrDate::Time(
                    now.checked_add(jiff::SignedDuration::from_secs(1200))
                        .unwrap(),
                ),
                time_zone: None,
                organizer: Some(ann.into()),
                participants: vec![],
                reminders: vec![ReminderOffset::parse("before", "PT15M").unwrap()],
                recurrence: None,
            },
            now,
        )
        .await
        .unwrap();

    // Storing the result takes 2.5 s while the lease is 1 s, so polls in
    // between claim the delivery again.
    let slow = Arc::new(SlowRecordStore {
        inner: f.store.clone(),
        delay: Duration::from_millis(2500),
        failing_event_reads: 0.into(),
    });
    let config = NotifierConfig {
        poll_interval: Duration::from_millis(100),
        batch_size: 10,
        lease: Duration::from_secs(1),
        retry_initial: Duration::from_secs(60),
        retry_max: Duration::from_secs(600),
        worker_id: "slow".to_owned(),
    };
    let notifier = Notifier::new(slow, f.channel.clone(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        notifier
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let deliveries = f
            .scheduler
            .deliveries(event.id, Timestamp::now())
            .await
            .unwrap();
        if deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never delivered: {deliveries:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more polls after the result is stored.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    run.await.unwrap();

    assert_eq!(
        f.channel.sent.lock().unwrap().len(),
        1,
        "the reminder was sent more than once"
    );
}

#[tokio::test]
async fn cancelled_event_claimed_earlier_not_sent() {
    let f = fixture().await;
    let (event, _) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    // Another worker holds the three deliveries when the organizer cancels, so the
    // cancellation keeps them; the notifier claims them once that lease has run out.
    let claimed = f
        .store
        .claim_due_deliveries(convene_store::ClaimRequest {
            now: at("2030-01-01T09:45:00Z"),
            limit: 10,
            lease: Duration::from_secs(60),
            owner: "other",
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    f.scheduler
        .cancel_event(event, at("2030-01-01T09:45:10Z"))
        .await
        .unwrap();
    let notifier = notifier(&f, "w1");

    assert_eq!(
        notifier.run_once(at("2030-01-01T09:47:00Z")).await.unwrap(),
        3
    );
    assert!(f.channel.sent.lock().unwrap().is_empty());
    let deliveries = f
        .scheduler
        .deliveries(event, at("2030-01-01T09:47:01Z"))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 3);
    for delivery in &deliveries {
        assert_eq!(delivery.state, DeliveryState::Failed, "{delivery:?}");
        assert_eq!(
            delivery.last_attempt.as_ref().unwrap().reply_text,
            "not sent: the event was cancelled"
        );
    }
    // The organizer cancelled the event and gets no notice that its reminders failed.
    assert!(f.channel.notices.lock().unwrap().is_empty());
    assert!(f.store.unreported_failures(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn failed_batch_read_falls_back_per_send() {
    let f = fixture().await;
    let (event, _) = book(&f, at("2030-01-01T09:00:00Z"), "2030-01-01T11:00:00Z").await;
    // The claim's read of all events fails; each send then reads its own event.
    let store = Arc::new(SlowRecordStore {
        inner: f.store.clone(),
        delay: Duration::ZERO,
        failing_event_reads: 1.into(),
    });
    let notifier = Notifier::new(store.clone(), f.channel.clone(), NotifierConfig::default());

    assert_eq!(
        notifier.run_once(at("2030-01-01T09:45:00Z")).await.unwrap(),
        3
    );
    assert_eq!(
        store
            .failing_event_reads
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(f.channel.sent.lock().unwrap().len(), 3);
    delivered(&f, event).await;
}

#[tokio::test]
async fn each_channel_gets_its_own_deliveries() {
    let f = fixture().await;
    let now = at("2030-01-01T09:00:00Z");
    let (event, people) = book(&f, now, "2030-01-01T11:00:00Z").await;
    // Bob wants SMS and push next to e-mail; cid only push. The server has SMS but no push.
    let read = f.store.user(people[1]).await.unwrap().unwrap();
    let mut bob = read.clone();
    bob.reminders.channels = vec![ChannelKind::Email, ChannelKind::Sms, ChannelKind::Push];
    bob.phone = Some(convene_domain::PhoneNumber::parse("phone", "+4915112345678").unwrap());
    f.store.update_user(&bob, &read).await.unwrap();
    let read = f.store.user(people[2]).await.unwrap().unwrap();
    let mut cid = read.clone();
    cid.reminders.channels = vec![ChannelKind::Push];
    f.store.update_user(&cid, &read).await.unwrap();
    // Moving the event plans its reminders again, now with each person's channels.
    f.scheduler
        .update_event(
            event,
            convene_domain::UpdateEvent {
                start: Some(TimeOrDate::Time(at("2030-01-01T10:05:00Z"))),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();

    let sms = Arc::new(ScriptedChannel::default());
    let notifier =
        notifier(&f, "w1").with_channel(ChannelKind::Sms, sms.clone() as Arc<dyn Channel>);
    let claimed = notifier.run_once(at("2030-01-01T09:50:00Z")).await.unwrap();
    assert_eq!(claimed, 5);

    let mut by_email = f.channel.sent.lock().unwrap().clone();
    by_email.sort();
    assert_eq!(
        by_email,
        [
            ("Planning".to_owned(), "ann@alpha.test".to_owned()),
            ("Planning".to_owned(), "bob@beta.test".to_owned()),
        ]
    );
    let by_sms = sms.sent.lock().unwrap().clone();
    assert_eq!(
        by_sms,
        [("Planning".to_owned(), "bob@beta.test".to_owned())]
    );

    let deliveries = f
        .scheduler
        .deliveries(event, at("2030-01-01T09:51:00Z"))
        .await
        .unwrap();
    let push: Vec<_> = deliveries
        .iter()
        .filter(|delivery| delivery.channel == ChannelKind::Push)
        .collect();
    assert_eq!(push.len(), 2, "{deliveries:?}");
    for delivery in push {
        assert_eq!(delivery.state, DeliveryState::Failed, "{delivery:?}");
        let attempt = delivery.last_attempt.as_ref().unwrap();
        assert!(
            attempt.reply_text.contains("push are not configured"),
            "{}",
            attempt.reply_text
        );
    }
}
