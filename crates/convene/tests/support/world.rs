//! The mail peers of the end-to-end tests and the steps they share.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use convene_testkit::{DnsConfig, Dnsmasq, SelfSignedCert, SmtpServer, free_port_on};
use serde_json::{Value, json};

use super::Convene;

const TLS_MX: &str = "127.0.0.2";
const PLAIN_MX: &str = "127.0.0.3";

/// A DNS server and two SMTP servers on one port: `alpha.test` has its MX
/// on 127.0.0.2 with STARTTLS, `beta.test` its MX on 127.0.0.3 in plain
/// text, `gamma.test` has no MX, only an A record for 127.0.0.3, and
/// `null.test` accepts no mail at all (a null MX).
pub struct MailWorld {
    pub dns: Dnsmasq,
    pub smtp_port: u16,
    pub tls_server: SmtpServer,
    pub plain_server: SmtpServer,
    _cert: SelfSignedCert,
    _spools: [tempfile::TempDir; 2],
}

impl MailWorld {
    pub fn start() -> MailWorld {
        let tls_ip: IpAddr = TLS_MX.parse().unwrap();
        let plain_ip: IpAddr = PLAIN_MX.parse().unwrap();
        let dns = Dnsmasq::start(
            DnsConfig::new()
                .mx("alpha.test", "mx.alpha.test", 10)
                .host("mx.alpha.test", tls_ip)
                .mx("beta.test", "mx.beta.test", 10)
                .host("mx.beta.test", plain_ip)
                .host("gamma.test", plain_ip)
                .null_mx("null.test"),
        )
        .expect("dnsmasq starts");
        let smtp_port = free_port_on(&[tls_ip, plain_ip]);
        let cert = SelfSignedCert::generate(&["mx.alpha.test"]).unwrap();
        let spools = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let tls_server = SmtpServer::start(
            tls_ip,
            smtp_port,
            Some((cert.cert_path(), cert.key_path())),
            spools[0].path(),
        )
        .expect("aiosmtpd with STARTTLS starts");
        let plain_server = SmtpServer::start(plain_ip, smtp_port, None, spools[1].path())
            .expect("aiosmtpd starts");
        MailWorld {
            dns,
            smtp_port,
            tls_server,
            plain_server,
            _cert: cert,
            _spools: spools,
        }
    }

    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CONVENE_DNS_SERVER", self.dns.addr().to_string()),
            ("CONVENE_SMTP_PORT", self.smtp_port.to_string()),
            ("CONVENE_NOTIFIER_INTERVAL", "200ms".to_owned()),
        ]
    }

    /// Returns every message either server accepted, with its TLS use, except invitations.
    pub fn messages(&self) -> Vec<convene_testkit::SpooledMessage> {
        self.all_messages()
            .into_iter()
            .filter(|message| !is_invitation(message))
            .collect()
    }

    /// Returns the invitations either server accepted: messages with a text/calendar part.
    pub fn invitations(&self) -> Vec<convene_testkit::SpooledMessage> {
        self.all_messages()
            .into_iter()
            .filter(is_invitation)
            .collect()
    }

    fn all_messages(&self) -> Vec<convene_testkit::SpooledMessage> {
        let mut all = self.tls_server.messages().unwrap();
        all.extend(self.plain_server.messages().unwrap());
        all
    }
}

fn is_invitation(message: &convene_testkit::SpooledMessage) -> bool {
    message.data.contains("text/calendar;")
}

/// Creates four people on three domains and an event whose one reminder
/// is due `due_in` from now. Returns the event id and each person's
/// address with their id.
pub async fn book_soon(convene: &Convene, due_in: Duration) -> (String, Vec<(String, String)>) {
    let people = [
        ("Ann Organizer", "ann@alpha.test", Some("Europe/Berlin")),
        ("Aby Alpha", "aby@alpha.test", None),
        ("Bob Beta", "bob@beta.test", Some("America/New_York")),
        ("Cid Gamma", "cid@gamma.test", None),
    ];
    let mut ids = Vec::new();
    for (name, email, time_zone) in people {
        let (status, user) = convene
            .post(
                "/v1/users",
                json!({"name": name, "email": email, "time_zone": time_zone}),
            )
            .await;
        assert_eq!(status, 201, "{user}");
        ids.push((email.to_owned(), user["id"].as_str().unwrap().to_owned()));
    }

    let (start, end) = reminder_due_in(due_in);
    let (status, event) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Launch review",
                "location": "Room 4",
                "start": start.to_string(),
                "end": end.to_string(),
                "time_zone": "Europe/Berlin",
                "organizer": ids[0].1,
                "participants": [ids[1].1, ids[2].1, ids[3].1],
                "reminders": [{"before": "PT1H"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    (event["id"].as_str().unwrap().to_owned(), ids)
}

/// Returns the start and end of a 30-minute event whose reminder one hour
/// before the start is due `due_in` from now.
fn reminder_due_in(due_in: Duration) -> (jiff::Timestamp, jiff::Timestamp) {
    let start = jiff::Timestamp::now()
        .checked_add(
            jiff::SignedDuration::from_secs(3600) + jiff::SignedDuration::try_from(due_in).unwrap(),
        )
        .unwrap()
        .round(jiff::Unit::Second)
        .unwrap();
    let end = start
        .checked_add(jiff::SignedDuration::from_secs(1800))
        .unwrap();
    (start, end)
}

/// Books an event titled `title` by the users `organizer` and
/// `participants` whose one reminder is due in about a second, and returns
/// the event id.
pub async fn book_reminder_due_now(
    convene: &Convene,
    title: &str,
    organizer: &str,
    participants: &[&str],
) -> String {
    let (start, end) = reminder_due_in(Duration::from_secs(1));
    let (status, event) = convene
        .post(
            "/v1/events",
            json!({
                "title": title,
                "start": start.to_string(),
                "end": end.to_string(),
                "organizer": organizer,
                "participants": participants,
                "reminders": [{"before": "PT1H"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    event["id"].as_str().unwrap().to_owned()
}

/// Polls the event's reminders until `done` holds for all of them.
pub async fn wait_for_reminders(
    convene: &Convene,
    event: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, reminders) = convene.get(&format!("/v1/events/{event}/reminders")).await;
        assert_eq!(status, 200, "{reminders}");
        let reminders = reminders["items"].as_array().unwrap().clone();
        if !reminders.is_empty() && reminders.iter().all(&done) {
            return reminders;
        }
        assert!(
            Instant::now() < deadline,
            "reminders never became {what}: {reminders:#?}\nconvene log:\n{}",
            convene.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
