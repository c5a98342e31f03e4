//! Postfix's `smtp-sink` on loopback, dumping every accepted message to a file.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::PeerProcess;

/// Path of the program in the Debian package `postfix`.
pub(crate) const SMTP_SINK_PROGRAM: &str = "/usr/sbin/smtp-sink";

/// Maximum time to wait for the server to accept connections. It starts in milliseconds;
/// the bound only matters on a badly overloaded machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The unprivileged user that `smtp-sink` must switch to when started as root, which it
/// otherwise refuses.
const UNPRIVILEGED_USER: &str = "nobody";

/// One message accepted by an [`SmtpSink`], read back from its dump file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMessage {
    /// The argument of the client's last `EHLO` or `HELO` before this message, if it sent
    /// one.
    pub helo_name: Option<String>,
    /// The reverse path from `MAIL FROM`, without angle brackets.
    pub mail_from: String,
    /// The forward paths from every `RCPT TO`, in the order received.
    pub rcpt_tos: Vec<String>,
    /// The message as received after `DATA`, with dot-stuffing removed. `smtp-sink` drops
    /// every CR and stores lines with LF, so each LF is turned back into CRLF here. A bare CR
    /// or LF sent by the client therefore cannot be seen. Bytes that are not valid UTF-8 are
    /// replaced with U+FFFD.
    pub data: String,
}

/// A running `smtp-sink`, killed when dropped.
///
/// Unlike [`SmtpServer`](crate::SmtpServer), this is Postfix's own test server, a second,
/// independent SMTP implementation with a C parser of the DATA stream.
pub struct SmtpSink {
    process: PeerProcess,
    addr: SocketAddr,
    dump_dir: TempDir,
}

impl SmtpSink {
    /// Starts `smtp-sink` on `ip:port` and waits until it greets a connection.
    ///
    /// Every accepted message goes to its own file in a private temporary directory, which
    /// [`SmtpSink::messages`] reads. When the test runs as root, the server switches to the
    /// user `nobody`, as `smtp-sink` requires, and the directory is made writable for it.
    pub fn start(ip: IpAddr, port: u16) -> io::Result<SmtpSink> {
        let dump_dir = tempfile::Builder::new()
            .prefix("convene-smtp-sink-")
            .tempdir()?;
        let runs_as_root = effective_user_id()? == 0;
        if runs_as_root {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dump_dir.path(), fs::Permissions::from_mode(0o777))?;
        }

        // The greeting names this host, so that a wait for the greeting cannot be fooled by
        // another server on the same port.
        let hostname = format!("smtp-sink-{port}.convene.test");
        let endpoint = match ip {
            IpAddr::V4(ip) => format!("inet:{ip}:{port}"),
            IpAddr::V6(ip) => format!("inet:[{ip}]:{port}"),
        };
        let mut command = Command::new(SMTP_SINK_PROGRAM);
        if runs_as_root {
            command.arg("-u").arg(UNPRIVILEGED_USER);
        }
        command
            .arg("-h")
            .arg(&hostname)
            // The file name is the arrival time followed by a random number.
            .arg("-d")
            .arg(dump_dir.path().join("%Y%m%d%H%M%S."))
            .arg(endpoint)
            // The listen backlog.
            .arg("16");

        let mut process = PeerProcess::spawn("smtp-sink", command, false)?;
        let addr = SocketAddr::new(ip, port);
        wait_for_greeting(&mut process, addr, &hostname)?;
        Ok(SmtpSink {
            process,
            addr,
            dump_dir,
        })
    }

    /// Returns the address that the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads every message dumped so far, sorted by the modification time of its file.
    ///
    /// Messages dumped within one tick of the file system's clock, a few milliseconds, may
    /// come in any order. `smtp-sink` closes a message's file before it replies to the final
    /// `.`, so every message that a client saw accepted is complete here.
    pub fn messages(&self) -> io::Result<Vec<SinkMessage>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(self.dump_dir.path())? {
            let entry = entry?;
            let modified = entry.metadata()?.modified()?;
            files.push((modified, entry.path()));
        }
        files.sort();

        let mut messages = Vec::with_capacity(files.len());
        for (_, path) in files {
            let dump = fs::read(&path)?;
            let message = parse_dump(&String::from_utf8_lossy(&dump)).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("invalid smtp-sink dump file {}", path.display()),
                )
            })?;
            messages.push(message);
        }
        Ok(messages)
    }

    /// Counts the dump files, without reading them: the messages accepted so far and the
    /// transactions in progress, whose files `smtp-sink` deletes if they are not completed.
    pub fn dump_count(&self) -> io::Result<usize> {
        let mut count = 0;
        for entry in fs::read_dir(self.dump_dir.path())? {
            entry?;
            count += 1;
        }
        Ok(count)
    }

    /// Returns the server's log so far (its warnings and errors).
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// Parses one dump file: `X-Client-*`, `X-Helo-Args`, `X-Mail-Args` and `X-Rcpt-Args`
/// lines, a three-line `Received` header, the message with LF line endings, and the LF of
/// the final `.` line.
fn parse_dump(dump: &str) -> Option<SinkMessage> {
    let mut helo_name = None;
    let mut mail_from = None;
    let mut rcpt_tos = Vec::new();
    let mut lines = dump.split_inclusive('\n');
    for line in lines.by_ref() {
        if let Some(arguments) = line.strip_prefix("X-Helo-Args: ") {
            helo_name = Some(arguments.trim_end().to_owned());
        } else if let Some(arguments) = line.strip_prefix("X-Mail-Args: ") {
            mail_from = Some(path_argument(arguments));
        } else if let Some(arguments) = line.strip_prefix("X-Rcpt-Args: ") {
            rcpt_tos.push(path_argument(arguments));
        } else if line.starts_with("Received: ") {
            break;
        }
    }
    // The two continuation lines of the Received header.
    for _ in 0..2 {
        lines.next().filter(|line| line.starts_with('\t'))?;
    }

    let message: String = lines.collect();
    let message = message.strip_suffix('\n')?;
    Some(SinkMessage {
        helo_name,
        mail_from: mail_from?,
        rcpt_tos,
        data: message.replace('\n', "\r\n"),
    })
}

