//! The load driver shared by the Rust contenders: a fixed number of tasks that take
//! messages from one counter until all are sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use tokio::task::JoinSet;

/// Runs `send` `messages` times in all, from `concurrency` tasks at once, and returns the
/// first error. Each task sends its messages one after another, so at most `concurrency`
/// messages are in flight.
pub async fn run<F, Fut>(messages: usize, concurrency: usize, send: F) -> Result<()>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let next_message = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let next_message = Arc::clone(&next_message);
        let send = send.clone();
        tasks.spawn(async move {
            while next_message.fetch_add(1, Ordering::Relaxed) < messages {
                send().await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a sending task panicked")??;
    }
    Ok(())
}
