//! The poll loop.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use convene_channel::{
    Channel, FailedReminder, FailureNotice, Recipient, Reminder, Report, Reporter,
};
use convene_domain::{
    ChannelKind, Delivery, DeliveryAttempt, DeliveryId, DeliveryOutcome, Event, EventId,
    EventStatus, User, UserId,
};
use convene_store::{AttemptRecord, ClaimRequest, Store, StoreError};
use convene_worker::backoff::retry_at;
use convene_worker::{
    BatchWrite, Claimer, Combiner, Drained, Held, PollSettings, Release, drain_reports,
    store_until_accepted,
};
use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinSet;

use crate::NotifierConfig;

/// Most attempt results recorded in one transaction.
const MAX_RECORD_BATCH: usize = 500;

/// Deliveries that go out as one send: one event, reminder offset and channel.
pub struct Group {
    deliveries: Vec<Delivery>,
    /// Keeps the deliveries held until the send's task ends, however it ends.
    _release: Release<DeliveryId>,
    /// The event and people that the send needs, read for the whole claim at once, or
    /// `None` when that read failed and the send reads them on its own.
    loaded: Option<Loaded>,
}

/// The rows that the sends of one claim read.
struct Loaded {
    /// The event, unless it no longer exists.
    event: Option<Event>,
    /// The recipients and organizers of every group in the claim that still exist.
    users: Arc<HashMap<UserId, User>>,
}

/// Sends due reminders from a store through the channel each delivery names.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    /// The e-mail channel, which also carries failure notices to organizers.
    channel: Arc<dyn Channel>,
    /// The other channels this server is configured for.
    others: Arc<BTreeMap<ChannelKind, Arc<dyn Channel>>>,
    config: Arc<NotifierConfig>,
    /// Deliveries claimed by this process whose results are not stored yet.
    held: Held<DeliveryId>,
    /// Records the results of concurrent sends in one transaction.
    recorder: Combiner<RecordAttempts>,
}

impl Notifier {
    /// Creates a Notifier that sends e-mail reminders, and failure notices to organizers,
    /// through `email`. Reminders by any other channel fail until it is added with
    /// [`Notifier::with_channel`].
    pub fn new(store: Arc<dyn Store>, email: Arc<dyn Channel>, config: NotifierConfig) -> Notifier {
        Notifier {
            recorder: Combiner::new(
                RecordAttempts(Arc::clone(&store)),
                MAX_RECORD_BATCH,
                store.concurrent_writes(),
            ),
            store,
            channel: email,
            others: Arc::new(BTreeMap::new()),
            config: Arc::new(config),
            held: Held::default(),
        }
    }

    /// Sends the reminders planned for `kind` through `channel`.
    pub fn with_channel(mut self, kind: ChannelKind, channel: Arc<dyn Channel>) -> Notifier {
        if kind == ChannelKind::Email {
            self.channel = channel;
        } else {
            Arc::make_mut(&mut self.others).insert(kind, channel);
        }
        self
    }

    /// Returns the channel for `kind`, unless this server has none.
    fn channel_for(&self, kind: ChannelKind) -> Option<Arc<dyn Channel>> {
        match kind {
            ChannelKind::Email => Some(self.channel.clone()),
            other => self.others.get(&other).cloned(),
        }
    }