/// Returns the path of `<path> [parameters]` without angle brackets.
fn path_argument(arguments: &str) -> String {
    let path = arguments.split_whitespace().next().unwrap_or_default();
    path.trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// Returns the effective user id of this process, from `/proc/self/status`.
fn effective_user_id() -> io::Result<u32> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| io::Error::other("no effective user id in /proc/self/status"))
}

/// Connects until the server sends a greeting that names `hostname`, then sends QUIT.
fn wait_for_greeting(
    process: &mut PeerProcess,
    addr: SocketAddr,
    hostname: &str,
) -> io::Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if process.exit_status().is_some() {
            return Err(process.startup_error("the process exited"));
        }
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };

        // Another program listening on the port accepts the connection but never greets, and
        // smtp-sink then exits because it cannot bind: check for that between short reads.
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut reader = BufReader::new(&stream);
        let mut greeting = String::new();
        loop {
            match reader.read_line(&mut greeting) {
                Ok(_) => break,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(error) => {
                    return Err(
                        process.startup_error(&format!("reading the greeting failed: {error}"))
                    );
                }
            }
            if process.exit_status().is_some() {
                return Err(process.startup_error("the process exited"));
            }
            if Instant::now() >= deadline {
                return Err(process.startup_error(&format!("{addr} sent no greeting")));
            }
        }
        if greeting.starts_with("220 ") && greeting.contains(hostname) {
            // The server may already be gone when the test ends it, which changes nothing.
            let _ = stream.write_all(b"QUIT\r\n");
            return Ok(());
        }
        return Err(process.startup_error(&format!(
            "{addr} greeted with {greeting:?} instead of naming {hostname}"
        )));
    }
    Err(process.startup_error(&format!("{addr} accepted no connection")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dump_restores_message() {
        let dump = "X-Client-Addr: 127.0.0.1\n\
                    X-Client-Proto: ESMTP\n\
                    X-Helo-Args: client.convene.test\n\
                    X-Mail-Args: <a@convene.test> BODY=8BITMIME\n\
                    X-Rcpt-Args: <b@beta.test>\n\
                    X-Rcpt-Args: <c@gamma.test> NOTIFY=NEVER\n\
                    Received: from client.convene.test ([127.0.0.1])\n\
                    \tby smtp-sink-1.convene.test (smtp-sink) with ESMTP id 0d14188c;\n\
                    \tFri,  4 Dec 2026 22:14:17 +0000 (UTC)\n\
                    Subject: hi\n\
                    \n\
                    .leading dot\n\
                    \n";
        let message = parse_dump(dump).expect("valid dump");
        assert_eq!(message.helo_name.as_deref(), Some("client.convene.test"));
        assert_eq!(message.mail_from, "a@convene.test");
        assert_eq!(message.rcpt_tos, ["b@beta.test", "c@gamma.test"]);
        assert_eq!(message.data, "Subject: hi\r\n\r\n.leading dot\r\n");
    }

    #[test]
    fn parse_dump_rejects_truncated_file() {
        assert_eq!(parse_dump("X-Mail-Args: <a@convene.test>\n"), None);
        assert_eq!(
            parse_dump("X-Mail-Args: <a@convene.test>\nReceived: from x\n\tby y\n"),
            None
        );
    }
}
