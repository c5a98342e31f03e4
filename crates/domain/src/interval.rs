//! Half-open time intervals.

use jiff::Timestamp;

use crate::ValidationError;

/// A time range `[start, end)`: it contains `start` but not `end`.
///
/// Two back-to-back meetings, one ending at 10:00 and the next starting at
/// 10:00, therefore do not overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    start: Timestamp,
    end: Timestamp,
}

impl Interval {
    /// Creates an interval, rejecting one whose end is not after its start.
    ///
    /// `end_field` names the input field that the error points at.
    pub fn new(
        start: Timestamp,
        end: Timestamp,
        end_field: &str,
    ) -> Result<Interval, ValidationError> {
        if end <= start {
            return Err(ValidationError::new(
                end_field,
                format!("must be after the start ({start}), but is {end}"),
            ));
        }
        Ok(Interval { start, end })
    }

    /// Returns the interval from `start` to `end`, which the caller knows to be in order.
    ///
    /// # Panics
    ///
    /// Panics if `end` is not after `start`.
    pub fn from_ordered(start: Timestamp, end: Timestamp) -> Interval {
        assert!(
            start < end,
            "interval end {end} is not after its start {start}"
        );
        Interval { start, end }
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// Returns whether the two intervals share at least one instant.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start: &str, end: &str) -> Interval {
        Interval::new(start.parse().unwrap(), end.parse().unwrap(), "end").unwrap()
    }

    #[test]
    fn overlap_cases() {
        let base = interval("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
        let rows = [
            ("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z", false),
            ("2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z", false),
            ("2030-01-01T09:00:00Z", "2030-01-01T10:00:00.000001Z", true),
            ("2030-01-01T10:59:59Z", "2030-01-01T12:00:00Z", true),
            ("2030-01-01T10:15:00Z", "2030-01-01T10:45:00Z", true),
            ("2030-01-01T09:00:00Z", "2030-01-01T12:00:00Z", true),
        ];
        for (start, end, expected) in rows {
            let other = interval(start, end);
            assert_eq!(base.overlaps(&other), expected, "{start}..{end}");
            assert_eq!(other.overlaps(&base), expected, "{start}..{end} reversed");
        }
    }

    #[test]
    fn interval_rejects_empty_and_reversed() {
        let at: Timestamp = "2030-01-01T10:00:00Z".parse().unwrap();
        let err = Interval::new(at, at, "end").unwrap_err();
        assert_eq!(err.field, "end");
        let earlier: Timestamp = "2030-01-01T09:00:00Z".parse().unwrap();
        assert!(Interval::new(at, earlier, "end").is_err());
    }
}
