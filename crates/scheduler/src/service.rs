//! The Scheduler service.

use std::sync::Arc;

use convene_domain::event::MAX_PARTICIPANTS;
use convene_domain::{
    AddParticipant, CreateEvent, Delivery, Event, EventId, Interval, NewEvent, NewEventParts,
    NewUser, User, UserId, ValidationError,
};
use convene_store::Store;
use jiff::Timestamp;

use crate::SchedulerError;
use crate::planning::plan_deliveries;

/// The time zone of an event whose command names none and whose organizer
/// has none.
const DEFAULT_TIME_ZONE: &str = "UTC";

/// Books events and answers free/busy questions over one store.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>) -> Scheduler {
        Scheduler { store }
    }

    pub async fn create_user(&self, new_user: NewUser) -> Result<User, SchedulerError> {
        let user = new_user.into_user(UserId::generate());
        self.store.insert_user(&user).await?;
        tracing::info!(user.id = %user.id, "user created");
        Ok(user)
    }

    pub async fn user(&self, id: UserId) -> Result<User, SchedulerError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| not_found("user", id))
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
        let organizer = self
            .store
            .user(command.organizer)
            .await?
            .ok_or_else(|| unknown_user("organizer", command.organizer))?;
        self.require_participants(&command.participants).await?;

        let time_zone = command
            .time_zone
            .as_deref()
            .or(organizer.time_zone.as_deref())
            .unwrap_or(DEFAULT_TIME_ZONE);
        let new_event = NewEvent::new(NewEventParts {
            title: &command.title,
            description: command.description.as_deref(),
            location: command.location.as_deref(),
            start: command.start,
            end: command.end,
            time_zone,
            organizer: command.organizer,
            participants: command.participants,
            reminders: command.reminders,
        })?;
        let event = new_event.into_event(EventId::generate());
        let deliveries = plan_deliveries(&event, &event.attendees(), now)?;

        self.store.book_event(&event, &deliveries).await?;
        tracing::info!(
            event.id = %event.id,
            attendees = event.participants.len() + 1,
            deliveries = deliveries.len(),
            "event booked"
        );
        Ok(event)
    }

    pub async fn event(&self, id: EventId) -> Result<Event, SchedulerError> {
        self.store
            .event(id)
            .await?
            .ok_or_else(|| not_found("event", id))
    }

    /// Adds a participant unless that person is busy during the event.
    pub async fn add_participant(
        &self,
        event_id: EventId,
        command: AddParticipant,
        now: Timestamp,
    ) -> Result<Event, SchedulerError> {
        let event = self.event(event_id).await?;
        if event.participants.len() >= MAX_PARTICIPANTS
            && !event.attendees().contains(&command.user)
        {
            return Err(ValidationError::new(
                "user",
                format!("the event already has the maximum of {MAX_PARTICIPANTS} participants"),
            )
            .into());
        }
        if self.store.user(command.user).await?.is_none() {
            return Err(unknown_user("user", command.user).into());
        }
        let deliveries = plan_deliveries(&event, &[command.user], now)?;
        self.store
            .add_participant(event_id, command.user, &deliveries)
            .await?;
        tracing::info!(event.id = %event_id, user.id = %command.user, "participant added");
        self.event(event_id).await
    }

    /// Removes a participant and that person's pending reminders.
    pub async fn remove_participant(
        &self,
        event_id: EventId,
        user: UserId,
    ) -> Result<Event, SchedulerError> {
        let event = self.event(event_id).await?;
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
        self.event(event_id).await
    }

    /// Returns the user's busy intervals that overlap `window`.
    pub async fn busy(
        &self,
        user: UserId,
        window: Interval,
    ) -> Result<Vec<Interval>, SchedulerError> {
        self.user(user).await?;
        Ok(self.store.busy(user, window).await?)
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

fn not_found(what: &'static str, id: impl ToString) -> SchedulerError {
    SchedulerError::NotFound {
        what,
        id: id.to_string(),
    }
}

fn unknown_user(field: &str, id: UserId) -> ValidationError {
    ValidationError::new(
        field,
        format!("no user has the id {id}; create the user first"),
    )
}
