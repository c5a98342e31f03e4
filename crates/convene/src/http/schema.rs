//! Schemas of the string values that the views and request bodies share, for the fields
//! whose Rust type alone would give no more than "string".

use convene_domain::event::MAX_TITLE_CHARS;
use convene_domain::user::MAX_NAME_CHARS;
use convene_scheduler::service::MAX_SLOT_PARTICIPANTS;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::xml::{Xml, XmlBuilder};

/// The days of the week as the API writes them. Requests also accept RFC 5545 codes
/// (`MO` to `SU`) in any letter case.
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn formatted(format: KnownFormat) -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(format)))
}

fn one_of_strings(values: &[&str]) -> ObjectBuilder {
    string().enum_values(Some(values.iter().copied()))
}

/// Names the element of one item of an XML list.
fn xml_item(name: &'static str) -> Option<Xml> {
    Some(XmlBuilder::new().name(Some(name)).build())
}

/// Marks an array as an XML list: a wrapper element named for the field around the items.
fn xml_list() -> Option<Xml> {
    Some(XmlBuilder::new().wrapped(Some(true)).build())
}

/// Returns the schema of a user id.
pub fn user_id() -> Schema {
    formatted(KnownFormat::Uuid).into()
}

/// Returns the schema of a list of user ids.
pub fn user_ids() -> Schema {
    ArrayBuilder::new().items(RefOr::T(user_id())).into()
}

/// Returns the schema of a list of user ids in a request. XML gives one `user` element
/// per id.
pub fn participants() -> Schema {
    participant_list().into()
}

fn participant_list() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(formatted(KnownFormat::Uuid).xml(xml_item("user")))
        .xml(xml_list())
}

/// Returns the schema of the people a free-slot search is for: at least one, and at most
/// as many as one search may name.
pub fn slot_participants() -> Schema {
    participant_list()
        .min_items(Some(1))
        .max_items(Some(MAX_SLOT_PARTICIPANTS))
        .into()
}

/// Returns the schema of an RFC 3339 time with an offset.
pub fn time() -> Schema {
    formatted(KnownFormat::DateTime)
        .examples(["2030-01-15T09:00:00+01:00"])
        .into()
}

/// Returns the schema of an RFC 3339 time, or a date for an all-day event.
pub fn time_or_date() -> Schema {
    AnyOfBuilder::new()
        .item(formatted(KnownFormat::DateTime))
        .item(formatted(KnownFormat::Date))
        .description(Some(
            "An RFC 3339 time with an offset, or a date (YYYY-MM-DD) for an all-day event.",
        ))
        .examples(["2030-01-15T09:00:00+01:00", "2030-01-15"])
        .into()
}

/// Returns the schema of a list of times or dates.
pub fn times_or_dates() -> Schema {
    ArrayBuilder::new().items(RefOr::T(time_or_date())).into()
}

