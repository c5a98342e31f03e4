//! The calendar data that Convene imports and exports, free of iCalendar syntax.

use std::fmt;

use jiff::civil;
use jiff::tz::TimeZone;

/// A calendar object: the iTIP method, if any, and its events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    pub method: Option<Method>,
    pub events: Vec<CalendarEvent>,
}

/// The iTIP method of a calendar object (RFC 5546 §1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Publish,
    Request,
    Reply,
    Cancel,
    /// Any other method, in upper case as written, such as `ADD` or `COUNTER`.
    Other(String),
}

impl Method {
    /// Parses a METHOD value, ignoring case.
    pub fn from_text(text: &str) -> Method {
        match text.to_ascii_uppercase().as_str() {
            "PUBLISH" => Method::Publish,
            "REQUEST" => Method::Request,
            "REPLY" => Method::Reply,
            "CANCEL" => Method::Cancel,
            other => Method::Other(other.to_string()),
        }
    }

    /// Returns the METHOD value as written in a file.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Reply => "REPLY",
            Method::Cancel => "CANCEL",
            Method::Other(text) => text,
        }
    }
}

/// One VEVENT: either a whole event, with its recurrence, or one overridden instance of a
/// recurring event (then `recurrence_id` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    pub uid: String,
    pub sequence: u32,
    /// DTSTAMP: when this copy of the event was created, the time of the message in iTIP.
    /// `write` uses the current time when it is `None`, because RFC 5545 requires DTSTAMP.
    pub dtstamp: Option<jiff::Timestamp>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: EventTime,
    /// The end, exclusive. A DURATION or a missing DTEND is resolved to this value on import
    /// as RFC 5545 §3.6.1 says: one day after a DATE start, the start itself otherwise.
    pub end: EventTime,
    /// RRULE values in upper case with spaces removed, otherwise as written.
    pub rrule: Vec<String>,
    pub rdates: Vec<EventTime>,
    pub exdates: Vec<EventTime>,
    pub recurrence_id: Option<EventTime>,
    pub status: Option<Status>,
    /// Whether TRANSP is TRANSPARENT, so that the event does not make anyone busy.
    pub transparent: bool,
    pub organizer: Option<Person>,
    pub attendees: Vec<Attendee>,
}

impl CalendarEvent {
    /// Creates an event with the given UID and times and every other field empty.
    pub fn new(uid: impl Into<String>, start: EventTime, end: EventTime) -> CalendarEvent {
        CalendarEvent {
            uid: uid.into(),
            sequence: 0,
            dtstamp: None,
            summary: None,
            description: None,
            location: None,
            start,
            end,
            rrule: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
            recurrence_id: None,
            status: None,
            transparent: false,
            organizer: None,
            attendees: Vec::new(),
        }
    }
}

/// A DATE or DATE-TIME value in one of the four forms RFC 5545 §3.3.5 allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTime {
    /// A whole day (`VALUE=DATE`).
    Date(civil::Date),
    /// A local time with no zone, the same wall-clock time wherever the reader is.
    Floating(civil::DateTime),
    /// A local time in a zone named by TZID.
    Zoned { local: civil::DateTime, zone: Zone },
    /// A time in UTC (`Z` suffix).
    Utc(jiff::Timestamp),
}

impl EventTime {
    /// Returns the zone of a `Zoned` time.
    pub fn zone(&self) -> Option<&Zone> {
        match self {
            EventTime::Zoned { zone, .. } => Some(zone),
            _ => None,
        }
    }

    /// Returns the calendar date on which this time falls, in its own zone (UTC for `Utc`).
    pub fn date(&self) -> civil::Date {
        match self {
            EventTime::Date(date) => *date,
            EventTime::Floating(local) | EventTime::Zoned { local, .. } => local.date(),
            EventTime::Utc(timestamp) => timestamp.to_zoned_datetime(TimeZone::UTC).date(),
        }
    }
}

/// A time zone: an IANA zone from jiff's database, or a zone that only a file's VTIMEZONE
/// defines, kept as rules that jiff evaluates. Both keep the TZID the file used.
#[derive(Clone)]
pub struct Zone {
    tzid: String,
    time_zone: TimeZone,
    iana: bool,
}

impl Zone {
    /// Returns the IANA zone with the given name from jiff's database.
    pub fn iana(name: &str) -> Option<Zone> {
        let time_zone = TimeZone::get(name).ok()?;
        Some(Zone {
            tzid: time_zone.iana_name().unwrap_or(name).to_string(),
            time_zone,
            iana: true,
        })
    }

    /// Creates a zone that has the TZID `tzid` and follows the rules of `time_zone`.
    ///
    /// When `time_zone` is an IANA zone, `write` generates its VTIMEZONE from jiff's
    /// database. Otherwise the VTIMEZONE is generated from the rules that `time_zone` holds.
    pub fn new(tzid: impl Into<String>, time_zone: TimeZone) -> Zone {
        let iana = time_zone.iana_name().is_some();
        Zone {
            tzid: tzid.into(),
            time_zone,
            iana,
        }
    }

