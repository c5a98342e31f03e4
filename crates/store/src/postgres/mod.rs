//! A PostgreSQL database, which several Convene processes can share.
//!
//! The tables and statements follow the SQLite store's closely, so that a change to one is
//! easy to carry over to the other. Instants are microseconds since the Unix epoch (UTC) in
//! BIGINT columns, identifiers are UUIDs and message bytes are BYTEA.
//!
//! Every transaction runs at PostgreSQL's default isolation level, READ COMMITTED, in which
//! each statement reads the rows committed before it started. What SQLite gets from
//! `BEGIN IMMEDIATE`, one writer at a time, this store gets from row locks:
//! - A transaction that checks a person's busy time first locks that person's row in `users`
//!   (`FOR NO KEY UPDATE`), so two bookings for one person run one after the other, and the
//!   second one's overlap check sees the first one's event. Rows are locked in id order, so
//!   of two transactions that need the same people, one waits for the other and never both
//!   for each other.
//! - A transaction that changes an existing event's attendees or their replies (adding,
//!   removing, moving, answering) first locks the event's row, and only then any user rows.
//! - Claims select due rows with `FOR UPDATE SKIP LOCKED` inside the `UPDATE` that takes
//!   them, so concurrent claimers, in this process or another, pass over each other's rows
//!   instead of waiting for them or taking them twice.
//! - Handing deliveries to the mail queue locks their rows first, in id order, so a second
//!   hand-over of one waits and then finds it queued.
//!
//! `FOR NO KEY UPDATE` rather than `FOR UPDATE` leaves foreign-key checks alone: inserting a
//! row that references a locked user takes a `FOR KEY SHARE` lock, which does not conflict
//! with it. Batches of attempts and failures are written in the order of their rows' keys,
//! so two batches that share rows lock them in the same order. Should PostgreSQL still
//! abort a transaction to break a deadlock, the transaction runs again; see
//! [`retry_aborted`].

use std::fmt::Display;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use convene_domain::{
    Answer, ApiToken, Conflict, Delivery, DeliveryAttempt, DeliveryId, DeliveryOutcome,
    DeliveryState, EmailAddress, Event, EventId, EventRecurrence, EventStatus, FeedId, Interval,
    PhoneNumber, PushSubscription, PushSubscriptionId, ReminderOffset, TokenId, User, UserId,
    WorkingHours,
};
use jiff::{SignedDuration, Timestamp};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Row, Transaction};
use uuid::Uuid;

use crate::codec::{
    self, interval_from, micros, parse_offset, row_count, settled_state, sql_limit, timestamp,
    working_hours_text,
};
use crate::schedule::{
    conflicting, instants_text, occurrences_of, occurrences_to_check, recurrence_from_text,
    rules_text, series_end,
};
use crate::{AttemptRecord, ClaimRequest, QueueCounts, Store, StoreError, StoreOptions};

mod mail;

/// The columns that [`event_from_row`] reads, for a statement that ends with a `WHERE`
/// clause on `events e`. One statement reads each event with its participants and
/// reminders, because the Notifier reads the events of every batch of reminders it
/// claims, and each round trip costs the server more than the subqueries.
macro_rules! select_events {
    () => {
        "SELECT e.id, e.title, e.description, e.location, e.start_us, e.end_us, e.time_zone, \
         e.organizer, e.sequence, e.status, e.all_day, e.rrules, e.rdates, e.exdates, \
         e.external_uid, \
         ARRAY(SELECT a.user_id FROM attendees a \
               WHERE a.event_id = e.id AND a.user_id <> e.organizer ORDER BY a.position) \
             AS participants, \
         ARRAY(SELECT r.before FROM event_reminders r \
               WHERE r.event_id = e.id ORDER BY r.position) AS reminders \
         FROM events e "
    };
}

/// The maximum number of connections that one process keeps open, sqlx's default (0.9).
/// Each `convene serve` process has a pool of its own, so the server's `max_connections`
/// must allow this many per process.
// NOTE: not a setting yet; a deployment whose server allows fewer connections than its
// processes would open needs a `StoreOptions` field for this.
const MAX_CONNECTIONS: u32 = 10;

/// How many combined writes (queued messages, attempt results) one process runs at once;
/// see [`crate::MailStore::concurrent_writes`]. Four measured a third faster than one in the
/// reminder benchmark with one process, and leaves most of the pool to claims and the
/// API.
pub(super) const CONCURRENT_WRITES: usize = 4;

/// How often a transaction that PostgreSQL aborted to break a deadlock or a serialization
/// failure is run in all before the error is returned.
const TRANSACTION_TRIES: u32 = 5;

type PgTransaction = Transaction<'static, sqlx::Postgres>;

/// A store in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    options: StoreOptions,
}

