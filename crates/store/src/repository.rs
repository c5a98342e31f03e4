//! The storage interface.

use std::time::Duration;

use async_trait::async_trait;
use convene_domain::{
    Answer, ApiToken, ClaimedMail, Delivery, DeliveryAttempt, DeliveryId, EmailAddress, Event,
    EventId, FeedId, Interval, MailAttemptRecord, MailMessage, MessageId, OutgoingMessage,
    PushSubscription, PushSubscriptionId, TokenId, User, UserId,
};
use jiff::{SignedDuration, Timestamp};

use crate::StoreError;

/// Amounts of waiting work at one instant, read by [`Store::queue_counts`] for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Reminder deliveries that are pending, due at or before the given time and not yet
    /// handed to the mail queue, claimed or not.
    pub reminders_due: u64,
    /// Mail recipients still queued that no live lease holds, whether due or waiting for a
    /// retry.
    pub mail_queued: u64,
    /// Mail recipients still queued that a live lease holds, so a worker is sending to them.
    pub mail_sending: u64,
}

/// Parameters of [`Store::claim_due_deliveries`].
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    /// The current time; deliveries due at or before it are claimed.
    pub now: Timestamp,
    /// Maximum number of deliveries to claim.
    pub limit: usize,
    /// How long the claim lasts. Another worker may claim the delivery
    /// again once the lease has expired without a recorded attempt.
    pub lease: Duration,
    /// Identifies the claiming worker.
    pub owner: &'a str,
}

impl ClaimRequest<'_> {
    /// Returns when a claim made now expires.
    pub fn lease_until(&self) -> Result<Timestamp, StoreError> {
        let too_long = || StoreError::Corrupt(format!("lease {:?} is too long", self.lease));
        let lease = SignedDuration::try_from(self.lease).map_err(|_| too_long())?;
        self.now.checked_add(lease).map_err(|_| too_long())
    }
}

/// One attempt to record with [`Store::record_attempts`].
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery: DeliveryId,
    pub attempt: DeliveryAttempt,
    /// When a temporary failure is due again.
    pub retry_at: Option<Timestamp>,
}

/// The durable mail queue. Every method is atomic.
///
/// A message is stored with its complete bytes before the first attempt.
/// Each recipient is claimed, retried and settled on its own, so a retry
/// goes only to the recipients that failed temporarily.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Returns how many write transactions of one process may usefully run at once:
    /// one where the medium admits a single writer at a time, more where writers lock
    /// only the rows they change. Callers that combine writes use it to decide how
    /// many combined writes to run side by side.
    fn concurrent_writes(&self) -> usize {
        1
    }

    /// Stores `messages` in one transaction and hands each recipient's
    /// reminder delivery, if any, to the queue. Returns, for each message,
    /// whether each of its recipients was queued.
    ///
    /// A recipient that carries a delivery is queued only while that
    /// delivery is pending and not yet queued, so handing the same delivery
    /// over twice queues it once. A recipient that repeats an earlier
    /// address or delivery of the same message is not queued either. A
    /// message with no recipient queued is not stored.
    async fn enqueue_mail(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<Vec<bool>>, StoreError>;

    /// Claims up to `request.limit` queued recipients that are due and not
    /// claimed by a live lease, oldest due first, grouped by message.
    async fn claim_due_mail(
        &self,
        request: ClaimRequest<'_>,
    ) -> Result<Vec<ClaimedMail>, StoreError>;

    /// Records attempts on claimed recipients and releases their claims,
    /// all in one transaction, and returns for each record whether it was
    /// applied (`false` when the recipient was already settled).
    ///
    /// A delivered or permanently failed attempt settles the recipient. A
    /// temporary failure queues it again, due at `retry_at` (or at once),
    /// but only when `owner` still holds the claim: a late result from a
    /// worker whose lease another worker took over is not applied.
    /// A recipient that carries a reminder delivery passes the attempt and
    /// its outcome on to that delivery.
    async fn record_mail_attempts(
        &self,
        records: &[MailAttemptRecord],
    ) -> Result<Vec<bool>, StoreError>;

    /// Marks `failures` as reported to their organizer and queues `notice`,
    /// the message that informs the organizer, in one transaction. Failures already
    /// reported are left alone; when every one was, nothing is stored and
    /// `false` is returned. A `None` notice marks the failures reported
    /// without a message, for an organizer who cannot be written to.
    async fn report_failures(
        &self,
        failures: &[DeliveryId],
        notice: Option<&OutgoingMessage>,
    ) -> Result<bool, StoreError>;

    /// Returns a message and each recipient's state as of `now`.
    async fn mail_message(
        &self,
        id: MessageId,
        now: Timestamp,
    ) -> Result<Option<MailMessage>, StoreError>;
}

/// Persistent state of Convene. Every method is atomic.
#[async_trait]
pub trait Store: MailStore {
    /// Inserts a user. Fails with [`StoreError::Duplicate`] when another
    /// user has the same e-mail address, compared case-insensitively.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// Returns the users that exist among `ids`, in no particular order.
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;

