//! Text forms of domain values in SQL columns, shared by the SQL stores.

use convene_domain::{ChannelKind, PhoneNumber, ReminderOffset, ReminderPreferences};

use crate::StoreError;

/// A person's default reminder offsets separated by spaces, or NULL for none.
pub(crate) fn offsets_text(preferences: &ReminderPreferences) -> Option<String> {
    let offsets: Vec<&str> = preferences
        .before
        .iter()
        .map(ReminderOffset::as_str)
        .collect();
    (!offsets.is_empty()).then(|| offsets.join(" "))
}

/// A person's reminder channels separated by spaces, or NULL for e-mail alone, the
/// default, so that people who never chose follow it.
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

pub(crate) fn phone(text: &str) -> Result<PhoneNumber, StoreError> {
    PhoneNumber::parse("phone", text).map_err(corrupt)
}

pub(crate) fn channel(text: String) -> Result<ChannelKind, StoreError> {
    ChannelKind::parse("channel", &text).map_err(corrupt)
}

fn corrupt(err: convene_domain::ValidationError) -> StoreError {
    StoreError::Corrupt(err.to_string())
}
