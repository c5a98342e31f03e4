//! Errors that reject a whole input, and the reasons for skipping single components.

use std::fmt;

/// A rejection of a whole input. Each message names the problem, its line and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(
        "the input is {size} bytes, more than the maximum of {max}; split the calendar into smaller files"
    )]
    TooLarge { size: usize, max: usize },
    #[error("line {line}: more than {max} components; split the calendar into smaller files")]
    TooManyComponents { line: usize, max: usize },
    #[error("line {line}: components nest more than {max} deep; check the BEGIN and END lines")]
    TooDeep { line: usize, max: usize },
    #[error("the input is empty; expected an iCalendar object starting with BEGIN:VCALENDAR")]
    Empty,
    #[error(
        "line {line}: no BEGIN:VCALENDAR in the input, which starts with {found}; expected an iCalendar object (RFC 5545)"
    )]
    NotICalendar { line: usize, found: String },
}

/// A component that `parse` left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The line of the component's BEGIN.
    pub line: usize,
    /// The component name, such as `VEVENT`.
    pub component: String,
    /// The UID, when the component has one.
    pub uid: Option<String>,
    /// The problem, naming the property and its line.
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.component)?;
        if let Some(uid) = &self.uid {
            write!(formatter, " {uid:?}")?;
        }
        write!(formatter, " skipped: {}", self.reason)
    }
}
