//! Group commit: the writes of concurrent tasks combined into one.
//!
//! Every claimed item runs as a task of its own and stores its results as
//! they come. Written one by one, each of those writes would be a
//! transaction of its own, and on a busy queue the commits, not the
//! sending, would limit throughput. With a [`Combiner`], each task still
//! waits for its own write. A write carries everything that the tasks
//! handed in while the previous writes ran, so an idle queue writes at once
//! and a busy one writes in batches that grow with the load. Where the store
//! lets writers run side by side, as PostgreSQL does, several writes may run
//! at once, so that one write's round trips and commit overlap another's.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// A write that stores many items at once, such as one database
/// transaction.
pub trait BatchWrite: Send + Sync + 'static {
    /// One item to store, such as one attempt's result.
    type Item: Send + 'static;
    /// The write's result for one item.
    type Output: Send + 'static;
    /// The reason a write failed.
    type Error: Send + 'static;

    /// Stores `items` together, all or none of them, and returns exactly
    /// one output per item, in the same order.
    fn write(
        &self,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Output>, Self::Error>> + Send;
}

/// The reason [`Combiner::write`] failed.
#[derive(Debug)]
pub enum CombineError<E> {
    /// The write failed, and none of the caller's items were stored.
    Write(E),
    /// The writing task ended without a response, because it panicked or
    /// the runtime shut down. The items may or may not have been stored.
    Abandoned,
}

