//! The parser interface.

use convene_domain::{
    AddParticipant, AnswerInvitation, CreateEvent, FindSlots, NewPushSubscription, NewUser,
    UpdateEvent, UpdateUser,
};

use crate::{IcalParser, InputError, JsonParser, XmlParser};

/// Turns request bodies of one format into commands.
pub trait RequestParser: Send + Sync {
    fn parse_new_user(&self, body: &[u8]) -> Result<NewUser, InputError>;

    fn parse_create_event(&self, body: &[u8]) -> Result<CreateEvent, InputError>;

    fn parse_add_participant(&self, body: &[u8]) -> Result<AddParticipant, InputError>;

    fn parse_update_user(&self, body: &[u8]) -> Result<UpdateUser, InputError>;

    fn parse_update_event(&self, body: &[u8]) -> Result<UpdateEvent, InputError>;

    fn parse_find_slots(&self, body: &[u8]) -> Result<FindSlots, InputError>;

    fn parse_answer(&self, body: &[u8]) -> Result<AnswerInvitation, InputError>;

    /// Reads a browser's push subscription in the form of `PushSubscription.toJSON()`:
    /// `endpoint`, `keys` with `p256dh` and `auth`, and an ignored `expirationTime`.
    fn parse_push_subscription(&self, body: &[u8]) -> Result<NewPushSubscription, InputError>;
}

/// Returns the parser for a `Content-Type` header value, ignoring its
/// parameters (such as `charset`) and letter case, or `None` when no parser
/// handles that media type.
pub fn parser_for(content_type: &str) -> Option<&'static dyn RequestParser> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Some(&JsonParser),
        "application/xml" | "text/xml" => Some(&XmlParser),
        "text/calendar" => Some(&IcalParser),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_for_ignores_parameters_and_case() {
        assert!(parser_for("application/json").is_some());
        assert!(parser_for("Application/JSON; charset=utf-8").is_some());
        assert!(parser_for("application/xml").is_some());
        assert!(parser_for("Text/XML; charset=utf-8").is_some());
        assert!(parser_for("text/calendar; charset=utf-8").is_some());
        assert!(parser_for("text/plain").is_none());
        assert!(parser_for("").is_none());
    }
}
