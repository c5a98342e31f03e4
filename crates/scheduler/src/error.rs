//! Errors returned by the Scheduler.

use convene_domain::{Conflict, Interval, ValidationError};
use convene_store::StoreError;

/// Reason a Scheduler operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A value in the command is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// The resource named by the request itself (an event or a user in the
    /// path) does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },

    /// The requested time overlaps existing events of these attendees.
    #[error("the requested time overlaps existing events of {} attendee(s)", .conflicts.len())]
    Busy {
        conflicts: Vec<Conflict>,
        /// The next free slots of the same length for all attendees, earliest first.
        suggestions: Vec<Interval>,
    },

    /// A value that must be unique is already taken.
    #[error("event {id} is cancelled")]
    Cancelled { id: String },

    #[error("{field} {value:?} is already in use")]
    Duplicate { field: &'static str, value: String },

    /// The caller may not do what it requested.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },

    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SchedulerError {
    fn from(err: StoreError) -> SchedulerError {
        match err {
            StoreError::Busy(conflicts) => SchedulerError::Busy {
                conflicts,
                suggestions: Vec::new(),
            },
            StoreError::NotFound { what, id } => SchedulerError::NotFound { what, id },
            StoreError::Duplicate { field, value } => SchedulerError::Duplicate { field, value },
            StoreError::Invalid(err) => SchedulerError::Invalid(err),
            other => SchedulerError::Store(other),
        }
    }
}
