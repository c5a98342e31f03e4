//! The error for channel settings that cannot be used.

/// A channel setting that is missing or invalid, found when a client is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    /// The setting as a dotted path, such as `sms.account_sid` or `push.http.connect_timeout`.
    pub setting: String,
    /// The problem and how to fix it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(setting: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}
