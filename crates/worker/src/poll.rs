//! The poll loop.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long a stopping worker waits for tasks in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Claims due work and runs one claimed item.
pub trait Claimer: Clone + Send + Sync + 'static {
    /// One claimed item, run as one task.
    type Work: Send + 'static;
    /// The error of claiming or of storing a result.
    type Error: Display + Send + 'static;

    /// Claims at most `limit` units of the work due at `now`, leaving out
    /// items this process still works on.
    fn claim(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Self::Work>, Self::Error>> + Send;

    /// Returns how many claimed units (deliveries, recipients) `work`
    /// holds; a poll claims up to `batch_size` units.
    fn units(work: &Self::Work) -> usize;

    /// Runs one claimed item and stores its results. `claimed_at` is when
    /// the claim was made, from which any cut-off is counted.
    fn run(
        &self,
        work: Self::Work,
        claimed_at: Instant,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Runs after each poll's claims, for bookkeeping that is not claimed
    /// work.
    fn after_poll(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Settings of [`run_polls`].
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Names the worker in logs, such as `notifier`.
    pub name: &'static str,
    /// Identifies this process in its claims.
    pub worker_id: String,
    pub poll_interval: Duration,
    /// Maximum number of units one poll claims, and of tasks in flight.
    pub batch_size: usize,
    pub lease: Duration,
}

/// Polls until `shutdown` completes.
///
/// Each claimed item runs in the background, so a slow one never delays
/// the next poll; at most `batch_size` run at once. A poll keeps claiming
/// while full batches come back and room is left. While a claim last came
/// back full, the loop also claims again between polls each time half the
/// tasks have finished, so a backlog drains at the pace of the work rather
/// than one batch per poll interval. On shutdown, tasks in
/// flight get [`SHUTDOWN_GRACE`] to finish. Any still running then are
/// abandoned; their claims expire, so another poll runs them again.
pub async fn run_polls<C: Claimer>(
    claimer: C,
    settings: &PollSettings,
    shutdown: impl Future<Output = ()>,
) {
    let name = settings.name;
    tracing::info!(
        worker = %settings.worker_id,
        interval = ?settings.poll_interval,
        lease = ?settings.lease,
        "{name} started"
    );
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(settings.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = JoinSet::new();
    // Whether the last claim filled all the room it had, so more work may be due.
    let mut backlog = false;
    loop {
        let ticked = tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => true,
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                log_task_result(name, joined);
                false
            }
        };
        while let Some(joined) = in_flight.try_join_next() {
            log_task_result(name, joined);
        }
        // Between ticks, a backlog is claimed again once half the tasks are done, so that
        // work flows on without waiting for the next tick and is still claimed in batches.
        let refill = backlog && in_flight.len() <= settings.batch_size / 2;
        if !(ticked || refill) {
            continue;
        }
        backlog = false;
        while in_flight.len() < settings.batch_size {
            // A claimed unit becomes at most one task, so claiming no more
            // than the room left keeps the tasks in flight within the batch.
            let room = settings.batch_size - in_flight.len();
            let claimed = match claimer.claim(Timestamp::now(), room).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::error!(error = %err, "{name}: polling for due work failed");
                    break;
                }
            };
            let units: usize = claimed.iter().map(C::units).sum();
            let claimed_at = Instant::now();
            for work in claimed {
                let claimer = claimer.clone();
                in_flight.spawn(async move { claimer.run(work, claimed_at).await });
            }
            if units < room {
                break;
            }
            backlog = true;
        }
        if ticked {
            claimer.after_poll().await;
        }
    }

    if !in_flight.is_empty() {
        tracing::info!(
            in_flight = in_flight.len(),
            "{name}: waiting for work in flight"
        );
        let drain = async {
            while let Some(joined) = in_flight.join_next().await {
                log_task_result(name, joined);
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!(
                abandoned = in_flight.len(),
                "{name}: work still in flight at shutdown was abandoned; it runs again once its claims expire"
            );
            in_flight.abort_all();
        }
    }
    tracing::info!(worker = %settings.worker_id, "{name} stopped");
}

