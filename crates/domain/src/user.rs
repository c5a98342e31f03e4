//! People who organize and attend events.

use std::fmt;

use crate::{ChannelKind, ReminderOffset, TokenId, UserId, ValidationError, WorkingHours};

/// Maximum length of a display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// An e-mail address of the form `local@domain`.
///
/// Accepted are the addresses that SMTP without extensions can carry, as
/// RFC 5321 §4.1.2 defines them: ASCII only, a dot-atom local part
/// (letters, digits and ``!#$%&'*+-/=?^_`{|}~``, with single dots between
/// them) of at most 64 octets, and a host name of letter-digit-hyphen
/// labels as the domain. Quoted local parts, address literals such as
/// `a@[192.0.2.1]` and internationalized addresses are rejected, so that
/// every stored address can also be delivered to. Whether the mailbox
/// exists is for the recipient's mail server to decide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &str, value: &str) -> Result<EmailAddress, ValidationError> {
        let invalid = |why: &str| {
            ValidationError::new(
                field,
                format!("{value:?} is not a valid e-mail address: {why}"),
            )
        };
        if value.len() > 254 {
            return Err(invalid("longer than 254 octets"));
        }
        if !value.is_ascii() {
            return Err(invalid(
                "contains a non-ASCII character; internationalized addresses are not supported",
            ));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(invalid("expected local-part@domain"));
        };

        let atext =
            |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte);
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before @ must have 1 to 64 octets"));
        }
        if local
            .split('.')
            .any(|atom| atom.is_empty() || !atom.bytes().all(atext))
        {
            return Err(invalid(
                "the part before @ may contain only letters, digits, single inner dots and !#$%&'*+-/=?^_`{|}~",
            ));
        }

        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        };
        if !domain.split('.').all(label_ok) {
            return Err(invalid(
                "the domain after @ must be a host name such as example.org (letters, digits and inner hyphens)",
            ));
        }
        Ok(EmailAddress(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the domain part, lowercased.
    pub fn domain(&self) -> String {
        let (_, domain) = self.0.rsplit_once('@').expect("validated on construction");
        domain.to_ascii_lowercase()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A telephone number in E.164 form: `+`, a country code and the subscriber number, 8 to
/// 15 digits in all, without spaces or punctuation, as SMS gateways expect it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(field: &str, value: &str) -> Result<PhoneNumber, ValidationError> {
        let digits = value.strip_prefix('+').unwrap_or_default();
        let valid = (8..=15).contains(&digits.len())
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && !digits.starts_with('0');
        if !valid {
            return Err(ValidationError::new(
                field,
                format!(
                    "{value:?} is not an E.164 telephone number; write + and 8 to 15 digits without spaces, for example +4915112345678"
                ),
            ));
        }
        Ok(PhoneNumber(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's reminder defaults: offsets and channels for events that set no reminders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderPreferences {
    /// Offsets used for events created without reminders of their own.
    pub before: Vec<ReminderOffset>,
    /// Channels every reminder to this person goes by, each once; never empty.
    pub channels: Vec<ChannelKind>,
}

impl Default for ReminderPreferences {
    /// No default reminders, and e-mail for the reminders of events that set them.
    fn default() -> Self {
        ReminderPreferences {
            before: Vec::new(),
            channels: vec![ChannelKind::Email],
        }
    }
}

impl ReminderPreferences {
    /// Checks the offsets (at most [`crate::event::MAX_REMINDERS`], none repeated) and the
    /// channels (at least one, none repeated). `field` prefixes the paths in errors.
    pub fn new(
        before: Vec<ReminderOffset>,
        channels: Vec<ChannelKind>,
    ) -> Result<ReminderPreferences, ValidationError> {
        let max = crate::event::MAX_REMINDERS;
        if before.len() > max {
            return Err(ValidationError::new(
                "reminders",
                format!("at most {max} reminders are allowed"),
            ));
        }
        for (i, offset) in before.iter().enumerate() {
            if before[..i].contains(offset) {
                return Err(ValidationError::new(
                    format!("reminders/{i}/before"),
                    format!("{offset} is listed twice; give each reminder once"),
                ));
            }
        }
        if channels.is_empty() {
            return Err(ValidationError::new(
                "channels",
                "name at least one channel: email, sms, push or webhook",
            ));
        }
        for (i, channel) in channels.iter().enumerate() {
            if channels[..i].contains(channel) {
                return Err(ValidationError::new(
                    format!("channels/{i}"),
                    format!("{channel} is listed twice; give each channel once"),
                ));
            }
        }
        Ok(ReminderPreferences { before, channels })
    }
}

/// Validates an IANA time zone name such as `Europe/Berlin` against the
/// bundled time zone database.
pub fn validate_time_zone(field: &str, name: &str) -> Result<String, ValidationError> {
    match jiff::tz::TimeZone::get(name) {
        // Lookups ignore case; keep the database's spelling.
        Ok(tz) => Ok(tz.iana_name().unwrap_or(name).to_owned()),
        Err(_) => Err(ValidationError::new(
            field,
            format!(
                "{name:?} is not a known IANA time zone name (for example Europe/Berlin or America/New_York)"
            ),
        )),
    }
}

/// An API token as stored: whose it is and when it was issued. The secret itself is
/// never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub user: UserId,
    pub created_at: jiff::Timestamp,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: EmailAddress,
    /// IANA time zone name used to show times to this user and to read their working hours.
    pub time_zone: Option<String>,
    /// When this person accepts meetings, read in `time_zone`.
    pub working_hours: WorkingHours,
    /// Telephone number that SMS reminders go to.
    pub phone: Option<PhoneNumber>,
    /// Default reminders and the channels reminders take.
    pub reminders: ReminderPreferences,
}

impl User {
    /// Returns the person's time zone, or UTC when they have set none.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        self.time_zone
            .as_deref()
            .and_then(|name| jiff::tz::TimeZone::get(name).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// A validated request to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub email: EmailAddress,
    pub time_zone: Option<String>,
    pub working_hours: WorkingHours,
    pub phone: Option<PhoneNumber>,
    pub reminders: ReminderPreferences,
}

impl NewUser {
    pub fn new(
        name: &str,
        email: &str,
        time_zone: Option<&str>,
    ) -> Result<NewUser, ValidationError> {
        let name = validate_text("name", name, MAX_NAME_CHARS)?;
        let email = EmailAddress::parse("email", email)?;
        let time_zone = time_zone
            .map(|tz| validate_time_zone("time_zone", tz))
            .transpose()?;
        Ok(NewUser {
            name,
            email,
            time_zone,
            working_hours: WorkingHours::default(),
            phone: None,
            reminders: ReminderPreferences::default(),
        })
    }

    /// Replaces the default working hours.
    pub fn with_working_hours(mut self, working_hours: WorkingHours) -> NewUser {
        self.working_hours = working_hours;
        self
    }

    /// Gives the new user its identifier.
    pub fn into_user(self, id: UserId) -> User {
        User {
            id,
            name: self.name,
            email: self.email,
            time_zone: self.time_zone,
            working_hours: self.working_hours,
            phone: self.phone,
            reminders: self.reminders,
        }
    }
}

/// Trims `value` and checks that it is non-empty, at most `max_chars` long
/// and free of control characters (which would break mail headers).
pub fn validate_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters long"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters such as line breaks or tabs",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_ordinary_addresses() {
        for ok in [
            "a@b.test",
            "first.last+tag@sub.example.test",
            "o'brien@x-y.test",
            "A_B@B.TEST",
        ] {
            assert!(EmailAddress::parse("email", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn email_rejects_injection_and_malformed() {
        for bad in [
            "",
            "no-at-sign",
            "@domain.test",
            "local@",
            "a@b..test",
            "a b@c.test",
            "a@b.test\r\nRCPT TO:<x@y.test>",
            "a@b.test\0",
            "<a@b.test>",
            "ü@münchen.test",
            "a\"b@ok.test",
            "a@b@ok.test",
            "a(b)@ok.test",
            "a@o_k.test",
            "a@[127.0.0.1]",
            "a..b@ok.test",
            ".a@ok.test",
            "a\\b@ok.test",
            "a:b@ok.test",
            "a@-ok.test",
        ] {
            let err = EmailAddress::parse("email", bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad:?}");
        }
    }

    #[test]
    fn phone_numbers_are_e164() {
        for ok in ["+4915112345678", "+12025550123", "+35312345"] {
            assert_eq!(PhoneNumber::parse("phone", ok).unwrap().as_str(), ok);
        }
        for bad in [
            "015112345678",
            "+49 151 12345678",
            "+1234567",
            "+0123456789",
            "+1234567890123456",
            "+",
            "",
        ] {
            let err = PhoneNumber::parse("phone", bad).unwrap_err();
            assert_eq!(err.field, "phone", "{bad:?}");
            assert!(err.message.contains("E.164"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn reminder_preferences_reject_repeats_and_no_channel() {
        let offset = |text| ReminderOffset::parse("before", text).unwrap();
        let ok = ReminderPreferences::new(
            vec![offset("PT15M"), offset("P1D")],
            vec![ChannelKind::Push, ChannelKind::Email],
        )
        .unwrap();
        assert_eq!(ok.channels, [ChannelKind::Push, ChannelKind::Email]);
        let twice = ReminderPreferences::new(
            vec![offset("PT15M"), offset("PT15M")],
            vec![ChannelKind::Email],
        );
        assert_eq!(twice.unwrap_err().field, "reminders/1/before");
        let none = ReminderPreferences::new(vec![], vec![]);
        assert_eq!(none.unwrap_err().field, "channels");
        let repeated = ReminderPreferences::new(vec![], vec![ChannelKind::Sms, ChannelKind::Sms]);
        assert_eq!(repeated.unwrap_err().field, "channels/1");
    }

    #[test]
    fn email_domain_is_lowercased() {
        let email = EmailAddress::parse("email", "Ann@Alpha.TEST").unwrap();
        assert_eq!(email.domain(), "alpha.test");
    }

    #[test]
    fn new_user_time_zone_spelled_as_database() {
        let user = NewUser::new("Ann", "ann@alpha.test", Some("europe/berlin")).unwrap();
        assert_eq!(user.time_zone.as_deref(), Some("Europe/Berlin"));
    }

    #[test]
    fn new_user_rejects_unknown_time_zone() {
        let err = NewUser::new("Ann", "ann@alpha.test", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(err.field, "time_zone");
    }

    #[test]
    fn new_user_rejects_name_with_line_break() {
        let err = NewUser::new("Ann\r\nBcc: x@y.test", "ann@alpha.test", None).unwrap_err();
        assert_eq!(err.field, "name");
    }

    #[test]
    fn new_user_trims_name() {
        let user = NewUser::new("  Ann  ", "ann@alpha.test", Some("Europe/Berlin")).unwrap();
        assert_eq!(user.name, "Ann");
        assert_eq!(user.time_zone.as_deref(), Some("Europe/Berlin"));
    }
}
