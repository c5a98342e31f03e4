//! Results reported while work is in progress, and storing them.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// Maximum wait between two tries to store results.
const MAX_RECORD_DELAY: Duration = Duration::from_secs(5);

/// The way [`drain_reports`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every sender is gone: the work finished.
    Finished,
    /// The deadline passed first. Reports may still arrive until the
    /// caller stops the work.
    TimedOut,
}

/// Receives reports until every sender is gone or `deadline` passes, and
/// hands each batch to `store` as it arrives. Whatever has arrived by the
/// time one report is taken goes into the same batch, so a burst of
/// results becomes one write.
pub async fn drain_reports<R, E, F, Fut>(
    reports: &mut UnboundedReceiver<R>,
    deadline: Instant,
    mut store: F,
) -> Result<Drained, E>
where
    F: FnMut(Vec<R>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    loop {
        let first = match tokio::time::timeout_at(deadline, reports.recv()).await {
            Ok(Some(report)) => report,
            Ok(None) => return Ok(Drained::Finished),
            Err(_) => return Ok(Drained::TimedOut),
        };
        let mut batch = vec![first];
        batch.extend(std::iter::from_fn(|| reports.try_recv().ok()));
        store(batch).await?;
    }
}

/// Runs `write` until it succeeds, waiting longer after each failure (up
/// to five seconds), and returns its result.
///
/// A result that is lost after the message went out would make a later
/// claim send it again, so a write is never given up. Meanwhile the caller
/// keeps its items [`Held`](crate::Held), so this process does not start
/// them again either.
pub async fn store_until_accepted<T, E, F, Fut>(what: &str, mut write: F) -> T
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(200);
    let mut tries = 0u32;
    loop {
        tries += 1;
        match write().await {
            Ok(value) => return value,
            Err(err) => {
                tracing::warn!(error = %err, tries, what, "storing results failed; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RECORD_DELAY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_batches_until_senders_close() {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..3 {
            sender.send(i).unwrap();
        }
        drop(sender);
        let mut batches = Vec::new();
        let drained = drain_reports(
            &mut receiver,
            Instant::now() + Duration::from_secs(5),
            |batch| {
                batches.push(batch);
                async { Ok::<(), String>(()) }
            },
        )
        .await
        .unwrap();
        assert_eq!(drained, Drained::Finished);
        assert_eq!(batches, vec![vec![0, 1, 2]]);
    }

    #[tokio::test(start_paused = true)]
    async fn drain_stops_at_deadline() {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<u8>();
        let drained = drain_reports(
            &mut receiver,
            Instant::now() + Duration::from_secs(1),
            |_| async { Ok::<(), String>(()) },
        )
        .await
        .unwrap();
        assert_eq!(drained, Drained::TimedOut);
        drop(sender);
    }

    #[tokio::test(start_paused = true)]
    async fn store_retries_until_accepted() {
        let mut failures = 3;
        let value = store_until_accepted("test", || {
            let result = if failures > 0 {
                failures -= 1;
                Err("database is locked")
            } else {
                Ok(7)
            };
            async move { result }
        })
        .await;
        assert_eq!(value, 7);
        assert_eq!(failures, 0);
    }
}
