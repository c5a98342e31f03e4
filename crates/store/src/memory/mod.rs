//! An in-process store.
//!
//! Everything lives in one map guarded by a `std::sync::Mutex`: each trait
//! method takes the lock once and never awaits while holding it, so every
//! method is atomic and the lock is never held across a suspension point.
//! Nothing survives the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use convene_domain::{
    Answer, ApiToken, Conflict, Delivery, DeliveryAttempt, DeliveryId, DeliveryOutcome,
    DeliveryState, EmailAddress, Event, EventId, EventStatus, FeedId, Interval, MessageId,
    PushSubscription, PushSubscriptionId, TokenId, User, UserId,
};
use jiff::{SignedDuration, Timestamp};

use crate::StoreOptions;
use crate::schedule::{conflicting, occurrences_to_check, series_end, stored_occurrences};

use crate::{AttemptRecord, ClaimRequest, QueueCounts, Store, StoreError};

mod mail;

use mail::StoredMessage;

/// A store that keeps everything in memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    options: StoreOptions,
}

#[derive(Default)]
struct State {
    users: HashMap<UserId, User>,
    events: HashMap<EventId, Event>,
    /// The events each person attends, so that a busy-time lookup reads only theirs.
    by_user: HashMap<UserId, HashSet<EventId>>,
    deliveries: HashMap<DeliveryId, StoredDelivery>,
    attempts: HashMap<DeliveryId, Vec<DeliveryAttempt>>,
    messages: BTreeMap<MessageId, StoredMessage>,
    /// The replies of attendees who have replied; everyone else's reply is still needed.
    answers: HashMap<(EventId, UserId), Answer>,
    /// Each feed's owner, token hash and whether it is revoked.
    feeds: HashMap<FeedId, (UserId, String, bool)>,
    /// API tokens that are not revoked, by id, with the hash of each secret.
    api_tokens: BTreeMap<TokenId, (ApiToken, String)>,
    push_subscriptions: BTreeMap<PushSubscriptionId, PushSubscription>,
}

struct StoredDelivery {
    delivery: Delivery,
    not_before: Timestamp,
    lease_until: Option<Timestamp>,
    notice: Notice,
}

