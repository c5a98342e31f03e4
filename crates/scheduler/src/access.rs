//! Who may do what: the callers of the Scheduler, their API tokens and the rules that
//! decide which caller may read or change which resource.
//!
//! The rules:
//! - The administrator manages users and may act for anyone, including creating,
//!   changing and cancelling events on behalf of their organizers.
//! - A user manages their own profile, tokens, feeds and imported calendar.
//! - An event's organizer changes or cancels it and manages its participants.
//! - An event's attendees (its organizer and participants) see its details; every other
//!   user sees only busy time, through free/busy and slot searches.
//! - An attendee replies to an invitation only for themselves, and a participant may
//!   leave an event. A declined event is not the decliner's busy time.

use convene_domain::{Event, UserId};

use crate::SchedulerError;

/// The authenticated party behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The holder of the administrator token, which belongs to no user.
    Admin,
    /// A user, through one of their API tokens.
    User(UserId),
}

impl Caller {
    pub fn is_admin(self) -> bool {
        self == Caller::Admin
    }

    /// Returns whether the caller is the administrator or `user`.
    pub fn acts_for(self, user: UserId) -> bool {
        match self {
            Caller::Admin => true,
            Caller::User(id) => id == user,
        }
    }
}

/// Allows only the administrator.
pub fn require_admin(caller: Caller, action: &str) -> Result<(), SchedulerError> {
    if caller.is_admin() {
        return Ok(());
    }
    Err(forbidden(format!("only the administrator may {action}")))
}

/// Allows `user` and the administrator.
pub fn require_self(caller: Caller, user: UserId, action: &str) -> Result<(), SchedulerError> {
    if caller.acts_for(user) {
        return Ok(());
    }
    Err(forbidden(format!(
        "only user {user} and the administrator may {action}"
    )))
}

/// Allows the event's organizer and the administrator.
pub fn require_organizer(
    caller: Caller,
    event: &Event,
    action: &str,
) -> Result<(), SchedulerError> {
    if caller.acts_for(event.organizer) {
        return Ok(());
    }
    Err(forbidden(format!(
        "only the organizer of event {} may {action}",
        event.id
    )))
}

/// Allows the event's attendees, its organizer included, and the administrator, to read
/// the event or act on it as `action` describes.
pub fn require_attendee(caller: Caller, event: &Event, action: &str) -> Result<(), SchedulerError> {
    if is_attendee(caller, event) {
        return Ok(());
    }
    Err(forbidden(format!(
        "only the attendees of event {} may {action}",
        event.id
    )))
}

/// Returns whether the caller is the administrator or one of the event's attendees.
pub fn is_attendee(caller: Caller, event: &Event) -> bool {
    match caller {
        Caller::Admin => true,
        Caller::User(id) => event.organizer == id || event.participants.contains(&id),
    }
}

fn forbidden(reason: String) -> SchedulerError {
    SchedulerError::Forbidden { reason }
}

#[cfg(test)]
mod tests {
    use convene_domain::{EventId, EventStatus, Interval};

    use super::*;

    fn event(organizer: UserId, participant: UserId) -> Event {
        Event {
            id: EventId::generate(),
            title: "Review".to_owned(),
            description: None,
            location: None,
            interval: Interval::new(
                "2030-01-01T10:00:00Z".parse().unwrap(),
                "2030-01-01T11:00:00Z".parse().unwrap(),
                "end",
            )
            .unwrap(),
            time_zone: "UTC".to_owned(),
            organizer,
            participants: vec![participant],
            reminders: Vec::new(),
            sequence: 0,
            status: EventStatus::Confirmed,
            all_day: false,
            recurrence: None,
            external_uid: None,
        }
    }

    #[test]
    fn roles_against_event_rules() {
        let organizer = UserId::generate();
        let participant = UserId::generate();
        let other = UserId::generate();
        let event = event(organizer, participant);

        let change = |caller| require_organizer(caller, &event, "change it").is_ok();
        let read = |caller| require_attendee(caller, &event, "read it").is_ok();
        assert!(change(Caller::Admin));
        assert!(change(Caller::User(organizer)));
        assert!(!change(Caller::User(participant)));
        assert!(!change(Caller::User(other)));
        assert!(read(Caller::Admin));
        assert!(read(Caller::User(organizer)));
        assert!(read(Caller::User(participant)));
        assert!(!read(Caller::User(other)));
    }

    #[test]
    fn users_and_administrator() {
        let ann = UserId::generate();
        let bob = UserId::generate();
        assert!(require_admin(Caller::Admin, "create users").is_ok());
        let err = require_admin(Caller::User(ann), "create users").unwrap_err();
        assert_eq!(
            err.to_string(),
            "forbidden: only the administrator may create users"
        );
        assert!(require_self(Caller::User(ann), ann, "issue tokens").is_ok());
        assert!(require_self(Caller::Admin, ann, "issue tokens").is_ok());
        assert!(require_self(Caller::User(bob), ann, "issue tokens").is_err());
    }
}
