//! Reminder offsets and the per-recipient deliveries planned from them.

use std::fmt;

use jiff::fmt::temporal::SpanParser;
use jiff::{Span, Timestamp, tz::TimeZone};

use crate::{DeliveryId, EventId, MessageId, UserId, ValidationError};

/// How long before an event's start a reminder is due, as an ISO 8601
/// duration such as `PT15M` or `P1D`.
///
/// Calendar units (days, weeks, months) are applied in the event's time
/// zone, so a `P1D` reminder for a 09:00 meeting is due at 09:00 local time
/// the day before, even across a daylight-saving change.
#[derive(Debug, Clone)]
pub struct ReminderOffset {
    text: String,
    span: Span,
}

impl ReminderOffset {
    pub fn parse(field: &str, value: &str) -> Result<ReminderOffset, ValidationError> {
        // The ISO 8601 parser alone: jiff's `FromStr` for `Span` also accepts
        // its friendly form ("15 minutes"), which the API does not promise.
        // jiff's reason separates a malformed duration from one too large, such as P10000000D
        // (its limit is 7,304,484 days), and names the unit at fault.
        let span: Span = SpanParser::new().parse_span(value).map_err(|err| {
            ValidationError::new(
                field,
                format!(
                    "{value:?} is not a usable ISO 8601 duration ({err}); use one such as PT15M, PT1H or P1D"
                ),
            )
        })?;
        if span.is_negative() {
            return Err(ValidationError::new(
                field,
                format!(
                    "{value:?} is negative; give the time before the start as a positive duration such as PT15M"
                ),
            ));
        }
        Ok(ReminderOffset {
            text: value.to_owned(),
            span,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn span(&self) -> Span {
        self.span
    }

    /// Computes when the reminder for an event starting at `start` is due.
    pub fn due_at(
        &self,
        start: Timestamp,
        time_zone: &TimeZone,
    ) -> Result<Timestamp, ValidationError> {
        start
            .to_zoned_datetime(time_zone.clone())
            .checked_sub(self.span)
            .map(|zoned| zoned.timestamp())
            .map_err(|_| {
                ValidationError::new(
                    "reminders",
                    format!(
                        "{} before {start} is outside the supported time range",
                        self.text
                    ),
                )
            })
    }
}

/// Offsets compare by their text, so `PT60M` and `PT1H` stay distinct
/// reminders, as the user wrote them.
impl PartialEq for ReminderOffset {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for ReminderOffset {}

impl fmt::Display for ReminderOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A medium that carries reminders to people.
///
/// Each person picks one or more in their reminder preferences; every
/// reminder is planned once per channel, so each channel's delivery is
/// claimed, retried and settled on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    Email,
    Sms,
    Push,
    Webhook,
}

impl ChannelKind {
    /// Every channel, in the order their names are listed in messages.
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Email,
        ChannelKind::Sms,
        ChannelKind::Push,
        ChannelKind::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Push => "push",
            ChannelKind::Webhook => "webhook",
        }
    }

    /// Reads a channel name: `email`, `sms`, `push` or `webhook`.
    pub fn parse(field: &str, value: &str) -> Result<ChannelKind, ValidationError> {
        ChannelKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    format!("{value:?} is not a reminder channel; use email, sms, push or webhook"),
                )
            })
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet due, or due and waiting for a worker (including a retry).
    Pending,
    /// Claimed by a worker whose lease has not expired.
    Sending,
    /// Handed to the mail queue, which delivers it and records the outcome
    /// here.
    Queued,
    /// Accepted by the recipient's server.
    Delivered,
    /// Failed permanently; never retried.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Queued => "queued",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Worth retrying later: a 4xx reply, a timeout, a refused connection.
    TemporaryFailure,
    /// Never worth retrying: a 5xx reply, a domain that does not exist.
    PermanentFailure,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::TemporaryFailure => "temporary_failure",
            DeliveryOutcome::PermanentFailure => "permanent_failure",
        }
    }
}

/// Outcome of one attempt to deliver a reminder to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub at: Timestamp,
    pub outcome: DeliveryOutcome,
    /// The host that sent the final reply; for e-mail, the MX host.
    pub destination: Option<String>,
    /// Whether the message travelled over TLS.
    pub tls: bool,
    /// The TLS protocol version, such as `TLSv1.3`, when TLS was used.
    pub tls_version: Option<String>,
    /// The TLS cipher suite, such as `TLS13_AES_256_GCM_SHA384`, when TLS
    /// was used.
    pub tls_cipher: Option<String>,
    /// The server's reply code, when a server replied.
    pub reply_code: Option<u16>,
    /// The server's reply text, or a description of the local failure.
    pub reply_text: String,
}

impl DeliveryAttempt {
    /// Builds an attempt that failed before reaching any server, such as an
    /// invalid address or a message that could not be built.
    pub fn local(outcome: DeliveryOutcome, reason: impl Into<String>) -> DeliveryAttempt {
        DeliveryAttempt {
            at: Timestamp::now(),
            outcome,
            destination: None,
            tls: false,
            tls_version: None,
            tls_cipher: None,
            reply_code: None,
            reply_text: reason.into(),
        }
    }
}

/// One reminder for one recipient: the unit that the Notifier claims, sends
/// and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub offset: ReminderOffset,
    /// The medium this delivery travels by.
    pub channel: ChannelKind,
    pub due_at: Timestamp,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_attempt: Option<DeliveryAttempt>,
    /// The mail message that carries this delivery, once it is queued.
    pub message_id: Option<MessageId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse("channels/0", kind.as_str()), Ok(kind));
        }
        let err = ChannelKind::parse("channels/1", "fax").unwrap_err();
        assert_eq!(err.field, "channels/1");
        assert!(err.message.contains("email, sms, push or webhook"), "{err}");
    }

    #[test]
    fn offset_parses_iso_durations() {
        for ok in ["PT15M", "PT1H", "P1D", "P1W", "PT0S", "PT1H30M"] {
            assert!(ReminderOffset::parse("before", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn offset_rejects_invalid_and_negative() {
        for bad in ["15 minutes", "", "-PT15M", "PT", "15"] {
            let err = ReminderOffset::parse("reminders/0/before", bad).unwrap_err();
            assert_eq!(err.field, "reminders/0/before", "{bad:?}");
        }
    }

    #[test]
    fn offset_error_names_cause() {
        let err = ReminderOffset::parse("before", "P10000000D").unwrap_err();
        assert!(err.message.contains("'days'"), "{err}");
        assert!(err.message.contains("7304484"), "{err}");
        let err = ReminderOffset::parse("before", "P1H").unwrap_err();
        assert!(err.message.contains("date unit designator"), "{err}");
        assert!(err.message.contains("such as PT15M"), "{err}");
    }

    #[test]
    fn offset_due_at_uses_local_calendar_days() {
        // Europe/Berlin leaves summer time at 03:00 on Sunday 2030-10-27, so
        // 09:00 on the 26th is 25 hours before 09:00 on the 27th.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let start: Timestamp = "2030-10-27T08:00:00Z".parse().unwrap();
        let one_day = ReminderOffset::parse("before", "P1D").unwrap();
        let due = one_day.due_at(start, &berlin).unwrap();
        assert_eq!(due, "2030-10-26T07:00:00Z".parse::<Timestamp>().unwrap());

        let quarter = ReminderOffset::parse("before", "PT15M").unwrap();
        let due = quarter.due_at(start, &berlin).unwrap();
        assert_eq!(due, "2030-10-27T07:45:00Z".parse::<Timestamp>().unwrap());
    }
}
