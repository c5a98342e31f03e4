//! The Scheduler service.

use std::sync::Arc;

use convene_domain::event::MAX_PARTICIPANTS;
use convene_domain::slots::{Availability, MAX_SLOTS, SlotQuery, free_slots};
use convene_domain::user::validate_text;
use convene_domain::{
    AddParticipant, Answer, ApiToken, ChannelKind, CreateEvent, Delivery, EmailAddress, Event,
    EventId, EventStatus, FeedId, FindSlots, Interval, NewEvent, NewEventParts,
    NewPushSubscription, NewUser, PushSubscription, PushSubscriptionId, ReminderPreferences,
    TokenId, UpdateEvent, UpdateUser, User, UserId, UserRef, ValidationError,
};
use convene_store::{Store, StoreError};
use jiff::{SignedDuration, Timestamp};

use crate::SchedulerError;
use crate::access::Caller;
use crate::invitations::{Invitation, InvitationKind, Invitations};
use crate::planning::plan_deliveries;
use crate::secrets;
use crate::timing;

/// The time zone of an event whose command names none and whose organizer
/// has none.
const DEFAULT_TIME_ZONE: &str = "UTC";

/// The step between proposed starts when a search names none.
const DEFAULT_GRANULARITY: SignedDuration = SignedDuration::from_mins(30);

/// How many slots a search returns when it names no count.
const DEFAULT_SLOT_COUNT: usize = 5;

/// The maximum number of participants in one free-slot search.
pub const MAX_SLOT_PARTICIPANTS: usize = 200;

/// The widest window one free-slot search may cover.
pub const MAX_SLOT_WINDOW: SignedDuration = SignedDuration::from_hours(92 * 24);

/// How far after a busy event's start the suggestions of a conflict reach.
const SUGGESTION_HORIZON: SignedDuration = SignedDuration::from_hours(14 * 24);

/// How many free slots a conflict suggests.
const SUGGESTION_COUNT: usize = 3;

