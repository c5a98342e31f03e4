//! Planning of the reminder deliveries an event produces.

use convene_domain::{Delivery, DeliveryId, DeliveryState, Event, UserId, ValidationError};
use jiff::Timestamp;

/// Plans one delivery per reminder offset for each of `recipients`.
///
/// Nothing is planned once the event has started. Before that, a reminder
/// whose due time has already passed keeps its original due time, so it
/// goes out at the next poll. Someone added ten minutes before a meeting
/// therefore still gets the reminder.
///
/// NOTE: a recurring event gets reminders for its first occurrence only, because a
/// delivery is keyed by event, person and offset. Keying deliveries by occurrence too, and
/// planning the next occurrence's reminders when one is sent, would remind of every one.
pub fn plan_deliveries(
    event: &Event,
    recipients: &[UserId],
    now: Timestamp,
) -> Result<Vec<Delivery>, ValidationError> {
    if event.interval.start() <= now {
        return Ok(Vec::new());
    }
    let mut due_times = event.reminder_due_times()?;
    // Offsets written differently but due at the same instant (`PT60M`
    // and `PT1H`) would send the same reminder twice; the first one counts.
    let mut seen = Vec::with_capacity(due_times.len());
    due_times.retain(|(_, due_at)| {
        let first = !seen.contains(due_at);
        seen.push(*due_at);
        first
    });
    let mut deliveries = Vec::with_capacity(due_times.len() * recipients.len());
    for (offset, due_at) in due_times {
        for user in recipients {
            deliveries.push(Delivery {
                id: DeliveryId::generate(),
                event_id: event.id,
                user_id: *user,
                offset: offset.clone(),
                due_at,
                state: DeliveryState::Pending,
                attempts: 0,
                last_attempt: None,
                message_id: None,
            });
        }
    }
    Ok(deliveries)
}