impl PostgresStore {
    /// Connects to the database that `url` names, such as
    /// `postgres://convene@127.0.0.1/convene`, and applies pending migrations. The database
    /// must exist. A refused connection is tried again until sqlx's acquire timeout of 30 s
    /// (0.9) has passed, so a process may start while its PostgreSQL server is still coming
    /// up.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, StoreOptions::default()).await
    }

    /// Connects to the database that `url` names, like [`PostgresStore::open`], with
    /// `options`.
    ///
    /// Several processes may open one database at once. sqlx's migrator (0.9) holds a
    /// PostgreSQL advisory lock, keyed by the database name, while it creates its
    /// bookkeeping table and applies migrations. So one process applies each migration, and
    /// the others wait for it and then find it applied.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<PostgresStore, StoreError> {
        // PostgreSQL sends a NOTICE for every `CREATE TABLE IF NOT EXISTS` of the migrator,
        // which sqlx would log at info level on each start; warnings still come through.
        let connect = PgConnectOptions::from_str(url)?
            .application_name("convene")
            .options([("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool, options })
    }

    async fn begin(&self) -> Result<PgTransaction, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// Runs `transaction` until it does not fail with a deadlock or a serialization failure, at
/// most [`TRANSACTION_TRIES`] times. PostgreSQL rolls such a transaction back as a whole,
/// so running it again from the start is safe. Every other result is returned at once.
async fn retry_aborted<T, F, Fut>(mut transaction: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match transaction().await {
            Err(err) if tries < TRANSACTION_TRIES && was_aborted(&err) => {
                tracing::warn!(error = %err, tries, "PostgreSQL aborted a transaction; running it again");
                tokio::time::sleep(Duration::from_millis(10 * u64::from(tries))).await;
            }
            result => return result,
        }
    }
}

/// Returns the indexes of `items` sorted by `key`, items with equal keys in their given
/// order. A batch that writes its rows in this order locks them in key order, as every
/// other batch does, so two batches that share rows wait for each other instead of each
/// holding a row that the other needs.
fn lock_order<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&index| key(&items[index]));
    order
}