/// Books events and answers free/busy questions over one store.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    invitations: Option<Arc<dyn Invitations>>,
    /// The hash of the administrator token, when one is configured.
    admin_token_hash: Option<String>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>) -> Scheduler {
        Scheduler {
            store,
            invitations: None,
            admin_token_hash: None,
        }
    }

    /// Accepts `token` as the administrator's from now on. Only its hash is kept.
    pub fn with_admin_token(mut self, token: &str) -> Scheduler {
        self.admin_token_hash = Some(secrets::token_hash(token));
        self
    }

    /// Sends invitations through `invitations` from now on; without, none are sent.
    pub fn with_invitations(mut self, invitations: Arc<dyn Invitations>) -> Scheduler {
        self.invitations = Some(invitations);
        self
    }

    pub async fn create_user(&self, new_user: NewUser) -> Result<User, SchedulerError> {
        let user = new_user.into_user(UserId::generate());
        require_phone_for_sms(&user)?;
        self.store.insert_user(&user).await?;
        tracing::info!(user.id = %user.id, "user created");
        Ok(user)
    }

    /// Returns the caller that `token` authenticates: the administrator, or the user who
    /// owns the token. Returns `None` for a token that is unknown or revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>, SchedulerError> {
        let hash = secrets::token_hash(token);
        if let Some(admin) = &self.admin_token_hash
            && secrets::constant_time_eq(admin.as_bytes(), hash.as_bytes())
        {
            return Ok(Some(Caller::Admin));
        }
        if !token.starts_with(secrets::API_TOKEN_PREFIX) {
            return Ok(None);
        }
        Ok(self
            .store
            .api_token(&hash)
            .await?
            .map(|token| Caller::User(token.user)))
    }

    /// Issues a new API token for `user` and returns it with its secret. The secret is
    /// shown only now: only its hash is stored.
    pub async fn issue_token(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<(ApiToken, String), SchedulerError> {
        let token = ApiToken {
            id: TokenId::generate(),
            user,
            // Stores keep whole microseconds, so the issued token shows what a listing will.
            created_at: Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now),
        };
        let secret = secrets::new_api_token();
        self.store
            .create_api_token(&token, &secrets::token_hash(&secret))
            .await?;
        tracing::info!(user.id = %user, token.id = %token.id, "API token issued");
        Ok((token, secret))
    }

    /// Returns a page of the user's API tokens that are not revoked, in id order.
    pub async fn tokens(
        &self,
        user: UserId,
        after: Option<TokenId>,
        limit: usize,
    ) -> Result<Vec<ApiToken>, SchedulerError> {
        self.user(user).await?;
        Ok(self.store.api_tokens(user, after, limit).await?)
    }

    /// Revokes an API token of `user`, so that it no longer authenticates anyone.
    pub async fn revoke_token(&self, user: UserId, id: TokenId) -> Result<(), SchedulerError> {
        if !self.store.revoke_api_token(user, id).await? {
            return Err(not_found("token", id));
        }
        tracing::info!(user.id = %user, token.id = %id, "API token revoked");
        Ok(())
    }

    /// Returns the user with the address `email`, compared case-insensitively.
    pub async fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<User>, SchedulerError> {
        let found = self
            .store
            .users_by_email(std::slice::from_ref(email))
            .await?;
        Ok(found.into_iter().next())
    }

    /// Returns a page of all users, in id order.
    pub async fn users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, SchedulerError> {
        Ok(self.store.list_users(after, limit).await?)
    }

    /// Returns a page of the events that `user` organizes or takes part in, cancelled and
    /// imported ones included, in id order.
    pub async fn events_of(
        &self,
        user: UserId,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, SchedulerError> {
        self.user(user).await?;
        Ok(self.store.attended_events(user, after, limit).await?)
    }

    pub async fn user(&self, id: UserId) -> Result<User, SchedulerError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| not_found("user", id))
    }

    /// Changes the fields of a user that `command` sets.
    pub async fn update_user(
        &self,
        id: UserId,
        command: UpdateUser,
    ) -> Result<User, SchedulerError> {
        // As in `update_event`, a change that another request overtook is made again on
        // the profile as it is now, so neither request undoes the other.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_update_user(id, &command).await {
                Err(SchedulerError::Store(StoreError::Stale { .. })) if tries < UPDATE_TRIES => {
                    tracing::debug!(user.id = %id, tries, "user changed meanwhile; updating again");
                }
                result => return result,
            }
        }
    }

    /// Reads the user, applies `command` and writes it if the user is still as read.
    async fn try_update_user(
        &self,
        id: UserId,
        command: &UpdateUser,
    ) -> Result<User, SchedulerError> {
        let command = command.clone();
        let read = self.user(id).await?;
        let mut user = read.clone();
        if let Some(name) = command.name {
            user.name = validate_text("name", &name, convene_domain::user::MAX_NAME_CHARS)?;
        }
        if let Some(email) = command.email {
            user.email = EmailAddress::parse("email", &email)?;
        }
        if let Some(time_zone) = command.time_zone {
            user.time_zone = time_zone;
        }
        if let Some(hours) = command.working_hours {
            user.working_hours = hours;
        }
        if let Some(phone) = command.phone {
            user.phone = phone;
        }
        // NOTE: new preferences apply to reminders planned from now on; those already
        // planned keep their channels and offsets. Dropping the person's waiting deliveries
        // of future events and planning them again, in one store transaction, would apply
        // them at once.
        if command.reminders.is_some() || command.channels.is_some() {
            user.reminders = ReminderPreferences::new(
                command
                    .reminders
                    .unwrap_or_else(|| user.reminders.before.clone()),
                command
                    .channels
                    .unwrap_or_else(|| user.reminders.channels.clone()),
            )?;
        }
        require_phone_for_sms(&user)?;
        if !self.store.update_user(&user, &read).await? {
            return Err(not_found("user", id));
        }
        tracing::info!(user.id = %id, "user updated");
        Ok(user)
    }

    /// Returns the earliest slots in which every participant is free: inside their working
    /// hours, in their own time zones, and outside all of their events.
    pub async fn find_slots(&self, command: FindSlots) -> Result<Vec<Interval>, SchedulerError> {
        if command.participants.is_empty() {
            return Err(
                ValidationError::new("participants", "name at least one participant").into(),
            );
        }
        if command.participants.len() > MAX_SLOT_PARTICIPANTS {
            return Err(ValidationError::new(
                "participants",
                format!("at most {MAX_SLOT_PARTICIPANTS} participants are allowed in one search"),
            )
            .into());
        }
        let window = Interval::new(command.from, command.to, "to")?;
        if command.to.duration_since(command.from) > MAX_SLOT_WINDOW {
            return Err(ValidationError::new(
                "to",
                format!(
                    "the window from `from` to `to` may span at most {} days",
                    MAX_SLOT_WINDOW.as_hours() / 24
                ),
            )
            .into());
        }
        if command.duration > command.to.duration_since(command.from) {
            return Err(ValidationError::new(
                "duration",
                "is longer than the window from `from` to `to`; widen the window",
            )
            .into());
        }
        let granularity = command.granularity.unwrap_or(DEFAULT_GRANULARITY);
        if granularity < SignedDuration::from_mins(1) {
            return Err(
                ValidationError::new("granularity", "must be at least one minute (PT1M)").into(),
            );
        }
        let count = command.count.unwrap_or(DEFAULT_SLOT_COUNT);
        if count > MAX_SLOTS {
            return Err(
                ValidationError::new("count", format!("must be at most {MAX_SLOTS}")).into(),
            );
        }
        self.require_participants(&command.participants).await?;
        let query = SlotQuery {
            window,
            duration: command.duration,
            granularity,
            count,
        };
        self.slots_for(&command.participants, &query).await
    }

    /// Runs a free-slot search over the stored users and their busy times.
    async fn slots_for(
        &self,
        participants: &[UserId],
        query: &SlotQuery,
    ) -> Result<Vec<Interval>, SchedulerError> {
        let users = self.store.users(participants).await?;
        let mut busy = Vec::with_capacity(users.len());
        for user in &users {
            busy.push(self.store.busy(user.id, query.window).await?);
        }
        let zones: Vec<_> = users.iter().map(User::zone).collect();
        let people: Vec<Availability<'_>> = users
            .iter()
            .zip(&zones)
            .zip(&busy)
            .map(|((user, zone), busy)| Availability {
                zone,
                working_hours: &user.working_hours,
                busy,
            })
            .collect();
        Ok(free_slots(&people, query))
    }

    /// Returns the next free slots of `interval`'s length for `attendees`, from its start.
    async fn suggestions(
        &self,
        attendees: &[UserId],
        interval: Interval,
    ) -> Result<Vec<Interval>, SchedulerError> {
        // Suggestions start on the hour or the half hour (in UTC, which is the same in
        // every zone whose offset is a whole number of half hours), as people propose
        // meetings, not at the requested start's odd minutes.
        let step = DEFAULT_GRANULARITY.as_secs();
        let aligned = interval.start().as_second().div_euclid(step) * step
            + if interval.start().as_second().rem_euclid(step) == 0
                && interval.start().subsec_nanosecond() == 0
            {
                0
            } else {
                step
            };
        let Ok(start) = Timestamp::from_second(aligned) else {
            return Ok(Vec::new());
        };
        let Ok(end) = start.checked_add(SUGGESTION_HORIZON) else {
            return Ok(Vec::new());
        };
        let query = SlotQuery {
            window: Interval::from_ordered(start, end),
            duration: interval.end().duration_since(interval.start()),
            granularity: DEFAULT_GRANULARITY,
            count: SUGGESTION_COUNT,
        };
        self.slots_for(attendees, &query).await
    }

    /// Adds suggestions to a conflict error, leaving any other error as it is.
    async fn with_suggestions(
        &self,
        error: SchedulerError,
        attendees: &[UserId],
        interval: Interval,
    ) -> SchedulerError {
        match error {
            SchedulerError::Busy { conflicts, .. } => {
                let suggestions = match self.suggestions(attendees, interval).await {
                    Ok(suggestions) => suggestions,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not compute suggestions for a conflict");
                        Vec::new()
                    }
                };
                SchedulerError::Busy {
                    conflicts,
                    suggestions,
                }
            }
            other => other,
        }
    }

    /// Books an event for `caller`: a user organizes their own events, and only the
    /// administrator may name another organizer.
    pub async fn create_event_as(
        &self,
        caller: Caller,
        mut command: CreateEvent,
        now: Timestamp,
    ) -> Result<Event, SchedulerError> {
        if let Caller::User(id) = caller {
            match &command.organizer {
                None => command.organizer = Some(UserRef::Id(id)),
                Some(named) => {
                    if self.resolve_user("organizer", named).await? != id {
                        return Err(SchedulerError::Forbidden {
                            reason: "a user may create events only as their organizer; leave \
                                     `organizer` out, or ask the administrator to create the \
                                     event on the organizer's behalf"
                                .to_owned(),
                        });
                    }
                }
            }
        }
        self.create_event(command, now).await
    }

    /// Books an event unless an attendee is busy.
    ///
    /// Unknown users in the command are reported as invalid fields
    /// (`organizer`, `participants/N`) rather than as a missing resource,
    /// because the request itself names an existing collection.
    pub async fn create_event(
        &self,
        command: CreateEvent,
        now: Timestamp,
    ) -> Result<Event, SchedulerError> {
        let Some(organizer_ref) = &command.organizer else {
            return Err(ValidationError::new(
                "organizer",
                "is required here; name the user on whose behalf the event is created",
            )
            .into());
        };
        let organizer_id = self.resolve_user("organizer", organizer_ref).await?;
        let organizer = self
            .store
            .user(organizer_id)
            .await?
            .ok_or_else(|| unknown_user("organizer", organizer_id))?;
        let participants = self.resolve_participants(&command.participants).await?;
        self.require_participants(&participants).await?;

        let time_zone = command
            .time_zone
            .as_deref()
            .or(organizer.time_zone.as_deref())
            .unwrap_or(DEFAULT_TIME_ZONE);
        let zone = timing::zone(time_zone)?;
        let (start, end, all_day) = timing::resolve_span(command.start, command.end, &zone)?;
        let recurrence = command
            .recurrence
            .map(|request| timing::resolve_recurrence(request, &zone, all_day))
            .transpose()?;
        let new_event = NewEvent::new(NewEventParts {
            title: &command.title,
            description: command.description.as_deref(),
            location: command.location.as_deref(),
            start,
            end,
            time_zone,
            organizer: organizer_id,
            participants,
            reminders: command.reminders,
            all_day,
            recurrence,
        })?;
        let event = new_event.into_event(EventId::generate());
        let attendees = self.store.users(&event.attendees()).await?;
        let deliveries = plan_deliveries(&event, &attendees, now)?;

        if let Err(err) = self.store.book_event(&event, &deliveries).await {
            return Err(self
                .with_suggestions(err.into(), &event.attendees(), event.interval)
                .await);
        }
        tracing::info!(
            event.id = %event.id,
            attendees = event.participants.len() + 1,
            deliveries = deliveries.len(),
            "event booked"
        );
        // An event booked after it has ended is a record, not a meeting to come to.
        let zone = event.zone();
        let ended = event.timing(&zone).last_end().is_some_and(|end| end <= now);
        if !ended {
            self.invite(InvitationKind::Request, &event, &event.participants, None)
                .await;
        }
        Ok(event)
    }

    pub async fn event(&self, id: EventId) -> Result<Event, SchedulerError> {
        self.store
            .event(id)
            .await?
            .ok_or_else(|| not_found("event", id))
    }

    /// Changes the fields of an event that `command` sets.
    ///
    /// A new time is checked against every attendee's other events, and reminders are
    /// planned anew from it. A new time raises the event's sequence, so that calendars
    /// treat the change as one to answer again (RFC 5546, section 2.1.4).
    pub async fn update_event(
        &self,
        id: EventId,
        command: UpdateEvent,
        now: Timestamp,
    ) -> Result<Event, SchedulerError> {
        // Another request may change the event between the read and the write. The store
        // then writes nothing, and the change is made again on the event as it is now, so
        // both requests' changes are kept and the reminders follow the stored time.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_update_event(id, &command, now).await {
                Err(SchedulerError::Store(StoreError::Stale { .. })) if tries < UPDATE_TRIES => {
                    tracing::debug!(event.id = %id, tries, "event changed meanwhile; updating again");
                }
                result => return result,
            }
        }
    }

    /// Reads the event, applies `command` and writes it if the event is still as read.
    async fn try_update_event(
        &self,
        id: EventId,
        command: &UpdateEvent,
        now: Timestamp,
    ) -> Result<Event, SchedulerError> {
        let command = command.clone();
        let current = self.event(id).await?;
        if current.status == EventStatus::Cancelled {
            return Err(SchedulerError::Cancelled { id: id.to_string() });
        }
        let description = match command.description {
            Some(description) => description,
            None => current.description.clone(),
        };
        let location = match command.location {
            Some(location) => location,
            None => current.location.clone(),
        };
        let time_zone = command.time_zone.as_deref().unwrap_or(&current.time_zone);
        let zone = timing::zone(time_zone)?;
        let current_zone = current.zone();
        let (start, end, all_day) = timing::resolve_span(
            command.start.unwrap_or_else(|| {
                timing::as_requested(current.interval.start(), &current_zone, current.all_day)
            }),
            command.end.unwrap_or_else(|| {
                timing::as_requested(current.interval.end(), &current_zone, current.all_day)
            }),
            &zone,
        )?;
        let recurrence = match command.recurrence {
            Some(Some(request)) => Some(timing::resolve_recurrence(request, &zone, all_day)?),
            Some(None) => None,
            None => current.recurrence.clone(),
        };
        let new_event = NewEvent::new(NewEventParts {
            title: command.title.as_deref().unwrap_or(&current.title),
            description: description.as_deref(),
            location: location.as_deref(),
            start,
            end,
            time_zone,
            organizer: current.organizer,
            participants: current.participants.clone(),
            reminders: command
                .reminders
                .unwrap_or_else(|| current.reminders.clone()),
            all_day,
            recurrence,
        })?;
        let mut event = new_event.into_event(id);
        let moved = event.interval != current.interval
            || event.all_day != current.all_day
            || event.recurrence != current.recurrence;
        event.sequence = current.sequence + u32::from(moved);
        event.status = current.status;

        let replan = moved || event.reminders != current.reminders;
        let deliveries = if replan {
            let attendees = self.store.users(&event.attendees()).await?;
            Some(plan_deliveries(&event, &attendees, now)?)
        } else {
            None
        };
        if let Err(err) = self
            .store
            .update_event(&event, &current, deliveries.as_deref(), now)
            .await
        {
            return Err(self
                .with_suggestions(err.into(), &event.attendees(), event.interval)
                .await);
        }
        tracing::info!(event.id = %id, moved, replanned = replan, "event updated");
        self.invite(InvitationKind::Request, &event, &event.participants, None)
            .await;
        Ok(event)
    }

    /// Cancels an event: it stays readable with its new status, but is no longer busy time,
    /// and its pending reminders are dropped. Cancelling twice changes nothing more.
    pub async fn cancel_event(&self, id: EventId, now: Timestamp) -> Result<Event, SchedulerError> {
        let current = self.event(id).await?;
        if current.status == EventStatus::Cancelled {
            return Ok(current);
        }
        if !self.store.cancel_event(id, now).await? {
            return Err(not_found("event", id));
        }
        tracing::info!(event.id = %id, "event cancelled");
        let event = self.event(id).await?;
        self.invite(InvitationKind::Cancel, &event, &event.participants, None)
            .await;
        Ok(event)
    }

    /// Stores events that `owner` imported from another calendar as that person's busy time,
    /// replacing earlier imports with the same UIDs. Returns how many were stored.
    pub async fn import_events(
        &self,
        owner: UserId,
        events: Vec<Event>,
    ) -> Result<usize, SchedulerError> {
        self.user(owner).await?;
        if let Some(index) = events.iter().position(|event| {
            event.organizer != owner
                || !event.participants.is_empty()
                || event.external_uid.is_none()
        }) {
            return Err(ValidationError::new(
                format!("events/{index}"),
                "an imported event belongs to its importer alone and has a UID",
            )
            .into());
        }
        self.store.import_events(owner, &events).await?;
        tracing::info!(user.id = %owner, events = events.len(), "calendar imported");
        Ok(events.len())
    }

    /// Deletes every event that `owner` imported from other calendars. Returns how many
    /// there were.
    pub async fn remove_imported(&self, owner: UserId) -> Result<usize, SchedulerError> {
        self.user(owner).await?;
        let removed = self.store.remove_imported(owner).await?;
        tracing::info!(user.id = %owner, events = removed, "imported calendar removed");
        Ok(removed)
    }

    /// Returns an event with its organizer and participants, for an export.
    pub async fn event_with_people(
        &self,
        id: EventId,
    ) -> Result<(Event, User, Vec<User>), SchedulerError> {
        let event = self.event(id).await?;
        let (organizer, participants) = self.people(&event).await?;
        Ok((event, organizer, participants))
    }

    /// Creates a calendar feed for `user` and returns its id and secret token. The token is
    /// shown only now: only its hash is stored.
    pub async fn create_feed(&self, user: UserId) -> Result<(FeedId, String), SchedulerError> {
        self.user(user).await?;
        let id = FeedId::generate();
        let token = secrets::new_token();
        self.store
            .create_feed(id, user, &secrets::token_hash(&token))
            .await?;
        tracing::info!(user.id = %user, feed.id = %id, "feed created");
        Ok((id, token))
    }

    /// Returns a page of the user's feeds that are not revoked, in id order.
    pub async fn feeds(
        &self,
        user: UserId,
        after: Option<FeedId>,
        limit: usize,
    ) -> Result<Vec<FeedId>, SchedulerError> {
        self.user(user).await?;
        Ok(self.store.feeds(user, after, limit).await?)
    }

    /// Revokes a feed, so that its URL stops working.
    pub async fn revoke_feed(&self, user: UserId, id: FeedId) -> Result<(), SchedulerError> {
        if !self.store.revoke_feed(user, id).await? {
            return Err(not_found("feed", id));
        }
        tracing::info!(user.id = %user, feed.id = %id, "feed revoked");
        Ok(())
    }

    /// Registers a browser's push subscription for `user`. Registering the same endpoint
    /// again replaces its keys.
    pub async fn subscribe_push(
        &self,
        user: UserId,
        subscription: NewPushSubscription,
        now: Timestamp,
    ) -> Result<PushSubscription, SchedulerError> {
        self.user(user).await?;
        let stored = self
            .store
            .add_push_subscription(
                &PushSubscription {
                    id: PushSubscriptionId::generate(),
                    user,
                    endpoint: subscription.endpoint,
                    p256dh: subscription.p256dh,
                    auth: subscription.auth,
                    // Stores keep whole microseconds, so the response shows what a listing will.
                    created_at: Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now),
                },
                MAX_PUSH_SUBSCRIPTIONS,
            )
            .await?;
        let Some(stored) = stored else {
            return Err(ValidationError::new(
                "endpoint",
                format!(
                    "the user already has {MAX_PUSH_SUBSCRIPTIONS} push subscriptions, the maximum; remove one that is no longer used first"
                ),
            )
            .into());
        };
        tracing::info!(user.id = %user, subscription.id = %stored.id, "push subscription registered");
        Ok(stored)
    }

    /// Returns the push subscriptions of `user`.
    pub async fn push_subscriptions(
        &self,
        user: UserId,
    ) -> Result<Vec<PushSubscription>, SchedulerError> {
        self.user(user).await?;
        Ok(self.store.push_subscriptions(user).await?)
    }

    /// Removes a push subscription of `user`.
    pub async fn unsubscribe_push(
        &self,
        user: UserId,
        id: PushSubscriptionId,
    ) -> Result<(), SchedulerError> {
        if !self.store.remove_push_subscription(user, id).await? {
            return Err(not_found("push subscription", id));
        }
        tracing::info!(user.id = %user, subscription.id = %id, "push subscription removed");
        Ok(())
    }

    /// Returns the owner of the feed with `token` and the events the feed shows, each with
    /// its organizer and participants: the owner's events that have not ended by `since`,
    /// at most `limit`.
    pub async fn feed(
        &self,
        token: &str,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Event, User, Vec<User>)>, SchedulerError> {
        let Some(owner) = self.store.feed_owner(&secrets::token_hash(token)).await? else {
            return Err(not_found("feed", "with this token"));
        };
        let events = self.store.user_events(owner, since, limit).await?;
        // One lookup for the people of every event, because a feed may list thousands.
        let mut ids: Vec<UserId> = events.iter().flat_map(Event::attendees).collect();
        ids.sort();
        ids.dedup();
        let people: std::collections::HashMap<UserId, User> = self
            .store
            .users(&ids)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect();
        let mut entries = Vec::with_capacity(events.len());
        for event in events {
            let Some(organizer) = people.get(&event.organizer).cloned() else {
                return Err(not_found("user", event.organizer));
            };
            let participants = event
                .participants
                .iter()
                .filter_map(|id| people.get(id).cloned())
                .collect();
            entries.push((event, organizer, participants));
        }
        Ok(entries)
    }

    /// Returns the organizer and the participants of `event`, leaving out any that no longer
    /// exist.
    async fn people(&self, event: &Event) -> Result<(User, Vec<User>), SchedulerError> {
        let mut users = self.store.users(&event.attendees()).await?;
        let Some(position) = users.iter().position(|user| user.id == event.organizer) else {
            return Err(not_found("user", event.organizer));
        };
        let organizer = users.remove(position);
        Ok((organizer, users))
    }

    /// Adds a participant unless that person is busy during the event.
    pub async fn add_participant(
        &self,
        event_id: EventId,
        command: AddParticipant,
        now: Timestamp,
    ) -> Result<Event, SchedulerError> {
        let event = self.event(event_id).await?;
        if event.status == EventStatus::Cancelled {
            return Err(SchedulerError::Cancelled {
                id: event_id.to_string(),
            });
        }
        if event.organizer == command.user {
            return Err(ValidationError::new(
                "user",
                "is the organizer, who always attends their own event",
            )
            .into());
        }
        // Adding someone who already takes part changes nothing and invites no one again.
        if event.participants.contains(&command.user) {
            return Ok(event);
        }
        if event.participants.len() >= MAX_PARTICIPANTS {
            return Err(ValidationError::new(
                "user",
                format!("the event already has the maximum of {MAX_PARTICIPANTS} participants"),
            )
            .into());
        }
        let Some(user) = self.store.user(command.user).await? else {
            return Err(unknown_user("user", command.user).into());
        };
        let deliveries = plan_deliveries(&event, &[user], now)?;
        self.store
            .add_participant(event_id, command.user, &deliveries)
            .await?;
        tracing::info!(event.id = %event_id, user.id = %command.user, "participant added");
        let event = self.event(event_id).await?;
        self.invite(InvitationKind::Request, &event, &[command.user], None)
            .await;
        Ok(event)
    }

    /// Removes a participant and that person's pending reminders.
    pub async fn remove_participant(
        &self,
        event_id: EventId,
        user: UserId,
    ) -> Result<Event, SchedulerError> {
        let event = self.event(event_id).await?;
        if event.status == EventStatus::Cancelled {
            return Err(SchedulerError::Cancelled {
                id: event_id.to_string(),
            });
        }
        if event.organizer == user {
            return Err(ValidationError::new(
                "user",
                "the organizer cannot be removed from their own event",
            )
            .into());
        }
        if !self.store.remove_participant(event_id, user).await? {
            return Err(SchedulerError::NotFound {
                what: "participant",
                id: user.to_string(),
            });
        }
        tracing::info!(event.id = %event_id, user.id = %user, "participant removed");
        let event = self.event(event_id).await?;
        self.invite(InvitationKind::Cancel, &event, &[user], None)
            .await;
        Ok(event)
    }

    /// Records a participant's reply to the invitation and sends it to the organizer. A
    /// decline drops the participant's waiting reminders, and accepting after a decline plans
    /// them again as of `now`.
    pub async fn answer(
        &self,
        event_id: EventId,
        user: UserId,
        answer: Answer,
        now: Timestamp,
    ) -> Result<Vec<(UserId, Answer)>, SchedulerError> {
        let event = self.event(event_id).await?;
        if event.status == EventStatus::Cancelled {
            return Err(SchedulerError::Cancelled {
                id: event_id.to_string(),
            });
        }
        if event.organizer == user {
            return Err(ValidationError::new(
                "user",
                "the organizer attends their own event and does not answer the invitation",
            )
            .into());
        }
        if answer == Answer::NeedsAction {
            return Err(ValidationError::new(
                "response",
                "must be accepted, declined or tentative",
            )
            .into());
        }
        let person = self.store.users(&[user]).await?;
        let deliveries = plan_deliveries(&event, &person, now)?;
        if !self
            .store
            .set_answer(event_id, user, answer, &deliveries)
            .await?
        {
            return Err(ValidationError::new(
                "user",
                format!("{user} does not take part in the event; add them as a participant first"),
            )
            .into());
        }
        tracing::info!(event.id = %event_id, user.id = %user, response = answer.as_str(), "invitation reply recorded");
        self.invite(
            InvitationKind::Reply,
            &event,
            &[event.organizer],
            Some(user),
        )
        .await;
        self.answers(event_id).await
    }

    /// Returns every attendee's reply to the invitation to an event, the organizer's
    /// included.
    pub async fn answers(
        &self,
        event_id: EventId,
    ) -> Result<Vec<(UserId, Answer)>, SchedulerError> {
        Ok(self.store.answers(event_id).await?)
    }

    /// Sends an invitation message about `event` to `recipients`, if invitations are
    /// configured and the event is Convene's own: imported events belong to other
    /// calendars. A failure is logged and otherwise ignored, because the change is stored.
    async fn invite(
        &self,
        kind: InvitationKind,
        event: &Event,
        recipients: &[UserId],
        answering: Option<UserId>,
    ) {
        let Some(invitations) = &self.invitations else {
            return;
        };
        if event.external_uid.is_some() || recipients.is_empty() {
            return;
        }
        let invitation = match self.invitation(kind, event, recipients, answering).await {
            Ok(invitation) => invitation,
            Err(err) => {
                tracing::warn!(event.id = %event.id, error = %err, "could not prepare invitations");
                return;
            }
        };
        // NOTE: a crash between storing a change and queueing its messages loses them,
        // because they are queued in a transaction of their own. Queueing them in the
        // change's transaction would close the gap.
        invitations.send(invitation).await;
    }

    async fn invitation(
        &self,
        kind: InvitationKind,
        event: &Event,
        recipients: &[UserId],
        answering: Option<UserId>,
    ) -> Result<Invitation, SchedulerError> {
        let answers = self.store.answers(event.id).await?;
        let mut wanted: Vec<UserId> = answers.iter().map(|(user, _)| *user).collect();
        wanted.extend(recipients.iter().copied());
        let users = self.store.users(&wanted).await?;
        let find = |id: UserId| {
            users
                .iter()
                .find(|user| user.id == id)
                .cloned()
                .ok_or_else(|| not_found("user", id))
        };
        Ok(Invitation {
            kind,
            event: event.clone(),
            organizer: find(event.organizer)?,
            attendees: answers
                .iter()
                .map(|(user, answer)| Ok((find(*user)?, *answer)))
                .collect::<Result<_, SchedulerError>>()?,
            recipients: recipients
                .iter()
                .map(|user| find(*user))
                .collect::<Result<_, _>>()?,
            answering: answering.map(find).transpose()?,
        })
    }

    /// Returns the user's busy intervals that overlap `window`.
    pub async fn busy(
        &self,
        user: UserId,
        window: Interval,
    ) -> Result<Vec<Interval>, SchedulerError> {
        self.user(user).await?;
        Ok(merge(self.store.busy(user, window).await?))
    }

    /// Returns each planned reminder delivery of an event, with its state.
    pub async fn deliveries(
        &self,
        event: EventId,
        now: Timestamp,
    ) -> Result<Vec<Delivery>, SchedulerError> {
        self.event(event).await?;
        Ok(self.store.deliveries(event, now).await?)
    }

    /// Returns the id of the user that `user` names, looking an address up in the store.
    async fn resolve_user(&self, field: &str, user: &UserRef) -> Result<UserId, SchedulerError> {
        match user {
            UserRef::Id(id) => Ok(*id),
            UserRef::Address(address) => {
                let found = self
                    .store
                    .users_by_email(std::slice::from_ref(address))
                    .await?;
                match found.first() {
                    Some(user) => Ok(user.id),
                    None => Err(unknown_address(field, address).into()),
                }
            }
        }
    }

    /// Returns the ids of the participants, looking all addresses up in one store call.
    async fn resolve_participants(
        &self,
        participants: &[UserRef],
    ) -> Result<Vec<UserId>, SchedulerError> {
        let addresses: Vec<EmailAddress> = participants
            .iter()
            .filter_map(|user| match user {
                UserRef::Address(address) => Some(address.clone()),
                UserRef::Id(_) => None,
            })
            .collect();
        let found = if addresses.is_empty() {
            Vec::new()
        } else {
            self.store.users_by_email(&addresses).await?
        };
        participants
            .iter()
            .enumerate()
            .map(|(i, user)| match user {
                UserRef::Id(id) => Ok(*id),
                UserRef::Address(address) => found
                    .iter()
                    .find(|user| user.email.as_str().eq_ignore_ascii_case(address.as_str()))
                    .map(|user| user.id)
                    .ok_or_else(|| unknown_address(&format!("participants/{i}"), address).into()),
            })
            .collect()
    }

    async fn require_participants(&self, participants: &[UserId]) -> Result<(), SchedulerError> {
        let found = self.store.users(participants).await?;
        for (i, user) in participants.iter().enumerate() {
            if !found.iter().any(|found| found.id == *user) {
                return Err(unknown_user(&format!("participants/{i}"), *user).into());
            }
        }
        Ok(())
    }
}

