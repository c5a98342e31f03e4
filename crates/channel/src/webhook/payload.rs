//! The JSON body of a reminder webhook.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::{Recipient, Reminder};

/// The event type of a reminder that fell due.
pub const REMINDER_DUE: &str = "reminder.due";

/// The body of a webhook request: the envelope that the Standard Webhooks specification
/// recommends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The event type, [`REMINDER_DUE`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened, in RFC 3339 and UTC: for a reminder, when it fell due.
    /// Retries keep it, while `webhook-timestamp` gives each attempt's own time.
    pub timestamp: String,
    pub data: ReminderDue,
}

/// The data of a `reminder.due` webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderDue {
    /// The reminder delivery, also sent as `webhook-id`.
    pub delivery_id: String,
    pub event_id: String,
    pub title: String,
    /// `null` when the event has no location.
    pub location: Option<String>,
    /// Whether the event covers whole days; `start` and `end` are then local midnights.
    pub all_day: bool,
    /// The event's start, in RFC 3339 and UTC, such as `2026-03-03T13:00:00Z`.
    pub start: String,
    /// The event's end, which it does not include, in RFC 3339 and UTC.
    pub end: String,
    /// The start in the recipient's time zone, in RFC 3339 with that zone's offset, such as
    /// `2026-03-03T14:00:00+01:00`.
    pub local_start: String,
    /// The IANA name of the recipient's time zone, or of the event's when the recipient
    /// has none.
    pub time_zone: String,
    /// How long before the start the reminder is due, as an ISO 8601 duration such as
    /// `PT15M`.
    pub offset: String,
    pub recipient: WebhookRecipient,
}

/// The person a webhook reminds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecipient {
    pub id: String,
    pub name: String,
    pub email: String,
}

impl WebhookPayload {
    /// Builds the payload that reminds `recipient` of `reminder`, which fell due at
    /// `due_at`.
    pub fn reminder_due(
        reminder: &Reminder,
        recipient: &Recipient,
        due_at: Timestamp,
    ) -> WebhookPayload {
        let event = &reminder.event;
        let user = &recipient.user;
        // The recipient reads times in their own zone, or in the event's when they set
        // none, as in e-mail reminders. Stored zone names are valid, so UTC replaces only
        // a zone that a newer database renamed.
        let zone_name = user.time_zone.as_deref().unwrap_or(&event.time_zone);
        let zone = TimeZone::get(zone_name).unwrap_or(TimeZone::UTC);
        let start = event.interval.start();
        let offset = zone.to_offset(start);

        WebhookPayload {
            event_type: REMINDER_DUE.to_owned(),
            timestamp: due_at.to_string(),
            data: ReminderDue {
                delivery_id: recipient.delivery.to_string(),
                event_id: event.id.to_string(),
                title: event.title.clone(),
                location: event.location.clone(),
                all_day: event.all_day,
                start: start.to_string(),
                end: event.interval.end().to_string(),
                local_start: start.display_with_offset(offset).to_string(),
                time_zone: zone_name.to_owned(),
                offset: reminder.offset.to_string(),
                recipient: WebhookRecipient {
                    id: user.id.to_string(),
                    name: user.name.clone(),
                    email: user.email.to_string(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use convene_domain::{
        DeliveryId, EventId, NewEvent, NewEventParts, NewUser, ReminderOffset, UserId,
    };

    use super::*;

    fn reminder() -> Reminder {
        let organizer = NewUser::new("Ann", "ann@alpha.test", None)
            .unwrap()
            .into_user(UserId::generate());
        let offset = ReminderOffset::parse("before", "PT15M").unwrap();
        let event = NewEvent::new(NewEventParts {
            title: "Planning",
            description: None,
            location: Some("Room 1"),
            start: "2030-01-15T08:00:00Z".parse().unwrap(),
            end: "2030-01-15T09:30:00Z".parse().unwrap(),
            time_zone: "Europe/Berlin",
            organizer: organizer.id,
            participants: vec![],
            reminders: vec![offset.clone()],
            all_day: false,
            recurrence: None,
        })
        .unwrap()
        .into_event(EventId::generate());
        Reminder {
            event,
            organizer,
            offset,
        }
    }

    fn recipient(time_zone: Option<&str>) -> Recipient {
        Recipient {
            delivery: DeliveryId::generate(),
            user: NewUser::new("Bob", "bob@beta.test", time_zone)
                .unwrap()
                .into_user(UserId::generate()),
            due_at: "2030-01-15T07:45:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn payload_shows_start_in_recipient_zone() {
        let reminder = reminder();
        let recipient = recipient(Some("America/New_York"));
        let due_at: Timestamp = "2030-01-15T07:45:00Z".parse().unwrap();

        let payload = WebhookPayload::reminder_due(&reminder, &recipient, due_at);

        assert_eq!(payload.event_type, "reminder.due");
        assert_eq!(payload.timestamp, "2030-01-15T07:45:00Z");
        let data = &payload.data;
        assert_eq!(data.delivery_id, recipient.delivery.to_string());
        assert_eq!(data.event_id, reminder.event.id.to_string());
        assert_eq!(data.title, "Planning");
        assert_eq!(data.location.as_deref(), Some("Room 1"));
        assert_eq!(data.start, "2030-01-15T08:00:00Z");
        assert_eq!(data.end, "2030-01-15T09:30:00Z");
        assert_eq!(data.local_start, "2030-01-15T03:00:00-05:00");
        assert_eq!(data.time_zone, "America/New_York");
        assert_eq!(data.offset, "PT15M");
        assert_eq!(data.recipient.email, "bob@beta.test");
        assert_eq!(data.recipient.id, recipient.user.id.to_string());
    }

    #[test]
    fn payload_falls_back_to_event_zone() {
        let payload =
            WebhookPayload::reminder_due(&reminder(), &recipient(None), Timestamp::UNIX_EPOCH);
        assert_eq!(payload.data.time_zone, "Europe/Berlin");
        assert_eq!(payload.data.local_start, "2030-01-15T09:00:00+01:00");
    }

    #[test]
    fn json_has_envelope_fields() {
        let payload =
            WebhookPayload::reminder_due(&reminder(), &recipient(None), Timestamp::UNIX_EPOCH);
        let json = serde_json::to_value(&payload).unwrap();
        assert_eq!(json["type"], "reminder.due");
        assert_eq!(json["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(json["data"]["title"], "Planning");
        assert_eq!(json["data"]["all_day"], false);
    }
}