/// Returns whether PostgreSQL aborted a transaction that may succeed when run again: a
/// serialization failure (SQLSTATE 40001) or a deadlock (40P01).
fn was_aborted(err: &StoreError) -> bool {
    match err {
        StoreError::Backend(sqlx::Error::Database(err)) => {
            matches!(err.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (id, name, email, time_zone, working_hours, phone, reminders, \
                                channels) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid(user.id))
        .bind(&user.name)
        .bind(user.email.as_str())
        .bind(user.time_zone.as_deref())
        .bind(working_hours_text(&user.working_hours))
        .bind(user.phone.as_ref().map(PhoneNumber::as_str))
        .bind(codec::offsets_text(&user.reminders))
        .bind(codec::channels_text(&user.reminders))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                Err(StoreError::Duplicate {
                    field: "email",
                    value: user.email.to_string(),
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels \
             FROM users WHERE id = $1",
        )
        .bind(uuid(id))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels \
             FROM users WHERE id = ANY($1)",
        )
        .bind(uuids(ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn users_by_email(&self, addresses: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        // EmailAddress admits ASCII letters only, which lower() folds in every collation.
        let lowered: Vec<String> = addresses
            .iter()
            .map(|address| address.as_str().to_ascii_lowercase())
            .collect();
        let rows = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels \
             FROM users \
             WHERE lower(email) = ANY($1)",
        )
        .bind(lowered)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_user(&self, user: &User, expected: &User) -> Result<bool, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let stored = sqlx::query(
                "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels \
                 FROM users WHERE id = $1 FOR NO KEY UPDATE",
            )
            .bind(uuid(user.id))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(stored) = stored.map(|row| user_from_row(&row)).transpose()? else {
                return Ok(false);
            };
            if stored != *expected {
                return Err(StoreError::Stale {
                    what: "user",
                    id: user.id.to_string(),
                });
            }
            let result = sqlx::query(
                "UPDATE users SET name = $1, email = $2, time_zone = $3, working_hours = $4, \
                                  phone = $5, reminders = $6, channels = $7 \
                 WHERE id = $8",
            )
            .bind(&user.name)
            .bind(user.email.as_str())
            .bind(user.time_zone.as_deref())
            .bind(working_hours_text(&user.working_hours))
            .bind(user.phone.as_ref().map(PhoneNumber::as_str))
            .bind(codec::offsets_text(&user.reminders))
            .bind(codec::channels_text(&user.reminders))
            .bind(uuid(user.id))
            .execute(&mut *tx)
            .await;
            match result {
                Ok(done) => {
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                }
                Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                    Err(StoreError::Duplicate {
                        field: "email",
                        value: user.email.to_string(),
                    })
                }
                Err(err) => Err(err.into()),
            }
        })
        .await
    }

    async fn book_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<(), StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let attendees = event.attendees();
            lock_users(&mut tx, &attendees).await?;
            let conflicts = conflicts(
                &mut tx,
                &attendees,
                event,
                None,
                self.options.conflict_horizon,
            )
            .await?;
            if !conflicts.is_empty() {
                return Err(StoreError::Busy(conflicts));
            }

            insert_event(&mut tx, event).await?;
            insert_deliveries(&mut tx, deliveries).await?;

            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        event_in(&mut conn, id).await
    }

    async fn events(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(concat!(select_events!(), "WHERE e.id = ANY($1)"))
            .bind(uuids(ids))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn add_participant(
        &self,
        event_id: EventId,
        user: UserId,
        deliveries: &[Delivery],
    ) -> Result<(), StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let event = locked_event(&mut tx, event_id).await?;
            // A missing user is reported before a missing event, as the other stores do.
            lock_users(&mut tx, &[user]).await?;
            let Some(event) = event else {
                return Err(StoreError::NotFound {
                    what: "event",
                    id: event_id.to_string(),
                });
            };

            let already: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM attendees WHERE event_id = $1 AND user_id = $2")
                    .bind(uuid(event_id))
                    .bind(uuid(user))
                    .fetch_optional(&mut *tx)
                    .await?;
            if already.is_some() {
                return Ok(());
            }
            let conflicts = conflicts(
                &mut tx,
                &[user],
                &event,
                Some(event_id),
                self.options.conflict_horizon,
            )
            .await?;
            if !conflicts.is_empty() {
                return Err(StoreError::Busy(conflicts));
            }

            let position: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM attendees WHERE event_id = $1",
            )
            .bind(uuid(event_id))
            .fetch_one(&mut *tx)
            .await?;
            insert_attendee(&mut tx, &event, user, position).await?;
            insert_deliveries(&mut tx, deliveries).await?;

            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn remove_participant(
        &self,
        event_id: EventId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let organizer: Option<Uuid> =
                sqlx::query_scalar("SELECT organizer FROM events WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(uuid(event_id))
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(organizer) = organizer else {
                return Err(StoreError::NotFound {
                    what: "event",
                    id: event_id.to_string(),
                });
            };
            if organizer == uuid(user) {
                return Ok(false);
            }

            let removed = sqlx::query("DELETE FROM attendees WHERE event_id = $1 AND user_id = $2")
                .bind(uuid(event_id))
                .bind(uuid(user))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            drop_waiting_deliveries(&mut tx, event_id, user).await?;

            tx.commit().await?;
            Ok(removed > 0)
        })
        .await
    }

    async fn update_event(
        &self,
        event: &Event,
        expected: &Event,
        deliveries: Option<&[Delivery]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let Some(stored) = locked_event(&mut tx, event.id).await? else {
                return Err(StoreError::NotFound {
                    what: "event",
                    id: event.id.to_string(),
                });
            };
            if stored != *expected {
                return Err(StoreError::Stale {
                    what: "event",
                    id: event.id.to_string(),
                });
            }
            let moved = stored.occupies_other_time_than(event);
            if moved {
                let attendees = stored.attendees();
                lock_users(&mut tx, &attendees).await?;
                let conflicts = conflicts(
                    &mut tx,
                    &attendees,
                    event,
                    Some(event.id),
                    self.options.conflict_horizon,
                )
                .await?;
                if !conflicts.is_empty() {
                    return Err(StoreError::Busy(conflicts));
                }
                sqlx::query(
                    "UPDATE attendees SET answer = 'needs-action' \
                     WHERE event_id = $1 AND user_id <> $2",
                )
                .bind(uuid(event.id))
                .bind(uuid(stored.organizer))
                .execute(&mut *tx)
                .await?;
            }

            sqlx::query(
                "UPDATE events SET title = $1, description = $2, location = $3, start_us = $4, \
                 end_us = $5, time_zone = $6, sequence = $7, status = $8, all_day = $9, \
                 rrules = $10, rdates = $11, exdates = $12 WHERE id = $13",
            )
            .bind(&event.title)
            .bind(event.description.as_deref())
            .bind(event.location.as_deref())
            .bind(micros(event.interval.start()))
            .bind(micros(event.interval.end()))
            .bind(&event.time_zone)
            .bind(i64::from(event.sequence))
            .bind(event.status.as_str())
            .bind(event.all_day)
            .bind(event.recurrence.as_ref().map(rules_text))
            .bind(event.recurrence.as_ref().map(|r| instants_text(&r.rdates)))
            .bind(event.recurrence.as_ref().map(|r| instants_text(&r.exdates)))
            .bind(uuid(event.id))
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE attendees SET start_us = $1, end_us = $2 WHERE event_id = $3")
                .bind(micros(event.interval.start()))
                .bind(micros(series_end(event)))
                .bind(uuid(event.id))
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM event_reminders WHERE event_id = $1")
                .bind(uuid(event.id))
                .execute(&mut *tx)
                .await?;
            insert_reminders(&mut tx, event).await?;
            if let Some(deliveries) = deliveries {
                drop_deliveries(&mut tx, event.id, now, true).await?;
                insert_deliveries(&mut tx, deliveries).await?;
            }

            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn import_events(&self, owner: UserId, events: &[Event]) -> Result<(), StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            // The lock on the owner's row makes two imports of one person run one after the
            // other, so the second replaces what the first stored instead of adding to it.
            lock_users(&mut tx, &[owner]).await?;
            let uids: Vec<&str> = events
                .iter()
                .filter_map(|event| event.external_uid.as_deref())
                .collect();
            sqlx::query("DELETE FROM events WHERE organizer = $1 AND external_uid = ANY($2)")
                .bind(uuid(owner))
                .bind(uids)
                .execute(&mut *tx)
                .await?;
            for event in events {
                insert_event(&mut tx, event).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn set_answer(
        &self,
        event: EventId,
        user: UserId,
        answer: Answer,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            lock_event(&mut tx, event).await?;
            let previous: Option<String> = sqlx::query_scalar(
                "SELECT answer FROM attendees WHERE event_id = $1 AND user_id = $2",
            )
            .bind(uuid(event))
            .bind(uuid(user))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(previous) = previous else {
                return Ok(false);
            };
            let declined = previous == Answer::Declined.as_str();
            if declined && answer != Answer::Declined {
                // Accepting after a decline makes the event busy time again, so this runs
                // in turn with the person's bookings.
                lock_users(&mut tx, &[user]).await?;
            }

            sqlx::query("UPDATE attendees SET answer = $1 WHERE event_id = $2 AND user_id = $3")
                .bind(answer.as_str())
                .bind(uuid(event))
                .bind(uuid(user))
                .execute(&mut *tx)
                .await?;
            if answer == Answer::Declined {
                drop_waiting_deliveries(&mut tx, event, user).await?;
            } else if declined {
                insert_deliveries(&mut tx, deliveries).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn answers(&self, event: EventId) -> Result<Vec<(UserId, Answer)>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, answer FROM attendees WHERE event_id = $1 ORDER BY position",
        )
        .bind(uuid(event))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let answer: String = row.try_get("answer")?;
                let answer = Answer::parse(&answer).ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown stored reply {answer:?}"))
                })?;
                Ok((parse_id(row.try_get("user_id")?)?, answer))
            })
            .collect()
    }

    async fn remove_imported(&self, owner: UserId) -> Result<usize, StoreError> {
        let removed =
            sqlx::query("DELETE FROM events WHERE organizer = $1 AND external_uid IS NOT NULL")
                .bind(uuid(owner))
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    async fn user_events(
        &self,
        user: UserId,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT event_id FROM attendees WHERE user_id = $1 AND end_us > $2 \
             ORDER BY start_us, event_id LIMIT $3",
        )
        .bind(uuid(user))
        .bind(micros(since))
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await?;
        events_in(&mut conn, ids).await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels \
             FROM users \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.map_or(Uuid::nil(), uuid))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn attended_events(
        &self,
        user: UserId,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT event_id FROM attendees WHERE user_id = $1 AND event_id > $2 \
             ORDER BY event_id LIMIT $3",
        )
        .bind(uuid(user))
        .bind(after.map_or(Uuid::nil(), uuid))
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await?;
        events_in(&mut conn, ids).await
    }

    async fn create_api_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            require_user(&mut tx, token.user).await?;
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, token_hash, created_at_us) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(uuid(token.id))
            .bind(uuid(token.user))
            .bind(token_hash)
            .bind(micros(token.created_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, created_at_us FROM api_tokens \
             WHERE token_hash = $1 AND NOT revoked",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| api_token_from_row(&row)).transpose()
    }

    async fn api_tokens(
        &self,
        user: UserId,
        after: Option<TokenId>,
        limit: usize,
    ) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, created_at_us FROM api_tokens \
             WHERE user_id = $1 AND NOT revoked AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(uuid(user))
        .bind(after.map_or(Uuid::nil(), uuid))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_token_from_row).collect()
    }

    async fn revoke_api_token(&self, user: UserId, id: TokenId) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked = true WHERE id = $1 AND user_id = $2 AND NOT revoked",
        )
        .bind(uuid(id))
        .bind(uuid(user))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    async fn create_feed(
        &self,
        id: FeedId,
        user: UserId,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            require_user(&mut tx, user).await?;
            sqlx::query("INSERT INTO feeds (id, user_id, token_hash) VALUES ($1, $2, $3)")
                .bind(uuid(id))
                .bind(uuid(user))
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn feeds(
        &self,
        user: UserId,
        after: Option<FeedId>,
        limit: usize,
    ) -> Result<Vec<FeedId>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM feeds WHERE user_id = $1 AND NOT revoked AND id > $2 \
             ORDER BY id LIMIT $3",
        )
        .bind(uuid(user))
        .bind(after.map_or(Uuid::nil(), uuid))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        ids.into_iter().map(parse_id).collect()
    }

    async fn feed_owner(&self, token_hash: &str) -> Result<Option<UserId>, StoreError> {
        let owner: Option<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM feeds WHERE token_hash = $1 AND NOT revoked")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        owner.map(parse_id).transpose()
    }

    async fn revoke_feed(&self, user: UserId, id: FeedId) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE feeds SET revoked = true WHERE id = $1 AND user_id = $2 AND NOT revoked",
        )
        .bind(uuid(id))
        .bind(uuid(user))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    async fn add_push_subscription(
        &self,
        subscription: &PushSubscription,
        limit: usize,
    ) -> Result<Option<PushSubscription>, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            // The lock on the user's row makes registrations of one user take turns, so
            // none can come between another's count and insert.
            lock_users(&mut tx, &[subscription.user]).await?;
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM push_subscriptions WHERE user_id = $1 AND endpoint <> $2",
            )
            .bind(uuid(subscription.user))
            .bind(&subscription.endpoint)
            .fetch_one(&mut *tx)
            .await?;
            if codec::count(others)? as usize >= limit {
                return Ok(None);
            }
            let row = sqlx::query(
                "INSERT INTO push_subscriptions \
                 (id, user_id, endpoint, p256dh, auth, created_at_us) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (user_id, endpoint) DO UPDATE SET p256dh = excluded.p256dh, \
                                                               auth = excluded.auth \
                 RETURNING id, user_id, endpoint, p256dh, auth, created_at_us",
            )
            .bind(uuid(subscription.id))
            .bind(uuid(subscription.user))
            .bind(&subscription.endpoint)
            .bind(&subscription.p256dh)
            .bind(&subscription.auth)
            .bind(micros(subscription.created_at))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            push_subscription_from_row(&row).map(Some)
        })
        .await
    }

    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, endpoint, p256dh, auth, created_at_us FROM push_subscriptions \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(uuid(user))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(push_subscription_from_row).collect()
    }

    async fn remove_push_subscription(
        &self,
        user: UserId,
        id: PushSubscriptionId,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2")
            .bind(uuid(id))
            .bind(uuid(user))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn cancel_event(&self, id: EventId, now: Timestamp) -> Result<bool, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let updated = sqlx::query(
                "UPDATE events SET status = 'cancelled', \
                 sequence = sequence + (CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END) \
                 WHERE id = $1",
            )
            .bind(uuid(id))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            drop_deliveries(&mut tx, id, now, false).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn busy(&self, user: UserId, window: Interval) -> Result<Vec<Interval>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        busy(&mut conn, user, &window, None).await
    }

    async fn claim_due_deliveries(
        &self,
        request: ClaimRequest<'_>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let now = micros(request.now);
        let lease_until = micros(request.lease_until()?);

        // The subquery locks the rows it picks and skips rows that another transaction has
        // locked, such as a claim in progress. A row whose claim committed after this
        // statement began is checked again once locked, and left out if it is leased now.
        let rows = sqlx::query(
            "UPDATE deliveries SET lease_owner = $1, lease_until_us = $2 \
             WHERE id IN ( \
                 SELECT id FROM deliveries \
                 WHERE state = 'pending' AND message_id IS NULL AND not_before_us <= $3 \
                   AND (lease_until_us IS NULL OR lease_until_us <= $3) \
                 ORDER BY not_before_us, id LIMIT $4 \
                 FOR UPDATE SKIP LOCKED \
             ) \
             RETURNING id, event_id, user_id, before, channel, due_us, state, attempts, \
                       lease_until_us, message_id",
        )
        .bind(request.owner)
        .bind(lease_until)
        .bind(now)
        .bind(sql_limit(request.limit))
        .fetch_all(&self.pool)
        .await?;

        let mut claimed: Vec<Delivery> = rows
            .iter()
            .map(|row| delivery_from_row(row, now))
            .collect::<Result<_, _>>()?;

        // Retries carry their previous attempt; first attempts have none.
        let retried: Vec<Uuid> = claimed
            .iter()
            .filter(|delivery| delivery.attempts > 0)
            .map(|delivery| uuid(delivery.id))
            .collect();
        if !retried.is_empty() {
            let attempts = sqlx::query(
                "SELECT a.delivery_id, a.at_us, a.outcome, a.destination, a.tls, a.tls_version, \
                        a.tls_cipher, a.reply_code, a.reply_text \
                 FROM delivery_attempts a JOIN deliveries d \
                      ON a.delivery_id = d.id AND a.attempt = d.attempts \
                 WHERE d.id = ANY($1)",
            )
            .bind(retried)
            .fetch_all(&self.pool)
            .await?;
            for row in &attempts {
                let id: DeliveryId = parse_id(row.try_get("delivery_id")?)?;
                if let Some(delivery) = claimed.iter_mut().find(|delivery| delivery.id == id) {
                    delivery.last_attempt = Some(attempt_from_row(row)?);
                }
            }
        }
        claimed.sort_by_key(|delivery| (delivery.due_at, delivery.id));
        Ok(claimed)
    }

    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<Vec<bool>, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let mut applied = vec![false; records.len()];
            for index in lock_order(records, |record| record.delivery) {
                applied[index] = record_attempt(&mut tx, &records[index]).await?;
            }
            tx.commit().await?;
            Ok(applied)
        })
        .await
    }

    async fn deliveries(
        &self,
        event: EventId,
        now: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.event_id, d.user_id, d.before, d.channel, d.due_us, d.state, d.attempts, \
                    d.lease_until_us, d.message_id, a.at_us, a.outcome, a.destination, a.tls, \
                    a.tls_version, a.tls_cipher, a.reply_code, a.reply_text \
             FROM deliveries d LEFT JOIN delivery_attempts a \
                  ON a.delivery_id = d.id AND a.attempt = d.attempts \
             WHERE d.event_id = $1 ORDER BY d.due_us, d.id",
        )
        .bind(uuid(event))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| delivery_with_attempt_from_row(row, micros(now)))
            .collect()
    }

    /// Closes the connections, waiting for those in use to be returned.
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn unreported_failures(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.event_id, d.user_id, d.before, d.channel, d.due_us, d.state, d.attempts, \
                    d.lease_until_us, d.message_id, a.at_us, a.outcome, a.destination, a.tls, \
                    a.tls_version, a.tls_cipher, a.reply_code, a.reply_text \
             FROM deliveries d LEFT JOIN delivery_attempts a \
                  ON a.delivery_id = d.id AND a.attempt = d.attempts \
             WHERE d.notice = 'due' AND d.state = 'failed' ORDER BY d.due_us, d.id LIMIT $1",
        )
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| delivery_with_attempt_from_row(row, 0))
            .collect()
    }

    async fn attempts(&self, delivery: DeliveryId) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_us, outcome, destination, tls, tls_version, tls_cipher, reply_code, \
                    reply_text \
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(uuid(delivery))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attempt_from_row).collect()
    }

    async fn queue_counts(&self, now: Timestamp) -> Result<QueueCounts, StoreError> {
        let now = micros(now);
        let reminders_due: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries \
             WHERE state = 'pending' AND message_id IS NULL AND not_before_us <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let mail = sqlx::query(
            "SELECT \
                 COUNT(*) FILTER (WHERE lease_until_us IS NULL OR lease_until_us <= $1) \
                     AS queued, \
                 COUNT(*) FILTER (WHERE lease_until_us > $1) AS sending \
             FROM mail_recipients WHERE state = 'queued'",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueCounts {
            reminders_due: row_count(reminders_due)?,
            mail_queued: row_count(mail.try_get("queued")?)?,
            mail_sending: row_count(mail.try_get("sending")?)?,
        })
    }
}