/// Returns the schema of a time of day, `HH:MM` from 00:00 to 24:00.
pub fn clock() -> Schema {
    string()
        .pattern(Some("^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))
        .examples(["09:00", "17:30"])
        .into()
}

/// Returns the schema of the days of a working period, as the API writes them.
pub fn weekdays() -> Schema {
    ArrayBuilder::new()
        .items(one_of_strings(&WEEKDAYS))
        .min_items(Some(1))
        .into()
}

/// Returns the schema of the days of a working period, as a request may give them. XML
/// gives one `day` element per day.
pub fn weekday_names() -> Schema {
    ArrayBuilder::new()
        .items(
            string()
                .description(Some(
                    "A day of the week, monday to sunday, or its RFC 5545 code MO to SU, in any \
                     letter case.",
                ))
                .examples(["monday", "TU"])
                .xml(xml_item("day")),
        )
        .min_items(Some(1))
        .xml(xml_list())
        .into()
}

/// Returns the schema of extra or excluded occurrences in a request. XML gives one `date`
/// element per entry.
///
/// The entries are described by a pattern rather than by the date and date-time formats
/// that the views use, because an OpenAPI `anyOf` of the two cannot carry the XML element
/// name.
pub fn occurrence_list() -> Schema {
    ArrayBuilder::new()
        .items(
            string()
                .pattern(Some(
                    "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2}))?$",
                ))
                .description(Some(
                    "An RFC 3339 time with an offset like the event's start, or a date \
                     (YYYY-MM-DD) for an all-day event.",
                ))
                .examples(["2030-01-22T09:00:00+01:00", "2030-01-22"])
                .xml(xml_item("date")),
        )
        .xml(xml_list())
        .into()
}

/// Returns the schema of a non-negative ISO 8601 duration before an event's start, as the
/// request gave it.
pub fn reminder_offset() -> Schema {
    string()
        .description(Some(
            "A non-negative ISO 8601 duration before the start, such as PT15M, PT1H or P1D, \
             applied in the event's time zone.",
        ))
        .examples(["PT15M"])
        .into()
}

/// Returns the schema of a positive ISO 8601 duration of days, hours, minutes and seconds.
pub fn duration() -> Schema {
    formatted(KnownFormat::Duration)
        .description(Some(
            "A positive ISO 8601 duration in days, hours, minutes and seconds, such as PT30M \
             or P1D; years, months and weeks are rejected.",
        ))
        .examples(["PT30M"])
        .into()
}

/// Returns the schema of `confirmed` or `cancelled`.
pub fn event_status() -> Schema {
    one_of_strings(&["confirmed", "cancelled"]).into()
}

/// Returns the schema of an attendee's reply, as the API writes it.
pub fn answer() -> Schema {
    one_of_strings(&["needs-action", "accepted", "declined", "tentative"]).into()
}

/// Returns the schema of an attendee's reply, as a participant may send it.
pub fn response() -> Schema {
    one_of_strings(&["accepted", "declined", "tentative"]).into()
}

/// Returns the schema of the state of a reminder delivery.
pub fn delivery_status() -> Schema {
    one_of_strings(&["pending", "sending", "queued", "delivered", "failed"]).into()
}

/// Returns the schema of the state of one recipient of a queued e-mail.
pub fn recipient_status() -> Schema {
    one_of_strings(&["queued", "sending", "delivered", "failed"]).into()
}

/// Returns the schema of the result of one delivery attempt.
pub fn attempt_result() -> Schema {
    one_of_strings(&["delivered", "temporary_failure", "permanent_failure"]).into()
}

/// Returns the schema of one RFC 5545 RRULE value, or a list of them.
pub fn rrules() -> Schema {
    let rule = || string().examples(["FREQ=WEEKLY;BYDAY=MO,WE"]);
    AnyOfBuilder::new()
        .item(rule())
        .item(ArrayBuilder::new().items(rule()))
        .into()
}

/// Returns the schema of a name or title as a request gives it: at most `max_chars`
/// characters, not only whitespace, and without control characters.
fn text(max_chars: usize) -> ObjectBuilder {
    string()
        .max_length(Some(max_chars))
        .pattern(Some(
            "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$",
        ))
}

/// Returns the schema of a person's name, as a request gives it.
pub fn name() -> Schema {
    text(MAX_NAME_CHARS).into()
}

/// Returns the schema of an E.164 telephone number.
pub fn phone() -> Schema {
    string()
        .pattern(Some(r"^\+[1-9][0-9]{7,14}$"))
        .description(Some(
            "A telephone number in E.164 form for SMS reminders: + and 8 to 15 digits.",
        ))
        .examples(["+4915112345678"])
        .into()
}

/// Returns the schema of a list of reminder channels: at least one, each once.
pub fn channels() -> Schema {
    ArrayBuilder::new()
        .items(one_of_strings(&["email", "sms", "push", "webhook"]).xml(xml_item("channel")))
        .min_items(Some(1))
        .max_items(Some(4))
        .unique_items(true)
        .xml(xml_list())
        .into()
}

/// Returns the schema of one reminder channel.
pub fn channel() -> Schema {
    one_of_strings(&["email", "sms", "push", "webhook"]).into()
}

/// Returns the schema of an event's title, as a request gives it.
pub fn title() -> Schema {
    text(MAX_TITLE_CHARS).into()
}

/// Returns the schema of an e-mail address that SMTP without extensions can carry: ASCII,
/// a dot-atom before the `@` and a host name after it.
pub fn email() -> Schema {
    formatted(KnownFormat::Email)
        .max_length(Some(254))
        .pattern(Some(
            "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$",
        ))
        .examples(["ann@example.org"])
        .into()
}
