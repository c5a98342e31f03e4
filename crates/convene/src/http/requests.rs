//! Schemas of the request bodies, for the OpenAPI document.
//!
//! `convene_input` does not deserialize into these types: it reads each body into a tree
//! and takes it apart field by field (`crates/input/src/fields.rs`), so that every error
//! names its field. These types only describe that JSON form. Every object rejects unknown
//! fields, which `deny_unknown_fields` turns into `additionalProperties: false`. XML bodies
//! carry the same fields as child elements of the root element named in `xml(name)`, and a
//! list as a wrapper element named for the field around one element per item.
//!
//! NOTE: nothing checks these types against the parser, so a field added to
//! `convene_input` must be added here by hand. A test that sends each schema's example to
//! the JSON parser would catch a field that the parser no longer accepts.

// The fields are never read: the types exist for their schemas.
#![allow(dead_code)]

use serde::Deserialize;
use utoipa::ToSchema;

use super::schema;

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUser, xml(name = "user"))]
pub struct NewUserBody {
    /// The display name, without control characters.
    #[schema(schema_with = schema::name)]
    name: String,
    /// A plain ASCII `local@domain` address that SMTP can deliver to. It must not belong
    /// to another user.
    #[schema(schema_with = schema::email)]
    email: String,
    /// The IANA time zone the user reads times in; reminders use the event's zone without
    /// one.
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<String>,
    /// When the user can be booked; Monday to Friday, 09:00 to 17:00 without this field,
    /// and never with an empty list.
    #[schema(xml(wrapped))]
    working_hours: Option<Vec<WorkingPeriodBody>>,
    /// Telephone number that SMS reminders go to, required when `channels` names `sms`.
    #[schema(schema_with = schema::phone)]
    phone: Option<String>,
    /// The reminders of events that set none of their own; none without this field.
    #[schema(xml(wrapped))]
    reminders: Option<Vec<ReminderBody>>,
    /// The channels every reminder goes by, each once; `["email"]` without this field.
    #[schema(schema_with = schema::channels)]
    channels: Option<Vec<String>>,
}

/// A change to a user; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserChange, xml(name = "user"))]
pub struct UpdateUserBody {
    #[schema(schema_with = schema::name)]
    name: Option<String>,
    #[schema(schema_with = schema::email)]
    email: Option<String>,
    /// The IANA time zone the user reads times in; `null` removes it.
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<String>,
    #[schema(xml(wrapped))]
    working_hours: Option<Vec<WorkingPeriodBody>>,
    /// Telephone number that SMS reminders go to. `null` removes it.
    #[schema(schema_with = schema::phone)]
    phone: Option<String>,
    /// The reminders of events that set none of their own, replacing the old ones.
    #[schema(xml(wrapped))]
    reminders: Option<Vec<ReminderBody>>,
    #[schema(schema_with = schema::channels)]
    channels: Option<Vec<String>>,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPushSubscription, xml(name = "subscription"))]
pub struct PushSubscriptionBody {
    /// The push service's URL for the browser.
    #[schema(examples("https://push.example.org/send/abc"))]
    endpoint: String,
    /// Ignored: browsers send `null`.
    #[serde(rename = "expirationTime")]
    expiration_time: Option<f64>,
    keys: PushKeysBody,
}

/// The keys of a push subscription, in base64url.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PushKeys, xml(name = "keys"))]
pub struct PushKeysBody {
    /// The browser's P-256 public key, 65 octets.
    #[schema(pattern = "^[A-Za-z0-9_-]{87}=?$")]
    p256dh: String,
    /// The authentication secret, 16 octets.
    #[schema(pattern = "^[A-Za-z0-9_-]{22}(==)?$")]
    auth: String,
}

/// Hours of the same days of the week, in the user's time zone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkingPeriodRequest, xml(name = "period"))]
pub struct WorkingPeriodBody {
    #[schema(schema_with = schema::weekday_names)]
    days: Vec<String>,
    #[schema(schema_with = schema::clock)]
    start: String,
    /// The end, after `start`; `24:00` is midnight at the end of the day.
    #[schema(schema_with = schema::clock)]
    end: String,
}