/// Locks the rows of `users` in id order, so that the transaction's overlap checks for them
/// run in turn with every other such check. Fails with [`StoreError::NotFound`] naming the
/// first of `users` that does not exist.
async fn lock_users(tx: &mut PgConnection, users: &[UserId]) -> Result<(), StoreError> {
    let found: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(uuids(users))
            .fetch_all(&mut *tx)
            .await?;
    match users.iter().find(|user| !found.contains(&uuid(**user))) {
        Some(missing) => Err(StoreError::NotFound {
            what: "user",
            id: missing.to_string(),
        }),
        None => Ok(()),
    }
}

/// Fails with [`StoreError::NotFound`] when `user` does not exist.
async fn require_user(tx: &mut PgConnection, user: UserId) -> Result<(), StoreError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
        .bind(uuid(user))
        .fetch_optional(&mut *tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            what: "user",
            id: user.to_string(),
        }),
    }
}

/// Locks the row of an existing event, so that changes to its attendees and their replies
/// run one at a time. Returns false when no event has that id.
async fn lock_event(tx: &mut PgConnection, event: EventId) -> Result<bool, StoreError> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM events WHERE id = $1 FOR NO KEY UPDATE")
            .bind(uuid(event))
            .fetch_optional(&mut *tx)
            .await?;
    Ok(found.is_some())
}

