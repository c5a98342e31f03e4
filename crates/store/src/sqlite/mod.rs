//! The embedded default: one SQLite file.
//!
//! Instants are stored as microseconds since the Unix epoch (UTC) and
//! identifiers as text. The file runs in WAL mode so that readers never
//! wait for the writer. Every write that must check before it writes (a
//! booking, a claim) runs in a `BEGIN IMMEDIATE` transaction or as a single
//! statement, because SQLite has no `SELECT ... FOR UPDATE`: the immediate
//! transaction takes the write lock up front, so two writers serialize
//! instead of both reading the same free slot.

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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

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
/// claims. Identifiers and offsets contain no spaces.
macro_rules! select_events {
    () => {
        "SELECT e.id, e.title, e.description, e.location, e.start_us, e.end_us, e.time_zone, \
         e.organizer, e.sequence, e.status, e.all_day, e.rrules, e.rdates, e.exdates, \
         e.external_uid, \
         (SELECT group_concat(a.user_id, ' ' ORDER BY a.position) FROM attendees a \
          WHERE a.event_id = e.id AND a.user_id <> e.organizer) AS participants, \
         (SELECT group_concat(r.before, ' ' ORDER BY r.position) FROM event_reminders r \
          WHERE r.event_id = e.id) AS reminders \
         FROM events e "
    };
}

/// How long a statement waits for another connection's write lock before
/// failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often opening the database is tried before giving up.
const OPEN_TRIES: u64 = 5;

/// A store in one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    options: StoreOptions,
}

