//! Checks that the peers start, reply as documented and stop when dropped, and that test
//! databases are created empty and dropped.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use convene_testkit::postgres::POSTGRES_URL_VARIABLE;
use convene_testkit::{
    DnsConfig, Dnsmasq, Peer, SelfSignedCert, SmtpServer, SmtpSink, TestDatabase, free_port_on,
    require_peers, run_python,
};
use sqlx::{Connection, PgConnection};

/// The parts of a DNS response that the tests check.
#[derive(Debug)]
struct Response {
    rcode: u8,
    answer_count: u16,
    packet: Vec<u8>,
}

const TYPE_A: u16 = 1;
const TYPE_MX: u16 = 15;

/// Sends one query over UDP and returns the response.
fn query(server: SocketAddr, name: &str, record_type: u16) -> std::io::Result<Response> {
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&record_type.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());

    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    socket.connect(server)?;
    socket.send(&packet)?;
    let mut buffer = [0u8; 512];
    let len = socket.recv(&mut buffer)?;
    let packet = buffer[..len].to_vec();
    Ok(Response {
        rcode: packet[3] & 0x0f,
        answer_count: u16::from_be_bytes([packet[6], packet[7]]),
        packet,
    })
}

const NOERROR: u8 = 0;
const NXDOMAIN: u8 = 3;
const REFUSED: u8 = 5;

#[test]
fn dnsmasq_answers_only_configured_records() {
    if !require_peers("dnsmasq_answers_only_configured_records", &[Peer::Dnsmasq]) {
        return;
    }
    let dns = Dnsmasq::start(
        DnsConfig::new()
            .mx("alpha.test", "mx.alpha.test", 10)
            .host("mx.alpha.test", "127.0.0.2".parse().unwrap())
            .host("gamma.test", "127.0.0.3".parse().unwrap())
            .null_mx("null.test"),
    )
    .expect("dnsmasq starts");

    let cases = [
        // (name, type, response code, number of answers)
        ("alpha.test", TYPE_MX, NOERROR, 1),
        ("mx.alpha.test", TYPE_A, NOERROR, 1),
        ("gamma.test", TYPE_MX, NOERROR, 0),
        ("null.test", TYPE_MX, NOERROR, 1),
        ("unknown.test", TYPE_MX, NXDOMAIN, 0),
        ("elsewhere.example", TYPE_A, REFUSED, 0),
    ];
    for (name, record_type, rcode, answer_count) in cases {
        let response = query(dns.addr(), name, record_type).expect("dnsmasq answers");
        assert_eq!(
            response.rcode, rcode,
            "{name} type {record_type}: {response:?}"
        );
        assert_eq!(
            response.answer_count, answer_count,
            "{name} type {record_type}"
        );
    }

    // The null MX record's data is preference 0 and the root name: three zero octets, the
    // last octets of the response because it has no other sections.
    let null_mx = query(dns.addr(), "null.test", TYPE_MX).unwrap();
    assert!(
        null_mx.packet.ends_with(&[0, 3, 0, 0, 0]),
        "{:?}",
        null_mx.packet
    );

    // The A record's data is the configured address.
    let a_record = query(dns.addr(), "mx.alpha.test", TYPE_A).unwrap();
    assert!(
        a_record.packet.ends_with(&[0, 4, 127, 0, 0, 2]),
        "{:?}",
        a_record.packet
    );
}

#[test]
fn dnsmasq_stops_when_dropped() {
    if !require_peers("dnsmasq_stops_when_dropped", &[Peer::Dnsmasq]) {
        return;
    }
    let dns = Dnsmasq::start(DnsConfig::new()).expect("dnsmasq starts");
    let addr = dns.addr();
    assert!(query(addr, "alpha.test", TYPE_MX).is_ok());

    drop(dns);

    assert!(
        query(addr, "alpha.test", TYPE_MX).is_err(),
        "dnsmasq still answers on {addr}"
    );
}

/// Reads one SMTP reply and returns its lines.
fn read_reply(reader: &mut impl BufRead) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply line");
        let line = line.trim_end().to_owned();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return lines;
        }
    }
}

/// Sends `command` and returns the reply lines.
fn command(stream: &mut TcpStream, reader: &mut impl BufRead, command: &str) -> Vec<String> {
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    read_reply(reader)
}