/// Locks the row of an event, like [`lock_event`], and reads the event.
async fn locked_event(tx: &mut PgConnection, id: EventId) -> Result<Option<Event>, StoreError> {
    if !lock_event(tx, id).await? {
        return Ok(None);
    }
    event_in(tx, id).await
}

/// Reads the events with the ids `ids`, in that order, leaving out any that do not exist.
async fn events_in(conn: &mut PgConnection, ids: Vec<Uuid>) -> Result<Vec<Event>, StoreError> {
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(event) = event_in(conn, parse_id(id)?).await? {
            events.push(event);
        }
    }
    Ok(events)
}

async fn event_in(conn: &mut PgConnection, id: EventId) -> Result<Option<Event>, StoreError> {
    let row = sqlx::query(concat!(select_events!(), "WHERE e.id = $1"))
        .bind(uuid(id))
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| event_from_row(&row)).transpose()
}

fn event_from_row(row: &PgRow) -> Result<Event, StoreError> {
    let id: EventId = parse_id(row.try_get("id")?)?;
    let organizer: UserId = parse_id(row.try_get("organizer")?)?;
    let participants = row
        .try_get::<Vec<Uuid>, _>("participants")?
        .into_iter()
        .map(parse_id)
        .collect::<Result<Vec<UserId>, StoreError>>()?;
    let reminders = row
        .try_get::<Vec<String>, _>("reminders")?
        .into_iter()
        .map(parse_offset)
        .collect::<Result<Vec<ReminderOffset>, StoreError>>()?;

    Ok(Event {
        id,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        interval: interval_from(row.try_get("start_us")?, row.try_get("end_us")?)?,
        time_zone: row.try_get("time_zone")?,
        organizer,
        participants,
        reminders,
        sequence: u32::try_from(row.try_get::<i64, _>("sequence")?)
            .map_err(|_| StoreError::Corrupt(format!("event {id} has a negative sequence")))?,
        status: {
            let status: String = row.try_get("status")?;
            EventStatus::parse(&status).ok_or_else(|| {
                StoreError::Corrupt(format!("event {id} has the unknown status {status:?}"))
            })?
        },
        all_day: row.try_get("all_day")?,
        recurrence: recurrence_from_row(row)?,
        external_uid: row.try_get("external_uid")?,
    })
}