/// Joins sorted busy intervals that overlap or touch, so that busy time reads as the spans
/// a person is taken, whatever events make them up.
fn merge(busy: Vec<Interval>) -> Vec<Interval> {
    let mut merged: Vec<Interval> = Vec::with_capacity(busy.len());
    for interval in busy {
        match merged.last_mut() {
            Some(last) if interval.start() <= last.end() => {
                if interval.end() > last.end() {
                    *last = Interval::from_ordered(last.start(), interval.end());
                }
            }
            _ => merged.push(interval),
        }
    }
    merged
}

/// How many times an event or profile update is tried when other requests keep changing
/// it between its read and its write.
const UPDATE_TRIES: u32 = 10;

/// Maximum number of browsers one person may register for push reminders. Each push
/// reminder goes to all of them, so the bound also bounds the requests of one reminder.
pub const MAX_PUSH_SUBSCRIPTIONS: usize = 20;

fn not_found(what: &'static str, id: impl ToString) -> SchedulerError {
    SchedulerError::NotFound {
        what,
        id: id.to_string(),
    }
}

fn unknown_address(field: &str, address: &EmailAddress) -> ValidationError {
    ValidationError::new(
        field,
        format!("no user has the address {address}; create the user first"),
    )
}

fn unknown_user(field: &str, id: UserId) -> ValidationError {
    ValidationError::new(
        field,
        format!("no user has the id {id}; create the user first"),
    )
}

/// Refuses reminder preferences that name SMS for a person without a telephone number.
fn require_phone_for_sms(user: &User) -> Result<(), ValidationError> {
    if user.reminders.channels.contains(&ChannelKind::Sms) && user.phone.is_none() {
        return Err(ValidationError::new(
            "channels",
            "sms needs a telephone number; set phone too, or leave sms out",
        ));
    }
    Ok(())
}