/// A new event. Every attendee's calendar is checked before it is booked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewEvent, xml(name = "event"))]
pub struct CreateEventBody {
    /// The title, without control characters.
    #[schema(schema_with = schema::title)]
    title: String,
    description: Option<String>,
    location: Option<String>,
    /// The start: a time, or a date for an all-day event.
    #[schema(schema_with = schema::time_or_date)]
    start: String,
    /// The end, exclusive: a time, or for an all-day event the first date after it.
    #[schema(schema_with = schema::time_or_date)]
    end: String,
    /// The IANA zone the event's dates and recurrence are read in; the organizer's zone,
    /// else UTC, without it.
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<String>,
    #[schema(schema_with = schema::user_id)]
    organizer: String,
    /// The other attendees.
    #[schema(schema_with = schema::participants)]
    participants: Option<Vec<String>>,
    /// The reminders for every attendee; without them, each attendee's own default
    /// reminders apply.
    #[schema(xml(wrapped))]
    reminders: Option<Vec<ReminderBody>>,
    recurrence: Option<RecurrenceBody>,
}

/// A change to an event; absent fields stay as they are. A new time is checked for
/// conflicts and raises the event's sequence.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EventChange, xml(name = "change"))]
pub struct UpdateEventBody {
    /// The new title; it cannot be removed.
    #[schema(schema_with = schema::title)]
    title: Option<String>,
    /// The new description; `null` removes it.
    description: Option<String>,
    /// The new location; `null` removes it.
    location: Option<String>,
    #[schema(schema_with = schema::time_or_date)]
    start: Option<String>,
    #[schema(schema_with = schema::time_or_date)]
    end: Option<String>,
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<String>,
    /// The new reminders, replacing the old ones; with `null` or an empty list, each
    /// attendee's own default reminders apply.
    #[schema(xml(wrapped))]
    reminders: Option<Vec<ReminderBody>>,
    /// The new recurrence; `null` makes the event single.
    recurrence: Option<RecurrenceBody>,
}

/// A reminder before each occurrence.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReminderRequest, xml(name = "reminder"))]
pub struct ReminderBody {
    #[schema(schema_with = schema::reminder_offset)]
    before: String,
}

/// The repetition rules of an event, read in the event's time zone from its first start,
/// which is always the first occurrence. `rrule` is required unless `rdates` are given.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RecurrenceRequest, xml(name = "recurrence"))]
pub struct RecurrenceBody {
    /// One RFC 5545 RRULE value, or a list of them.
    #[schema(schema_with = schema::rrules)]
    rrule: Option<Vec<String>>,
    /// Extra occurrences.
    #[schema(schema_with = schema::occurrence_list)]
    rdates: Option<Vec<String>>,
    /// Occurrences left out.
    #[schema(schema_with = schema::occurrence_list)]
    exdates: Option<Vec<String>>,
}

/// A user to add to an event as a participant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewParticipant, xml(name = "participant"))]
pub struct AddParticipantBody {
    #[schema(schema_with = schema::user_id)]
    user: String,
}

/// A participant's reply to an invitation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Rsvp, xml(name = "rsvp"))]
pub struct RsvpBody {
    #[schema(schema_with = schema::user_id)]
    user: String,
    #[schema(schema_with = schema::response)]
    response: String,
}

/// A search for the earliest slots in which every participant is free.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AvailabilityQuery, xml(name = "availability"))]
pub struct FindSlotsBody {
    /// The people who must all be free.
    #[schema(schema_with = schema::slot_participants)]
    participants: Vec<String>,
    /// The length of each slot.
    #[schema(schema_with = schema::duration)]
    duration: String,
    /// The start of the search window.
    #[schema(schema_with = schema::time)]
    from: String,
    /// The end of the search window, at most 92 days after `from`.
    #[schema(schema_with = schema::time)]
    to: String,
    /// How many slots to return, 5 without this field.
    #[schema(minimum = 1, maximum = 100)]
    count: Option<u32>,
    /// The step between possible starts, counted from `from`; PT30M without this field.
    #[schema(schema_with = schema::duration)]
    granularity: Option<String>,
}
