//! Planning of the reminder deliveries an event produces.

use convene_domain::{
    ChannelKind, Delivery, DeliveryId, DeliveryState, Event, ReminderOffset, User, ValidationError,
    event::reminder_due_times,
};
use jiff::Timestamp;

/// Plans each recipient's deliveries: one per reminder offset and per channel the person
/// chose. The event's reminders apply to everyone; an event without reminders of its own
/// reminds each person by their default reminders.
///
/// Nothing is planned once the event has started. Before that, a reminder whose due time
/// has already passed keeps its original due time, so it goes out at the next poll. Of
/// several passed ones, only the last due is planned. So someone added ten minutes before
/// a meeting gets one reminder, not one for every offset they missed.
///
/// NOTE: a recurring event gets reminders for its first occurrence only, because a
/// delivery is keyed by event, person, offset and channel. Keying deliveries by occurrence
/// too, and planning the next occurrence's reminders when one is sent, would remind of
/// every one.
pub fn plan_deliveries(
    event: &Event,
    recipients: &[User],
    now: Timestamp,
) -> Result<Vec<Delivery>, ValidationError> {
    if event.interval.start() <= now {
        return Ok(Vec::new());
    }
    let event_due = due_times(event, &event.reminders, now)?;
    let mut deliveries = Vec::new();
    for user in recipients {
        let own_due;
        let due = if event.reminders.is_empty() {
            own_due = due_times(event, &user.reminders.before, now)?;
            &own_due
        } else {
            &event_due
        };
        for (offset, due_at) in due {
            for channel in &user.reminders.channels {
                deliveries.push(delivery(event, user, offset, *channel, *due_at));
            }
        }
    }
    Ok(deliveries)
}

fn delivery(
    event: &Event,
    user: &User,
    offset: &ReminderOffset,
    channel: ChannelKind,
    due_at: Timestamp,
) -> Delivery {
    Delivery {
        id: DeliveryId::generate(),
        event_id: event.id,
        user_id: user.id,
        offset: offset.clone(),
        channel,
        due_at,
        state: DeliveryState::Pending,
        attempts: 0,
        last_attempt: None,
        message_id: None,
    }
}

/// Computes the due time of each offset for `event`, dropping offsets due at the same
/// instant as an earlier one (`PT60M` and `PT1H` would send the same reminder twice) and
/// every passed one but the last due.
fn due_times(
    event: &Event,
    offsets: &[ReminderOffset],
    now: Timestamp,
) -> Result<Vec<(ReminderOffset, Timestamp)>, ValidationError> {
    let mut due_times = reminder_due_times(offsets, event.interval.start(), &event.time_zone)?;
    let mut seen = Vec::with_capacity(due_times.len());
    due_times.retain(|(_, due_at)| {
        let first = !seen.contains(due_at);
        seen.push(*due_at);
        first
    });
    let last_passed = due_times
        .iter()
        .map(|(_, due_at)| *due_at)
        .filter(|due_at| *due_at <= now)
        .max();
    due_times.retain(|(_, due_at)| *due_at > now || Some(*due_at) == last_passed);
    Ok(due_times)
}

#[cfg(test)]
mod tests {
    use convene_domain::{
        EmailAddress, EventId, EventStatus, Interval, ReminderPreferences, UserId,
    };

    use super::*;

    fn offsets(texts: &[&str]) -> Vec<ReminderOffset> {
        texts
            .iter()
            .map(|text| ReminderOffset::parse("before", text).unwrap())
            .collect()
    }

    fn person(before: &[&str], channels: &[ChannelKind]) -> User {
        User {
            id: UserId::generate(),
            name: "Ann".to_owned(),
            email: EmailAddress::parse("email", "ann@alpha.test").unwrap(),
            time_zone: None,
            working_hours: Default::default(),
            phone: None,
            reminders: ReminderPreferences::new(offsets(before), channels.to_vec()).unwrap(),
        }
    }

    fn event(organizer: &User, reminders: &[&str]) -> Event {
        Event {
            id: EventId::generate(),
            title: "Review".to_owned(),
            description: None,
            location: None,
            interval: Interval::new(
                at("2030-01-02T10:00:00Z"),
                at("2030-01-02T11:00:00Z"),
                "end",
            )
            .unwrap(),
            time_zone: "UTC".to_owned(),
            organizer: organizer.id,
            participants: Vec::new(),
            reminders: offsets(reminders),
            sequence: 0,
            status: EventStatus::Confirmed,
            all_day: false,
            recurrence: None,
            external_uid: None,
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Returns the planned (person, offset, channel) triples, sorted.
    fn planned(deliveries: &[Delivery]) -> Vec<(UserId, String, ChannelKind)> {
        let mut triples: Vec<_> = deliveries
            .iter()
            .map(|d| (d.user_id, d.offset.to_string(), d.channel))
            .collect();
        triples.sort();
        triples
    }

    #[test]
    fn event_reminders_go_by_each_persons_channels() {
        let ann = person(&["P1D"], &[ChannelKind::Email, ChannelKind::Sms]);
        let bob = person(&[], &[ChannelKind::Push]);
        let event = event(&ann, &["PT15M"]);
        let deliveries = plan_deliveries(
            &event,
            &[ann.clone(), bob.clone()],
            at("2030-01-01T00:00:00Z"),
        )
        .unwrap();
        let mut expected = vec![
            (ann.id, "PT15M".to_owned(), ChannelKind::Email),
            (ann.id, "PT15M".to_owned(), ChannelKind::Sms),
            (bob.id, "PT15M".to_owned(), ChannelKind::Push),
        ];
        expected.sort();
        assert_eq!(planned(&deliveries), expected);
    }

    #[test]
    fn event_without_reminders_uses_each_persons_defaults() {
        let ann = person(&["P1D", "PT10M"], &[ChannelKind::Webhook]);
        let bob = person(&[], &[ChannelKind::Email]);
        let event = event(&ann, &[]);
        let deliveries =
            plan_deliveries(&event, &[ann.clone(), bob], at("2030-01-01T00:00:00Z")).unwrap();
        let mut expected = vec![
            (ann.id, "P1D".to_owned(), ChannelKind::Webhook),
            (ann.id, "PT10M".to_owned(), ChannelKind::Webhook),
        ];
        expected.sort();
        assert_eq!(planned(&deliveries), expected);
        let day_before = deliveries
            .iter()
            .find(|d| d.offset.as_str() == "P1D")
            .unwrap();
        assert_eq!(day_before.due_at, at("2030-01-01T10:00:00Z"));
    }

    #[test]
    fn passed_reminders_keep_last_due() {
        let ann = person(&[], &[ChannelKind::Email]);
        let event = event(&ann, &["P1D", "PT2H", "PT1H", "PT60M", "PT10M"]);
        // At 09:20 the day-before and two-hour reminders have passed; PT60M is PT1H again.
        let deliveries = plan_deliveries(
            &event,
            std::slice::from_ref(&ann),
            at("2030-01-02T08:20:00Z"),
        )
        .unwrap();
        let kept: Vec<_> = planned(&deliveries)
            .into_iter()
            .map(|(_, offset, _)| offset)
            .collect();
        assert_eq!(kept, ["PT10M", "PT1H", "PT2H"]);
        let late = plan_deliveries(&event, &[ann], at("2030-01-02T09:55:00Z")).unwrap();
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].offset.as_str(), "PT10M");
    }
}