impl<E: fmt::Display> fmt::Display for CombineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CombineError::Write(err) => err.fmt(f),
            CombineError::Abandoned => f.write_str(
                "the write ended without a response; it may or may not have been stored",
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CombineError<E> {}

/// Combines the writes of concurrent callers; see the [module
/// documentation](self).
///
/// Writes run in a task of their own, so a caller that is dropped while it
/// waits (a cancelled send, a shutdown) never cuts a write short: its items
/// are stored or not as if it had waited.
pub struct Combiner<W: BatchWrite> {
    shared: Arc<Shared<W>>,
}

impl<W: BatchWrite> Clone for Combiner<W> {
    fn clone(&self) -> Combiner<W> {
        Combiner {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<W: BatchWrite> {
    writer: W,
    max_items: usize,
    max_writes: usize,
    state: Mutex<State<W>>,
}

struct State<W: BatchWrite> {
    waiting: VecDeque<Waiting<W>>,
    /// How many tasks are writing; each takes up whatever is waiting when its write ends.
    writing: usize,
}

/// One caller's items and the channel for its result.
struct Waiting<W: BatchWrite> {
    items: Vec<W::Item>,
    reply: oneshot::Sender<Result<Vec<W::Output>, W::Error>>,
}

impl<W: BatchWrite> Combiner<W> {
    /// Creates a combiner that writes through `writer`, at most
    /// `max_items` items in one write unless one caller hands in more, and
    /// at most `max_writes` writes at once.
    pub fn new(writer: W, max_items: usize, max_writes: usize) -> Combiner<W> {
        Combiner {
            shared: Arc::new(Shared {
                writer,
                max_items: max_items.max(1),
                max_writes: max_writes.max(1),
                state: Mutex::new(State {
                    waiting: VecDeque::new(),
                    writing: 0,
                }),
            }),
        }
    }

    /// Stores `items` and returns one output per item, in order.
    ///
    /// The items are stored together with those of other callers, all in
    /// one write. When such a combined write fails, each caller's items are
    /// written again on their own, so that one caller's bad item does not
    /// fail the others.
    ///
    /// # Errors
    ///
    /// Returns [`CombineError::Write`] when the write of this caller's
    /// items failed, and [`CombineError::Abandoned`] when the writing task
    /// ended without a response.
    pub async fn write(
        &self,
        items: Vec<W::Item>,
    ) -> Result<Vec<W::Output>, CombineError<W::Error>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, response) = oneshot::channel();
        let start = {
            let mut state = lock(&self.shared.state);
            state.waiting.push_back(Waiting { items, reply });
            let start = state.writing < self.shared.max_writes;
            if start {
                state.writing += 1;
            }
            start
        };
        if start {
            tokio::spawn(write_waiting(Arc::clone(&self.shared)));
        }
        match response.await {
            Ok(result) => result.map_err(CombineError::Write),
            Err(_) => Err(CombineError::Abandoned),
        }
    }
}

/// Writes batches of waiting items until none are left.
async fn write_waiting<W: BatchWrite>(shared: Arc<Shared<W>>) {
    // However this task ends, a later caller starts a new one. If it ends
    // by a panic, the callers still waiting get `Abandoned`.
    let _release = ReleaseOnPanic(&shared);
    loop {
        let batch = {
            let mut state = lock(&shared.state);
            let mut batch = Vec::new();
            let mut count = 0;
            while let Some(next) = state.waiting.front() {
                if !batch.is_empty() && count + next.items.len() > shared.max_items {
                    break;
                }
                count += next.items.len();
                batch.extend(state.waiting.pop_front());
            }
            if batch.is_empty() {
                state.writing -= 1;
                return;
            }
            batch
        };
        write_batch(&shared.writer, batch).await;
    }
}

/// Writes one batch and sends each caller its result.
async fn write_batch<W: BatchWrite>(writer: &W, mut batch: Vec<Waiting<W>>) {
    if batch.len() == 1 {
        let Waiting { items, reply } = batch.remove(0);
        let _ = reply.send(writer.write(&items).await);
        return;
    }
    let mut lengths = Vec::with_capacity(batch.len());
    let mut items = Vec::new();
    for waiting in &mut batch {
        lengths.push(waiting.items.len());
        items.append(&mut waiting.items);
    }
    match writer.write(&items).await {
        Ok(outputs) => {
            assert_eq!(
                outputs.len(),
                items.len(),
                "a batch write returned a different number of outputs than it got items"
            );
            let mut outputs = outputs.into_iter();
            for (waiting, length) in batch.into_iter().zip(lengths) {
                let _ = waiting
                    .reply
                    .send(Ok(outputs.by_ref().take(length).collect()));
            }
        }
        Err(_) => {
            tracing::debug!(
                callers = batch.len(),
                items = items.len(),
                "a combined write failed; writing each caller's items on their own"
            );
            let mut start = 0;
            for (waiting, length) in batch.into_iter().zip(lengths) {
                let own = &items[start..start + length];
                start += length;
                let _ = waiting.reply.send(writer.write(own).await);
            }
        }
    }
}

/// A guard that, when a writing task panics, removes the task from the count and
/// gives the waiting callers `Abandoned`.
struct ReleaseOnPanic<'a, W: BatchWrite>(&'a Shared<W>);

impl<W: BatchWrite> Drop for ReleaseOnPanic<'_, W> {
    fn drop(&mut self) {
        // A task that returns has already left the count, under the same lock as its
        // check that nothing waits, so that no caller is left waiting for it.
        if std::thread::panicking() {
            let mut state = lock(&self.0.state);
            // Dropping the waiting callers' senders gives them `Abandoned`.
            state.waiting.clear();
            state.writing -= 1;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The queue stays consistent even if a writer panicked while holding it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    /// Doubles numbers, failing any write that contains a negative one.
    /// Each write waits for a permit, so a test decides when writes finish.
    #[derive(Clone)]
    struct Doubler {
        writes: Arc<Mutex<Vec<Vec<i32>>>>,
        permits: Arc<Semaphore>,
        started: Arc<AtomicUsize>,
    }

    impl Doubler {
        fn new() -> Doubler {
            Doubler {
                writes: Arc::default(),
                permits: Arc::new(Semaphore::new(0)),
                started: Arc::default(),
            }
        }

        fn writes(&self) -> Vec<Vec<i32>> {
            self.writes.lock().unwrap().clone()
        }
    }

    impl BatchWrite for Doubler {
        type Item = i32;
        type Output = i32;
        type Error = String;

        async fn write(&self, items: &[i32]) -> Result<Vec<i32>, String> {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.permits.acquire().await.unwrap().forget();
            self.writes.lock().unwrap().push(items.to_vec());
            if items.iter().any(|item| *item < 0) {
                return Err(format!("negative item in {items:?}"));
            }
            if items.contains(&i32::MAX) {
                panic!("the writer broke");
            }
            Ok(items.iter().map(|item| item * 2).collect())
        }
    }

    fn spawn_write(
        combiner: &Combiner<Doubler>,
        items: Vec<i32>,
    ) -> tokio::task::JoinHandle<Result<Vec<i32>, CombineError<String>>> {
        let combiner = combiner.clone();
        tokio::spawn(async move { combiner.write(items).await })
    }

    async fn wait_for_writes(doubler: &Doubler, count: usize) {
        while doubler.started.load(Ordering::SeqCst) < count {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn combiner_joins_waiting_callers() {
        let doubler = Doubler::new();
        let combiner = Combiner::new(doubler.clone(), 100, 1);
        let first = spawn_write(&combiner, vec![1]);
        wait_for_writes(&doubler, 1).await;
        // While the first write is in progress, three more callers arrive.
        let mut later = Vec::new();
        for items in [vec![2, 3], vec![4], vec![5, 6, 7]] {
            later.push(spawn_write(&combiner, items));
        }
        while lock(&combiner.shared.state).waiting.len() < 3 {
            tokio::task::yield_now().await;
        }
        doubler.permits.add_permits(2);

        assert_eq!(first.await.unwrap().unwrap(), vec![2]);
        let outputs: Vec<Vec<i32>> = results(later).await;
        assert_eq!(outputs, vec![vec![4, 6], vec![8], vec![10, 12, 14]]);
        assert_eq!(doubler.writes(), vec![vec![1], vec![2, 3, 4, 5, 6, 7]]);
    }

    #[tokio::test]
    async fn combiner_retries_failed_batch_per_caller() {
        let doubler = Doubler::new();
        let combiner = Combiner::new(doubler.clone(), 100, 1);
        let first = spawn_write(&combiner, vec![1]);
        wait_for_writes(&doubler, 1).await;
        let good = spawn_write(&combiner, vec![2]);
        let bad = spawn_write(&combiner, vec![3, -1]);
        while lock(&combiner.shared.state).waiting.len() < 2 {
            tokio::task::yield_now().await;
        }
        doubler.permits.add_permits(4);

        assert_eq!(first.await.unwrap().unwrap(), vec![2]);
        assert_eq!(good.await.unwrap().unwrap(), vec![4]);
        match bad.await.unwrap() {
            Err(CombineError::Write(reason)) => assert_eq!(reason, "negative item in [3, -1]"),
            other => panic!("expected the write to fail, got {other:?}"),
        }
        assert_eq!(
            doubler.writes(),
            vec![vec![1], vec![2, 3, -1], vec![2], vec![3, -1]]
        );
    }

    #[tokio::test]
    async fn combiner_runs_writes_side_by_side() {
        let doubler = Doubler::new();
        let combiner = Combiner::new(doubler.clone(), 100, 2);
        let first = spawn_write(&combiner, vec![1]);
        wait_for_writes(&doubler, 1).await;
        // A second write starts while the first one waits; a third caller then waits.
        let second = spawn_write(&combiner, vec![2]);
        wait_for_writes(&doubler, 2).await;
        let third = spawn_write(&combiner, vec![3]);
        while lock(&combiner.shared.state).waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(lock(&combiner.shared.state).writing, 2);
        doubler.permits.add_permits(3);

        assert_eq!(first.await.unwrap().unwrap(), vec![2]);
        assert_eq!(second.await.unwrap().unwrap(), vec![4]);
        assert_eq!(third.await.unwrap().unwrap(), vec![6]);
        assert_eq!(doubler.writes().len(), 3);
        assert_eq!(lock(&combiner.shared.state).writing, 0);
    }

    #[tokio::test]
    async fn combiner_stops_batch_at_limit() {
        let doubler = Doubler::new();
        let combiner = Combiner::new(doubler.clone(), 3, 1);
        let first = spawn_write(&combiner, vec![1]);
        wait_for_writes(&doubler, 1).await;
        let mut later = Vec::new();
        for items in [vec![2, 3], vec![4], vec![5, 6, 7, 8], vec![9]] {
            later.push(spawn_write(&combiner, items));
            while lock(&combiner.shared.state).waiting.len() < later.len() {
                tokio::task::yield_now().await;
            }
        }
        doubler.permits.add_permits(10);

        first.await.unwrap().unwrap();
        results(later).await;
        // A caller with more items than the limit is written alone, never split.
        assert_eq!(
            doubler.writes(),
            vec![vec![1], vec![2, 3, 4], vec![5, 6, 7, 8], vec![9]]
        );
    }

    #[tokio::test]
    async fn combiner_finishes_dropped_callers_write() {
        let doubler = Doubler::new();
        let combiner = Combiner::new(doubler.clone(), 100, 1);
        let caller = spawn_write(&combiner, vec![1, 2]);
        wait_for_writes(&doubler, 1).await;
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        doubler.permits.add_permits(1);

        // The next write starts once the first one ended, and the first one stored its items.
        doubler.permits.add_permits(1);
        assert_eq!(combiner.write(vec![3]).await.unwrap(), vec![6]);
        assert_eq!(doubler.writes(), vec![vec![1, 2], vec![3]]);
    }

    #[tokio::test]
    async fn combiner_recovers_from_writer_panic() {
        let doubler = Doubler::new();
        let combiner = Combiner::new(doubler.clone(), 100, 1);
        doubler.permits.add_permits(1);
        assert!(matches!(
            combiner.write(vec![i32::MAX]).await,
            Err(CombineError::Abandoned)
        ));

        doubler.permits.add_permits(1);
        assert_eq!(combiner.write(vec![5]).await.unwrap(), vec![10]);
    }

    async fn results(
        tasks: Vec<tokio::task::JoinHandle<Result<Vec<i32>, CombineError<String>>>>,
    ) -> Vec<Vec<i32>> {
        let mut outputs = Vec::new();
        for task in tasks {
            outputs.push(task.await.unwrap().unwrap());
        }
        outputs
    }
}
