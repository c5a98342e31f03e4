//! Storage for users, events, reminder deliveries and the mail queue.
//!
//! This crate hides the storage medium. Callers see one [`Store`] trait and
//! pick an implementation once, at start-up, with [`open`]; nothing above
//! this crate depends on whether rows live in memory, in a SQLite file or in a
//! PostgreSQL database, how times are encoded, or how claims on due deliveries
//! are made exclusive.
//!
//! The trait's contract, shared by every implementation and checked by one
//! test suite that runs against each of them:
//! - [`Store::book_event`] and [`Store::add_participant`] check for
//!   overlapping events and write in one atomic step, so two concurrent
//!   bookings can never double-book a person.
//! - [`Store::claim_due_deliveries`] hands each due delivery to exactly one
//!   caller until its lease expires; a caller that dies leaves the delivery
//!   to be claimed again after the lease.
//! - [`MailStore`], the durable mail queue, claims each recipient of a
//!   message the same way, and hands a reminder delivery to the queue at
//!   most once.
//!
//! Layout:
//! - [`repository`]: the [`Store`] and [`MailStore`] traits.
//! - [`memory`]: an in-process store, for tests and throw-away instances.
//! - [`sqlite`]: the embedded default, one SQLite file.
//! - [`postgres`]: a PostgreSQL database, which several processes can share.
//! - [`error`]: the error type and its backend-neutral kinds.

mod codec;
pub mod error;
pub mod memory;
pub mod postgres;
pub mod repository;
mod schedule;
pub mod sqlite;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use repository::{AttemptRecord, ClaimRequest, MailStore, QueueCounts, Store};
pub use schedule::{DEFAULT_CONFLICT_HORIZON, MAX_LISTED_CONFLICTS, StoreOptions};
pub use sqlite::SqliteStore;

use std::sync::Arc;

/// Opens the store that `url` names: `memory:` for an in-process store,
/// `sqlite:PATH` (also `sqlite://PATH`) for a SQLite file, created when
/// missing, or `postgres://...` (also `postgresql://...`) for an existing
/// PostgreSQL database. Migrations run before this returns.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, StoreOptions::default()).await
}

/// Opens the store that `url` names, like [`open`], with `options`.
pub async fn open_with(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::with_options(options)));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open_with(url, options).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open_with(url, options).await?));
    }
    Err(StoreError::UnsupportedUrl {
        url: url.to_owned(),
    })
}
