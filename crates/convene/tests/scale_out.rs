//! Scale-out: three `convene serve` processes share one PostgreSQL database and deliver 10,000
//! reminders, all due within one minute, to Postfix's `smtp-sink`. Every reminder arrives
//! exactly once, and every process delivers part of them. When one process is killed with
//! SIGKILL midway, no reminder is lost, and a reminder arrives twice only if the killed
//! process held its mail recipient, claimed but not settled, when it died.
//!
//! Each reminder is a message of its own to a person of its own, so the sink's dump files
//! count the copies of each reminder by recipient address. Each process greets with its own
//! HELO name, which the dump files record, so they also show which process sent what.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use convene_domain::command::{CreateEvent, UserRef};
use convene_domain::{NewUser, ReminderOffset};
use convene_scheduler::Scheduler;
use convene_testkit::{DnsConfig, Dnsmasq, Peer, SmtpSink, free_port_on, require_peers};
use jiff::{SignedDuration, Timestamp};
use support::Convene;

/// Reminders to deliver, one per person and event.
const REMINDERS: usize = 10_000;

/// `convene serve` processes sharing the database.
const PROCESSES: usize = 3;

/// The reminders fall due evenly over this window, which starts when seeding starts.
const DUE_WINDOW: Duration = Duration::from_secs(60);

/// Every person's address is `pNNNNN@` this domain, whose MX host is the sink.
const DOMAIN: &str = "scale.test";

/// Bookings made at once while seeding.
const SEED_TASKS: usize = 8;

/// How long the processes may take to deliver everything, counted from their start. The
/// last reminder falls due within [`DUE_WINDOW`] of the seeding start, and a killed
/// process's claims wait for [`LEASE`] to expire.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(150);

/// The lease of the Notifier's and the mail queue's claims. After a crash, the claims of
/// the dead process are taken over once it expires. It is long enough that a transaction
/// on loopback never runs into the cut-off at three quarters of it.
const LEASE: &str = "10s";