#[test]
fn smtp_server_spools_each_message() {
    if !require_peers("smtp_server_spools_each_message", &[Peer::Aiosmtpd]) {
        return;
    }
    let ip: IpAddr = "127.0.3.1".parse().unwrap();
    let port = free_port_on(&[ip]);
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(ip, port, None, spool.path()).expect("aiosmtpd starts");

    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert!(read_reply(&mut reader)[0].starts_with("220"));
    let ehlo = command(&mut stream, &mut reader, "EHLO client.test");
    assert!(
        !ehlo.iter().any(|line| line.contains("STARTTLS")),
        "{ehlo:?}"
    );
    for step in [
        "MAIL FROM:<a@convene.test>",
        "RCPT TO:<b@alpha.test>",
        "RCPT TO:<c@alpha.test>",
    ] {
        let reply = command(&mut stream, &mut reader, step);
        assert!(reply[0].starts_with("250"), "{step}: {reply:?}");
    }
    assert!(command(&mut stream, &mut reader, "DATA")[0].starts_with("354"));
    let reply = command(
        &mut stream,
        &mut reader,
        "Subject: test\r\n\r\n..dot\r\nend\r\n.",
    );
    assert!(reply[0].starts_with("250"), "{reply:?}");
    command(&mut stream, &mut reader, "QUIT");

    let messages = server.messages().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message.mail_from, "a@convene.test");
    assert_eq!(message.rcpt_tos, ["b@alpha.test", "c@alpha.test"]);
    assert_eq!(message.data, "Subject: test\r\n\r\n.dot\r\nend\r\n");
    assert!(!message.tls);
    assert_eq!(message.tls_version, None);
    assert_eq!(message.local, format!("{ip}:{port}"));
    assert!(message.peer.starts_with("127."), "{}", message.peer);
}

#[test]
fn smtp_server_offers_starttls_with_certificate() {
    if !require_peers(
        "smtp_server_offers_starttls_with_certificate",
        &[Peer::Aiosmtpd],
    ) {
        return;
    }
    let ip: IpAddr = "127.0.3.2".parse().unwrap();
    let port = free_port_on(&[ip]);
    let cert = SelfSignedCert::generate(&["mx.alpha.test"]).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(
        ip,
        port,
        Some((cert.cert_path(), cert.key_path())),
        spool.path(),
    )
    .expect("aiosmtpd starts");

    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    read_reply(&mut reader);
    let ehlo = command(&mut stream, &mut reader, "EHLO client.test");
    assert!(ehlo.iter().any(|line| line == "250-STARTTLS"), "{ehlo:?}");
    // STARTTLS is offered, not required: a plain transaction is still accepted.
    let mail = command(&mut stream, &mut reader, "MAIL FROM:<a@convene.test>");
    assert!(mail[0].starts_with("250"), "{mail:?}");
}

#[test]
fn smtp_server_start_fails_on_taken_port() {
    if !require_peers("smtp_server_start_fails_on_taken_port", &[Peer::Aiosmtpd]) {
        return;
    }
    let ip: IpAddr = "127.0.3.3".parse().unwrap();
    let occupying_listener = TcpListener::bind((ip, 0)).unwrap();
    let port = occupying_listener.local_addr().unwrap().port();
    let spool = tempfile::tempdir().unwrap();

    let error = match SmtpServer::start(ip, port, None, spool.path()) {
        Ok(_) => panic!("started on a port that is in use"),
        Err(error) => error.to_string(),
    };

    assert!(error.contains("aiosmtpd did not start"), "{error}");
    assert!(error.contains("in use"), "{error}");
}

