//! The limit on connections open at once to one mail server.
//!
//! A busy queue would otherwise open one connection per message in flight to the same
//! server, which receivers meet by throttling or rejecting it. Each transaction takes a
//! permit for its server (host name and port) from before its connection is taken from
//! the pool or opened until the connection is back in the pool or closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits per server, created on first use and dropped when no transaction uses one.
pub(crate) struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<(String, u16), Arc<Semaphore>>>,
}

/// A permit to use one connection to a server.
pub(crate) struct HostPermit {
    _permit: OwnedSemaphorePermit,
}

impl HostLimits {
    /// Allows `per_host` connections at once to each server.
    pub(crate) fn new(per_host: usize) -> HostLimits {
        HostLimits {
            per_host,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until a connection to `host` on `port` is allowed.
    pub(crate) async fn acquire(&self, host: &str, port: u16) -> HostPermit {
        let semaphore = {
            let mut hosts = self.lock();
            // Servers that no transaction uses any more are forgotten, so the map stays
            // as small as the set of servers in use.
            hosts.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            hosts
                .entry((host.to_ascii_lowercase(), port))
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        let permit = semaphore
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        HostPermit { _permit: permit }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u16), Arc<Semaphore>>> {
        // Every change is a single insert or removal, so a panic elsewhere cannot leave
        // the map inconsistent.
        self.hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn third_connection_waits_for_a_permit() {
        let limits = HostLimits::new(2);
        let first = limits.acquire("mx.alpha.test", 25).await;
        let _second = limits.acquire("MX.alpha.test", 25).await;

        let third = limits.acquire("mx.alpha.test", 25);
        tokio::pin!(third);
        let waited = tokio::time::timeout(Duration::from_secs(1), &mut third).await;
        assert!(waited.is_err(), "a third permit was granted at once");

        drop(first);
        tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("the released permit goes to the waiting transaction");
    }

    #[tokio::test]
    async fn other_servers_have_their_own_permits() {
        let limits = HostLimits::new(1);
        let _alpha = limits.acquire("mx.alpha.test", 25).await;
        let _beta = limits.acquire("mx.beta.test", 25).await;
        let _other_port = limits.acquire("mx.alpha.test", 587).await;
    }

    #[tokio::test]
    async fn unused_servers_are_forgotten() {
        let limits = HostLimits::new(1);
        drop(limits.acquire("mx.alpha.test", 25).await);
        let _beta = limits.acquire("mx.beta.test", 25).await;
        assert_eq!(limits.lock().len(), 1);
    }
}
