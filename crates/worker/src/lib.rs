//! How claimed work runs: the poll loop shared by the Notifier and the mail
//! queue.
//!
//! This crate hides the concurrency and shutdown policy of Convene's
//! workers. A worker polls on a fixed interval and claims due work with a
//! lease. Each claimed item runs as a background task, at most
//! `batch_size` of them at once, so one slow destination never delays the
//! next poll. On shutdown, tasks in flight get [`SHUTDOWN_GRACE`] to
//! finish, and any still running are abandoned for their leases to expire.
//!
//! It also keeps a message from going out twice while its lease runs out.
//! [`Held`] remembers what this process is still working on, so that its
//! own next claim only extends the lease. [`store_until_accepted`] retries
//! a result write until the store takes it. [`backoff`] computes retry
//! times for temporary failures. [`Combiner`] joins the result writes of
//! concurrent tasks into one (group commit), so that a busy queue commits
//! once per batch rather than once per message.
//!
//! It depends on no store, channel or protocol. Callers supply the claiming
//! and the work through [`Claimer`].

pub mod backoff;
mod combine;
mod held;
mod poll;
mod reports;

pub use combine::{BatchWrite, CombineError, Combiner};
pub use held::{Held, Release};
pub use poll::{Claimer, PollSettings, SHUTDOWN_GRACE, run_once, run_polls};
pub use reports::{Drained, drain_reports, store_until_accepted};
