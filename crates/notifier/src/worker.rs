//! The poll loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use convene_channel::{Channel, Reminder};
use convene_domain::{Delivery, DeliveryAttempt, DeliveryOutcome, EventId, User};
use convene_store::{ClaimRequest, Store, StoreError};
use jiff::Timestamp;
use tokio::task::JoinSet;

use crate::NotifierConfig;
use crate::retry::retry_at;

/// How long a stopping Notifier waits for sends in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Sends due reminders from a store through a channel.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    channel: Arc<dyn Channel>,
    config: Arc<NotifierConfig>,
}

impl Notifier {
    pub fn new(
        store: Arc<dyn Store>,
        channel: Arc<dyn Channel>,
        config: NotifierConfig,
    ) -> Notifier {
        Notifier {
            store,
            channel,
            config: Arc::new(config),
        }
    }

    /// Polls until `shutdown` completes.
    ///
    /// Sends run in the background, so a slow destination never delays
    /// the next poll; at most `batch_size` messages are in flight at once.
    /// On shutdown, sends in flight get [`SHUTDOWN_GRACE`] to finish. Any
    /// still running then are abandoned. Their claims expire, so another
    /// poll sends them again.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tracing::info!(
            worker = %self.config.worker_id,
            interval = ?self.config.poll_interval,
            lease = ?self.config.lease,
            "notifier started"
        );
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.config.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_flight = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            while let Some(joined) = in_flight.try_join_next() {
                log_send_result(joined);
            }
            // Keep claiming while full batches come back and room is left.
            while in_flight.len() < self.config.batch_size {
                let groups = match self.claim(Timestamp::now()).await {
                    Ok(groups) => groups,
                    Err(err) => {
                        tracing::error!(error = %err, "polling for due reminders failed");
                        break;
                    }
                };
                let claimed: usize = groups.iter().map(Vec::len).sum();
                for group in groups {
                    let notifier = self.clone();
                    in_flight.spawn(async move { notifier.send_group(group).await });
                }
                if claimed < self.config.batch_size {
                    break;
                }
            }
        }

        if !in_flight.is_empty() {
            tracing::info!(
                in_flight = in_flight.len(),
                "waiting for reminders being sent"
            );
            let drain = async {
                while let Some(joined) = in_flight.join_next().await {
                    log_send_result(joined);
                }
            };
            if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
                tracing::warn!(
                    abandoned = in_flight.len(),
                    "reminders still being sent at shutdown were abandoned; they are sent again once their claims expire"
                );
                in_flight.abort_all();
            }
        }
        tracing::info!(worker = %self.config.worker_id, "notifier stopped");
    }

    /// Claims the deliveries due at `now`, sends them and records each
    /// result before returning. Returns how many deliveries were claimed.
    pub async fn run_once(&self, now: Timestamp) -> Result<usize, StoreError> {
        let groups = self.claim(now).await?;
        let count = groups.iter().map(Vec::len).sum();
        let mut tasks = JoinSet::new();
        for group in groups {
            let notifier = self.clone();
            tasks.spawn(async move { notifier.send_group(group).await });
        }
        while let Some(joined) = tasks.join_next().await {
            log_send_result(joined);
        }
        Ok(count)
    }

    /// Claims due deliveries and groups them into one message each per
    /// event and reminder offset.
    async fn claim(&self, now: Timestamp) -> Result<Vec<Vec<Delivery>>, StoreError> {
        let claimed = self
            .store
            .claim_due_deliveries(ClaimRequest {
                now,
                limit: self.config.batch_size,
                lease: self.config.lease,
                owner: &self.config.worker_id,
            })
            .await?;
        if !claimed.is_empty() {
            tracing::debug!(count = claimed.len(), "claimed due deliveries");
        }
        let mut groups: BTreeMap<(EventId, String), Vec<Delivery>> = BTreeMap::new();
        for delivery in claimed {
            groups
                .entry((delivery.event_id, delivery.offset.as_str().to_owned()))
                .or_default()
                .push(delivery);
        }
        Ok(groups.into_values().collect())
    }

    async fn send_group(&self, group: Vec<Delivery>) -> Result<(), StoreError> {
        let event_id = group[0].event_id;
        let Some(event) = self.store.event(event_id).await? else {
            for delivery in &group {
                let attempt = local_failure("the event no longer exists");
                self.store
                    .record_attempt(delivery.id, &attempt, None)
                    .await?;
            }
            return Ok(());
        };
        let organizer = self.store.user(event.organizer).await?;
        let user_ids: Vec<_> = group.iter().map(|delivery| delivery.user_id).collect();
        let users = self.store.users(&user_ids).await?;

        let mut recipients: Vec<User> = Vec::with_capacity(group.len());
        let mut sendable: Vec<&Delivery> = Vec::with_capacity(group.len());
        for delivery in &group {
            match users.iter().find(|user| user.id == delivery.user_id) {
                Some(user) => {
                    recipients.push(user.clone());
                    sendable.push(delivery);
                }
                None => {
                    let attempt = local_failure("the recipient no longer exists");
                    self.store
                        .record_attempt(delivery.id, &attempt, None)
                        .await?;
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
        let attempts = self.channel.send(&reminder, &recipients).await;
        for (delivery, attempt) in sendable.into_iter().zip(attempts) {
            self.record(&reminder, delivery, attempt).await?;
        }
        Ok(())
    }

    async fn record(
        &self,
        reminder: &Reminder,
        delivery: &Delivery,
        mut attempt: DeliveryAttempt,
    ) -> Result<(), StoreError> {
        let mut retry = None;
        if attempt.outcome == DeliveryOutcome::TemporaryFailure {
            let at = retry_at(
                attempt.at,
                delivery.attempts + 1,
                self.config.retry_initial,
                self.config.retry_max,
            );
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
        self.store
            .record_attempt(delivery.id, &attempt, retry)
            .await?;
        Ok(())
    }
}

fn log_send_result(joined: Result<Result<(), StoreError>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "recording a reminder result failed"),
        Err(err) if err.is_cancelled() => {}
        Err(err) => tracing::error!(error = %err, "a reminder task panicked"),
    }
}

fn local_failure(reason: &str) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome: DeliveryOutcome::PermanentFailure,
        destination: None,
        tls: false,
        reply_code: None,
        reply_text: reason.to_owned(),
    }
}
