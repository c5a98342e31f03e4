//! Crash safety: `convene serve` is killed with SIGKILL after its mail
//! queue claimed the due reminders but before any was sent, and a restarted
//! process delivers each of them exactly once.

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use convene_testkit::{Peer, free_port_on, require_peers};
use support::Convene;
use support::world::{MailWorld, book_soon, wait_for_reminders};

/// Accepts TCP connections and keeps them open without ever sending an
/// SMTP greeting, so a client that connects is stuck before it can send.
/// No real SMTP server can be told to do that.
struct SilentServer {
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl SilentServer {
    fn start(addresses: &[SocketAddr]) -> SilentServer {
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        for addr in addresses {
            let listener = TcpListener::bind(addr).unwrap();
            listener.set_nonblocking(true).unwrap();
            let accepted = accepted.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            held.push(stream);
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        SilentServer { accepted, stop }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn killed_after_claim_delivers_once_after_restart() {
    if !require_peers(
        "killed_after_claim_delivers_once_after_restart",
        &[Peer::Dnsmasq, Peer::Aiosmtpd],
    ) {
        return;
    }
    let world = MailWorld::start();
    let silent_port = free_port_on(&["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()]);
    let silent = SilentServer::start(&[
        format!("127.0.0.2:{silent_port}").parse().unwrap(),
        format!("127.0.0.3:{silent_port}").parse().unwrap(),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("convene.db");
    // Long enough that the first life never cuts its own send short (that
    // happens at three quarters of the lease), short enough to keep the
    // test quick: the second life sends once these claims expire.
    let lease = ("CONVENE_NOTIFIER_LEASE", "8s".to_owned());

    // First life: every MX host accepts the connection and then sends
    // nothing, so the claimed reminders are never sent.
    let mut settings = world.settings();
    settings.retain(|(key, _)| *key != "CONVENE_SMTP_PORT");
    settings.push(("CONVENE_SMTP_PORT", silent_port.to_string()));
    settings.push(lease);
    let mut first = Convene::start(&database, &settings);
    let (event, people) = book_soon(&first, Duration::from_secs(1)).await;

    let queued = wait_for_reminders(&first, &event, "queued", |r| r["status"] == "queued").await;
    // The mail queue has claimed every recipient, and is waiting on a silent server, when
    // the process dies. Invitations to the participants are queued too and wait on the same
    // servers, so the test waits for the reminders' own messages.
    let mut message_ids: Vec<String> = queued
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect();
    message_ids.sort();
    message_ids.dedup();
    let deadline = Instant::now() + Duration::from_secs(30);
    for message in &message_ids {
        loop {
            let (status, view) = first.get(&format!("/v1/messages/{message}")).await;
            assert_eq!(status, 200, "{view}");
            let claimed = view["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .all(|recipient| recipient["status"] == "sending");
            if claimed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the reminder was never claimed: {view}\n{}",
                first.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        silent.accepted.load(Ordering::SeqCst) >= 3,
        "convene never connected"
    );
    first.kill();
    assert!(
        world.messages().is_empty(),
        "nothing may have been sent before the crash"
    );

    // Second life: the real servers. The claims expire and the reminders
    // go out, once each.
    let settings = world.settings();
    let second = Convene::start(&database, &settings);
    let reminders =
        wait_for_reminders(&second, &event, "delivered", |r| r["status"] == "delivered").await;
    assert_eq!(reminders.len(), people.len());

    // Several more polls must not send anything again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = world.messages();
    for (email, _) in &people {
        let copies = messages
            .iter()
            .filter(|m| m.rcpt_tos.contains(email))
            .count();
        assert_eq!(copies, 1, "{email} got {copies} copies\n{}", second.log());
    }
    let (_, after) = second.get(&format!("/v1/events/{event}/reminders")).await;
    for reminder in after["items"].as_array().unwrap() {
        assert_eq!(reminder["status"], "delivered", "{reminder}");
        assert_eq!(
            reminder["attempts"], 1,
            "the killed process recorded no attempt: {reminder}"
        );
    }
    for message in &message_ids {
        let (_, view) = second.get(&format!("/v1/messages/{message}")).await;
        for recipient in view["recipients"].as_array().unwrap() {
            assert_eq!(recipient["status"], "delivered", "{view}");
            assert_eq!(recipient["attempts"].as_array().unwrap().len(), 1, "{view}");
        }
    }
}