#[test]
fn smtp_sink_dumps_each_message() {
    if !require_peers("smtp_sink_dumps_each_message", &[Peer::SmtpSink]) {
        return;
    }
    let ip: IpAddr = "127.0.3.6".parse().unwrap();
    let port = free_port_on(&[ip]);
    let sink = SmtpSink::start(ip, port).expect("smtp-sink starts");
    assert_eq!(sink.addr(), SocketAddr::new(ip, port));

    let mut stream = TcpStream::connect(sink.addr()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert!(read_reply(&mut reader)[0].starts_with("220"));
    command(&mut stream, &mut reader, "EHLO client.test");
    let transactions = [
        (
            [
                "MAIL FROM:<a@convene.test>",
                "RCPT TO:<b@alpha.test>",
                "RCPT TO:<c@alpha.test>",
            ],
            "Subject: one\r\n\r\n..dot\r\n-- \r\nend",
        ),
        (
            [
                "MAIL FROM:<d@convene.test>",
                "RCPT TO:<e@beta.test>",
                "NOOP",
            ],
            "Subject: two\r\n\r\nsecond",
        ),
    ];
    for (steps, data) in transactions {
        for step in steps {
            let reply = command(&mut stream, &mut reader, step);
            assert!(reply[0].starts_with("250"), "{step}: {reply:?}");
        }
        assert!(command(&mut stream, &mut reader, "DATA")[0].starts_with("354"));
        let reply = command(&mut stream, &mut reader, &format!("{data}\r\n."));
        assert!(reply[0].starts_with("250"), "{reply:?}");
    }
    command(&mut stream, &mut reader, "QUIT");

    // Both files may carry the same modification time, so their order is not known.
    let mut messages = sink.messages().unwrap();
    messages.sort_by(|a, b| a.mail_from.cmp(&b.mail_from));
    assert_eq!(messages.len(), 2, "{messages:?}\n{}", sink.log());
    assert_eq!(messages[0].mail_from, "a@convene.test");
    assert_eq!(messages[0].rcpt_tos, ["b@alpha.test", "c@alpha.test"]);
    assert_eq!(
        messages[0].data,
        "Subject: one\r\n\r\n.dot\r\n-- \r\nend\r\n"
    );
    assert_eq!(messages[1].mail_from, "d@convene.test");
    assert_eq!(messages[1].rcpt_tos, ["e@beta.test"]);
    assert_eq!(messages[1].data, "Subject: two\r\n\r\nsecond\r\n");
}

#[test]
fn smtp_sink_start_fails_on_taken_port() {
    if !require_peers("smtp_sink_start_fails_on_taken_port", &[Peer::SmtpSink]) {
        return;
    }
    let ip: IpAddr = "127.0.3.7".parse().unwrap();
    let occupying_listener = TcpListener::bind((ip, 0)).unwrap();
    let port = occupying_listener.local_addr().unwrap().port();

    let error = match SmtpSink::start(ip, port) {
        Ok(_) => panic!("started on a port that is in use"),
        Err(error) => error.to_string(),
    };

    assert!(error.contains("smtp-sink did not start"), "{error}");
    assert!(error.contains("in use"), "{error}");
}

#[test]
fn smtp_sink_stops_when_dropped() {
    if !require_peers("smtp_sink_stops_when_dropped", &[Peer::SmtpSink]) {
        return;
    }
    let ip: IpAddr = "127.0.3.8".parse().unwrap();
    let port = free_port_on(&[ip]);
    let sink = SmtpSink::start(ip, port).expect("smtp-sink starts");
    let addr = sink.addr();

    drop(sink);

    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "smtp-sink still accepts connections on {addr}"
    );
}

#[test]
fn run_python_returns_stdout() {
    if !require_peers("run_python_returns_stdout", &[Peer::Python3]) {
        return;
    }
    let output = run_python(
        "import sys; sys.stdout.write(sys.stdin.read().upper())",
        b"mime",
    );
    assert_eq!(output, b"MIME");
}

#[test]
fn run_python_panics_when_script_fails() {
    if !require_peers("run_python_panics_when_script_fails", &[Peer::Python3]) {
        return;
    }
    let panic = std::panic::catch_unwind(|| run_python("raise SystemExit(3)", b""))
        .expect_err("a failing script panics");
    let message = panic
        .downcast::<String>()
        .expect("a formatted panic message");
    assert!(message.contains("the Python script failed"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
}

#[test]
fn free_port_on_finds_common_port() {
    let addresses: [IpAddr; 2] = ["127.0.3.4".parse().unwrap(), "127.0.3.5".parse().unwrap()];
    let port = free_port_on(&addresses);
    for address in addresses {
        assert!(
            TcpListener::bind((address, port)).is_ok(),
            "{address}:{port} is taken"
        );
    }
}

#[test]
fn self_signed_cert_writes_pem_files() {
    let cert = SelfSignedCert::generate(&["mx.alpha.test", "127.0.0.2"]).unwrap();
    let cert_pem = fs::read_to_string(cert.cert_path()).unwrap();
    let key_pem = fs::read_to_string(cert.key_path()).unwrap();
    assert!(
        cert_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{cert_pem}"
    );
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{key_pem}"
    );

    let dir = cert.cert_path().parent().unwrap().to_owned();
    drop(cert);
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[tokio::test]
async fn test_database_dropped_with_open_connection() {
    let Some(database) = TestDatabase::create("test_database_dropped_with_open_connection").await
    else {
        return;
    };
    let name = database.name().to_owned();
    assert!(name.starts_with("convene_t_"), "{name}");

    // The new database accepts connections and is empty.
    let mut connection = PgConnection::connect(database.url()).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(current, name);
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(tables, 0);

    // Dropping it ends the connection that is still open and removes the database.
    let server = std::env::var(POSTGRES_URL_VARIABLE).unwrap();
    drop(database);
    let mut admin = PgConnection::connect(&server).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "{name} still exists");
    assert!(
        sqlx::query("SELECT 1")
            .execute(&mut connection)
            .await
            .is_err(),
        "the connection to {name} still works"
    );
}
