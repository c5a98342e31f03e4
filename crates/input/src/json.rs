//! `application/json` request bodies.
//!
//! The body must be one JSON object; [`crate::fields`] reads the commands
//! from it.

use convene_domain::{
    AddParticipant, AnswerInvitation, CreateEvent, FindSlots, NewPushSubscription, NewUser,
    UpdateEvent, UpdateUser,
};
use serde_json::{Map, Value};

use crate::fields::{self, describe};
use crate::{InputError, RequestParser};

/// Parses JSON request bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonParser;

impl RequestParser for JsonParser {
    fn parse_new_user(&self, body: &[u8]) -> Result<NewUser, InputError> {
        fields::new_user(object(body)?)
    }

    fn parse_create_event(&self, body: &[u8]) -> Result<CreateEvent, InputError> {
        fields::create_event(object(body)?)
    }

    fn parse_add_participant(&self, body: &[u8]) -> Result<AddParticipant, InputError> {
        fields::add_participant(object(body)?)
    }

    fn parse_update_user(&self, body: &[u8]) -> Result<UpdateUser, InputError> {
        fields::update_user(object(body)?)
    }

    fn parse_push_subscription(&self, body: &[u8]) -> Result<NewPushSubscription, InputError> {
        fields::push_subscription(object(body)?)
    }

    fn parse_update_event(&self, body: &[u8]) -> Result<UpdateEvent, InputError> {
        fields::update_event(object(body)?)
    }

    fn parse_find_slots(&self, body: &[u8]) -> Result<FindSlots, InputError> {
        fields::find_slots(object(body)?)
    }

