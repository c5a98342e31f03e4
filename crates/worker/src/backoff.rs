//! Backoff for temporary failures.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::Rng;

/// Computes when to retry after the `attempts`-th failed attempt (1 for the
/// first): `initial * 2^(attempts - 1)`, capped at `max`, minus up to a
/// fifth at random, so that deliveries that failed together do not all
/// retry in the same instant.
pub fn retry_at(now: Timestamp, attempts: u32, initial: Duration, max: Duration) -> Timestamp {
    let exponent = attempts.saturating_sub(1).min(30);
    let delay = initial.saturating_mul(1 << exponent).min(max);
    let jitter = rand::rng().random_range(0.0..0.2);
    let delay = delay.mul_f64(1.0 - jitter);
    let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
    now.checked_add(delay).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_doubles_within_jitter_and_caps() {
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let initial = Duration::from_secs(60);
        let max = Duration::from_secs(600);
        for (attempts, full) in [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (40, 600)] {
            let at = retry_at(now, attempts, initial, max);
            let delay = at.duration_since(now).as_secs_f64();
            let full = full as f64;
            assert!(
                delay <= full && delay >= full * 0.8,
                "attempt {attempts}: {delay}s"
            );
        }
    }
}