/// Inserts an event with its reminders and one row for each attendee.
async fn insert_event(tx: &mut PgConnection, event: &Event) -> Result<(), StoreError> {
    let attendees = event.attendees();
    sqlx::query(
        "INSERT INTO events (id, title, description, location, start_us, end_us, time_zone, \
         organizer, sequence, status, all_day, rrules, rdates, exdates, external_uid) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(uuid(event.id))
    .bind(&event.title)
    .bind(event.description.as_deref())
    .bind(event.location.as_deref())
    .bind(micros(event.interval.start()))
    .bind(micros(event.interval.end()))
    .bind(&event.time_zone)
    .bind(uuid(event.organizer))
    .bind(i64::from(event.sequence))
    .bind(event.status.as_str())
    .bind(event.all_day)
    .bind(event.recurrence.as_ref().map(rules_text))
    .bind(event.recurrence.as_ref().map(|r| instants_text(&r.rdates)))
    .bind(event.recurrence.as_ref().map(|r| instants_text(&r.exdates)))
    .bind(event.external_uid.as_deref())
    .execute(&mut *tx)
    .await?;
    insert_reminders(tx, event).await?;
    for (position, user) in attendees.iter().enumerate() {
        insert_attendee(tx, event, *user, position as i64).await?;
    }
    Ok(())
}

async fn insert_attendee(
    tx: &mut PgConnection,
    event: &Event,
    user: UserId,
    position: i64,
) -> Result<(), StoreError> {
    // The organizer attends their own event; everyone else has yet to reply.
    let answer = if user == event.organizer {
        Answer::Accepted
    } else {
        Answer::NeedsAction
    };
    sqlx::query(
        "INSERT INTO attendees (event_id, user_id, position, start_us, end_us, answer) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid(event.id))
    .bind(uuid(user))
    .bind(position)
    .bind(micros(event.interval.start()))
    .bind(micros(series_end(event)))
    .bind(answer.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_reminders(tx: &mut PgConnection, event: &Event) -> Result<(), StoreError> {
    for (position, offset) in event.reminders.iter().enumerate() {
        sqlx::query("INSERT INTO event_reminders (event_id, position, before) VALUES ($1, $2, $3)")
            .bind(uuid(event.id))
            .bind(position as i64)
            .bind(offset.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Deletes the deliveries of `event` that are not in flight at `now`: pending ones, and
/// settled ones too when `settled` is set. A delivery is in flight while its lease lasts
/// or once the mail queue holds it.
async fn drop_deliveries(
    tx: &mut PgConnection,
    event: EventId,
    now: Timestamp,
    settled: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM deliveries WHERE event_id = $1 AND CASE WHEN state = 'pending' \
         THEN message_id IS NULL AND (lease_until_us IS NULL OR lease_until_us <= $2) \
         ELSE $3 END",
    )
    .bind(uuid(event))
    .bind(micros(now))
    .bind(settled)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes `user`'s deliveries for `event` that are pending and not handed to the mail
/// queue.
async fn drop_waiting_deliveries(
    tx: &mut PgConnection,
    event: EventId,
    user: UserId,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM deliveries WHERE event_id = $1 AND user_id = $2 AND state = 'pending' \
         AND message_id IS NULL",
    )
    .bind(uuid(event))
    .bind(uuid(user))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_deliveries(
    tx: &mut PgConnection,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    for delivery in deliveries {
        sqlx::query(
            "INSERT INTO deliveries (id, event_id, user_id, before, channel, due_us, state, \
                                     not_before_us) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $6) \
             ON CONFLICT (event_id, user_id, before, channel) DO NOTHING",
        )
        .bind(uuid(delivery.id))
        .bind(uuid(delivery.event_id))
        .bind(uuid(delivery.user_id))
        .bind(delivery.offset.as_str())
        .bind(delivery.channel.as_str())
        .bind(micros(delivery.due_at))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Returns, for each of `users` who is busy then, the busy intervals that overlap an
/// occurrence of `event` within `horizon` of its start, leaving out the event `except`.
async fn conflicts(
    tx: &mut PgConnection,
    users: &[UserId],
    event: &Event,
    except: Option<EventId>,
    horizon: SignedDuration,
) -> Result<Vec<Conflict>, StoreError> {
    let (window, occurrences) = occurrences_to_check(event, horizon)?;
    let mut conflicts = Vec::new();
    for user in users {
        let busy = conflicting(&busy(tx, *user, &window, except).await?, &occurrences);
        if !busy.is_empty() {
            conflicts.push(Conflict { user: *user, busy });
        }
    }
    Ok(conflicts)
}

/// Returns the occurrences of `user`'s confirmed events that overlap `window`, leaving out
/// the event `except` and the events that `user` declined, sorted.
async fn busy(
    conn: &mut PgConnection,
    user: UserId,
    window: &Interval,
    except: Option<EventId>,
) -> Result<Vec<Interval>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.start_us, e.end_us, e.time_zone, e.all_day, e.rrules, e.rdates, e.exdates \
         FROM attendees a JOIN events e ON e.id = a.event_id \
         WHERE a.user_id = $1 AND a.start_us < $2 AND a.end_us > $3 \
         AND a.event_id IS DISTINCT FROM $4 \
         AND e.status <> 'cancelled' AND a.answer <> 'declined'",
    )
    .bind(uuid(user))
    .bind(micros(window.end()))
    .bind(micros(window.start()))
    .bind(except.map(uuid))
    .fetch_all(conn)
    .await?;
    let mut busy = Vec::with_capacity(rows.len());
    for row in &rows {
        let interval = interval_from(row.try_get("start_us")?, row.try_get("end_us")?)?;
        let recurrence = recurrence_from_row(row)?;
        if recurrence.is_none() {
            busy.push(interval);
            continue;
        }
        let time_zone: String = row.try_get("time_zone")?;
        busy.extend(occurrences_of(
            interval,
            &time_zone,
            row.try_get("all_day")?,
            recurrence.as_ref(),
            *window,
        ));
    }
    busy.sort();
    Ok(busy)
}

/// Reads the recurrence of an event row, `None` for a single event.
fn recurrence_from_row(row: &PgRow) -> Result<Option<EventRecurrence>, StoreError> {
    let rules: Option<String> = row.try_get("rrules")?;
    let rdates: Option<String> = row.try_get("rdates")?;
    let exdates: Option<String> = row.try_get("exdates")?;
    rules
        .map(|rules| recurrence_from_text(&rules, rdates.as_deref(), exdates.as_deref()))
        .transpose()
}

async fn record_attempt(tx: &mut PgConnection, record: &AttemptRecord) -> Result<bool, StoreError> {
    let attempt = &record.attempt;
    let state = settled_state(attempt.outcome);
    let not_before = micros(record.retry_at.unwrap_or(attempt.at));
    let updated = sqlx::query(
        "UPDATE deliveries SET state = $1, attempts = attempts + 1, lease_owner = NULL, \
         lease_until_us = NULL, \
         not_before_us = CASE WHEN $1 = 'pending' THEN $2 ELSE not_before_us END, \
         notice = CASE WHEN $1 = 'failed' THEN 'due' ELSE notice END \
         WHERE id = $3 AND state = 'pending' AND message_id IS NULL RETURNING attempts",
    )
    .bind(state)
    .bind(not_before)
    .bind(uuid(record.delivery))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = updated else {
        return Ok(false);
    };
    // Attempts are numbered from 1, so the latest attempt's number always
    // equals the delivery's attempt count.
    let attempt_number: i64 = row.try_get("attempts")?;
    insert_delivery_attempt(tx, record.delivery, attempt_number, attempt).await?;
    Ok(true)
}

async fn insert_delivery_attempt(
    tx: &mut PgConnection,
    delivery: DeliveryId,
    number: i64,
    attempt: &DeliveryAttempt,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO delivery_attempts \
         (delivery_id, attempt, at_us, outcome, destination, tls, tls_version, tls_cipher, \
          reply_code, reply_text) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(uuid(delivery))
    .bind(number)
    .bind(micros(attempt.at))
    .bind(attempt.outcome.as_str())
    .bind(attempt.destination.as_deref())
    .bind(attempt.tls)
    .bind(attempt.tls_version.as_deref())
    .bind(attempt.tls_cipher.as_deref())
    .bind(attempt.reply_code.map(i64::from))
    .bind(&attempt.reply_text)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn push_subscription_from_row(row: &PgRow) -> Result<PushSubscription, StoreError> {
    Ok(PushSubscription {
        id: parse_id(row.try_get("id")?)?,
        user: parse_id(row.try_get("user_id")?)?,
        endpoint: row.try_get("endpoint")?,
        p256dh: row.try_get("p256dh")?,
        auth: row.try_get("auth")?,
        created_at: timestamp(row.try_get("created_at_us")?)?,
    })
}

fn api_token_from_row(row: &PgRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: parse_id(row.try_get("id")?)?,
        user: parse_id(row.try_get("user_id")?)?,
        created_at: timestamp(row.try_get("created_at_us")?)?,
    })
}

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    let email: String = row.try_get("email")?;
    Ok(User {
        id: parse_id(row.try_get("id")?)?,
        name: row.try_get("name")?,
        email: EmailAddress::parse("email", &email)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?,
        time_zone: row.try_get("time_zone")?,
        working_hours: match row.try_get::<Option<String>, _>("working_hours")? {
            None => WorkingHours::default(),
            Some(text) => WorkingHours::parse("working_hours", &text)
                .map_err(|err| StoreError::Corrupt(err.to_string()))?,
        },
        phone: row
            .try_get::<Option<String>, _>("phone")?
            .map(|text| codec::phone(&text))
            .transpose()?,
        reminders: codec::preferences(
            row.try_get::<Option<String>, _>("reminders")?.as_deref(),
            row.try_get::<Option<String>, _>("channels")?.as_deref(),
        )?,
    })
}

fn delivery_from_row(row: &PgRow, now_us: i64) -> Result<Delivery, StoreError> {
    let state: String = row.try_get("state")?;
    let lease_until: Option<i64> = row.try_get("lease_until_us")?;
    let message_id: Option<Uuid> = row.try_get("message_id")?;
    let state = match state.as_str() {
        "pending" if message_id.is_some() => DeliveryState::Queued,
        "pending" if lease_until.is_some_and(|until| until > now_us) => DeliveryState::Sending,
        "pending" => DeliveryState::Pending,
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown delivery state {other:?}"
            )));
        }
    };
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Delivery {
        id: parse_id(row.try_get("id")?)?,
        event_id: parse_id(row.try_get("event_id")?)?,
        user_id: parse_id(row.try_get("user_id")?)?,
        offset: parse_offset(row.try_get("before")?)?,
        channel: codec::channel(row.try_get("channel")?)?,
        due_at: timestamp(row.try_get("due_us")?)?,
        state,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt(format!("attempt count {attempts}")))?,
        last_attempt: None,
        message_id: message_id.map(parse_id).transpose()?,
    })
}