    fn parse_answer(&self, body: &[u8]) -> Result<AnswerInvitation, InputError> {
        fields::answer(object(body)?)
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, InputError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        InputError::malformed(format!("the request body is not valid JSON: {err}"))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(InputError::malformed(format!(
            "the request body must be a JSON object, not {}",
            describe(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InputErrorKind;
    use convene_domain::TimeOrDate;
    use jiff::Timestamp;

    const ORGANIZER: &str = "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f";
    const GUEST: &str = "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e70";

    fn event_json(overrides: &[(&str, Value)]) -> Vec<u8> {
        let mut body = serde_json::json!({
            "title": "Planning",
            "start": "2030-01-15T09:00:00+01:00",
            "end": "2030-01-15T10:00:00+01:00",
            "organizer": ORGANIZER,
            "participants": [GUEST],
            "reminders": [{"before": "PT15M"}],
        });
        for (field, value) in overrides {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(*field);
            } else {
                body[*field] = value.clone();
            }
        }
        serde_json::to_vec(&body).unwrap()
    }

    #[test]
    fn ok_parse_event() {
        let command = JsonParser.parse_create_event(&event_json(&[])).unwrap();
        assert_eq!(command.title, "Planning");
        assert_eq!(
            command.start,
            TimeOrDate::Time("2030-01-15T08:00:00Z".parse::<Timestamp>().unwrap())
        );
        assert_eq!(command.organizer.unwrap().to_string(), ORGANIZER);
        assert_eq!(command.participants[0].to_string(), GUEST);
        assert_eq!(command.reminders[0].as_str(), "PT15M");
        assert_eq!(command.time_zone, None);
    }

    #[test]
    fn err_parse_event_names_field() {
        let rows: Vec<(&str, Value, &str)> = vec![
            ("title", Value::Null, "title"),
            ("title", serde_json::json!(5), "title"),
            ("start", serde_json::json!("2030-01-15 09:00"), "start"),
            ("end", serde_json::json!("2030-01-15T10:00:00"), "end"),
            ("organizer", serde_json::json!("42"), "organizer"),
            (
                "participants",
                serde_json::json!([GUEST, 7]),
                "participants/1",
            ),
            (
                "participants",
                serde_json::json!("everyone"),
                "participants",
            ),
            (
                "reminders",
                serde_json::json!([{"before": "15m"}]),
                "reminders/0/before",
            ),
            (
                "reminders",
                serde_json::json!([{"before": "-PT5M"}]),
                "reminders/0/before",
            ),
            ("reminders", serde_json::json!([{}]), "reminders/0/before"),
            (
                "reminders",
                serde_json::json!([{"after": "PT5M"}]),
                "reminders/0/after",
            ),
            ("reminders", serde_json::json!(["PT5M"]), "reminders/0"),
            ("reminder", serde_json::json!([]), "reminder"),
            (
                "start",
                serde_json::json!("2030-01-15T09:00:00.0000001Z"),
                "start",
            ),
        ];
        for (field, value, expected_field) in rows {
            let err = JsonParser
                .parse_create_event(&event_json(&[(field, value.clone())]))
                .unwrap_err();
            assert_eq!(err.kind, InputErrorKind::Invalid, "{field} = {value}");
            assert_eq!(
                err.field.as_deref(),
                Some(expected_field),
                "{field} = {value}: {err}"
            );
        }
    }

    #[test]
    fn err_parse_malformed_body() {
        for body in [&b"{"[..], b"[]", b"\"text\"", b"", b"{\"title\": \"a\",}"] {
            let err = JsonParser.parse_create_event(body).unwrap_err();
            assert_eq!(err.kind, InputErrorKind::Malformed, "{body:?}");
            assert_eq!(err.field, None);
        }
    }

    #[test]
    fn ok_parse_user_with_optional_zone() {
        let user = JsonParser
            .parse_new_user(br#"{"name": "Ann", "email": "ann@alpha.test", "time_zone": null}"#)
            .unwrap();
        assert_eq!(user.name, "Ann");
        assert_eq!(user.time_zone, None);
    }

    #[test]
    fn err_parse_user_names_field() {
        let rows: [(&[u8], &str); 4] = [
            (br#"{"email": "ann@alpha.test"}"#, "name"),
            (br#"{"name": "Ann", "email": "not-an-address"}"#, "email"),
            (
                br#"{"name": "Ann", "email": "ann@alpha.test", "time_zone": "Nowhere/City"}"#,
                "time_zone",
            ),
            (
                br#"{"name": "Ann", "email": "ann@alpha.test", "admin": true}"#,
                "admin",
            ),
        ];
        for (body, field) in rows {
            let err = JsonParser.parse_new_user(body).unwrap_err();
            assert_eq!(
                err.field.as_deref(),
                Some(field),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn parse_add_participant() {
        let command = JsonParser
            .parse_add_participant(format!("{{\"user\": \"{GUEST}\"}}").as_bytes())
            .unwrap();
        assert_eq!(command.user.to_string(), GUEST);
        let err = JsonParser
            .parse_add_participant(b"{\"user\": 3}")
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("user"));
    }

    #[test]
    fn user_reminder_preferences() {
        let body = br#"{"name": "Ann", "email": "ann@alpha.test", "phone": "+4915112345678",
            "reminders": [{"before": "P1D"}, {"before": "PT10M"}], "channels": ["sms", "email"]}"#;
        let user = JsonParser.parse_new_user(body).unwrap();
        assert_eq!(user.phone.unwrap().as_str(), "+4915112345678");
        let before: Vec<&str> = user.reminders.before.iter().map(|o| o.as_str()).collect();
        assert_eq!(before, ["P1D", "PT10M"]);
        assert_eq!(
            user.reminders.channels,
            [
                convene_domain::ChannelKind::Sms,
                convene_domain::ChannelKind::Email
            ]
        );

        let change = JsonParser
            .parse_update_user(br#"{"phone": null, "channels": ["push"]}"#)
            .unwrap();
        assert_eq!(change.phone, Some(None));
        assert_eq!(change.reminders, None);
        assert_eq!(
            change.channels,
            Some(vec![convene_domain::ChannelKind::Push])
        );
    }

    #[test]
    fn user_reminder_preferences_errors_name_the_field() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"phone": "0151 123"}"#, "phone"),
            (br#"{"channels": ["email", "fax"]}"#, "channels/1"),
            (br#"{"channels": "email"}"#, "channels"),
            (br#"{"channels": [3]}"#, "channels/0"),
            (
                br#"{"reminders": [{"before": "soon"}]}"#,
                "reminders/0/before",
            ),
        ];
        for (body, field) in cases {
            let err = JsonParser.parse_update_user(body).unwrap_err();
            assert_eq!(
                err.field.as_deref(),
                Some(field),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let err = JsonParser
            .parse_new_user(br#"{"name": "Ann", "email": "ann@alpha.test", "channels": []}"#)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("channels"));
    }

    #[test]
    fn push_subscription_as_browsers_write_it() {
        let body = br#"{"endpoint": "https://push.alpha.test/send/1", "expirationTime": null,
            "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                     "auth": "tBHItJI5svbpez7KI4CCXg"}}"#;
        let subscription = JsonParser.parse_push_subscription(body).unwrap();
        assert_eq!(subscription.endpoint, "https://push.alpha.test/send/1");
        assert_eq!(subscription.auth, "tBHItJI5svbpez7KI4CCXg");

        let cases: [(&[u8], &str); 4] = [
            (br#"{"endpoint": "https://push.alpha.test/1"}"#, "keys"),
            (br#"{"endpoint": "https://push.alpha.test/1", "keys": {"auth": "tBHItJI5svbpez7KI4CCXg"}}"#, "keys/p256dh"),
            (br#"{"endpoint": "https://push.alpha.test/1", "keys": {"p256dh": "x", "auth": "y", "extra": 1}}"#, "keys/extra"),
            (br#"{"keys": {}}"#, "endpoint"),
        ];
        for (body, field) in cases {
            let err = JsonParser.parse_push_subscription(body).unwrap_err();
            assert_eq!(
                err.field.as_deref(),
                Some(field),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
