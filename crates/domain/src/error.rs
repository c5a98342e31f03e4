//! Validation errors raised by the domain constructors.

/// A value that breaks a domain invariant, with the field it came from.
///
/// `field` is a JSON-pointer-like path such as `end` or `reminders/0/before`
/// so that an interface can tell its user exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}
