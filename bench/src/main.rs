//! Benchmarks of the Mail Broker (`convene-mail`), run by `bench/run`: its delivery
//! throughput against lettre and Postfix's `smtp-source` with the same message, message count
//! and concurrency, and the cost of its DKIM signer against the signature primitive.
//!
//! Each subcommand does one thing and exits. `message` writes the test message. `convene`
//! and `lettre` deliver it many times to an SMTP server on loopback and exit with an error
//! if any delivery fails. The script times each of them from start to exit, so every
//! contender, `smtp-source` included, pays for its own start-up and its closing QUITs.
//! `dkim` times the signer and the primitive and writes the keys that dkimpy then uses.
//!
//! `bench/scheduler` runs the other three: `schedule` times conflict checks and free-slot
//! searches in memory and on SQLite, `recurrence` expands the shared recurrence cases for a
//! comparison with python-dateutil, and `freebusy` prepares the free-busy comparison with
//! Radicale and `convene serve`.
//!
//! `bench/reminders` runs `reminder-seed`, which books the reminders through the Scheduler,
//! `reminder-inject`, which puts the messages of a Convene run into Postfix's queue, and
//! `sink-wait`, which times the arrivals at `smtp-sink`.

mod calendar_data;
mod convene;
mod dkim;
mod freebusy;
mod lettre_send;
mod load;
mod message;
mod recurrence;
mod reminders;
mod scheduling;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use convene_store::{MemoryStore, SqliteStore, Store};

use crate::lettre_send::LettreMode;

