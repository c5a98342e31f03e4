//! Fresh PostgreSQL databases for tests, one per test, so that tests can run in parallel.

use std::env;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::peers::peers_required;

/// The environment variable that names the PostgreSQL server for tests, as a URL such as
/// `postgres://postgres@127.0.0.1:5432/postgres`. Its user must be allowed to create
/// databases, and its database is only used to create and drop the test databases.
pub const POSTGRES_URL_VARIABLE: &str = "CONVENE_TEST_POSTGRES_URL";

/// The prefix of every database name that [`TestDatabase`] creates.
const NAME_PREFIX: &str = "convene_t_";

/// The age after which [`TestDatabase::create`] drops a test database as left over from a
/// test run that was killed before it could drop its own.
const LEFTOVER_AGE: Duration = Duration::from_secs(60 * 60);

/// An empty database created for one test. Dropping it drops the database, ending any
/// connections that are still open to it.
///
/// The name is `convene_t_<seconds since the epoch>_<random hexadecimal>`. A test process
/// that is killed cannot drop its databases, so [`TestDatabase::create`] also drops those
/// with this prefix that are older than an hour and that no one is connected to.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    server: PgConnectOptions,
}

impl TestDatabase {
    /// Creates a database on the server that [`POSTGRES_URL_VARIABLE`] names.
    ///
    /// Without the variable, this prints `skipped: <test>: ...` to stderr and returns
    /// `None`, and the test should return at once. With `CONVENE_REQUIRE_PEERS=1` it panics
    /// instead, as [`require_peers`](crate::require_peers) does for missing programs. It
    /// also panics when the server cannot be reached or rejects the new database.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let Ok(server_url) = env::var(POSTGRES_URL_VARIABLE) else {
            let hint = format!(
                "set {POSTGRES_URL_VARIABLE} to the URL of a PostgreSQL server whose user may \
                 create databases, such as postgres://postgres@127.0.0.1:5432/postgres"
            );
            if peers_required() {
                panic!(
                    "{test}: {POSTGRES_URL_VARIABLE} is not set and CONVENE_REQUIRE_PEERS=1; {hint}"
                );
            }
            eprintln!("skipped: {test}: {POSTGRES_URL_VARIABLE} is not set ({hint})");
            return None;
        };
        let server = PgConnectOptions::from_str(&server_url).unwrap_or_else(|err| {
            panic!("{test}: {POSTGRES_URL_VARIABLE} is not a valid PostgreSQL URL: {err}")
        });
        let mut connection = PgConnection::connect_with(&server)
            .await
            .unwrap_or_else(|err| {
                panic!("{test}: connecting to the server in {POSTGRES_URL_VARIABLE} failed: {err}")
            });

        drop_leftovers(&mut connection).await;
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs();
        let name = format!("{NAME_PREFIX}{created}_{:016x}", rand::random::<u64>());
        sqlx::query(on_database("CREATE DATABASE", &name, ""))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|err| panic!("{test}: creating the database {name} failed: {err}"));
        let _ = connection.close().await;

        let url = server.clone().database(&name).to_url_lossy().to_string();
        Some(TestDatabase { name, url, server })
    }

    /// Returns the URL of the database, for `convene_store::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the name of the database.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // A test usually drops this inside its async runtime, where blocking on a future
        // panics, so the database is dropped from a thread with a runtime of its own.
        let server = self.server.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect_with(&server)
                    .await
                    .map_err(|err| err.to_string())?;
                sqlx::query(on_database(
                    "DROP DATABASE IF EXISTS",
                    &name,
                    "WITH (FORCE)",
                ))
                .execute(&mut connection)
                .await
                .map_err(|err| err.to_string())?;
                let _ = connection.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        let error = match dropped {
            Ok(Ok(())) => return,
            Ok(Err(err)) => err,
            Err(_) => "the thread that drops it panicked".to_owned(),
        };
        eprintln!(
            "dropping the test database {} failed: {error}; a later test run drops it after \
             an hour, or run DROP DATABASE \"{}\" WITH (FORCE)",
            self.name, self.name
        );
    }
}

/// Drops the test databases that are older than [`LEFTOVER_AGE`] and have no connections.
/// Failures are printed and otherwise ignored, because another test may be dropping the
/// same database at the same moment.
async fn drop_leftovers(connection: &mut PgConnection) {
    let names: Vec<String> =
        match sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(NAME_PREFIX)
            .fetch_all(&mut *connection)
            .await
        {
            Ok(names) => names,
            Err(err) => {
                eprintln!("listing left-over test databases failed: {err}");
                return;
            }
        };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    for name in names {
        let Some(created) = created_seconds(&name) else {
            continue;
        };
        if now.saturating_sub(created) < LEFTOVER_AGE.as_secs() {
            continue;
        }
        // Without FORCE, PostgreSQL refuses to drop a database that someone is connected to.
        if let Err(err) = sqlx::query(on_database("DROP DATABASE IF EXISTS", &name, ""))
            .execute(&mut *connection)
            .await
        {
            eprintln!("dropping the left-over test database {name} failed: {err}");
        }
    }
}

/// Returns when a test database was created, from its name, or `None` for a name that
/// [`TestDatabase::create`] did not make.
fn created_seconds(name: &str) -> Option<u64> {
    let (seconds, random) = name.strip_prefix(NAME_PREFIX)?.split_once('_')?;
    let hexadecimal = random.len() == 16 && random.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !hexadecimal || seconds.is_empty() || !seconds.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    seconds.parse().ok()
}

/// Builds `command`, a database name and `options` into one statement. A database name
/// cannot be a bound parameter.
///
/// Panics unless `name` has the form that [`TestDatabase::create`] gives, which contains
/// nothing but ASCII letters, digits and underscores and so needs no escaping.
fn on_database(command: &str, name: &str, options: &str) -> AssertSqlSafe<String> {
    assert!(
        created_seconds(name).is_some(),
        "{name:?} is not the name of a test database"
    );
    AssertSqlSafe(format!("{command} \"{name}\" {options}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_seconds_reads_only_test_names() {
        assert_eq!(
            created_seconds("convene_t_1760000000_0123456789abcdef"),
            Some(1_760_000_000)
        );
        for name in [
            "test",
            "convene_t_",
            "convene_t_1760000000",
            "convene_t_1760000000_0123",
            "convene_t_17x0000000_0123456789abcdef",
            "convene_t_1760000000_0123456789abcdeg",
            "convene_t_1760000000_0123456789abcdef\"; DROP",
        ] {
            assert_eq!(created_seconds(name), None, "{name}");
        }
    }
}