impl SqliteStore {
    /// Opens (creating when missing) the file that `url` names, such as
    /// `sqlite:convene.db`, and applies pending migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, StoreOptions::default()).await
    }

    /// Opens the file that `url` names, like [`SqliteStore::open`], with `options`.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        let settings = options;
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or("");
        if path.is_empty() || path.starts_with(':') {
            // An empty path or `:memory:` gives every pooled connection a
            // database of its own, so writes on one are missing on another.
            return Err(StoreError::UnsupportedUrl {
                url: url.to_owned(),
            });
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);

        // Two processes that open a new file at once race to switch it to
        // WAL mode and to apply the migrations. The loser gets "database is
        // locked" or a table that already exists, and succeeds on a retry.
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::connect_and_migrate(options.clone(), settings).await {
                Ok(store) => return Ok(store),
                Err(err) if tries < OPEN_TRIES => {
                    tracing::warn!(error = %err, tries, "opening the SQLite database failed; trying again");
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn connect_and_migrate(
        options: SqliteConnectOptions,
        settings: StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            options: settings,
        })
    }

    async fn write_transaction(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (id, name, email, time_zone, working_hours, phone, reminders, \
                                channels) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
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
        let row =
            sqlx::query("SELECT id, name, email, time_zone, working_hours, phone, reminders, channels FROM users WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels FROM users \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(id_list(ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn users_by_email(&self, addresses: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        // SQLite's lower() folds ASCII letters only, which suffices because EmailAddress
        // admits no other letters. Addresses contain no quote or backslash to escape.
        let lowered: Vec<String> = addresses
            .iter()
            .map(|address| address.as_str().to_ascii_lowercase())
            .collect();
        let rows = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels FROM users \
             WHERE lower(email) IN (SELECT value FROM json_each(?))",
        )
        .bind(string_list(&lowered))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_user(&self, user: &User, expected: &User) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let stored = sqlx::query(
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels \
             FROM users WHERE id = ?",
        )
        .bind(user.id.to_string())
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
            "UPDATE users SET name = ?, email = ?, time_zone = ?, working_hours = ?, phone = ?, \
                              reminders = ?, channels = ? \
             WHERE id = ?",
        )
        .bind(&user.name)
        .bind(user.email.as_str())
        .bind(user.time_zone.as_deref())
        .bind(working_hours_text(&user.working_hours))
        .bind(user.phone.as_ref().map(PhoneNumber::as_str))
        .bind(codec::offsets_text(&user.reminders))
        .bind(codec::channels_text(&user.reminders))
        .bind(user.id.to_string())
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
    }

    async fn book_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let attendees = event.attendees();
        require_users(&mut tx, &attendees).await?;
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
    }

    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        event_in(&mut conn, id).await
    }

    async fn events(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = sqlx::query(concat!(
            select_events!(),
            "WHERE e.id IN (SELECT value FROM json_each(?))"
        ))
        .bind(string_list(&ids))
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
        let mut tx = self.write_transaction().await?;
        require_users(&mut tx, &[user]).await?;
        let Some(event) = event_in(&mut tx, event_id).await? else {
            return Err(StoreError::NotFound {
                what: "event",
                id: event_id.to_string(),
            });
        };

        let already: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM attendees WHERE event_id = ? AND user_id = ?")
                .bind(event_id.to_string())
                .bind(user.to_string())
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
            "SELECT COALESCE(MAX(position), 0) + 1 FROM attendees WHERE event_id = ?",
        )
        .bind(event_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        insert_attendee(&mut tx, &event, user, position).await?;
        insert_deliveries(&mut tx, deliveries).await?;

        tx.commit().await?;
        Ok(())
    }

    async fn remove_participant(
        &self,
        event_id: EventId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let organizer: Option<String> =
            sqlx::query_scalar("SELECT organizer FROM events WHERE id = ?")
                .bind(event_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(organizer) = organizer else {
            return Err(StoreError::NotFound {
                what: "event",
                id: event_id.to_string(),
            });
        };
        if organizer == user.to_string() {
            return Ok(false);
        }

        let removed = sqlx::query("DELETE FROM attendees WHERE event_id = ? AND user_id = ?")
            .bind(event_id.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        drop_waiting_deliveries(&mut tx, event_id, user).await?;

        tx.commit().await?;
        Ok(removed > 0)
    }

    async fn update_event(
        &self,
        event: &Event,
        expected: &Event,
        deliveries: Option<&[Delivery]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let Some(stored) = event_in(&mut tx, event.id).await? else {
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
            let conflicts = conflicts(
                &mut tx,
                &stored.attendees(),
                event,
                Some(event.id),
                self.options.conflict_horizon,
            )
            .await?;
            if !conflicts.is_empty() {
                return Err(StoreError::Busy(conflicts));
            }
            sqlx::query(
                "UPDATE attendees SET answer = 'needs-action' WHERE event_id = ? AND user_id <> ?",
            )
            .bind(event.id.to_string())
            .bind(stored.organizer.to_string())
            .execute(&mut *tx)
            .await?;
        }

        sqlx::query(
            "UPDATE events SET title = ?, description = ?, location = ?, start_us = ?, \
             end_us = ?, time_zone = ?, sequence = ?, status = ?, all_day = ?, rrules = ?, \
             rdates = ?, exdates = ? WHERE id = ?",
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
        .bind(event.id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE attendees SET start_us = ?, end_us = ? WHERE event_id = ?")
            .bind(micros(event.interval.start()))
            .bind(micros(series_end(event)))
            .bind(event.id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM event_reminders WHERE event_id = ?")
            .bind(event.id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_reminders(&mut tx, event).await?;
        if let Some(deliveries) = deliveries {
            drop_deliveries(&mut tx, event.id, now, true).await?;
            insert_deliveries(&mut tx, deliveries).await?;
        }

        tx.commit().await?;
        Ok(())
    }

    async fn import_events(&self, owner: UserId, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        require_users(&mut tx, &[owner]).await?;
        let uids: std::collections::BTreeSet<&str> = events
            .iter()
            .filter_map(|event| event.external_uid.as_deref())
            .collect();
        for uid in uids {
            sqlx::query("DELETE FROM events WHERE organizer = ? AND external_uid = ?")
                .bind(owner.to_string())
                .bind(uid)
                .execute(&mut *tx)
                .await?;
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_answer(
        &self,
        event: EventId,
        user: UserId,
        answer: Answer,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let previous: Option<String> =
            sqlx::query_scalar("SELECT answer FROM attendees WHERE event_id = ? AND user_id = ?")
                .bind(event.to_string())
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(previous) = previous else {
            return Ok(false);
        };
        sqlx::query("UPDATE attendees SET answer = ? WHERE event_id = ? AND user_id = ?")
            .bind(answer.as_str())
            .bind(event.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        if answer == Answer::Declined {
            drop_waiting_deliveries(&mut tx, event, user).await?;
        } else if previous == Answer::Declined.as_str() {
            insert_deliveries(&mut tx, deliveries).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn answers(&self, event: EventId) -> Result<Vec<(UserId, Answer)>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, answer FROM attendees WHERE event_id = ? ORDER BY position",
        )
        .bind(event.to_string())
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
            sqlx::query("DELETE FROM events WHERE organizer = ? AND external_uid IS NOT NULL")
                .bind(owner.to_string())
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
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT event_id FROM attendees WHERE user_id = ? AND end_us > ? \
             ORDER BY start_us, event_id LIMIT ?",
        )
        .bind(user.to_string())
        .bind(micros(since))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
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
            "SELECT id, name, email, time_zone, working_hours, phone, reminders, channels FROM users \
             WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
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
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT event_id FROM attendees WHERE user_id = ? AND event_id > ? \
             ORDER BY event_id LIMIT ?",
        )
        .bind(user.to_string())
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await?;
        events_in(&mut conn, ids).await
    }

    async fn create_api_token(&self, token: &ApiToken, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        require_users(&mut tx, &[token.user]).await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at_us) VALUES (?, ?, ?, ?)",
        )
        .bind(token.id.to_string())
        .bind(token.user.to_string())
        .bind(token_hash)
        .bind(micros(token.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, created_at_us FROM api_tokens \
             WHERE token_hash = ? AND revoked = 0",
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
             WHERE user_id = ? AND revoked = 0 AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(user.to_string())
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_token_from_row).collect()
    }

    async fn revoke_api_token(&self, user: UserId, id: TokenId) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ? AND revoked = 0",
        )
        .bind(id.to_string())
        .bind(user.to_string())
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
        let mut tx = self.write_transaction().await?;
        require_users(&mut tx, &[user]).await?;
        sqlx::query("INSERT INTO feeds (id, user_id, token_hash) VALUES (?, ?, ?)")
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn feeds(
        &self,
        user: UserId,
        after: Option<FeedId>,
        limit: usize,
    ) -> Result<Vec<FeedId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM feeds WHERE user_id = ? AND revoked = 0 AND id > ? \
             ORDER BY id LIMIT ?",
        )
        .bind(user.to_string())
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        ids.into_iter().map(parse_id).collect()
    }

    async fn feed_owner(&self, token_hash: &str) -> Result<Option<UserId>, StoreError> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM feeds WHERE token_hash = ? AND revoked = 0")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        owner.map(parse_id).transpose()
    }

    async fn revoke_feed(&self, user: UserId, id: FeedId) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE feeds SET revoked = 1 WHERE id = ? AND user_id = ? AND revoked = 0",
        )
        .bind(id.to_string())
        .bind(user.to_string())
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
        // The write transaction holds SQLite's write lock from its start, so no other
        // registration can come between the count and the insert.
        let mut tx = self.write_transaction().await?;
        require_users(&mut tx, &[subscription.user]).await?;
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM push_subscriptions WHERE user_id = ? AND endpoint <> ?",
        )
        .bind(subscription.user.to_string())
        .bind(&subscription.endpoint)
        .fetch_one(&mut *tx)
        .await?;
        if codec::count(others)? as usize >= limit {
            return Ok(None);
        }

        let row = sqlx::query(
            "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at_us) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id, endpoint) DO UPDATE SET p256dh = excluded.p256dh, \
                                                           auth = excluded.auth \
             RETURNING id, user_id, endpoint, p256dh, auth, created_at_us",
        )
        .bind(subscription.id.to_string())
        .bind(subscription.user.to_string())
        .bind(&subscription.endpoint)
        .bind(&subscription.p256dh)
        .bind(&subscription.auth)
        .bind(micros(subscription.created_at))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        push_subscription_from_row(&row).map(Some)
    }

    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, endpoint, p256dh, auth, created_at_us FROM push_subscriptions \
             WHERE user_id = ? ORDER BY id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(push_subscription_from_row).collect()
    }

    async fn remove_push_subscription(
        &self,
        user: UserId,
        id: PushSubscriptionId,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM push_subscriptions WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn cancel_event(&self, id: EventId, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let updated = sqlx::query(
            "UPDATE events SET status = 'cancelled', \
             sequence = sequence + (CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END) \
             WHERE id = ?",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        drop_deliveries(&mut tx, id, now, false).await?;
        tx.commit().await?;
        Ok(true)
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

        // One UPDATE statement both selects and claims, so no other
        // connection can claim the same rows in between.
        let rows = sqlx::query(
            "UPDATE deliveries SET lease_owner = ?, lease_until_us = ? \
             WHERE id IN ( \
                 SELECT id FROM deliveries \
                 WHERE state = 'pending' AND message_id IS NULL AND not_before_us <= ? \
                   AND (lease_until_us IS NULL OR lease_until_us <= ?) \
                 ORDER BY not_before_us, id LIMIT ? \
             ) \
             RETURNING id, event_id, user_id, before, channel, due_us, state, attempts, lease_until_us, message_id",
        )
        .bind(request.owner)
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(i64::try_from(request.limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;

        let mut claimed: Vec<Delivery> = rows
            .iter()
            .map(|row| delivery_from_row(row, now))
            .collect::<Result<_, _>>()?;

        // Retries carry their previous attempt; first attempts have none.
        let retried: Vec<String> = claimed
            .iter()
            .filter(|delivery| delivery.attempts > 0)
            .map(|delivery| delivery.id.to_string())
            .collect();
        if !retried.is_empty() {
            let attempts = sqlx::query(
                "SELECT a.delivery_id, a.at_us, a.outcome, a.destination, a.tls, a.tls_version, a.tls_cipher, \
                        a.reply_code, a.reply_text \
                 FROM delivery_attempts a JOIN deliveries d \
                      ON a.delivery_id = d.id AND a.attempt = d.attempts \
                 WHERE d.id IN (SELECT value FROM json_each(?))",
            )
            .bind(string_list(&retried))
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
        let mut tx = self.write_transaction().await?;
        let mut applied = Vec::with_capacity(records.len());
        for record in records {
            applied.push(record_attempt(&mut tx, record).await?);
        }
        tx.commit().await?;
        Ok(applied)
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
             WHERE d.event_id = ? ORDER BY d.due_us, d.id",
        )
        .bind(event.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| delivery_with_attempt_from_row(row, micros(now)))
            .collect()
    }

    /// Folds the write-ahead log back into the database file, so that the
    /// file alone contains every committed change (for a copy or a backup),
    /// and closes the connections.
    async fn close(&self) {
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %err, "checkpointing the SQLite write-ahead log failed");
        }
        self.pool.close().await;
    }

    async fn unreported_failures(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.event_id, d.user_id, d.before, d.channel, d.due_us, d.state, d.attempts, \
                    d.lease_until_us, d.message_id, a.at_us, a.outcome, a.destination, a.tls, \
                    a.tls_version, a.tls_cipher, a.reply_code, a.reply_text \
             FROM deliveries d LEFT JOIN delivery_attempts a \
                  ON a.delivery_id = d.id AND a.attempt = d.attempts \
             WHERE d.notice = 'due' AND d.state = 'failed' ORDER BY d.due_us, d.id LIMIT ?",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| delivery_with_attempt_from_row(row, 0))
            .collect()
    }

    async fn attempts(&self, delivery: DeliveryId) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_us, outcome, destination, tls, tls_version, tls_cipher, reply_code, reply_text \
             FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt",
        )
        .bind(delivery.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attempt_from_row).collect()
    }

    async fn queue_counts(&self, now: Timestamp) -> Result<QueueCounts, StoreError> {
        let now = micros(now);
        let reminders_due: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries \
             WHERE state = 'pending' AND message_id IS NULL AND not_before_us <= ?",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let mail = sqlx::query(
            "SELECT \
                 COUNT(*) FILTER (WHERE lease_until_us IS NULL OR lease_until_us <= ?) AS queued, \
                 COUNT(*) FILTER (WHERE lease_until_us > ?) AS sending \
             FROM mail_recipients WHERE state = 'queued'",
        )
        .bind(now)
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