/// Whether the organizer has been informed of a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    NotNeeded,
    Due,
    Reported,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Creates an empty store with `options`.
    pub fn with_options(options: StoreOptions) -> MemoryStore {
        MemoryStore {
            state: Mutex::default(),
            options,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write,
        // because every method validates before it mutates.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn busy(&self, user: UserId, window: &Interval, except: Option<EventId>) -> Vec<Interval> {
        let mut busy: Vec<Interval> = self
            .events_of(user)
            .filter(|event| Some(event.id) != except)
            .filter(|event| event.status == EventStatus::Confirmed)
            .filter(|event| self.answers.get(&(event.id, user)) != Some(&Answer::Declined))
            .flat_map(|event| {
                let zone = event.zone();
                stored_occurrences(&event.timing(&zone), *window)
            })
            .collect();
        busy.sort();
        busy
    }

    /// Returns, for each of `users` who is busy then, the busy intervals that overlap an
    /// occurrence of `event` within `horizon` of its start, leaving out the event `except`.
    fn conflicts(
        &self,
        users: &[UserId],
        event: &Event,
        except: Option<EventId>,
        horizon: SignedDuration,
    ) -> Result<Vec<Conflict>, StoreError> {
        let (window, occurrences) = occurrences_to_check(event, horizon)?;
        Ok(users
            .iter()
            .filter_map(|user| {
                let busy = conflicting(&self.busy(*user, &window, except), &occurrences);
                (!busy.is_empty()).then_some(Conflict { user: *user, busy })
            })
            .collect())
    }

    /// Returns the events that `user` attends.
    fn events_of(&self, user: UserId) -> impl Iterator<Item = &Event> {
        self.by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.events.get(id))
    }

    /// Stores `event` and adds it to the index of each attendee.
    fn insert_event(&mut self, event: Event) {
        for user in event.attendees() {
            self.by_user.entry(user).or_default().insert(event.id);
        }
        self.events.insert(event.id, event);
    }

    /// Removes an event and its entries in the index.
    fn remove_event(&mut self, id: EventId) {
        if let Some(event) = self.events.remove(&id) {
            for user in event.attendees() {
                if let Some(events) = self.by_user.get_mut(&user) {
                    events.remove(&id);
                }
            }
        }
    }

    /// Fails when a user other than `user` has its address, compared without regard to case.
    fn require_free_email(&self, user: &User) -> Result<(), StoreError> {
        let taken = self.users.values().any(|other| {
            other.id != user.id
                && other
                    .email
                    .as_str()
                    .eq_ignore_ascii_case(user.email.as_str())
        });
        if taken {
            return Err(StoreError::Duplicate {
                field: "email",
                value: user.email.to_string(),
            });
        }
        Ok(())
    }

    fn require_users(&self, users: &[UserId]) -> Result<(), StoreError> {
        match users.iter().find(|user| !self.users.contains_key(user)) {
            Some(missing) => Err(StoreError::NotFound {
                what: "user",
                id: missing.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Drops the deliveries of `event` that are not in flight at `now`: pending ones, and
    /// settled ones too when `settled` is set.
    fn drop_deliveries(&mut self, event: EventId, now: Timestamp, settled: bool) {
        let dropped: Vec<DeliveryId> = self
            .deliveries
            .iter()
            .filter(|(_, stored)| {
                let delivery = &stored.delivery;
                let in_flight = delivery.message_id.is_some()
                    || stored.lease_until.is_some_and(|until| until > now);
                delivery.event_id == event
                    && if delivery.state == DeliveryState::Pending {
                        !in_flight
                    } else {
                        settled
                    }
            })
            .map(|(id, _)| *id)
            .collect();
        for id in dropped {
            self.deliveries.remove(&id);
            self.attempts.remove(&id);
        }
    }

    /// Deletes `user`'s deliveries for `event` that are pending and not handed to the mail
    /// queue.
    fn drop_waiting_deliveries(&mut self, event: EventId, user: UserId) {
        self.deliveries.retain(|_, stored| {
            let delivery = &stored.delivery;
            !(delivery.event_id == event
                && delivery.user_id == user
                && delivery.state == DeliveryState::Pending
                && delivery.message_id.is_none())
        });
    }

    fn insert_deliveries(&mut self, deliveries: &[Delivery]) {
        for delivery in deliveries {
            let duplicate = self.deliveries.values().any(|stored| {
                stored.delivery.event_id == delivery.event_id
                    && stored.delivery.user_id == delivery.user_id
                    && stored.delivery.offset == delivery.offset
                    && stored.delivery.channel == delivery.channel
            });
            if duplicate {
                continue;
            }
            self.deliveries.insert(
                delivery.id,
                StoredDelivery {
                    delivery: delivery.clone(),
                    not_before: delivery.due_at,
                    lease_until: None,
                    notice: Notice::NotNeeded,
                },
            );
        }
    }
}

impl State {
    fn record_attempt(&mut self, record: &AttemptRecord) -> bool {
        let attempt = &record.attempt;
        let Some(stored) = self.deliveries.get_mut(&record.delivery) else {
            return false;
        };
        if stored.delivery.state != DeliveryState::Pending || stored.delivery.message_id.is_some() {
            return false;
        }
        stored.lease_until = None;
        if attempt.outcome == DeliveryOutcome::TemporaryFailure {
            stored.not_before = record.retry_at.unwrap_or(attempt.at);
        }
        self.apply_attempt(record.delivery, attempt);
        true
    }

    /// Counts `attempt` on a pending delivery and moves it to the state its
    /// outcome gives.
    fn apply_attempt(&mut self, id: DeliveryId, attempt: &DeliveryAttempt) {
        let Some(stored) = self.deliveries.get_mut(&id) else {
            return;
        };
        if stored.delivery.state != DeliveryState::Pending {
            return;
        }
        stored.delivery.attempts += 1;
        stored.delivery.last_attempt = Some(attempt.clone());
        match attempt.outcome {
            DeliveryOutcome::Delivered => stored.delivery.state = DeliveryState::Delivered,
            DeliveryOutcome::PermanentFailure => {
                stored.delivery.state = DeliveryState::Failed;
                stored.notice = Notice::Due;
            }
            DeliveryOutcome::TemporaryFailure => {}
        }
        self.attempts.entry(id).or_default().push(attempt.clone());
    }
}

impl StoredDelivery {
    fn view(&self, now: Timestamp) -> Delivery {
        let mut delivery = self.delivery.clone();
        if delivery.state == DeliveryState::Pending {
            if delivery.message_id.is_some() {
                delivery.state = DeliveryState::Queued;
            } else if self.lease_until.is_some_and(|until| until > now) {
                delivery.state = DeliveryState::Sending;
            }
        }
        delivery
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_free_email(user)?;
        state.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let state = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| state.users.get(id).cloned())
            .collect())
    }

    async fn users_by_email(&self, addresses: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        let state = self.lock();
        Ok(state
            .users
            .values()
            .filter(|user| {
                addresses
                    .iter()
                    .any(|address| address.as_str().eq_ignore_ascii_case(user.email.as_str()))
            })
            .cloned()
            .collect())
    }

    async fn update_user(&self, user: &User, expected: &User) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.users.get(&user.id) {
            Some(stored) if stored != expected => {
                return Err(StoreError::Stale {
                    what: "user",
                    id: user.id.to_string(),
                });
            }
            Some(_) => {}
            None => return Ok(false),
        }
        state.require_free_email(user)?;
        state.users.insert(user.id, user.clone());
        Ok(true)
    }

    async fn book_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let mut state = self.lock();
        let attendees = event.attendees();
        state.require_users(&attendees)?;
        let conflicts = state.conflicts(&attendees, event, None, self.options.conflict_horizon)?;
        if !conflicts.is_empty() {
            return Err(StoreError::Busy(conflicts));
        }
        state.insert_event(event.clone());
        state.insert_deliveries(deliveries);
        Ok(())
    }

    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        Ok(self.lock().events.get(&id).cloned())
    }

    async fn events(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        let state = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| state.events.get(id).cloned())
            .collect())
    }

    async fn add_participant(
        &self,
        event_id: EventId,
        user: UserId,
        deliveries: &[Delivery],
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_users(&[user])?;
        let Some(event) = state.events.get(&event_id) else {
            return Err(StoreError::NotFound {
                what: "event",
                id: event_id.to_string(),
            });
        };
        if event.attendees().contains(&user) {
            return Ok(());
        }
        let conflicts = state.conflicts(
            &[user],
            &event.clone(),
            Some(event_id),
            self.options.conflict_horizon,
        )?;
        if !conflicts.is_empty() {
            return Err(StoreError::Busy(conflicts));
        }
        state.by_user.entry(user).or_default().insert(event_id);
        if let Some(event) = state.events.get_mut(&event_id) {
            event.participants.push(user);
        }
        state.insert_deliveries(deliveries);
        Ok(())
    }

    async fn remove_participant(
        &self,
        event_id: EventId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(event) = state.events.get_mut(&event_id) else {
            return Err(StoreError::NotFound {
                what: "event",
                id: event_id.to_string(),
            });
        };
        let before = event.participants.len();
        event
            .participants
            .retain(|participant| *participant != user);
        if event.participants.len() == before {
            return Ok(false);
        }
        if let Some(events) = state.by_user.get_mut(&user) {
            events.remove(&event_id);
        }
        state.drop_waiting_deliveries(event_id, user);
        Ok(true)
    }

    async fn update_event(
        &self,
        event: &Event,
        expected: &Event,
        deliveries: Option<&[Delivery]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let Some(stored) = state.events.get(&event.id) else {
            return Err(StoreError::NotFound {
                what: "event",
                id: event.id.to_string(),
            });
        };
        if stored != expected {
            return Err(StoreError::Stale {
                what: "event",
                id: event.id.to_string(),
            });
        }
        let attendees = stored.attendees();
        let moved = stored.occupies_other_time_than(event);
        if moved {
            let conflicts = state.conflicts(
                &attendees,
                event,
                Some(event.id),
                self.options.conflict_horizon,
            )?;
            if !conflicts.is_empty() {
                return Err(StoreError::Busy(conflicts));
            }
        }
        if moved {
            let organizer = stored.organizer;
            state
                .answers
                .retain(|(answered, user), _| *answered != event.id || *user == organizer);
        }
        let Some(stored) = state.events.get(&event.id) else {
            return Err(StoreError::NotFound {
                what: "event",
                id: event.id.to_string(),
            });
        };
        let mut updated = event.clone();
        updated.organizer = stored.organizer;
        updated.participants = stored.participants.clone();
        state.events.insert(event.id, updated);
        if let Some(deliveries) = deliveries {
            state.drop_deliveries(event.id, now, true);
            state.insert_deliveries(deliveries);
        }
        Ok(())
    }

    async fn import_events(&self, owner: UserId, events: &[Event]) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_users(&[owner])?;
        let uids: std::collections::HashSet<&str> = events
            .iter()
            .filter_map(|event| event.external_uid.as_deref())
            .collect();
        let replaced: Vec<EventId> = state
            .events_of(owner)
            .filter(|event| {
                event.organizer == owner
                    && event
                        .external_uid
                        .as_deref()
                        .is_some_and(|uid| uids.contains(uid))
            })
            .map(|event| event.id)
            .collect();
        for id in replaced {
            state.remove_event(id);
            state.drop_deliveries(id, Timestamp::MIN, true);
        }
        for event in events {
            state.insert_event(event.clone());
        }
        Ok(())
    }

    async fn set_answer(
        &self,
        event: EventId,
        user: UserId,
        answer: Answer,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let attends = state
            .events
            .get(&event)
            .is_some_and(|stored| stored.attendees().contains(&user));
        if !attends {
            return Ok(false);
        }
        let previous = state.answers.insert((event, user), answer);
        if answer == Answer::Declined {
            state.drop_waiting_deliveries(event, user);
        } else if previous == Some(Answer::Declined) {
            state.insert_deliveries(deliveries);
        }
        Ok(true)
    }

    async fn answers(&self, event: EventId) -> Result<Vec<(UserId, Answer)>, StoreError> {
        let state = self.lock();
        let Some(stored) = state.events.get(&event) else {
            return Ok(Vec::new());
        };
        Ok(stored
            .attendees()
            .into_iter()
            .map(|user| {
                // The organizer attends their own event; everyone else has yet to reply.
                let unanswered = if user == stored.organizer {
                    Answer::Accepted
                } else {
                    Answer::NeedsAction
                };
                let answer = state.answers.get(&(event, user)).copied();
                (user, answer.unwrap_or(unanswered))
            })
            .collect())
    }

    async fn remove_imported(&self, owner: UserId) -> Result<usize, StoreError> {
        let mut state = self.lock();
        let imported: Vec<EventId> = state
            .events_of(owner)
            .filter(|event| event.organizer == owner && event.external_uid.is_some())
            .map(|event| event.id)
            .collect();
        for id in &imported {
            state.remove_event(*id);
        }
        Ok(imported.len())
    }

    async fn user_events(
        &self,
        user: UserId,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let state = self.lock();
        let mut events: Vec<Event> = state
            .events_of(user)
            .filter(|event| series_end(event) > since)
            .cloned()
            .collect();
        events.sort_by_key(|event| (event.interval.start(), event.id));
        events.truncate(limit);
        Ok(events)
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let state = self.lock();
        let mut users: Vec<&User> = state
            .users
            .values()
            .filter(|user| after.is_none_or(|after| user.id > after))
            .collect();
        users.sort_by_key(|user| user.id);
        Ok(users.into_iter().take(limit).cloned().collect())
    }

    async fn attended_events(
        &self,
        user: UserId,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let state = self.lock();
        let mut events: Vec<&Event> = state
            .events_of(user)
            .filter(|event| after.is_none_or(|after| event.id > after))
            .collect();
        events.sort_by_key(|event| event.id);
        Ok(events.into_iter().take(limit).cloned().collect())
    }

    async fn create_api_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_users(&[token.user])?;
        state
            .api_tokens
            .insert(token.id, (token.clone(), token_hash.to_owned()));
        Ok(())
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        Ok(self
            .lock()
            .api_tokens
            .values()
            .find(|(_, hash)| hash == token_hash)
            .map(|(token, _)| token.clone()))
    }

    async fn api_tokens(
        &self,
        user: UserId,
        after: Option<TokenId>,
        limit: usize,
    ) -> Result<Vec<ApiToken>, StoreError> {
        Ok(self
            .lock()
            .api_tokens
            .values()
            .map(|(token, _)| token)
            .filter(|token| token.user == user && after.is_none_or(|after| token.id > after))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn revoke_api_token(&self, user: UserId, id: TokenId) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state
            .api_tokens
            .get(&id)
            .is_some_and(|(token, _)| token.user == user)
        {
            state.api_tokens.remove(&id);
            return Ok(true);
        }
        Ok(false)
    }

    async fn create_feed(
        &self,
        id: FeedId,
        user: UserId,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_users(&[user])?;
        state.feeds.insert(id, (user, token_hash.to_owned(), false));
        Ok(())
    }

    async fn feeds(
        &self,
        user: UserId,
        after: Option<FeedId>,
        limit: usize,
    ) -> Result<Vec<FeedId>, StoreError> {
        let state = self.lock();
        let mut ids: Vec<FeedId> = state
            .feeds
            .iter()
            .filter(|(id, (owner, _, revoked))| {
                *owner == user && !revoked && after.is_none_or(|after| **id > after)
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    async fn feed_owner(&self, token_hash: &str) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .lock()
            .feeds
            .values()
            .find(|(_, hash, revoked)| hash == token_hash && !revoked)
            .map(|(owner, _, _)| *owner))
    }

    async fn revoke_feed(&self, user: UserId, id: FeedId) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.feeds.get_mut(&id) {
            Some((owner, _, revoked)) if *owner == user && !*revoked => {
                *revoked = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn add_push_subscription(
        &self,
        subscription: &PushSubscription,
        limit: usize,
    ) -> Result<Option<PushSubscription>, StoreError> {
        let mut state = self.lock();
        state.require_users(&[subscription.user])?;
        if let Some(existing) = state.push_subscriptions.values_mut().find(|stored| {
            stored.user == subscription.user && stored.endpoint == subscription.endpoint
        }) {
            existing.p256dh.clone_from(&subscription.p256dh);
            existing.auth.clone_from(&subscription.auth);
            return Ok(Some(existing.clone()));
        }
        let others = state
            .push_subscriptions
            .values()
            .filter(|stored| stored.user == subscription.user)
            .count();
        if others >= limit {
            return Ok(None);
        }
        state
            .push_subscriptions
            .insert(subscription.id, subscription.clone());
        Ok(Some(subscription.clone()))
    }

    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError> {
        let state = self.lock();
        Ok(state
            .push_subscriptions
            .values()
            .filter(|stored| stored.user == user)
            .cloned()
            .collect())
    }

    async fn remove_push_subscription(
        &self,
        user: UserId,
        id: PushSubscriptionId,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let owned = state
            .push_subscriptions
            .get(&id)
            .is_some_and(|stored| stored.user == user);
        if owned {
            state.push_subscriptions.remove(&id);
        }
        Ok(owned)
    }

    async fn cancel_event(&self, id: EventId, now: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(event) = state.events.get_mut(&id) else {
            return Ok(false);
        };
        if event.status != EventStatus::Cancelled {
            event.status = EventStatus::Cancelled;
            event.sequence += 1;
        }
        state.drop_deliveries(id, now, false);
        Ok(true)
    }

    async fn busy(&self, user: UserId, window: Interval) -> Result<Vec<Interval>, StoreError> {
        Ok(self.lock().busy(user, &window, None))
    }

    async fn claim_due_deliveries(
        &self,
        request: ClaimRequest<'_>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut state = self.lock();
        let now = request.now;
        let lease_until = request.lease_until()?;

        let mut due: Vec<&mut StoredDelivery> = state
            .deliveries
            .values_mut()
            .filter(|stored| {
                stored.delivery.state == DeliveryState::Pending
                    && stored.delivery.message_id.is_none()
                    && stored.not_before <= now
                    && stored.lease_until.is_none_or(|until| until <= now)
            })
            .collect();
        due.sort_by_key(|stored| (stored.not_before, stored.delivery.id));
        due.truncate(request.limit);

        Ok(due
            .into_iter()
            .map(|stored| {
                stored.lease_until = Some(lease_until);
                stored.view(now)
            })
            .collect())
    }

    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<Vec<bool>, StoreError> {
        let mut state = self.lock();
        Ok(records
            .iter()
            .map(|record| state.record_attempt(record))
            .collect())
    }

    async fn deliveries(
        &self,
        event: EventId,
        now: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        let state = self.lock();
        let mut deliveries: Vec<Delivery> = state
            .deliveries
            .values()
            .filter(|stored| stored.delivery.event_id == event)
            .map(|stored| stored.view(now))
            .collect();
        deliveries.sort_by_key(|delivery| (delivery.due_at, delivery.id));
        Ok(deliveries)
    }

    async fn unreported_failures(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let state = self.lock();
        let mut failures: Vec<Delivery> = state
            .deliveries
            .values()
            .filter(|stored| stored.notice == Notice::Due)
            .map(|stored| stored.delivery.clone())
            .collect();
        failures.sort_by_key(|delivery| (delivery.due_at, delivery.id));
        failures.truncate(limit);
        Ok(failures)
    }

    async fn attempts(&self, delivery: DeliveryId) -> Result<Vec<DeliveryAttempt>, StoreError> {
        Ok(self
            .lock()
            .attempts
            .get(&delivery)
            .cloned()
            .unwrap_or_default())
    }

    async fn queue_counts(&self, now: Timestamp) -> Result<QueueCounts, StoreError> {
        let state = self.lock();
        let reminders_due = state
            .deliveries
            .values()
            .filter(|stored| {
                stored.delivery.state == DeliveryState::Pending
                    && stored.delivery.message_id.is_none()
                    && stored.not_before <= now
            })
            .count();
        let (mail_queued, mail_sending) = state.unsettled_recipients(now);
        Ok(QueueCounts {
            reminders_due: reminders_due as u64,
            mail_queued,
            mail_sending,
        })
    }
}
