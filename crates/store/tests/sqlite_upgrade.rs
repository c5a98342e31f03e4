//! A SQLite database written by an earlier version keeps its reminders, their attempts and
//! their link to the mail queue when the deliveries table is rebuilt with a channel column.

use std::borrow::Cow;

use convene_domain::{ChannelKind, DeliveryState, EventId, MessageId, UserId};
use convene_store::{MailStore, SqliteStore, Store};
use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// The last migration before deliveries had a channel.
const LAST_VERSION_WITHOUT_CHANNELS: i64 = 8;

#[tokio::test]
async fn channel_migration_keeps_deliveries_attempts_and_mail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convene.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let mut earlier = sqlx::migrate!("./migrations/sqlite");
    earlier.migrations = Cow::Owned(
        earlier
            .migrations
            .iter()
            .filter(|migration| migration.version <= LAST_VERSION_WITHOUT_CHANNELS)
            .cloned()
            .collect(),
    );
    earlier.run(&pool).await.unwrap();

    let user = UserId::generate();
    let event = EventId::generate();
    let message = MessageId::generate();
    let delivered = convene_domain::DeliveryId::generate();
    let queued = convene_domain::DeliveryId::generate();
    let start_us = 1_893_492_000_000_000_i64; // 2030-01-01T10:00:00Z
    for statement in [
        format!(
            "INSERT INTO users (id, name, email, time_zone) VALUES ('{user}', 'Ann', 'ann@alpha.test', 'Europe/Berlin')"
        ),
        format!(
            "INSERT INTO events (id, title, start_us, end_us, time_zone, organizer) \
             VALUES ('{event}', 'Planning', {start_us}, {}, 'Europe/Berlin', '{user}')",
            start_us + 3_600_000_000
        ),
        format!(
            "INSERT INTO event_reminders (event_id, position, before) VALUES ('{event}', 0, 'PT15M'), ('{event}', 1, 'P1D')"
        ),
        format!(
            "INSERT INTO attendees (event_id, user_id, position, start_us, end_us) \
             VALUES ('{event}', '{user}', 0, {start_us}, {})",
            start_us + 3_600_000_000
        ),
        format!(
            "INSERT INTO mail_messages (id, sender, data, created_us, expires_us) \
             VALUES ('{message}', 'convene@alpha.test', X'41', {start_us}, {start_us})"
        ),
        format!(
            "INSERT INTO deliveries (id, event_id, user_id, before, due_us, state, not_before_us, attempts) \
             VALUES ('{delivered}', '{event}', '{user}', 'P1D', 1, 'delivered', 1, 1), \
                    ('{queued}', '{event}', '{user}', 'PT15M', 2, 'pending', 2, 0)"
        ),
        format!("UPDATE deliveries SET message_id = '{message}' WHERE id = '{queued}'"),
        format!(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at_us, outcome, tls, reply_text) \
             VALUES ('{delivered}', 1, 1, 'delivered', 1, '250 2.0.0 Ok')"
        ),
        format!(
            "INSERT INTO mail_recipients (message_id, position, address, state, not_before_us, delivery_id) \
             VALUES ('{message}', 0, 'ann@alpha.test', 'queued', 2, '{queued}')"
        ),
    ] {
        // Only generated identifiers and numbers are interpolated.
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    let store = SqliteStore::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let mut deliveries = store.deliveries(event, now).await.unwrap();
    deliveries.sort_by_key(|delivery| delivery.due_at);
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d.channel == ChannelKind::Email));
    assert_eq!(deliveries[0].id, delivered);
    assert_eq!(deliveries[0].state, DeliveryState::Delivered);
    let attempt = deliveries[0]
        .last_attempt
        .as_ref()
        .expect("the attempt survives");
    assert_eq!(attempt.reply_text, "250 2.0.0 Ok");
    assert_eq!(deliveries[1].id, queued);
    assert_eq!(deliveries[1].state, DeliveryState::Queued);
    assert_eq!(deliveries[1].message_id, Some(message));

    // The mail recipient still carries its delivery.
    let mail = store.mail_message(message, now).await.unwrap().unwrap();
    assert_eq!(mail.recipients[0].delivery, Some(queued));

    // The users table gained its new columns with their defaults.
    let ann = store.user(user).await.unwrap().unwrap();
    assert_eq!(ann.reminders, Default::default());
    assert_eq!(ann.phone, None);
}