    /// Returns the TZID that files use for this zone.
    pub fn tzid(&self) -> &str {
        &self.tzid
    }

    /// Returns the rules that turn local times in this zone into instants.
    pub fn time_zone(&self) -> TimeZone {
        self.time_zone.clone()
    }

    /// Returns the IANA name, when the zone is one of jiff's database.
    pub fn iana_name(&self) -> Option<&str> {
        if self.iana {
            self.time_zone.iana_name()
        } else {
            None
        }
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Zone")
            .field("tzid", &self.tzid)
            .field("iana_name", &self.iana_name())
            .finish()
    }
}

/// Two zones are equal when they have the same TZID and the same IANA name, or, for zones
/// defined by a VTIMEZONE, the same TZID and the same offsets from 1970 to 2100.
impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        if self.tzid != other.tzid || self.iana_name() != other.iana_name() {
            return false;
        }
        if self.iana_name().is_some() {
            return true;
        }
        same_offsets(&self.time_zone, &other.time_zone)
    }
}

impl Eq for Zone {}

/// Compares the UTC offsets of two zones from 1970 to 2100 at every transition of either zone
/// and one second before it. Both offsets are constant between transitions, so agreeing at
/// these instants means agreeing everywhere in the range.
fn same_offsets(left: &TimeZone, right: &TimeZone) -> bool {
    let start = jiff::Timestamp::UNIX_EPOCH;
    let stop = civil::date(2100, 1, 1)
        .to_zoned_datetime(TimeZone::UTC)
        .map(|zoned| zoned.timestamp())
        .unwrap_or(start);
    if left.to_offset(start) != right.to_offset(start) {
        return false;
    }
    let transitions = left
        .following(start)
        .take_while(|transition| transition.timestamp() < stop)
        .chain(
            right
                .following(start)
                .take_while(|transition| transition.timestamp() < stop),
        )
        .map(|transition| transition.timestamp());
    for at in transitions {
        let before = at
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap_or(at);
        if left.to_offset(at) != right.to_offset(at)
            || left.to_offset(before) != right.to_offset(before)
        {
            return false;
        }
    }
    true
}

/// The status of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Tentative,
    Confirmed,
    Cancelled,
}

/// An organizer: an e-mail address and a display name (CN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The address without `mailto:`, or the whole CAL-ADDRESS when it is no `mailto:` URI.
    pub email: String,
    pub name: Option<String>,
}

/// An attendee with the parameters iTIP uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub person: Person,
    pub partstat: PartStat,
    pub rsvp: bool,
    pub role: Role,
}

/// An attendee's participation status (PARTSTAT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
    Delegated,
    /// Any other value, in upper case, such as `COMPLETED` or an `X-` name.
    Other(String),
}

impl PartStat {
    /// Parses a PARTSTAT value, ignoring case.
    pub fn from_text(text: &str) -> PartStat {
        match text.to_ascii_uppercase().as_str() {
            "NEEDS-ACTION" => PartStat::NeedsAction,
            "ACCEPTED" => PartStat::Accepted,
            "DECLINED" => PartStat::Declined,
            "TENTATIVE" => PartStat::Tentative,
            "DELEGATED" => PartStat::Delegated,
            other => PartStat::Other(other.to_string()),
        }
    }

    /// Returns the PARTSTAT value as written in a file.
    pub fn as_str(&self) -> &str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
            PartStat::Tentative => "TENTATIVE",
            PartStat::Delegated => "DELEGATED",
            PartStat::Other(text) => text,
        }
    }
}

/// An attendee's role (ROLE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Chair,
    ReqParticipant,
    OptParticipant,
    NonParticipant,
    /// Any other value, in upper case.
    Other(String),
}

impl Role {
    /// Parses a ROLE value, ignoring case.
    pub fn from_text(text: &str) -> Role {
        match text.to_ascii_uppercase().as_str() {
            "CHAIR" => Role::Chair,
            "REQ-PARTICIPANT" => Role::ReqParticipant,
            "OPT-PARTICIPANT" => Role::OptParticipant,
            "NON-PARTICIPANT" => Role::NonParticipant,
            other => Role::Other(other.to_string()),
        }
    }

    /// Returns the ROLE value as written in a file.
    pub fn as_str(&self) -> &str {
        match self {
            Role::Chair => "CHAIR",
            Role::ReqParticipant => "REQ-PARTICIPANT",
            Role::OptParticipant => "OPT-PARTICIPANT",
            Role::NonParticipant => "NON-PARTICIPANT",
            Role::Other(text) => text,
        }
    }
}
