//! Forms of domain values in SQL columns, shared by the SQL stores: instants as
//! microseconds since the epoch, offsets, working hours, preferences and states as text,
//! and counts as 64-bit integers.

use convene_domain::{
    ChannelKind, DeliveryOutcome, Interval, PhoneNumber, ReminderOffset, ReminderPreferences,
    WorkingHours,
};
use jiff::Timestamp;

use crate::StoreError;

/// Encodes a person's default reminder offsets, separated by spaces, or NULL for none.
pub(crate) fn offsets_text(preferences: &ReminderPreferences) -> Option<String> {
    let offsets: Vec<&str> = preferences
        .before
        .iter()
        .map(ReminderOffset::as_str)
        .collect();
    (!offsets.is_empty()).then(|| offsets.join(" "))
}

/// Encodes a person's reminder channels, separated by spaces, or NULL for e-mail alone.
/// E-mail alone is the default, so people who never chose follow any later default.
pub(crate) fn channels_text(preferences: &ReminderPreferences) -> Option<String> {
    let default = ReminderPreferences::default();
    (preferences.channels != default.channels).then(|| {
        let names: Vec<&str> = preferences
            .channels
            .iter()
            .map(|channel| channel.as_str())
            .collect();
        names.join(" ")
    })
}

/// Reads the two columns that [`offsets_text`] and [`channels_text`] write.
pub(crate) fn preferences(
    offsets: Option<&str>,
    channels: Option<&str>,
) -> Result<ReminderPreferences, StoreError> {
    let before = offsets
        .unwrap_or_default()
        .split_whitespace()
        .map(|text| ReminderOffset::parse("reminders", text).map_err(corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    let channels = match channels {
        None => ReminderPreferences::default().channels,
        Some(text) => text
            .split_whitespace()
            .map(|name| ChannelKind::parse("channels", name).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?,
    };
    ReminderPreferences::new(before, channels).map_err(corrupt)
}

pub(crate) fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

pub(crate) fn timestamp(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us)
        .map_err(|err| StoreError::Corrupt(format!("timestamp {us}: {err}")))
}

pub(crate) fn interval_from(start_us: i64, end_us: i64) -> Result<Interval, StoreError> {
    Interval::new(timestamp(start_us)?, timestamp(end_us)?, "end")
        .map_err(|err| StoreError::Corrupt(err.to_string()))
}

pub(crate) fn parse_offset(text: String) -> Result<ReminderOffset, StoreError> {
    ReminderOffset::parse("before", &text).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Returns the stored form of `hours`: NULL for the default, so that users who never chose
/// their own follow it.
pub(crate) fn working_hours_text(hours: &WorkingHours) -> Option<String> {
    (*hours != WorkingHours::default()).then(|| hours.to_string())
}

/// Returns the state a delivery or mail recipient moves to after an attempt.
pub(crate) fn settled_state(outcome: DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::PermanentFailure => "failed",
        DeliveryOutcome::TemporaryFailure => "pending",
    }
}

/// Converts a page size to a signed 64-bit integer, SQLite's INTEGER and PostgreSQL's
/// BIGINT, saturating.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Converts a `COUNT(*)` result, which both databases return as a signed 64-bit integer.
pub(crate) fn row_count(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("row count {value} is negative")))
}

pub(crate) fn count(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt_count(value))
}

pub(crate) fn corrupt_count(value: i64) -> StoreError {
    StoreError::Corrupt(format!("count or size {value} out of range"))
}

pub(crate) fn phone(text: &str) -> Result<PhoneNumber, StoreError> {
    PhoneNumber::parse("phone", text).map_err(corrupt)
}

pub(crate) fn channel(text: String) -> Result<ChannelKind, StoreError> {
    ChannelKind::parse("channel", &text).map_err(corrupt)
}

fn corrupt(err: convene_domain::ValidationError) -> StoreError {
    StoreError::Corrupt(err.to_string())
}
