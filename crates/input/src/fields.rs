//! Format-neutral reading of commands from a `serde_json::Value` tree.
//!
//! Every format parser reads its body into a tree of objects, arrays,
//! strings, numbers and nulls first, and the functions here take the tree
//! apart field by field. Reading a tree instead of deserializing straight
//! into structs lets every error name the exact field and the expected
//! value, and gives every format the same checks. Unknown fields are rejected,
//! because a misspelt optional field (`"reminder"`) would otherwise be
//! dropped without a word.
//!
//! NOTE: messages use JSON type names and examples in every format, so an
//! XML element with child elements where text belongs is "an object", and an
//! empty `<days/>` gets the example `["monday", "tuesday"]`. Passing a
//! per-format description of shapes into [`Object`] would let XML errors
//! show XML examples.

use convene_domain::user::validate_time_zone;
use convene_domain::working_hours::{parse_clock, parse_weekday};
use convene_domain::{
    AddParticipant, Answer, AnswerInvitation, ChannelKind, CreateEvent, FindSlots,
    NewPushSubscription, NewUser, PhoneNumber, RecurrenceRequest, ReminderOffset,
    ReminderPreferences, TimeOrDate, UpdateEvent, UpdateUser, UserId, UserRef, WorkingHours,
    WorkingPeriod,
};
use convene_recur::Rule;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

use crate::InputError;

/// The fields of an event that both a new event and a change may set.
const EVENT_FIELDS: [&str; 8] = [
    "title",
    "description",
    "location",
    "start",
    "end",
    "time_zone",
    "reminders",
    "recurrence",
];

/// The fields of a user, new or changed.
const USER_FIELDS: [&str; 7] = [
    "name",
    "email",
    "time_zone",
    "working_hours",
    "phone",
    "reminders",
    "channels",
];

pub(crate) fn new_user(body: Map<String, Value>) -> Result<NewUser, InputError> {
    let object = Object::check(body, &USER_FIELDS)?;
    let name = object.required_str("name")?;
    let email = object.required_str("email")?;
    let time_zone = object.optional_str("time_zone")?;
    let mut user = NewUser::new(name, email, time_zone)?;
    if let Some(hours) = object.working_hours()? {
        user = user.with_working_hours(hours);
    }
    user.phone = object
        .optional_str("phone")?
        .map(|text| PhoneNumber::parse("phone", text))
        .transpose()?;
    let channels = object.channels()?;
    user.reminders = ReminderPreferences::new(
        object.reminders()?,
        channels.unwrap_or(user.reminders.channels),
    )?;
    Ok(user)
}

pub(crate) fn create_event(body: Map<String, Value>) -> Result<CreateEvent, InputError> {
    let object = Object::check(
        body,
        &[&EVENT_FIELDS[..], &["organizer", "participants"]].concat(),
    )?;
    Ok(CreateEvent {
        title: object.required_str("title")?.to_owned(),
        description: object.optional_str("description")?.map(str::to_owned),
        location: object.optional_str("location")?.map(str::to_owned),
        start: parse_time_or_date("start", object.required_str("start")?)?,
        end: parse_time_or_date("end", object.required_str("end")?)?,
        time_zone: object.optional_str("time_zone")?.map(str::to_owned),
        organizer: object
            .optional_str("organizer")?
            .map(|id| parse_user_id("organizer", id))
            .transpose()?
            .map(UserRef::from),
        participants: object
            .participants()?
            .into_iter()
            .map(UserRef::from)
            .collect(),
        reminders: object.reminders()?,
        recurrence: object.recurrence()?.flatten(),
    })
}

pub(crate) fn add_participant(body: Map<String, Value>) -> Result<AddParticipant, InputError> {
    let object = Object::check(body, &["user"])?;
    let user = parse_user_id("user", object.required_str("user")?)?;
    Ok(AddParticipant { user })
}