/// The two tests each run three servers and 10,000 deliveries, which two cores cannot
/// do side by side in good time, so they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn three_processes_deliver_each_reminder_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(world) = ScaleWorld::start("three_processes_deliver_each_reminder_once").await else {
        return;
    };
    let addresses = world.seed().await;
    let processes = world.start_processes();

    let tally = world.finish(&processes, &addresses).await;
    assert_eq!(
        tally.duplicated,
        BTreeMap::new(),
        "reminders that arrived more than once"
    );
    tally.assert_every_process_delivered(&processes);
    let mut recorded = 0;
    for process in &processes {
        recorded += metric(process, "convene_reminders_total{result=\"sent\"}").await;
    }
    assert_eq!(
        recorded, REMINDERS as u64,
        "the processes recorded this many reminders as sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_process_loses_no_reminder() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(world) = ScaleWorld::start("killed_process_loses_no_reminder").await else {
        return;
    };
    let addresses = world.seed().await;
    let mut processes = world.start_processes();

    // SIGKILL one process once a good part, but not all, has arrived.
    world.wait_for_messages(&processes, REMINDERS * 2 / 5).await;
    let victim = 1;
    let sent_before_kill = metric(
        &processes[victim],
        "convene_reminders_total{result=\"sent\"}",
    )
    .await;
    let owner = worker_id(&processes[victim]);
    // A process has mail recipients claimed only while it sends them, a few milliseconds
    // at a time, so the victim is frozen with SIGSTOP until it has some claimed. The kill
    // then leaves work in flight, which is the case the duplicate bound covers.
    let pid = processes[victim].pid().unwrap();
    let mut tries = 0;
    loop {
        signal(pid, "STOP");
        if !world.database.claimed_recipients(&owner).await.is_empty() {
            break;
        }
        signal(pid, "CONT");
        tries += 1;
        assert!(
            tries < 1000,
            "process {victim} never held a mail recipient\n{}",
            processes[victim].log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    processes[victim].kill();
    let arrived_at_kill = world.sink.dump_count().unwrap();
    // What the dead process held can no longer change: recipients it claimed and had not
    // settled may have been sent without the result being stored, and only those can
    // arrive twice. Reminder deliveries it claimed but had not queued were never sent.
    let in_flight = world.database.claimed_recipients(&owner).await;
    let unqueued = world.database.claimed_deliveries(&owner).await;
    println!(
        "killed process {victim} ({owner}) after it recorded {sent_before_kill} reminders, \
         with {arrived_at_kill} of {REMINDERS} at the sink; it held {} mail recipients \
         and {unqueued} unqueued reminder deliveries",
        in_flight.len()
    );
    assert!(
        arrived_at_kill < REMINDERS,
        "everything had arrived before the kill, so the test proves nothing; kill earlier"
    );

    let tally = world.finish(&processes, &addresses).await;
    let duplicates: usize = tally.duplicated.values().map(|copies| copies - 1).sum();
    println!(
        "duplicates after the kill: {duplicates} (bound: {} recipients in flight)",
        in_flight.len()
    );
    for (address, copies) in &tally.duplicated {
        assert!(
            in_flight.contains(address),
            "{address} arrived {copies} times but the killed process did not hold it"
        );
        assert_eq!(*copies, 2, "{address} arrived {copies} times");
    }
    assert!(!in_flight.is_empty(), "the killed process held no work");
    assert!(duplicates <= in_flight.len());
    tally.assert_every_process_delivered(&processes);
}

/// The shared database, the DNS server and the sink of one test.
struct ScaleWorld {
    database: TestDatabase,
    dns: Dnsmasq,
    sink: SmtpSink,
    /// When seeding started; the reminders fall due in the [`DUE_WINDOW`] from here.
    seeding_started: Timestamp,
}

impl ScaleWorld {
    /// Starts the peers and creates the database, or returns `None` when the test is
    /// skipped because a peer or the database is missing.
    async fn start(test: &str) -> Option<ScaleWorld> {
        if !require_peers(test, &[Peer::Dnsmasq, Peer::SmtpSink]) {
            return None;
        }
        let database = TestDatabase::create(test).await?;
        let sink_ip: IpAddr = "127.0.0.1".parse().unwrap();
        let sink_port = free_port_on(&[sink_ip]);
        let sink = SmtpSink::start(sink_ip, sink_port).expect("smtp-sink starts");
        let dns = Dnsmasq::start(
            DnsConfig::new()
                .mx(DOMAIN, &format!("mx.{DOMAIN}"), 10)
                .host(&format!("mx.{DOMAIN}"), sink_ip),
        )
        .expect("dnsmasq starts");
        Some(ScaleWorld {
            database,
            dns,
            sink,
            seeding_started: Timestamp::now(),
        })
    }

    /// Creates one person per reminder, each organizing an event of their own with one
    /// reminder an hour before it starts, through the Scheduler as the server books
    /// events. The reminders fall due evenly over [`DUE_WINDOW`] from the seeding start.
    /// Returns every person's address.
    async fn seed(&self) -> Vec<String> {
        let started = Instant::now();
        let store = convene_store::open(&self.database.url)
            .await
            .expect("the store opens");
        let scheduler = Scheduler::new(store.clone());
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..SEED_TASKS {
            let scheduler = scheduler.clone();
            let next = next.clone();
            let seeding_started = self.seeding_started;
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= REMINDERS {
                        return;
                    }
                    book_one(&scheduler, i, seeding_started).await;
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("a seeding task panicked");
        }
        store.close().await;
        println!(
            "seeded {REMINDERS} people and events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (0..REMINDERS).map(address).collect()
    }

    /// Starts the servers, each greeting with its own HELO name.
    fn start_processes(&self) -> Vec<Convene> {
        let log_base = self.database.log_dir.path().join("convene");
        (0..PROCESSES)
            .map(|i| {
                let settings = [
                    ("CONVENE_DNS_SERVER", self.dns.addr().to_string()),
                    ("CONVENE_SMTP_PORT", self.sink.addr().port().to_string()),
                    ("CONVENE_HELO_NAME", helo_name(i)),
                    ("CONVENE_NOTIFIER_INTERVAL", "200ms".to_owned()),
                    ("CONVENE_NOTIFIER_LEASE", LEASE.to_owned()),
                    // One line per delivery would be 10,000 lines per run.
                    ("CONVENE_LOG", "warn,convene=info".to_owned()),
                ];
                Convene::start_with_url(
                    &self.database.url,
                    &log_base.with_extension(i.to_string()),
                    &settings,
                )
            })
            .collect()
    }

    /// Waits until every reminder has arrived and the queues are empty, counts the copies
    /// of each and checks that none is missing.
    async fn finish(&self, processes: &[Convene], addresses: &[String]) -> Tally {
        self.wait_for_messages(processes, REMINDERS).await;
        self.wait_until_settled(processes).await;
        let tally = self.tally(addresses);
        assert_eq!(
            tally.missing,
            Vec::<String>::new(),
            "reminders that never arrived"
        );
        tally
    }

    /// Waits until the sink has at least `count` dump files.
    async fn wait_for_messages(&self, processes: &[Convene], count: usize) {
        let deadline = Instant::now() + DELIVERY_DEADLINE;
        loop {
            let arrived = self.sink.dump_count().unwrap();
            if arrived >= count {
                return;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = processes.iter().map(Convene::log).collect();
                panic!(
                    "only {arrived} of {count} messages arrived within {DELIVERY_DEADLINE:?}\n\
                     sink log:\n{}\nconvene logs:\n{}",
                    self.sink.log(),
                    logs.join("\n---\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until no reminder is due and no mail recipient is queued or being sent, as the
    /// live processes' `/metrics` report it, and then for a few more polls.
    async fn wait_until_settled(&self, processes: &[Convene]) {
        let live: Vec<&Convene> = processes.iter().filter(|p| p.pid().is_some()).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let due = metric(live[0], "convene_reminders_due").await;
            let queued = metric(live[0], "convene_mail_queue_recipients{state=\"queued\"}").await;
            let sending = metric(live[0], "convene_mail_queue_recipients{state=\"sending\"}").await;
            if due == 0 && queued == 0 && sending == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the queues never emptied: {due} reminders due, {queued} recipients queued, \
                 {sending} sending\n{}",
                live[0].log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Several more polls of every process must not send anything again.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    /// Reads every message from the sink and counts the copies of each reminder.
    fn tally(&self, addresses: &[String]) -> Tally {
        let messages = self.sink.messages().expect("the dump files are readable");
        let mut copies: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_helo: BTreeMap<String, usize> = BTreeMap::new();
        for message in &messages {
            assert_eq!(
                message.rcpt_tos.len(),
                1,
                "a reminder went to several recipients: {:?}",
                message.rcpt_tos
            );
            let address = &message.rcpt_tos[0];
            assert!(
                message.data.contains(&format!("<{address}>")),
                "the message to {address} is addressed to someone else:\n{}",
                message.data
            );
            *copies.entry(address.clone()).or_default() += 1;
            *by_helo
                .entry(message.helo_name.clone().unwrap_or_default())
                .or_default() += 1;
        }
        let expected: BTreeSet<&String> = addresses.iter().collect();
        let unexpected: Vec<&String> = copies.keys().filter(|a| !expected.contains(a)).collect();
        assert!(
            unexpected.is_empty(),
            "mail to unknown addresses: {unexpected:?}"
        );
        Tally {
            missing: addresses
                .iter()
                .filter(|address| !copies.contains_key(*address))
                .cloned()
                .collect(),
            duplicated: copies.into_iter().filter(|(_, n)| *n > 1).collect(),
            by_helo,
        }
    }
}

/// The copies of each reminder that arrived.
struct Tally {
    /// Addresses that got no message.
    missing: Vec<String>,
    /// Addresses that got more than one message, with the number of copies.
    duplicated: BTreeMap<String, usize>,
    /// Messages by the HELO name of the process that sent them.
    by_helo: BTreeMap<String, usize>,
}

impl Tally {
    /// Prints how many messages each process sent and checks that each sent some.
    fn assert_every_process_delivered(&self, processes: &[Convene]) {
        for (i, process) in processes.iter().enumerate() {
            let helo = helo_name(i);
            let sent = self.by_helo.get(&helo).copied().unwrap_or(0);
            println!("process {i} ({helo}) delivered {sent} reminders");
            assert!(
                sent > 0,
                "process {i} delivered nothing; per process: {:?}\n{}",
                self.by_helo,
                process.log()
            );
        }
    }
}

/// Books person `i` and their event, whose one reminder falls due at the `i`th step of
/// [`DUE_WINDOW`] from `seeding_started`.
async fn book_one(scheduler: &Scheduler, i: usize, seeding_started: Timestamp) {
    // A few zones, so that the reminders are rendered in several.
    let zones = [
        Some("Europe/Berlin"),
        Some("America/New_York"),
        Some("Asia/Tokyo"),
        None,
    ];
    let new_user = NewUser::new(&format!("Person {i}"), &address(i), zones[i % zones.len()])
        .expect("a valid user");
    let user = scheduler
        .create_user(new_user)
        .await
        .expect("the user is stored");

    let step = DUE_WINDOW.as_micros() as i64 * i as i64 / REMINDERS as i64;
    let due = seeding_started + SignedDuration::from_micros(step);
    let start = due + SignedDuration::from_hours(1);
    let command = CreateEvent {
        title: format!("Review {i}"),
        description: None,
        location: Some("Room 4".to_owned()),
        start: start.into(),
        end: (start + SignedDuration::from_mins(30)).into(),
        time_zone: None,
        organizer: Some(UserRef::Id(user.id)),
        participants: Vec::new(),
        reminders: vec![ReminderOffset::parse("reminders/0/before", "PT1H").unwrap()],
        recurrence: None,
    };
    scheduler
        .create_event(command, Timestamp::now())
        .await
        .expect("the event is booked");
}

fn address(i: usize) -> String {
    format!("p{i:05}@{DOMAIN}")
}

fn helo_name(process: usize) -> String {
    format!("worker{process}.convene.test")
}

/// Sends `signal`, such as `STOP`, to process `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Returns the name under which `process` claims work, from the line its Notifier logs
/// at start.
fn worker_id(process: &Convene) -> String {
    let log = process.log();
    let line = log
        .lines()
        .find(|line| line.contains("notifier started"))
        .unwrap_or_else(|| panic!("no \"notifier started\" line in the log:\n{log}"));
    let value = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("worker="))
        .unwrap_or_else(|| panic!("no worker= field in {line:?}"));
    value.trim_matches('"').to_owned()
}

/// Reads one sample of the process's `/metrics`, by its name and labels as written there.
async fn metric(process: &Convene, series: &str) -> u64 {
    let (status, _, text) = process.get_text("/metrics").await;
    assert_eq!(status, 200, "{text}");
    let prefix = format!("{series} ");
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("{series} is {value:?}"))
}

/// A PostgreSQL database of the test's own, and a directory for the server logs.
struct TestDatabase {
    database: convene_testkit::TestDatabase,
    url: String,
    log_dir: tempfile::TempDir,
}

impl TestDatabase {
    /// Creates the database, or returns `None` when the test is skipped because no
    /// PostgreSQL server is configured.
    async fn create(test: &str) -> Option<TestDatabase> {
        let database = convene_testkit::TestDatabase::create(test).await?;
        Some(TestDatabase {
            url: database.url().to_owned(),
            database,
            log_dir: tempfile::tempdir().unwrap(),
        })
    }

    /// Returns the first column of the rows of `sql`, bound to `owner`.
    async fn strings(&self, sql: &str, owner: &str) -> Vec<String> {
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("connecting to {} failed: {err}", self.database.name()));
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(owner)
            .fetch_all(&mut connection)
            .await
            .unwrap_or_else(|err| panic!("{sql} failed: {err}"));
        let _ = sqlx::Connection::close(connection).await;
        rows
    }

    /// Returns the addresses of the mail recipients that `owner` has claimed and not
    /// settled.
    async fn claimed_recipients(&self, owner: &str) -> BTreeSet<String> {
        self.strings(
            "SELECT address FROM mail_recipients WHERE lease_owner = $1 AND state = 'queued'",
            owner,
        )
        .await
        .into_iter()
        .collect()
    }

    /// Counts the reminder deliveries that `owner` has claimed and not handed to the mail
    /// queue.
    async fn claimed_deliveries(&self, owner: &str) -> usize {
        self.strings(
            "SELECT id::text FROM deliveries WHERE lease_owner = $1 \
             AND state = 'pending' AND message_id IS NULL",
            owner,
        )
        .await
        .len()
    }
}