    /// Sends due reminders until `shutdown` completes; see
    /// [`convene_worker::run_polls`].
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let settings = PollSettings {
            name: "notifier",
            worker_id: self.config.worker_id.clone(),
            poll_interval: self.config.poll_interval,
            batch_size: self.config.batch_size,
            lease: self.config.lease,
        };
        convene_worker::run_polls(self.clone(), &settings, shutdown).await;
    }

    /// Claims the deliveries due at `now`, sends them, records each result
    /// and reports new permanent failures before returning. Returns how
    /// many deliveries were claimed.
    pub async fn run_once(&self, now: Timestamp) -> Result<usize, StoreError> {
        convene_worker::run_once(self, now).await
    }

    /// Tells organizers about reminders that failed permanently: one notice
    /// per event, through the channel, which marks the failures reported
    /// in the same step. Returns how many failures were reported.
    pub async fn report_failures(&self) -> Result<usize, StoreError> {
        let failures = self
            .store
            .unreported_failures(self.config.batch_size)
            .await?;
        let mut by_event: BTreeMap<EventId, Vec<Delivery>> = BTreeMap::new();
        for failure in failures {
            by_event.entry(failure.event_id).or_default().push(failure);
        }
        let mut reported = 0;
        for (event_id, deliveries) in by_event {
            let Some(event) = self.store.event(event_id).await? else {
                continue;
            };
            if event.status == EventStatus::Cancelled {
                // The organizer cancelled the event, so a notice about its unsent
                // reminders is not needed.
                let ids: Vec<DeliveryId> = deliveries.iter().map(|delivery| delivery.id).collect();
                if self.store.report_failures(&ids, None).await? {
                    tracing::debug!(event.id = %event_id, failures = ids.len(), "failures of a cancelled event's reminders marked reported without a notice");
                }
                continue;
            }
            let Some(organizer) = self.store.user(event.organizer).await? else {
                continue;
            };
            let user_ids: Vec<_> = deliveries.iter().map(|delivery| delivery.user_id).collect();
            let users = self.store.users(&user_ids).await?;
            let count = deliveries.len();
            let notice = FailureNotice {
                event,
                organizer,
                failures: deliveries
                    .into_iter()
                    .map(|delivery| FailedReminder {
                        recipient: users
                            .iter()
                            .find(|user| user.id == delivery.user_id)
                            .cloned(),
                        delivery,
                    })
                    .collect(),
            };
            match self.channel.send_failure_notice(&notice).await {
                Ok(true) => {
                    tracing::info!(event.id = %event_id, failures = count, "failure notice queued for the organizer");
                    reported += count;
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(event.id = %event_id, error = %err, "telling an organizer about failed reminders failed; will try again");
                }
            }
        }
        Ok(reported)
    }

    /// Claims due deliveries, groups them by event, reminder offset and channel, so that
    /// each group is one send, and reads the events and people of all groups at once.
    async fn claim(&self, now: Timestamp, limit: usize) -> Result<Vec<Group>, StoreError> {
        let claimed = self
            .store
            .claim_due_deliveries(ClaimRequest {
                now,
                limit: limit.min(self.config.batch_size),
                lease: self.config.lease,
                owner: &self.config.worker_id,
            })
            .await?;
        if !claimed.is_empty() {
            tracing::debug!(count = claimed.len(), "claimed due deliveries");
        }

        // A delivery this process still holds was claimed again because its
        // lease ran out while its send or its result write was slow. The
        // new claim only extends the lease; the task that holds it sends
        // and records it, so it is not sent a second time.
        let claimed: Vec<Delivery> = {
            claimed
                .into_iter()
                .filter(|delivery| {
                    let fresh = self.held.hold(delivery.id);
                    if !fresh {
                        tracing::debug!(delivery.id = %delivery.id, "lease extended for a delivery still in progress");
                    }
                    fresh
                })
                .collect()
        };
        let mut grouped: BTreeMap<(EventId, String, ChannelKind), Vec<Delivery>> = BTreeMap::new();
        for delivery in claimed {
            grouped
                .entry((
                    delivery.event_id,
                    delivery.offset.as_str().to_owned(),
                    delivery.channel,
                ))
                .or_default()
                .push(delivery);
        }
        // Each group's deliveries stay held until its send ends, or until this claim
        // returns early.
        let mut groups: Vec<Group> = grouped
            .into_values()
            .map(|deliveries| Group {
                _release: self
                    .held
                    .release_on_drop(deliveries.iter().map(|delivery| delivery.id).collect()),
                deliveries,
                loaded: None,
            })
            .collect();
        if groups.is_empty() {
            return Ok(groups);
        }

        let per_group: Vec<&[Delivery]> =
            groups.iter().map(|group| &group.deliveries[..]).collect();
        match self.load(&per_group).await {
            Ok(loaded) => {
                for (group, loaded) in groups.iter_mut().zip(loaded) {
                    group.loaded = Some(loaded);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, groups = per_group.len(), "reading the events of claimed reminders failed; each send reads its own");
            }
        }
        Ok(groups)
    }

    /// Reads the event of each group and the people that the groups name, in two store
    /// calls however many groups there are.
    async fn load(&self, groups: &[&[Delivery]]) -> Result<Vec<Loaded>, StoreError> {
        let mut event_ids: Vec<EventId> = groups.iter().map(|group| group[0].event_id).collect();
        event_ids.sort_unstable();
        event_ids.dedup();
        let events: HashMap<EventId, Event> = self
            .store
            .events(&event_ids)
            .await?
            .into_iter()
            .map(|event| (event.id, event))
            .collect();

        let mut user_ids: Vec<UserId> = groups
            .iter()
            .flat_map(|group| group.iter().map(|delivery| delivery.user_id))
            .chain(events.values().map(|event| event.organizer))
            .collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let users: Arc<HashMap<UserId, User>> = Arc::new(
            self.store
                .users(&user_ids)
                .await?
                .into_iter()
                .map(|user| (user.id, user))
                .collect(),
        );
        Ok(groups
            .iter()
            .map(|group| Loaded {
                event: events.get(&group[0].event_id).cloned(),
                users: Arc::clone(&users),
            })
            .collect())
    }

    async fn send_group(
        &self,
        group: Group,
        claimed_at: tokio::time::Instant,
    ) -> Result<(), StoreError> {
        let loaded = match group.loaded {
            Some(loaded) => loaded,
            None => {
                let mut loaded = self.load(&[&group.deliveries]).await?;
                loaded.remove(0)
            }
        };
        let group = group.deliveries;
        let event_id = group[0].event_id;
        let Some(channel) = self.channel_for(group[0].channel) else {
            let reason = format!(
                "reminders by {} are not configured on this server",
                group[0].channel
            );
            let records: Vec<AttemptRecord> = group
                .iter()
                .map(|delivery| failed_locally(delivery, &reason))
                .collect();
            return self.store_records(&records).await;
        };
        let Some(event) = loaded.event else {
            let records: Vec<AttemptRecord> = group
                .iter()
                .map(|delivery| failed_locally(delivery, "the event no longer exists"))
                .collect();
            return self.store_records(&records).await;
        };
        // Cancelling an event drops its waiting deliveries but keeps those claimed at that
        // moment; they end here, unsent. Their failure is not reported to the organizer.
        // NOTE: a reminder already in the mail queue at the cancellation is still
        // delivered, and retried if it fails, because the queue has no notion of events.
        // Cancelling would have to settle the queued recipients that carry its deliveries.
        if event.status == EventStatus::Cancelled {
            let records: Vec<AttemptRecord> = group
                .iter()
                .map(|delivery| failed_locally(delivery, "not sent: the event was cancelled"))
                .collect();
            return self.store_records(&records).await;
        }
        let users = loaded.users;
        let organizer = users.get(&event.organizer).cloned();

        let mut recipients: Vec<Recipient> = Vec::with_capacity(group.len());
        let mut sendable: Vec<&Delivery> = Vec::with_capacity(group.len());
        for delivery in &group {
            match users.get(&delivery.user_id) {
                Some(user) => {
                    recipients.push(Recipient {
                        delivery: delivery.id,
                        user: user.clone(),
                        due_at: delivery.due_at,
                    });
                    sendable.push(delivery);
                }
                None => {
                    let record = failed_locally(delivery, "the recipient no longer exists");
                    self.store_records(&[record]).await?;
                }
            }
        }
        let Some(organizer) = organizer else {
            return Err(StoreError::Corrupt(format!(
                "event {event_id} has no organizer row"
            )));
        };
        if recipients.is_empty() {
            return Ok(());
        }

        let reminder = Reminder {
            offset: group[0].offset.clone(),
            event,
            organizer,
        };

        // The send runs as its own task, so each result is recorded as soon
        // as it is reported while slower recipients are still in progress.
        // It also lets the send be cut off before the lease runs out and
        // another worker claims the same deliveries.
        let (reporter, mut reports) = Reporter::new();
        // The set aborts the send together with this task, for example when
        // a shutdown abandons it, so no send runs on with its results lost.
        let mut send = JoinSet::new();
        {
            let reminder = reminder.clone();
            let recipients = recipients.clone();
            send.spawn(async move { channel.send(&reminder, &recipients, reporter).await });
        }
        let mut reported = vec![false; recipients.len()];
        let budget = self.send_budget();
        let drained = drain_reports(&mut reports, claimed_at + budget, |batch| {
            let records = self.prepare_records(&reminder, &sendable, &mut reported, batch);
            async move { self.store_records(&records).await }
        })
        .await?;
        if drained == Drained::TimedOut {
            send.abort_all();
            tracing::warn!(
                event.id = %reminder.event.id,
                budget = ?budget,
                "sending a reminder took too long; the recipients without a result will be retried"
            );
            let late: Vec<_> = std::iter::from_fn(|| reports.try_recv().ok()).collect();
            let records = self.prepare_records(&reminder, &sendable, &mut reported, late);
            self.store_records(&records).await?;
        }

        let unreported: Vec<(usize, Report)> = reported
            .iter()
            .enumerate()
            .filter(|(_, done)| !**done)
            .map(|(i, _)| {
                let mut attempt = local_failure(&format!(
                    "no result within the send time limit of {budget:?}"
                ));
                attempt.outcome = DeliveryOutcome::TemporaryFailure;
                let report = Report::Attempt {
                    attempt,
                    retry_after: None,
                };
                (i, report)
            })
            .collect();
        let records = self.prepare_records(&reminder, &sendable, &mut reported, unreported);
        self.store_records(&records).await
    }

    /// Returns the maximum time one send may take: three quarters of the
    /// lease, so that its results are recorded before another worker may
    /// claim the same deliveries.
    ///
    /// NOTE: the cut-off can fall after the final dot of a slow transaction,
    /// and then the retry sends the message again; it can also use up the
    /// budget on silent MX hosts before a working backup host is tried. A
    /// deadline passed down to the Mail Broker, which would never abort
    /// after the final dot and would share the time among the hosts, would
    /// fix both.
    fn send_budget(&self) -> Duration {
        self.config.lease.mul_f64(0.75)
    }

    /// Turns reports into records, skipping any recipient already reported.
    fn prepare_records(
        &self,
        reminder: &Reminder,
        deliveries: &[&Delivery],
        reported: &mut [bool],
        reports: Vec<(usize, Report)>,
    ) -> Vec<AttemptRecord> {
        reports
            .into_iter()
            .filter_map(|(i, report)| {
                if i >= deliveries.len() || std::mem::replace(&mut reported[i], true) {
                    return None;
                }
                match report {
                    Report::Attempt {
                        attempt,
                        retry_after,
                    } => Some(self.prepare_record(reminder, deliveries[i], attempt, retry_after)),
                    // The queue took the delivery over in the store itself.
                    Report::Queued => None,
                }
            })
            .collect()
    }

    /// Decides the retry time of one attempt and logs it. A temporary failure is
    /// retried after the usual backoff, or after `retry_after` when the peer asked to
    /// wait longer.
    fn prepare_record(
        &self,
        reminder: &Reminder,
        delivery: &Delivery,
        mut attempt: DeliveryAttempt,
        retry_after: Option<Duration>,
    ) -> AttemptRecord {
        let mut retry = None;
        if attempt.outcome == DeliveryOutcome::TemporaryFailure {
            let backoff = retry_at(
                attempt.at,
                delivery.attempts + 1,
                self.config.retry_initial,
                self.config.retry_max,
            );
            let at = match retry_after {
                None => backoff,
                Some(wait) => SignedDuration::try_from(wait)
                    .ok()
                    .and_then(|wait| attempt.at.checked_add(wait).ok())
                    // A wait beyond the last representable instant outlasts any event.
                    .unwrap_or(Timestamp::MAX)
                    .max(backoff),
            };
            if at >= reminder.event.interval.end() {
                // A reminder for an event that is over is of no use.
                attempt.outcome = DeliveryOutcome::PermanentFailure;
                attempt
                    .reply_text
                    .push_str(" (not retried: the event will have ended)");
            } else {
                retry = Some(at);
            }
        }

        match attempt.outcome {
            DeliveryOutcome::Delivered => tracing::info!(
                delivery.id = %delivery.id,
                event.id = %delivery.event_id,
                user.id = %delivery.user_id,
                destination = attempt.destination.as_deref().unwrap_or(""),
                tls = attempt.tls,
                "reminder delivered"
            ),
            DeliveryOutcome::TemporaryFailure => tracing::warn!(
                delivery.id = %delivery.id,
                event.id = %delivery.event_id,
                user.id = %delivery.user_id,
                reply = %attempt.reply_text,
                retry_at = ?retry,
                "reminder delivery failed temporarily; will retry"
            ),
            DeliveryOutcome::PermanentFailure => tracing::warn!(
                delivery.id = %delivery.id,
                event.id = %delivery.event_id,
                user.id = %delivery.user_id,
                reply = %attempt.reply_text,
                "reminder delivery failed permanently"
            ),
        }
        AttemptRecord {
            delivery: delivery.id,
            attempt,
            retry_at: retry,
        }
    }

    /// Stores results, trying again until the store accepts them: a result
    /// that is lost after the message went out would make a later claim
    /// send it again. Meanwhile the deliveries stay held, so this process
    /// does not send them again either.
    async fn store_records(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let applied =
            store_until_accepted("reminder results", || self.recorder.write(records.to_vec()))
                .await;
        for (record, applied) in records.iter().zip(applied) {
            if !applied && record.attempt.outcome == DeliveryOutcome::Delivered {
                tracing::warn!(
                    delivery.id = %record.delivery,
                    "a delivered reminder's delivery was no longer pending (settled elsewhere or its participant removed); the recipient may have received it twice"
                );
            }
        }
        Ok(())
    }
}