    /// Returns the users whose addresses are among `addresses`, compared
    /// case-insensitively, in no particular order.
    async fn users_by_email(&self, addresses: &[EmailAddress]) -> Result<Vec<User>, StoreError>;

    /// Replaces a user's profile. Returns false when no user has that id, and
    /// [`StoreError::Duplicate`] when another user has the address. `expected` is the user
    /// as the caller read it: when the stored user differs, nothing is written and
    /// [`StoreError::Stale`] is returned, so that the caller can read again and redo its
    /// change instead of undoing another request's.
    async fn update_user(&self, user: &User, expected: &User) -> Result<bool, StoreError>;

    /// Inserts `event` and its planned `deliveries`, unless any attendee
    /// already has an event overlapping it, in which case nothing is
    /// written and [`StoreError::Busy`] lists each busy attendee.
    async fn book_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<(), StoreError>;

    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError>;

    /// Returns the events among `ids` that exist, in no particular order.
    async fn events(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError>;

    /// Adds `user` as a participant of `event` with the planned
    /// `deliveries`, unless the user has another event overlapping it
    /// ([`StoreError::Busy`]). Adding an existing attendee changes nothing.
    async fn add_participant(
        &self,
        event: EventId,
        user: UserId,
        deliveries: &[Delivery],
    ) -> Result<(), StoreError>;

    /// Removes a participant and drops that person's pending deliveries for
    /// the event. Returns whether the user was a participant.
    async fn remove_participant(&self, event: EventId, user: UserId) -> Result<bool, StoreError>;

    /// Replaces the fields of a stored event, keeping its attendees, in one transaction.
    /// `expected` is the event as the caller read it: when the stored event differs, for
    /// example because another request changed it meanwhile, nothing is written and
    /// [`StoreError::Stale`] is returned, so the caller can read it again and redo its change.
    ///
    /// When the times change, every participant's reply goes back to needs-action.
    /// When the interval changes, the new one is checked against every attendee's other
    /// events and [`StoreError::Busy`] is returned, with nothing written, if it overlaps.
    /// With `deliveries`, the event's reminders are replaced by them, except those in flight
    /// at `now` (claimed with a lease that has not expired, or handed to the mail queue),
    /// which stay as they are and keep any new delivery of the same person and offset out.
    /// Without, the reminders stay as they are.
    async fn update_event(
        &self,
        event: &Event,
        expected: &Event,
        deliveries: Option<&[Delivery]>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Stores events that `owner` imported from another calendar, in one transaction and
    /// without conflict checks, because they record time that is already taken.
    ///
    /// Each event must have an external UID, `owner` as organizer and no participants. The
    /// owner's earlier imports with any of the UIDs in `events` are replaced, so importing the
    /// same file again changes nothing, and a newer copy of an event replaces the older one.
    async fn import_events(&self, owner: UserId, events: &[Event]) -> Result<(), StoreError>;

    /// Records `user`'s reply to the invitation to `event`, in one transaction with its
    /// effect on their reminders. A decline drops their pending deliveries for the event
    /// that are not handed to the mail queue. Any other reply after a decline stores
    /// `deliveries`, their reminders planned anew. Returns false when `user` does not
    /// attend the event.
    async fn set_answer(
        &self,
        event: EventId,
        user: UserId,
        answer: Answer,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError>;

    /// Returns every attendee's reply to the invitation to `event`, the organizer's
    /// included, in attendee order.
    async fn answers(&self, event: EventId) -> Result<Vec<(UserId, Answer)>, StoreError>;

    /// Deletes every event that `owner` imported. Returns how many there were.
    async fn remove_imported(&self, owner: UserId) -> Result<usize, StoreError>;

    /// Returns at most `limit` users ordered by id (so by creation), starting after `after`.
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError>;

    /// Returns at most `limit` of the events that `user` attends, as organizer or
    /// participant, cancelled and imported ones included, ordered by id (so by creation),
    /// starting after `after`.
    async fn attended_events(
        &self,
        user: UserId,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;

    /// Records an API token whose secret hashes to `token_hash`. Fails with
    /// [`StoreError::NotFound`] when its user does not exist.
    async fn create_api_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), StoreError>;

    /// Returns the token whose secret hashes to `token_hash`, unless it is revoked.
    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;

    /// Returns at most `limit` of the tokens of `user` that are not revoked, ordered by
    /// id, starting after `after`.
    async fn api_tokens(
        &self,
        user: UserId,
        after: Option<TokenId>,
        limit: usize,
    ) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a token of `user`. Returns false when `user` has no such token that is not
    /// already revoked.
    async fn revoke_api_token(&self, user: UserId, id: TokenId) -> Result<bool, StoreError>;

    /// Returns the events that `user` attends, cancelled ones included, whose last occurrence
    /// ends after `since`, ordered by first start, at most `limit`.
    async fn user_events(
        &self,
        user: UserId,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;

    /// Records a calendar feed of `user` whose secret token hashes to `token_hash`.
    async fn create_feed(
        &self,
        id: FeedId,
        user: UserId,
        token_hash: &str,
    ) -> Result<(), StoreError>;

    /// Returns at most `limit` of the feeds of `user` that are not revoked, ordered by id,
    /// starting after `after`.
    async fn feeds(
        &self,
        user: UserId,
        after: Option<FeedId>,
        limit: usize,
    ) -> Result<Vec<FeedId>, StoreError>;

    /// Returns the owner of the feed whose token hashes to `token_hash`, unless revoked.
    async fn feed_owner(&self, token_hash: &str) -> Result<Option<UserId>, StoreError>;

    /// Revokes a feed of `user`. Returns false when `user` has no such feed that is not
    /// already revoked.
    async fn revoke_feed(&self, user: UserId, id: FeedId) -> Result<bool, StoreError>;

    /// Registers a Web Push subscription of `subscription.user` and returns it as stored.
    /// Registering an endpoint the user already has replaces its keys and keeps its id and
    /// creation time. A new endpoint is refused with `None` when the user already has
    /// `limit` others. The count and the insert are atomic, so concurrent registrations
    /// cannot pass the limit. Fails with [`StoreError::NotFound`] when the user does not
    /// exist.
    async fn add_push_subscription(
        &self,
        subscription: &PushSubscription,
        limit: usize,
    ) -> Result<Option<PushSubscription>, StoreError>;

    /// Returns the push subscriptions of `user`, in id order.
    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError>;

    /// Removes a push subscription of `user`. Returns false when `user` has no such
    /// subscription.
    async fn remove_push_subscription(
        &self,
        user: UserId,
        id: PushSubscriptionId,
    ) -> Result<bool, StoreError>;

    /// Marks an event cancelled, raises its sequence and drops its reminders that are
    /// neither in flight at `now` nor settled. A cancelled event is no longer busy time.
    /// Returns false when no event has that id.
    async fn cancel_event(&self, id: EventId, now: Timestamp) -> Result<bool, StoreError>;

    /// Returns the intervals of `user`'s events that overlap `window`,
    /// sorted by start. Events that `user` declined are not busy time, for this lookup
    /// and for every conflict check.
    async fn busy(&self, user: UserId, window: Interval) -> Result<Vec<Interval>, StoreError>;

    /// Claims up to `request.limit` pending deliveries that are due, not yet
    /// queued as mail and not claimed by a live lease, oldest due first.
    async fn claim_due_deliveries(
        &self,
        request: ClaimRequest<'_>,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records attempts on claimed deliveries and releases their claims,
    /// all in one transaction, and returns for each record whether it was
    /// applied.
    ///
    /// A delivered or permanently failed attempt settles the delivery. A
    /// temporary failure puts it back to pending, due again at `retry_at`
    /// (or at once when `None`). A record is not applied, and `false`
    /// returned, when its delivery is no longer pending: it was settled, or
    /// its participant was removed.
    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<Vec<bool>, StoreError>;

    /// Records one attempt; see [`Store::record_attempts`].
    async fn record_attempt(
        &self,
        delivery: DeliveryId,
        attempt: &DeliveryAttempt,
        retry_at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let record = AttemptRecord {
            delivery,
            attempt: attempt.clone(),
            retry_at,
        };
        let applied = self.record_attempts(std::slice::from_ref(&record)).await?;
        Ok(applied.first().copied().unwrap_or(false))
    }

    /// Returns every delivery of `event`, with each one's state as of `now`.
    async fn deliveries(&self, event: EventId, now: Timestamp)
    -> Result<Vec<Delivery>, StoreError>;

    /// Returns up to `limit` deliveries that failed permanently and whose
    /// organizer has not been informed yet, oldest due first.
    async fn unreported_failures(&self, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    /// Returns the attempts made on one delivery, oldest first.
    async fn attempts(&self, delivery: DeliveryId) -> Result<Vec<DeliveryAttempt>, StoreError>;

    /// Counts the due reminder deliveries and the unsettled mail recipients as of `now`,
    /// without changing anything.
    async fn queue_counts(&self, now: Timestamp) -> Result<QueueCounts, StoreError>;

    /// Flushes and closes the store at shutdown. Calls after this fail.
    async fn close(&self) {}
}

/// Marks the recipients of `message` that repeat an earlier one: the same
/// address (compared without regard to ASCII case) or the same delivery.
/// A repeated recipient is never queued, so no address gets a message twice.
pub(crate) fn repeated_recipients(message: &OutgoingMessage) -> Vec<bool> {
    let mut addresses = std::collections::HashSet::new();
    let mut deliveries = std::collections::HashSet::new();
    message
        .recipients
        .iter()
        .map(|recipient| {
            let new_address = addresses.insert(recipient.address.to_ascii_lowercase());
            let new_delivery = recipient
                .delivery
                .is_none_or(|delivery| deliveries.insert(delivery));
            !(new_address && new_delivery)
        })
        .collect()
}
