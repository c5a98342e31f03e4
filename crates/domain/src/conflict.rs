//! Busy time that blocks a booking.

use crate::{Interval, UserId};

/// One attendee's busy intervals that overlap a requested booking.
///
/// It carries the intervals only, never the titles or attendees of the
/// events behind them, because those belong to other people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub user: UserId,
    pub busy: Vec<Interval>,
}