pub(crate) fn update_user(body: Map<String, Value>) -> Result<UpdateUser, InputError> {
    let object = Object::check(body, &USER_FIELDS)?;
    let time_zone = match object.0.get("time_zone") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(validate_time_zone("time_zone", text)?)),
        Some(other) => return Err(expected("time_zone", "a string or null", other)),
    };
    Ok(UpdateUser {
        name: object.optional_str("name")?.map(str::to_owned),
        email: object.optional_str("email")?.map(str::to_owned),
        time_zone,
        working_hours: object.working_hours()?,
        phone: object
            .removable_str("phone")?
            .map(|phone| {
                phone
                    .map(|text| PhoneNumber::parse("phone", &text))
                    .transpose()
            })
            .transpose()?,
        reminders: match object.0.get("reminders") {
            None => None,
            Some(_) => Some(object.reminders()?),
        },
        channels: object.channels()?,
    })
}

pub(crate) fn push_subscription(
    body: Map<String, Value>,
) -> Result<NewPushSubscription, InputError> {
    let object = Object::check(body, &["endpoint", "keys", "expirationTime"])?;
    let endpoint = object.required_str("endpoint")?;
    let keys = match object.0.get("keys") {
        Some(Value::Object(keys)) => {
            Object::check(keys.clone(), &["p256dh", "auth"]).map_err(|err| err.under("keys"))?
        }
        None | Some(Value::Null) => {
            return Err(InputError::invalid(
                "keys",
                "is required: the p256dh and auth keys of the browser's push subscription",
            ));
        }
        Some(other) => return Err(expected("keys", "an object with p256dh and auth", other)),
    };
    let p256dh = keys
        .required_str("p256dh")
        .map_err(|err| err.under("keys"))?;
    let auth = keys.required_str("auth").map_err(|err| err.under("keys"))?;
    Ok(NewPushSubscription::new(endpoint, p256dh, auth)?)
}

pub(crate) fn update_event(body: Map<String, Value>) -> Result<UpdateEvent, InputError> {
    let object = Object::check(body, &EVENT_FIELDS)?;
    let title = match object.0.get("title") {
        Some(Value::Null) => {
            return Err(InputError::invalid(
                "title",
                "cannot be removed; give a new title or leave the field out",
            ));
        }
        _ => object.optional_str("title")?.map(str::to_owned),
    };
    Ok(UpdateEvent {
        title,
        description: object.removable_str("description")?,
        location: object.removable_str("location")?,
        start: object
            .optional_str("start")?
            .map(|text| parse_time_or_date("start", text))
            .transpose()?,
        end: object
            .optional_str("end")?
            .map(|text| parse_time_or_date("end", text))
            .transpose()?,
        time_zone: object.optional_str("time_zone")?.map(str::to_owned),
        reminders: match object.0.get("reminders") {
            None => None,
            Some(_) => Some(object.reminders()?),
        },
        recurrence: object.recurrence()?,
    })
}

pub(crate) fn answer(body: Map<String, Value>) -> Result<AnswerInvitation, InputError> {
    let object = Object::check(body, &["user", "response"])?;
    let user = object
        .optional_str("user")?
        .map(|id| parse_user_id("user", id))
        .transpose()?;
    let response = object.required_str("response")?;
    let answer = match response {
        "accepted" => Answer::Accepted,
        "declined" => Answer::Declined,
        "tentative" => Answer::Tentative,
        other => {
            return Err(InputError::invalid(
                "response",
                format!("{other:?} is not an answer; use accepted, declined or tentative"),
            ));
        }
    };
    Ok(AnswerInvitation { user, answer })
}

