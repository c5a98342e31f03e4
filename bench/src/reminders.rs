//! The reminder throughput benchmark's helpers, run by `bench/reminders`: seeding the
//! reminders into a store, putting the messages that Convene sent into Postfix's queue, and
//! timing the arrivals at `smtp-sink`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use convene_domain::command::{CreateEvent, UserRef};
use convene_domain::{NewUser, ReminderOffset};
use convene_mail::{Address, DeliveryStatus, Mailer, MailerConfig, TlsPolicy};
use convene_scheduler::Scheduler;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use tokio::task::JoinSet;

/// How long before its event each reminder is due. The events start this long after
/// seeding, so the reminders are due from the moment seeding starts, and a run has this
/// long before the events begin and the reminders would no longer be sent.
const REMINDER_OFFSET: &str = "PT6H";

/// Bookings made at once while seeding.
const SEED_TASKS: usize = 8;

/// Creates `reminders` people at `domain`, each organizing an event of their own with one
/// reminder, through the Scheduler as `convene serve` books events. Every reminder is due
/// at the instant seeding starts.
pub async fn seed(database: &str, reminders: usize, domain: &str) -> Result<()> {
    let started = Instant::now();
    let store = convene_store::open(database)
        .await
        .with_context(|| format!("opening {database}"))?;
    let scheduler = Scheduler::new(Arc::clone(&store));
    let offset = ReminderOffset::parse("before", REMINDER_OFFSET)?;
    let start = Timestamp::now()
        .checked_add(offset.span())
        .context("the event start is out of range")?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..SEED_TASKS {
        let scheduler = scheduler.clone();
        let next = Arc::clone(&next);
        let offset = offset.clone();
        let domain = domain.to_owned();
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= reminders {
                    return Ok::<(), anyhow::Error>(());
                }
                book(&scheduler, i, &domain, start, &offset).await?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a seeding task panicked")??;
    }
    store.close().await;
    eprintln!(
        "seeded {reminders} reminders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Books person `i` and a 30-minute event at `start` with one reminder `offset` before it.
async fn book(
    scheduler: &Scheduler,
    i: usize,
    domain: &str,
    start: Timestamp,
    offset: &ReminderOffset,
) -> Result<()> {
    let new_user = NewUser::new(&format!("Person {i}"), &address(i, domain), None)?;
    let user = scheduler.create_user(new_user).await?;
    let command = CreateEvent {
        title: format!("Review {i}"),
        description: None,
        location: Some("Room 4".to_owned()),
        start: start.into(),
        end: (start + SignedDuration::from_mins(30)).into(),
        time_zone: Some("Europe/Berlin".to_owned()),
        organizer: Some(UserRef::Id(user.id)),
        participants: Vec::new(),
        reminders: vec![offset.clone()],
        recurrence: None,
    };
    scheduler.create_event(command, Timestamp::now()).await?;
    Ok(())
}

/// Returns person `i`'s address.
fn address(i: usize, domain: &str) -> String {
    format!("p{i:06}@{domain}")
}

/// Sends every message that a Convene run stored in the SQLite file `database`, with the
/// same sender, recipient and bytes, to the SMTP server that the MX records at `dns` name,
/// on `port`, from `concurrency` tasks at once. Fails on the first message not accepted.
pub async fn inject(database: &Path, dns: SocketAddr, port: u16, concurrency: usize) -> Result<()> {
    let url = format!("sqlite:{}", database.display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let rows = sqlx::query(
        "SELECT m.sender, r.address, m.data FROM mail_messages m \
         JOIN mail_recipients r ON r.message_id = m.id ORDER BY m.id, r.position",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        let sender = Address::parse(row.try_get::<&str, _>("sender")?)?;
        let recipient = Address::parse(row.try_get::<&str, _>("address")?)?;
        let data: Vec<u8> = row.try_get("data")?;
        messages.push((sender, recipient, data));
    }
    let messages = Arc::new(messages);

    let mailer = Mailer::new(MailerConfig {
        dns_server: Some(dns),
        smtp_port: port,
        helo_name: "inject.bench.test".to_owned(),
        tls: TlsPolicy::Disabled,
        max_idle_per_host: concurrency,
        ..MailerConfig::default()
    })?;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let mailer = mailer.clone();
        let next = Arc::clone(&next);
        let messages = Arc::clone(&messages);
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((sender, recipient, data)) = messages.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let results = mailer
                    .send(sender, std::slice::from_ref(recipient), data)
                    .await;
                for result in results {
                    if result.status != DeliveryStatus::Delivered {
                        bail!(
                            "queueing the message to {} failed: {:?} {}",
                            result.recipient,
                            result.status,
                            result.reply_text
                        );
                    }
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("an injecting task panicked")??;
    }
    mailer.close().await;
    eprintln!(
        "queued {} messages in {:.1} s",
        messages.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits until the counter output of `smtp-sink -c` in `counter` reaches `messages`, and
/// prints the Unix time of that moment in seconds. The file is read every 10 ms, so the
/// time is late by at most that much plus one read.
pub fn wait_for_sink(counter: &Path, messages: u64, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let received = last_message_count(counter)?;
        if received >= messages {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
            println!("{:.3}", now.as_secs_f64());
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("smtp-sink received {received} of {messages} messages within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Returns the last `mesg=` count in the tail of `smtp-sink -c` output, or 0 before the
/// first message.
fn last_message_count(counter: &Path) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};

    let mut file =
        std::fs::File::open(counter).with_context(|| format!("opening {}", counter.display()))?;
    let length = file.metadata()?.len();
    // A counter line is about 40 octets, so the last 256 contain a whole one.
    file.seek(SeekFrom::Start(length.saturating_sub(256)))?;
    let mut tail = String::new();
    file.read_to_string(&mut tail)?;
    let count = tail
        .rsplit("mesg=")
        .next()
        .filter(|_| tail.contains("mesg="))
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    Ok(count)
}