#[derive(Parser)]
#[command(about = "Benchmarks of the Mail Broker and the Scheduler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the test message, built with convene_mail::Message, as message.eml (CRLF line
    /// endings) and message.lf (LF line endings, for smtp-source -F) into a directory.
    Message {
        /// The directory to write the two files to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measures the CPU time of DKIM signing per message with convene_mail::dkim and with
    /// the bare signature primitive, and writes the message and keys for dkimpy.
    Dkim {
        /// The directory to write the message and keys to.
        #[arg(long)]
        out: PathBuf,
        /// The number of alternating batches of each signer.
        #[arg(long, default_value_t = 21, value_parser = positive())]
        rounds: usize,
        /// Signatures per batch with RSA-2048.
        #[arg(long, default_value_t = 100, value_parser = positive())]
        rsa_batch: usize,
        /// Signatures per batch with Ed25519.
        #[arg(long, default_value_t = 2000, value_parser = positive())]
        ed25519_batch: usize,
    },
    /// Delivers the message with convene_mail::Mailer, which finds the server through an
    /// MX lookup of bench.test.
    Convene {
        #[command(flatten)]
        load: LoadArgs,
        /// The DNS server that answers the MX query for bench.test, as IP:PORT.
        #[arg(long)]
        dns: SocketAddr,
        /// MailerConfig::max_idle_per_host: idle connections kept for reuse. 0 opens a new
        /// connection for every message. Default: the concurrency, one per task.
        #[arg(long)]
        max_idle_per_host: Option<usize>,
    },
    /// Loads users with 100 events each into a MemoryStore and into a SQLite file, and
    /// prints the latency of conflict checks and free-slot searches on each.
    Schedule {
        /// The number of users to load.
        #[arg(long, default_value_t = 10_000, value_parser = positive())]
        users: usize,
        /// Checks of each kind on each store.
        #[arg(long, default_value_t = 1000, value_parser = positive())]
        checks: usize,
        /// Free-slot searches on each store.
        #[arg(long, default_value_t = 100, value_parser = positive())]
        searches: usize,
        /// The directory for the SQLite file.
        #[arg(long)]
        sqlite_dir: PathBuf,
    },
    /// Expands every rule of a recurrence case file with convene-recur over the year from
    /// its DTSTART, and prints "rules occurrences seconds rejected".
    Recurrence {
        /// The case file: DTSTART and RRULE, tab-separated, one rule a line.
        #[arg(long)]
        cases: PathBuf,
        /// The most occurrences expanded per rule.
        #[arg(long, default_value_t = 100, value_parser = positive())]
        limit: usize,
        /// The file to write each rule's occurrence count to.
        #[arg(long)]
        counts: PathBuf,
    },
    /// Loads users into a SQLite file, writes their events as iCalendar and the busy
    /// intervals that Scheduler::busy returns, and times Scheduler::busy.
    Freebusy {
        /// The SQLite file to create.
        #[arg(long)]
        database: PathBuf,
        /// The number of users to load.
        #[arg(long, default_value_t = 100, value_parser = positive())]
        users: usize,
        /// Passes of Scheduler::busy over all users.
        #[arg(long, default_value_t = 10, value_parser = positive())]
        rounds: usize,
        /// The directory for the iCalendar files and the expected answers.
        #[arg(long)]
        out: PathBuf,
    },
    /// Seeds reminders for bench/reminders: one person per reminder, each organizing an
    /// event of their own, booked through the Scheduler, every reminder due at once.
    ReminderSeed {
        /// The database, as CONVENE_DATABASE_URL names it.
        #[arg(long)]
        database: String,
        /// The number of reminders.
        #[arg(long, value_parser = positive())]
        reminders: usize,
        /// The domain of every person's address.
        #[arg(long)]
        domain: String,
    },
    /// Sends the messages that a Convene run stored in a SQLite file, with the same senders,
    /// recipients and bytes, to an SMTP server found through MX records.
    ReminderInject {
        /// The SQLite file of the Convene run.
        #[arg(long)]
        database: PathBuf,
        /// The DNS server that answers the MX queries, as IP:PORT.
        #[arg(long)]
        dns: SocketAddr,
        /// The TCP port of the SMTP server.
        #[arg(long)]
        port: u16,
        /// The number of messages in flight at once.
        #[arg(long, default_value_t = 16, value_parser = positive())]
        concurrency: usize,
    },
    /// Waits until the counters that `smtp-sink -c` writes to a file show a number of
    /// messages, and prints the Unix time of that moment in seconds.
    SinkWait {
        /// The file that smtp-sink's standard output goes to.
        #[arg(long)]
        counter: PathBuf,
        /// The number of messages to wait for.
        #[arg(long)]
        messages: u64,
        /// Seconds to wait at most.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
    /// Delivers the message with lettre's SMTP client to 127.0.0.1.
    Lettre {
        #[command(flatten)]
        load: LoadArgs,
        /// Connection handling: pooled, one per message, or kept per task.
        #[arg(long, value_enum)]
        mode: LettreMode,
    },
}

/// The message, server and load shared by the delivery contenders.
#[derive(Args)]
struct LoadArgs {
    /// The message file to send, with CRLF line endings.
    #[arg(long)]
    message: PathBuf,
    /// The TCP port of the SMTP server on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// The number of messages to deliver in all.
    #[arg(long, default_value_t = 20_000, value_parser = positive())]
    messages: usize,
    /// The number of messages in flight at once: tasks, each with its own connection.
    #[arg(long, default_value_t = 16, value_parser = positive())]
    concurrency: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Message { out } => message::write(&out),
        Command::Dkim {
            out,
            rounds,
            rsa_batch,
            ed25519_batch,
        } => dkim::run(&out, rounds, rsa_batch, ed25519_batch),
        Command::Convene {
            load,
            dns,
            max_idle_per_host,
        } => {
            let max_idle_per_host = max_idle_per_host.unwrap_or(load.concurrency);
            runtime()?.block_on(convene::run(&load, dns, max_idle_per_host))
        }
        Command::Lettre { load, mode } => runtime()?.block_on(lettre_send::run(&load, mode)),
        Command::Schedule {
            users,
            checks,
            searches,
            sqlite_dir,
        } => runtime()?.block_on(schedule(users, checks, searches, &sqlite_dir)),
        Command::Recurrence {
            cases,
            limit,
            counts,
        } => recurrence::run(&cases, limit, &counts),
        Command::ReminderSeed {
            database,
            reminders,
            domain,
        } => runtime()?.block_on(reminders::seed(&database, reminders, &domain)),
        Command::ReminderInject {
            database,
            dns,
            port,
            concurrency,
        } => runtime()?.block_on(reminders::inject(&database, dns, port, concurrency)),
        Command::SinkWait {
            counter,
            messages,
            timeout,
        } => reminders::wait_for_sink(&counter, messages, std::time::Duration::from_secs(timeout)),
        Command::Freebusy {
            database,
            users,
            rounds,
            out,
        } => runtime()?.block_on(freebusy::run(&database, users, rounds, &out)),
    }
}

/// Loads the same users and events into a MemoryStore and into a new SQLite file in
/// `sqlite_dir`, and times the checks and searches on each, one store after the other.
async fn schedule(users: usize, checks: usize, searches: usize, sqlite_dir: &Path) -> Result<()> {
    println!("| store | call | conflicts found | calls | p50 µs | p99 µs |");
    println!("| --- | --- | --- | ---: | ---: | ---: |");

    eprintln!("Loading {users} users into MemoryStore...");
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let loaded = scheduling::load(memory.as_ref(), users).await?;
    scheduling::measure(memory, &loaded, "memory", checks, searches).await?;

    eprintln!("Loading {users} users into SQLite...");
    let url = format!("sqlite:{}", sqlite_dir.join("convene.db").display());
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await?);
    let loaded = scheduling::load(sqlite.as_ref(), users).await?;
    scheduling::measure(Arc::clone(&sqlite), &loaded, "SQLite", checks, searches).await?;
    sqlite.close().await;
    Ok(())
}

/// Accepts a whole number of at least 1.
fn positive() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

/// Builds the multi-threaded Tokio runtime with one worker per core, as `#[tokio::main]`
/// does, so that both Rust contenders run on the same executor.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
