//! JSON views of domain values.
//!
//! Instants are written as RFC 3339. An event's own times use the offset of
//! the event's time zone; busy intervals use UTC, because they may come
//! from events in zones that are none of the reader's business.
//!
//! An RFC 3339 offset has no seconds, so an event time whose zone offset is
//! not a whole number of minutes is written in UTC as well. Such offsets
//! come from historical local mean time, for example Africa/Monrovia's
//! -00:44:30 in 1971.

use convene_domain::working_hours::{clock, weekday_name};
use convene_domain::{
    Answer, ApiToken, Conflict, Delivery, DeliveryAttempt, Event, Interval, MailMessage, User,
    UserId, WorkingHours,
};
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde_json::{Value, json};

/// Writes an API token without its secret, which only the response that issues it shows.
pub fn token_view(token: &ApiToken) -> Value {
    json!({
        "id": token.id.to_string(),
        "user": token.user.to_string(),
        "created_at": token.created_at.to_string(),
    })
}

pub fn user_view(user: &User) -> Value {
    json!({
        "id": user.id.to_string(),
        "name": user.name,
        "email": user.email.as_str(),
        "time_zone": user.time_zone,
        "working_hours": working_hours_view(&user.working_hours),
    })
}

/// Writes working hours as the request form reads them: one entry per run of days with the
/// same hours.
fn working_hours_view(hours: &WorkingHours) -> Value {
    let mut entries: Vec<(Vec<&str>, u16, u16)> = Vec::new();
    for period in hours.periods() {
        let day = weekday_name(period.day);
        match entries
            .iter_mut()
            .find(|(_, start, end)| (*start, *end) == (period.start_minute, period.end_minute))
        {
            Some((days, _, _)) if !days.contains(&day) => days.push(day),
            _ => entries.push((vec![day], period.start_minute, period.end_minute)),
        }
    }
    Value::Array(
        entries
            .into_iter()
            .map(|(days, start, end)| {
                json!({"days": days, "start": clock(start), "end": clock(end)})
            })
            .collect(),
    )
}

pub fn event_view(event: &Event) -> Value {
    let tz = TimeZone::get(&event.time_zone).unwrap_or(TimeZone::UTC);
    // An all-day event shows its dates, as they were given; the end date is exclusive.
    let moment = |at: Timestamp| {
        if event.all_day {
            at.to_zoned_datetime(tz.clone()).date().to_string()
        } else {
            in_zone(at, &tz)
        }
    };
    let recurrence = event.recurrence.as_ref().map(|recurrence| {
        json!({
            "rrule": recurrence.rules.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "rdates": recurrence.rdates.iter().map(|at| moment(*at)).collect::<Vec<_>>(),
            "exdates": recurrence.exdates.iter().map(|at| moment(*at)).collect::<Vec<_>>(),
        })
    });
    json!({
        "id": event.id.to_string(),
        "title": event.title,
        "description": event.description,
        "location": event.location,
        "start": moment(event.interval.start()),
        "end": moment(event.interval.end()),
        "all_day": event.all_day,
        "recurrence": recurrence,
        "time_zone": event.time_zone,
        "organizer": event.organizer.to_string(),
        "participants": event.participants.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "reminders": event.reminders.iter().map(|offset| json!({"before": offset.as_str()})).collect::<Vec<_>>(),
        "sequence": event.sequence,
        "status": event.status.as_str(),
    })
}

/// Writes each attendee's answer to the invitation, in attendee order.
pub fn answers_view(answers: &[(UserId, Answer)]) -> Value {
    Value::Array(
        answers
            .iter()
            .map(|(user, answer)| json!({"user": user.to_string(), "response": answer.as_str()}))
            .collect(),
    )
}

pub fn interval_view(interval: &Interval) -> Value {
    json!({
        "start": interval.start().to_string(),
        "end": interval.end().to_string(),
    })
}

pub fn conflict_view(conflict: &Conflict) -> Value {
    json!({
        "user": conflict.user.to_string(),
        "busy": conflict.busy.iter().map(interval_view).collect::<Vec<_>>(),
    })
}

pub fn delivery_view(delivery: &Delivery) -> Value {
    json!({
        "id": delivery.id.to_string(),
        "user": delivery.user_id.to_string(),
        "before": delivery.offset.as_str(),
        "due_at": delivery.due_at.to_string(),
        "status": delivery.state.as_str(),
        "attempts": delivery.attempts,
        "last_attempt": delivery.last_attempt.as_ref().map(attempt_view),
        "message": delivery.message_id.map(|id| id.to_string()),
    })
}

pub fn message_view(message: &MailMessage) -> Value {
    let recipients: Vec<Value> = message
        .recipients
        .iter()
        .map(|recipient| {
            json!({
                "address": recipient.address,
                "status": recipient.state.as_str(),
                "next_attempt_at": recipient.next_attempt_at.map(|at| at.to_string()),
                "reminder": recipient.delivery.map(|id| id.to_string()),
                "attempts": recipient.attempts.iter().map(attempt_view).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "id": message.id.to_string(),
        "sender": message.sender,
        "size": message.size,
        "created_at": message.created_at.to_string(),
        "expires_at": message.expires_at.to_string(),
        "recipients": recipients,
    })
}

fn attempt_view(attempt: &DeliveryAttempt) -> Value {
    json!({
        "at": attempt.at.to_string(),
        "result": attempt.outcome.as_str(),
        "destination": attempt.destination,
        "tls": attempt.tls,
        "tls_version": attempt.tls_version,
        "tls_cipher": attempt.tls_cipher,
        "reply_code": attempt.reply_code,
        "reply_text": attempt.reply_text,
    })
}

fn in_zone(at: Timestamp, tz: &TimeZone) -> String {
    let offset = tz.to_offset(at);
    if offset == Offset::UTC || offset.seconds() % 60 != 0 {
        return at.to_string();
    }
    at.display_with_offset(offset).to_string()
}
