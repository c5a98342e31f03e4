//! Idle SMTP sessions kept open for the next message to the same server.
//!
//! After a transaction, a session whose connection is still usable is parked under its
//! server's host name, port and TLS mode, so that a message to the same server moments later
//! skips the TCP connection, greeting, EHLO, TLS handshake and AUTH. A parked session is
//! closed with QUIT when it has been idle for the idle timeout, when its server already has
//! the maximum number of idle sessions, or when the pool is closed or dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;
use tracing::debug;

use crate::session::{Session, TlsMode};

/// The sessions that may serve each other's messages: same server, port and TLS mode. A
/// session opened for `TlsMode::Required` never carries mail for a domain whose policy is
/// another, and the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) mode: TlsMode,
}

/// Idle sessions, shared by every clone of a mailer.
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    idle: Mutex<HashMap<PoolKey, Vec<Parked>>>,
    idle_timeout: Duration,
    max_per_key: usize,
    next_id: AtomicU64,
}

struct Parked {
    id: u64,
    session: Session,
    /// The task that closes the session when the idle timeout expires.
    expiry: AbortHandle,
}

impl Pool {
    /// Creates a pool that keeps up to `max_per_key` sessions per key for `idle_timeout`.
    /// With `max_per_key` 0, every released session is closed at once.
    pub(crate) fn new(idle_timeout: Duration, max_per_key: usize) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                idle: Mutex::new(HashMap::new()),
                idle_timeout,
                max_per_key,
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// Takes the most recently parked session for `key` that is still idle, if there is
    /// one. A session whose server has closed the connection, or has sent anything while
    /// it was parked, is closed instead: data that nothing asked for would be read as the
    /// reply to the next command.
    pub(crate) fn checkout(&self, key: &PoolKey) -> Option<Session> {
        let mut idle = self.shared.lock();
        let sessions = idle.get_mut(key)?;
        let mut found = None;
        while let Some(mut parked) = sessions.pop() {
            parked.expiry.abort();
            if parked.session.connection.is_idle() {
                found = Some(parked.session);
                break;
            }
            debug!(
                host = %key.host, port = key.port,
                "closing an idle connection that the server closed or sent data on"
            );
        }
        if sessions.is_empty() {
            idle.remove(key);
        }
        found
    }

    /// Parks `session` for reuse if its connection is usable and `key` has room, and closes
    /// it otherwise. Returns without waiting for QUIT.
    pub(crate) fn release(&self, key: PoolKey, session: Session) {
        if !session.connection.is_usable() {
            return;
        }
        let mut idle = self.shared.lock();
        let sessions = idle.entry(key.clone()).or_default();
        if sessions.len() >= self.shared.max_per_key {
            if sessions.is_empty() {
                idle.remove(&key);
            }
            drop(idle);
            session.connection.quit_in_background();
            return;
        }

        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let expiry = tokio::spawn(expire(
            Arc::downgrade(&self.shared),
            key.clone(),
            id,
            self.shared.idle_timeout,
        ));
        debug!(host = %key.host, port = key.port, "keeping the connection for the next message");
        sessions.push(Parked {
            id,
            session,
            expiry: expiry.abort_handle(),
        });
    }

    /// Closes every idle session with QUIT and waits for each reply or its timeout.
    pub(crate) async fn close(&self) {
        let sessions = self.shared.drain();
        let quits = sessions
            .into_iter()
            .map(|session| session.connection.quit());
        for quit in quits {
            quit.await;
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Vec<Parked>>> {
        // A panic while the lock was held cannot leave the map inconsistent: every change
        // is a single insert or remove.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remove(&self, key: &PoolKey, id: u64) -> Option<Session> {
        let mut idle = self.lock();
        let sessions = idle.get_mut(key)?;
        let index = sessions.iter().position(|parked| parked.id == id)?;
        let parked = sessions.remove(index);
        if sessions.is_empty() {
            idle.remove(key);
        }
        Some(parked.session)
    }

    fn drain(&self) -> Vec<Session> {
        let mut idle = self.lock();
        idle.drain()
            .flat_map(|(_, sessions)| sessions)
            .map(|parked| {
                parked.expiry.abort();
                parked.session
            })
            .collect()
    }
}

impl Drop for Shared {
    /// Sends QUIT on every idle connection, in tasks of their own, when the last clone of
    /// the mailer is dropped. Outside a Tokio runtime the connections are closed without
    /// QUIT.
    fn drop(&mut self) {
        let sessions = self.drain();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for session in sessions {
            runtime.spawn(session.connection.quit());
        }
    }
}

/// Closes the session `id` when it is still idle after `idle_timeout`.
async fn expire(shared: Weak<Shared>, key: PoolKey, id: u64, idle_timeout: Duration) {
    tokio::time::sleep(idle_timeout).await;
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let session = shared.remove(&key, id);
    drop(shared);
    if let Some(session) = session {
        debug!(host = %key.host, port = key.port, "closing an idle connection");
        session.connection.quit().await;
    }
}