/// Claims the work due at `now` (as much as the claimer claims at most at
/// once), runs all of it and stores each result before returning. Returns how many units were claimed.
pub async fn run_once<C: Claimer>(claimer: &C, now: Timestamp) -> Result<usize, C::Error> {
    let claimed = claimer.claim(now, usize::MAX).await?;
    let units = claimed.iter().map(C::units).sum();
    let claimed_at = Instant::now();
    let mut tasks = JoinSet::new();
    for work in claimed {
        let claimer = claimer.clone();
        tasks.spawn(async move { claimer.run(work, claimed_at).await });
    }
    while let Some(joined) = tasks.join_next().await {
        log_task_result("worker", joined);
    }
    claimer.after_poll().await;
    Ok(units)
}

fn log_task_result<E: Display>(name: &str, joined: Result<Result<(), E>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "{name}: storing a result failed"),
        Err(err) if err.is_cancelled() => {}
        Err(err) => tracing::error!(error = %err, "{name}: a task panicked"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use tokio::sync::Notify;

    use super::*;

    /// Work items numbered from 0, each taking one millisecond to run.
    #[derive(Clone)]
    struct Backlog {
        waiting: Arc<Mutex<VecDeque<u32>>>,
        done: Arc<Mutex<Vec<u32>>>,
        claims: Arc<Mutex<usize>>,
        all_done: Arc<Notify>,
        total: usize,
    }

    impl Backlog {
        fn new(total: u32) -> Backlog {
            Backlog {
                waiting: Arc::new(Mutex::new((0..total).collect())),
                done: Arc::default(),
                claims: Arc::default(),
                all_done: Arc::new(Notify::new()),
                total: total as usize,
            }
        }
    }

    impl Claimer for Backlog {
        type Work = u32;
        type Error = Infallible;

        async fn claim(&self, _now: Timestamp, limit: usize) -> Result<Vec<u32>, Infallible> {
            *self.claims.lock().unwrap() += 1;
            let mut waiting = self.waiting.lock().unwrap();
            let count = limit.min(waiting.len());
            Ok(waiting.drain(..count).collect())
        }

        fn units(_work: &u32) -> usize {
            1
        }

        async fn run(&self, work: u32, _claimed_at: Instant) -> Result<(), Infallible> {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let mut done = self.done.lock().unwrap();
            done.push(work);
            if done.len() == self.total {
                self.all_done.notify_one();
            }
            Ok(())
        }
    }

    fn settings(batch_size: usize) -> PollSettings {
        PollSettings {
            name: "test",
            worker_id: "test".to_owned(),
            poll_interval: Duration::from_secs(3600),
            batch_size,
            lease: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backlog_drains_between_polls() {
        let backlog = Backlog::new(20);
        let started = Instant::now();
        let all_done = backlog.all_done.clone();
        run_polls(backlog.clone(), &settings(4), all_done.notified()).await;

        // The first poll comes at once and the next one an hour later, so the 20 items,
        // at most 4 at a time, were claimed between polls as tasks finished.
        assert!(started.elapsed() < Duration::from_secs(3600));
        let mut done = backlog.done.lock().unwrap().clone();
        done.sort_unstable();
        assert_eq!(done, (0..20).collect::<Vec<u32>>());
        // Claims happen once half of the 4 tasks are done, not after every task.
        let claims = *backlog.claims.lock().unwrap();
        assert!(claims <= 11, "{claims} claims");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_loop_claims_once_per_poll() {
        let backlog = Backlog::new(3);
        let all_done = backlog.all_done.clone();
        run_polls(backlog.clone(), &settings(4), all_done.notified()).await;

        // The first claim came back short, so finishing tasks claims nothing more.
        assert_eq!(*backlog.claims.lock().unwrap(), 1);
        assert_eq!(backlog.done.lock().unwrap().len(), 3);
    }
}