pub(crate) fn find_slots(body: Map<String, Value>) -> Result<FindSlots, InputError> {
    let object = Object::check(
        body,
        &[
            "participants",
            "duration",
            "from",
            "to",
            "count",
            "granularity",
        ],
    )?;
    let count = match object.0.get("count") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => Some(
            number
                .as_u64()
                .filter(|count| *count >= 1)
                .and_then(|count| usize::try_from(count).ok())
                .ok_or_else(|| {
                    InputError::invalid("count", "must be a whole number of at least 1")
                })?,
        ),
        Some(other) => return Err(expected("count", "a whole number", other)),
    };
    Ok(FindSlots {
        participants: object.participants()?,
        duration: parse_duration("duration", object.required_str("duration")?)?,
        from: parse_timestamp("from", object.required_str("from")?)?,
        to: parse_timestamp("to", object.required_str("to")?)?,
        count,
        granularity: object
            .optional_str("granularity")?
            .map(|text| parse_duration("granularity", text))
            .transpose()?,
    })
}

/// An object whose fields have been checked against an allow-list.
struct Object(Map<String, Value>);

impl Object {
    fn check(map: Map<String, Value>, allowed: &[&str]) -> Result<Object, InputError> {
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(InputError::invalid(
                unknown.clone(),
                format!(
                    "unknown field; the allowed fields are {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Object(map))
    }

    fn required_str(&self, field: &str) -> Result<&str, InputError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(InputError::invalid(field, "is required")),
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(expected(field, "a string", other)),
        }
    }

    fn optional_str(&self, field: &str) -> Result<Option<&str>, InputError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(expected(field, "a string or null", other)),
        }
    }

    /// Reads a field that a change may set (a string), remove (`null`) or leave alone
    /// (absent).
    fn removable_str(&self, field: &str) -> Result<Option<Option<String>>, InputError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
            Some(other) => Err(expected(field, "a string or null", other)),
        }
    }

    fn optional_array(&self, field: &str) -> Result<&[Value], InputError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(expected(field, "an array", other)),
        }
    }

    /// Reads the reminder channels, such as `["email", "push"]`; `None` when absent.
    fn channels(&self) -> Result<Option<Vec<ChannelKind>>, InputError> {
        let items = match self.0.get("channels") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(expected(
                    "channels",
                    "an array of channel names such as [\"email\", \"push\"]",
                    other,
                ));
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("channels/{i}");
                match item {
                    Value::String(text) => Ok(ChannelKind::parse(&field, text)?),
                    other => Err(expected(
                        &field,
                        "a channel name: email, sms, push or webhook",
                        other,
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn participants(&self) -> Result<Vec<UserId>, InputError> {
        self.optional_array("participants")?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("participants/{i}");
                match item {
                    Value::String(text) => parse_user_id(&field, text),
                    other => Err(expected(&field, "a user id string", other)),
                }
            })
            .collect()
    }

    /// Reads `recurrence`: absent (`None`), `null` (`Some(None)`) or an object with `rrule`
    /// (one RRULE value or a list of them), `rdates` and `exdates`.
    fn recurrence(&self) -> Result<Option<Option<RecurrenceRequest>>, InputError> {
        let entry = match self.0.get("recurrence") {
            None => return Ok(None),
            Some(Value::Null) => return Ok(Some(None)),
            Some(Value::Object(entry)) => entry,
            Some(other) => {
                return Err(expected(
                    "recurrence",
                    "an object such as {\"rrule\": \"FREQ=WEEKLY;BYDAY=MO\"}",
                    other,
                ));
            }
        };
        if let Some(unknown) = entry
            .keys()
            .find(|key| !["rrule", "rdates", "exdates"].contains(&key.as_str()))
        {
            return Err(InputError::invalid(
                format!("recurrence/{unknown}"),
                "unknown field; a recurrence has rrule, rdates and exdates",
            ));
        }
        let texts: Vec<&str> = match entry.get("rrule") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => vec![text],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(text) => Ok(text.as_str()),
                    other => Err(expected(
                        &format!("recurrence/rrule/{i}"),
                        "an RRULE string",
                        other,
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(expected(
                    "recurrence/rrule",
                    "an RRULE value such as \"FREQ=WEEKLY;BYDAY=MO\", or a list of them",
                    other,
                ));
            }
        };
        let rules = texts
            .iter()
            .map(|text| {
                let text = text.strip_prefix("RRULE:").unwrap_or(text);
                Rule::parse(text).map_err(|err| {
                    InputError::invalid("recurrence/rrule", format!("{text:?}: {err}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dates = |name: &str| -> Result<Vec<TimeOrDate>, InputError> {
            match entry.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let field = format!("recurrence/{name}/{i}");
                        match item {
                            Value::String(text) => parse_time_or_date(&field, text),
                            other => Err(expected(&field, "a time or a date string", other)),
                        }
                    })
                    .collect(),
                Some(other) => Err(expected(&format!("recurrence/{name}"), "an array", other)),
            }
        };
        if rules.is_empty() && entry.get("rdates").is_none() {
            return Err(InputError::invalid(
                "recurrence/rrule",
                "is required unless rdates are given; use null to make the event single",
            ));
        }
        Ok(Some(Some(RecurrenceRequest {
            rules,
            rdates: dates("rdates")?,
            exdates: dates("exdates")?,
        })))
    }

    /// Reads `working_hours`: a list of `{"days": [...], "start": "09:00", "end": "17:00"}`.
    fn working_hours(&self) -> Result<Option<WorkingHours>, InputError> {
        let items = match self.0.get("working_hours") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(expected("working_hours", "an array", other)),
        };
        let mut periods = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("working_hours/{i}");
            let Value::Object(entry) = item else {
                return Err(expected(
                    &field,
                    "an object such as {\"days\": [\"monday\"], \"start\": \"09:00\", \"end\": \"17:00\"}",
                    item,
                ));
            };
            if let Some(unknown) = entry
                .keys()
                .find(|key| !["days", "start", "end"].contains(&key.as_str()))
            {
                return Err(InputError::invalid(
                    format!("{field}/{unknown}"),
                    "unknown field; a working period has days, start and end",
                ));
            }
            let text = |name: &str| match entry.get(name) {
                None | Some(Value::Null) => Err(InputError::invalid(
                    format!("{field}/{name}"),
                    "is required",
                )),
                Some(Value::String(text)) => Ok(text.as_str()),
                Some(other) => Err(expected(
                    &format!("{field}/{name}"),
                    "a time of day such as \"09:00\"",
                    other,
                )),
            };
            let start = parse_clock(&format!("{field}/start"), text("start")?)?;
            let end = parse_clock(&format!("{field}/end"), text("end")?)?;
            let days = match entry.get("days") {
                Some(Value::Array(days)) if !days.is_empty() => days,
                None | Some(Value::Null) => {
                    return Err(InputError::invalid(format!("{field}/days"), "is required"));
                }
                Some(other) => {
                    return Err(expected(
                        &format!("{field}/days"),
                        "a non-empty array of day names such as [\"monday\", \"tuesday\"]",
                        other,
                    ));
                }
            };
            for (j, day) in days.iter().enumerate() {
                let day_field = format!("{field}/days/{j}");
                let Value::String(name) = day else {
                    return Err(expected(&day_field, "a day name such as \"monday\"", day));
                };
                let day = parse_weekday(&day_field, name)?;
                periods.push(WorkingPeriod::new(&field, day, start, end)?);
            }
        }
        Ok(Some(WorkingHours::new(periods)?))
    }

    fn reminders(&self) -> Result<Vec<ReminderOffset>, InputError> {
        self.optional_array("reminders")?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("reminders/{i}");
                let Value::Object(reminder) = item else {
                    return Err(expected(
                        &field,
                        "an object such as {\"before\": \"PT15M\"}",
                        item,
                    ));
                };
                if let Some(unknown) = reminder.keys().find(|key| key.as_str() != "before") {
                    return Err(InputError::invalid(
                        format!("{field}/{unknown}"),
                        "unknown field; a reminder has only \"before\"",
                    ));
                }
                let field = format!("{field}/before");
                match reminder.get("before") {
                    None | Some(Value::Null) => Err(InputError::invalid(field, "is required")),
                    Some(Value::String(text)) => Ok(ReminderOffset::parse(&field, text)?),
                    Some(other) => Err(expected(
                        &field,
                        "an ISO 8601 duration string such as PT15M",
                        other,
                    )),
                }
            })
            .collect()
    }
}

