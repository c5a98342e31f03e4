//! Errors in request bodies.

use convene_domain::ValidationError;

/// Whether the body could not be read at all or was read but is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputErrorKind {
    /// The body is not well-formed in its format (HTTP 400).
    Malformed,
    /// The body is well-formed but a field is missing or invalid (HTTP 422).
    Invalid,
    /// The body's format is not accepted for this request (HTTP 415).
    UnsupportedFormat,
}

/// A problem with a request body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .field { Some(field) => format!("{field}: {}", .message), None => .message.clone() })]
pub struct InputError {
    pub kind: InputErrorKind,
    /// The offending field, when the problem is with one field.
    pub field: Option<String>,
    pub message: String,
}

impl InputError {
    pub fn malformed(message: impl Into<String>) -> InputError {
        InputError {
            kind: InputErrorKind::Malformed,
            field: None,
            message: message.into(),
        }
    }

    pub fn unsupported_format(message: impl Into<String>) -> InputError {
        InputError {
            kind: InputErrorKind::UnsupportedFormat,
            field: None,
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> InputError {
        InputError {
            kind: InputErrorKind::Invalid,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Puts the field path under `parent`, for an error found in a nested object.
    pub(crate) fn under(mut self, parent: &str) -> InputError {
        self.field = Some(match self.field {
            Some(field) => format!("{parent}/{field}"),
            None => parent.to_owned(),
        });
        self
    }
}

impl From<ValidationError> for InputError {
    fn from(err: ValidationError) -> InputError {
        InputError::invalid(err.field, err.message)
    }
}
