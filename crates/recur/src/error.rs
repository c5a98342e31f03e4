//! Errors of parsing and expansion, each naming the value or rule part at
//! fault and the fix.

/// An RRULE value that is not valid RFC 5545 (§3.3.10).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    part: String,
    message: String,
}

impl RuleError {
    pub(crate) fn new(part: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError {
            part: part.into(),
            message: message.into(),
        }
    }

    /// Returns the name of the rule part at fault, such as `BYMONTHDAY`.
    pub fn part(&self) -> &str {
        &self.part
    }
}

/// A date or date-time text that is not in an iCalendar form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid date or date-time {text:?}: {reason}")]
pub struct ValueError {
    text: String,
    reason: String,
}

impl ValueError {
    pub(crate) fn new(text: &str, reason: &str) -> ValueError {
        ValueError {
            text: text.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// A recurrence that cannot be expanded as requested.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The rule examined the budget's number of candidates without finding
    /// its next instance, and without proving that it has none. A rule that
    /// never matches again ends instead, so this means a rare match, such
    /// as 29 February with a small budget, or a window far beyond COUNT.
    #[error(
        "RRULE {rule} produced no instance within {examined} candidates after {after}; \
         check that the rule can match (for example that the month has the BYMONTHDAY), \
         or raise the budget or narrow the window"
    )]
    BudgetExhausted {
        /// The rule in its canonical text.
        rule: String,
        /// The number of candidates examined.
        examined: u64,
        /// The last local date-time that was examined.
        after: String,
    },
    /// UNTIL is not in the form that RFC 5545 requires for this DTSTART.
    #[error("RRULE {rule}: UNTIL is {until_form} but DTSTART is {start_form}; {fix}")]
    UntilForm {
        rule: String,
        until_form: &'static str,
        start_form: &'static str,
        fix: &'static str,
    },
    /// The rule generates times of day but DTSTART is a date.
    #[error(
        "RRULE {rule}: {part} generates times of day but DTSTART is a date; \
         remove {part} or give DTSTART a time"
    )]
    TimeOfDayForDate { rule: String, part: &'static str },
}