impl Claimer for Notifier {
    type Work = Group;
    type Error = StoreError;

    async fn claim(&self, now: Timestamp, limit: usize) -> Result<Vec<Group>, StoreError> {
        Notifier::claim(self, now, limit).await
    }

    fn units(group: &Group) -> usize {
        group.deliveries.len()
    }

    async fn run(&self, group: Group, claimed_at: tokio::time::Instant) -> Result<(), StoreError> {
        self.send_group(group, claimed_at).await
    }

    async fn after_poll(&self) {
        if let Err(err) = self.report_failures().await {
            tracing::error!(error = %err, "reporting failed reminders to organizers failed");
        }
    }
}

/// Records attempt results in the store; see [`Notifier::store_records`].
struct RecordAttempts(Arc<dyn Store>);

impl BatchWrite for RecordAttempts {
    type Item = AttemptRecord;
    type Output = bool;
    type Error = StoreError;

    async fn write(&self, records: &[AttemptRecord]) -> Result<Vec<bool>, StoreError> {
        self.0.record_attempts(records).await
    }
}

/// Records a permanent failure that happened before anything was sent.
fn failed_locally(delivery: &Delivery, reason: &str) -> AttemptRecord {
    AttemptRecord {
        delivery: delivery.id,
        attempt: local_failure(reason),
        retry_at: None,
    }
}

fn local_failure(reason: &str) -> DeliveryAttempt {
    DeliveryAttempt::local(DeliveryOutcome::PermanentFailure, reason)
}