fn parse_timestamp(field: &str, text: &str) -> Result<Timestamp, InputError> {
    let timestamp: Timestamp = text.parse().map_err(|_| {
        InputError::invalid(
            field,
            format!("{text:?} is not an RFC 3339 time with an offset (for example 2030-01-15T09:00:00+01:00)"),
        )
    })?;
    if timestamp.subsec_nanosecond() % 1_000 != 0 {
        return Err(InputError::invalid(
            field,
            format!("{text:?} is more precise than a microsecond; round it to whole microseconds"),
        ));
    }
    Ok(timestamp)
}

/// Parses an RFC 3339 time, or a date (`YYYY-MM-DD`) for an all-day event.
fn parse_time_or_date(field: &str, text: &str) -> Result<TimeOrDate, InputError> {
    if text.len() == 10 && !text.contains('T') {
        return text.parse::<Date>().map(TimeOrDate::Date).map_err(|_| {
            InputError::invalid(
                field,
                format!("{text:?} is not a date (YYYY-MM-DD, for example 2030-01-15)"),
            )
        });
    }
    parse_timestamp(field, text).map(TimeOrDate::Time)
}

/// Parses a positive ISO 8601 duration in days, hours, minutes and seconds, such as
/// `PT1H30M` or `P1D`; a day counts as 24 hours.
fn parse_duration(field: &str, text: &str) -> Result<SignedDuration, InputError> {
    let invalid = || {
        InputError::invalid(
            field,
            format!("{text:?} is not an ISO 8601 duration such as PT30M, PT1H30M or P1D"),
        )
    };
    // The ISO 8601 parser alone: jiff's `FromStr` also accepts its friendly form ("1h").
    let span = jiff::fmt::temporal::SpanParser::new()
        .parse_span(text)
        .map_err(|_| invalid())?;
    if span.get_years() != 0 || span.get_months() != 0 || span.get_weeks() != 0 {
        return Err(InputError::invalid(
            field,
            format!(
                "{text:?} uses years, months or weeks, whose length varies; give days or hours, such as P7D"
            ),
        ));
    }
    let days = SignedDuration::from_hours(i64::from(span.get_days()) * 24);
    let rest = SignedDuration::try_from(span.days(0)).map_err(|_| invalid())?;
    let duration = days.checked_add(rest).ok_or_else(invalid)?;
    if !duration.is_positive() {
        return Err(InputError::invalid(
            field,
            format!("{text:?} is not positive; give a duration such as PT30M"),
        ));
    }
    Ok(duration)
}

fn parse_user_id(field: &str, text: &str) -> Result<UserId, InputError> {
    text.parse()
        .map_err(|err| InputError::invalid(field, format!("{text:?} is {err}")))
}

fn expected(field: &str, what: &str, found: &Value) -> InputError {
    InputError::invalid(field, format!("expected {what}, found {}", describe(found)))
}

pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_iso_8601_with_days() {
        let ok = [
            ("PT30M", 30 * 60),
            ("PT1H30M", 90 * 60),
            ("P1D", 24 * 3600),
            ("P1DT2H", 26 * 3600),
        ];
        for (text, seconds) in ok {
            assert_eq!(
                parse_duration("d", text).unwrap().as_secs(),
                seconds,
                "{text}"
            );
        }
        for bad in ["1h", "30 minutes", "P1M", "P1W", "PT0S", "-PT1H", ""] {
            let error = parse_duration("d", bad).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("d"), "{bad}");
        }
    }
}