fn delivery_with_attempt_from_row(row: &PgRow, now_us: i64) -> Result<Delivery, StoreError> {
    let mut delivery = delivery_from_row(row, now_us)?;
    let outcome: Option<String> = row.try_get("outcome")?;
    if outcome.is_some() {
        delivery.last_attempt = Some(attempt_from_row(row)?);
    }
    Ok(delivery)
}

pub(super) fn attempt_from_row(row: &PgRow) -> Result<DeliveryAttempt, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    let outcome = match outcome.as_str() {
        "delivered" => DeliveryOutcome::Delivered,
        "temporary_failure" => DeliveryOutcome::TemporaryFailure,
        "permanent_failure" => DeliveryOutcome::PermanentFailure,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown attempt outcome {other:?}"
            )));
        }
    };
    let reply_code: Option<i64> = row.try_get("reply_code")?;
    Ok(DeliveryAttempt {
        at: timestamp(row.try_get("at_us")?)?,
        outcome,
        destination: row.try_get("destination")?,
        tls: row.try_get("tls")?,
        tls_version: row.try_get("tls_version")?,
        tls_cipher: row.try_get("tls_cipher")?,
        reply_code: reply_code.and_then(|code| u16::try_from(code).ok()),
        reply_text: row.try_get("reply_text")?,
    })
}

/// Returns the UUID that a Convene identifier is written from.
pub(super) fn uuid(id: impl Display) -> Uuid {
    // Every identifier type of convene-domain displays its UUID in hyphenated form.
    Uuid::parse_str(&id.to_string()).expect("a Convene identifier displays as a UUID")
}

fn uuids(ids: &[impl Display]) -> Vec<Uuid> {
    ids.iter().map(uuid).collect()
}

pub(super) fn parse_id<T: FromStr>(id: Uuid) -> Result<T, StoreError> {
    id.hyphenated()
        .to_string()
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("invalid identifier {id}")))
}