/// Reads the events with the ids `ids`, in that order, leaving out any that do not exist.
async fn events_in(
    conn: &mut sqlx::SqliteConnection,
    ids: Vec<String>,
) -> Result<Vec<Event>, StoreError> {
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(event) = event_in(conn, parse_id(id)?).await? {
            events.push(event);
        }
    }
    Ok(events)
}

async fn event_in(
    conn: &mut sqlx::SqliteConnection,
    id: EventId,
) -> Result<Option<Event>, StoreError> {
    let row = sqlx::query(concat!(select_events!(), "WHERE e.id = ?"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| event_from_row(&row)).transpose()
}

fn event_from_row(row: &SqliteRow) -> Result<Event, StoreError> {
    let id: EventId = parse_id(row.try_get("id")?)?;
    let organizer: UserId = parse_id(row.try_get("organizer")?)?;
    let participants = row
        .try_get::<Option<String>, _>("participants")?
        .unwrap_or_default()
        .split_whitespace()
        .map(|id| parse_id(id.to_owned()))
        .collect::<Result<Vec<UserId>, StoreError>>()?;
    let reminders = row
        .try_get::<Option<String>, _>("reminders")?
        .unwrap_or_default()
        .split_whitespace()
        .map(|before| parse_offset(before.to_owned()))
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
async fn insert_event(
    tx: &mut Transaction<'static, Sqlite>,
    event: &Event,
) -> Result<(), StoreError> {
    let attendees = event.attendees();
    sqlx::query(
        "INSERT INTO events (id, title, description, location, start_us, end_us, time_zone, \
         organizer, sequence, status, all_day, rrules, rdates, exdates, external_uid) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(event.id.to_string())
    .bind(&event.title)
    .bind(event.description.as_deref())
    .bind(event.location.as_deref())
    .bind(micros(event.interval.start()))
    .bind(micros(event.interval.end()))
    .bind(&event.time_zone)
    .bind(event.organizer.to_string())
    .bind(i64::from(event.sequence))
    .bind(event.status.as_str())
    .bind(event.all_day)
    .bind(event.recurrence.as_ref().map(rules_text))
    .bind(event.recurrence.as_ref().map(|r| instants_text(&r.rdates)))
    .bind(event.recurrence.as_ref().map(|r| instants_text(&r.exdates)))
    .bind(event.external_uid.as_deref())
    .execute(&mut **tx)
    .await?;
    insert_reminders(tx, event).await?;
    for (position, user) in attendees.iter().enumerate() {
        insert_attendee(tx, event, *user, position as i64).await?;
    }
    Ok(())
}

async fn insert_attendee(
    tx: &mut Transaction<'static, Sqlite>,
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
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(event.id.to_string())
    .bind(user.to_string())
    .bind(position)
    .bind(micros(event.interval.start()))
    .bind(micros(series_end(event)))
    .bind(answer.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_reminders(
    tx: &mut Transaction<'static, Sqlite>,
    event: &Event,
) -> Result<(), StoreError> {
    for (position, offset) in event.reminders.iter().enumerate() {
        sqlx::query("INSERT INTO event_reminders (event_id, position, before) VALUES (?, ?, ?)")
            .bind(event.id.to_string())
            .bind(position as i64)
            .bind(offset.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes the deliveries of `event` that are not in flight at `now`: pending ones, and
/// settled ones too when `settled` is set. A delivery is in flight while its lease lasts
/// or once the mail queue holds it.
async fn drop_deliveries(
    tx: &mut Transaction<'static, Sqlite>,
    event: EventId,
    now: Timestamp,
    settled: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM deliveries WHERE event_id = ? AND CASE WHEN state = 'pending' \
         THEN message_id IS NULL AND (lease_until_us IS NULL OR lease_until_us <= ?) ELSE ? END",
    )
    .bind(event.to_string())
    .bind(micros(now))
    .bind(settled)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes `user`'s deliveries for `event` that are pending and not handed to the mail
/// queue.
async fn drop_waiting_deliveries(
    tx: &mut Transaction<'static, Sqlite>,
    event: EventId,
    user: UserId,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM deliveries WHERE event_id = ? AND user_id = ? AND state = 'pending' \
         AND message_id IS NULL",
    )
    .bind(event.to_string())
    .bind(user.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_deliveries(
    tx: &mut Transaction<'static, Sqlite>,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    for delivery in deliveries {
        sqlx::query(
            "INSERT INTO deliveries (id, event_id, user_id, before, channel, due_us, state, \
                                     not_before_us) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) \
             ON CONFLICT (event_id, user_id, before, channel) DO NOTHING",
        )
        .bind(delivery.id.to_string())
        .bind(delivery.event_id.to_string())
        .bind(delivery.user_id.to_string())
        .bind(delivery.offset.as_str())
        .bind(delivery.channel.as_str())
        .bind(micros(delivery.due_at))
        .bind(micros(delivery.due_at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn require_users(
    tx: &mut Transaction<'static, Sqlite>,
    users: &[UserId],
) -> Result<(), StoreError> {
    for user in users {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
            .bind(user.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                what: "user",
                id: user.to_string(),
            });
        }
    }
    Ok(())
}

/// Returns, for each of `users` who is busy then, the busy intervals that overlap an
/// occurrence of `event` within `horizon` of its start, leaving out the event `except`.
async fn conflicts(
    tx: &mut Transaction<'static, Sqlite>,
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
    conn: &mut sqlx::SqliteConnection,
    user: UserId,
    window: &Interval,
    except: Option<EventId>,
) -> Result<Vec<Interval>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.start_us, e.end_us, e.time_zone, e.all_day, e.rrules, e.rdates, e.exdates \
         FROM attendees a JOIN events e ON e.id = a.event_id \
         WHERE a.user_id = ? AND a.start_us < ? AND a.end_us > ? AND a.event_id IS NOT ? \
         AND e.status <> 'cancelled' AND a.answer <> 'declined'",
    )
    .bind(user.to_string())
    .bind(micros(window.end()))
    .bind(micros(window.start()))
    .bind(except.map(|id| id.to_string()))
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
fn recurrence_from_row(row: &SqliteRow) -> Result<Option<EventRecurrence>, StoreError> {
    let rules: Option<String> = row.try_get("rrules")?;
    let rdates: Option<String> = row.try_get("rdates")?;
    let exdates: Option<String> = row.try_get("exdates")?;
    rules
        .map(|rules| recurrence_from_text(&rules, rdates.as_deref(), exdates.as_deref()))
        .transpose()
}

async fn record_attempt(
    tx: &mut Transaction<'static, Sqlite>,
    record: &AttemptRecord,
) -> Result<bool, StoreError> {
    let attempt = &record.attempt;
    let state = settled_state(attempt.outcome);
    let not_before = micros(record.retry_at.unwrap_or(attempt.at));
    let updated = sqlx::query(
        "UPDATE deliveries SET state = ?, attempts = attempts + 1, lease_owner = NULL, \
         lease_until_us = NULL, \
         not_before_us = CASE WHEN ? = 'pending' THEN ? ELSE not_before_us END, \
         notice = CASE WHEN ? = 'failed' THEN 'due' ELSE notice END \
         WHERE id = ? AND state = 'pending' AND message_id IS NULL RETURNING attempts",
    )
    .bind(state)
    .bind(state)
    .bind(not_before)
    .bind(state)
    .bind(record.delivery.to_string())
    .fetch_optional(&mut **tx)
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
    tx: &mut Transaction<'static, Sqlite>,
    delivery: DeliveryId,
    number: i64,
    attempt: &DeliveryAttempt,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO delivery_attempts \
         (delivery_id, attempt, at_us, outcome, destination, tls, tls_version, tls_cipher, \
          reply_code, reply_text) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(delivery.to_string())
    .bind(number)
    .bind(micros(attempt.at))
    .bind(attempt.outcome.as_str())
    .bind(attempt.destination.as_deref())
    .bind(attempt.tls)
    .bind(attempt.tls_version.as_deref())
    .bind(attempt.tls_cipher.as_deref())
    .bind(attempt.reply_code.map(i64::from))
    .bind(&attempt.reply_text)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn api_token_from_row(row: &SqliteRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: parse_id(row.try_get("id")?)?,
        user: parse_id(row.try_get("user_id")?)?,
        created_at: timestamp(row.try_get("created_at_us")?)?,
    })
}

fn push_subscription_from_row(row: &SqliteRow) -> Result<PushSubscription, StoreError> {
    Ok(PushSubscription {
        id: parse_id(row.try_get("id")?)?,
        user: parse_id(row.try_get("user_id")?)?,
        endpoint: row.try_get("endpoint")?,
        p256dh: row.try_get("p256dh")?,
        auth: row.try_get("auth")?,
        created_at: timestamp(row.try_get("created_at_us")?)?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
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

fn delivery_from_row(row: &SqliteRow, now_us: i64) -> Result<Delivery, StoreError> {
    let state: String = row.try_get("state")?;
    let lease_until: Option<i64> = row.try_get("lease_until_us")?;
    let message_id: Option<String> = row.try_get("message_id")?;
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

fn delivery_with_attempt_from_row(row: &SqliteRow, now_us: i64) -> Result<Delivery, StoreError> {
    let mut delivery = delivery_from_row(row, now_us)?;
    let outcome: Option<String> = row.try_get("outcome")?;
    if outcome.is_some() {
        delivery.last_attempt = Some(attempt_from_row(row)?);
    }
    Ok(delivery)
}

pub(super) fn attempt_from_row(row: &SqliteRow) -> Result<DeliveryAttempt, StoreError> {
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

fn id_list(ids: &[UserId]) -> String {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    string_list(&ids)
}

/// Encodes strings as a JSON array for `json_each(?)`. Identifiers contain
/// no characters that need escaping.
pub(super) fn string_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    format!("[{}]", quoted.join(","))
}

pub(super) fn parse_id<T: FromStr>(text: String) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("invalid identifier {text:?}")))
}
