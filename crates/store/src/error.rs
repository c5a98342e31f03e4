//! Errors returned by every store.

use convene_domain::{Conflict, ValidationError};

/// Reason a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The booking would overlap existing events of these attendees.
    #[error("the requested time overlaps existing events of {} attendee(s)", .0.len())]
    Busy(Vec<Conflict>),

    /// A referenced row does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },

    /// A value that must be unique is already taken.
    /// Input that only the store could check, such as a recurrence that cannot be expanded
    /// over the conflict horizon.
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// The row changed since the caller read it, so the caller's write was not applied.
    #[error("{what} {id} changed since it was read")]
    Stale { what: &'static str, id: String },

    #[error("{field} {value:?} is already in use")]
    Duplicate { field: &'static str, value: String },

    /// The database URL names no supported backend.
    #[error(
        "unsupported database URL {url:?}: expected sqlite:PATH with a file path, \
         postgres://USER@HOST/DATABASE or memory:"
    )]
    UnsupportedUrl { url: String },

    /// A stored row could not be turned back into a domain value.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),

    /// The backend failed: I/O, a lock timeout, a broken connection.
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),

    /// The write was handed to another task, such as one that writes the
    /// items of several callers together, and that task ended without a
    /// response. The write may or may not have been applied.
    #[error("the write ended without a response; it may or may not have been applied")]
    Unanswered,

    /// Running the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
