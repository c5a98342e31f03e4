//! An aiosmtpd SMTP server on loopback that stores every accepted message in a spool.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::process::PeerProcess;
use crate::spool::read_spool;

/// Maximum time to wait for the server to listen. A generous bound for a loaded machine:
/// starting Python and importing aiosmtpd normally takes well under a second.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The server script, run with `python3`.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/smtp_server.py");

/// One message accepted by an [`SmtpServer`], as stored in its spool.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpooledMessage {
    /// The reverse path from `MAIL FROM`, without angle brackets.
    pub mail_from: String,
    /// The forward paths from every accepted `RCPT TO`, in the order received.
    pub rcpt_tos: Vec<String>,
    /// The message as received after `DATA`, with dot-stuffing removed and line endings
    /// kept. Bytes that are not valid UTF-8 are replaced with U+FFFD.
    pub data: String,
    /// Whether the message arrived over TLS, after STARTTLS or with implicit TLS.
    pub tls: bool,
    /// The TLS protocol version, such as `TLSv1.3`, when `tls` is true.
    pub tls_version: Option<String>,
    /// The cipher suite by its OpenSSL name, such as `TLS_AES_256_GCM_SHA384`, when `tls` is
    /// true.
    #[serde(default)]
    pub tls_cipher: Option<String>,
    /// The user name the client authenticated as, when the server requires AUTH.
    #[serde(default)]
    pub auth_login: Option<String>,
    /// The client's address, as `ip:port`.
    pub peer: String,
    /// The server's address that the client connected to, as `ip:port`.
    pub local: String,
}

/// Settings of an [`SmtpServer`] beyond its address and spool.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmtpOptions<'a> {
    /// The PEM certificate and key. With them the server offers STARTTLS without requiring
    /// it, or speaks TLS from the first byte when `implicit_tls` is set.
    pub tls: Option<(&'a Path, &'a Path)>,
    /// TLS from the first byte, as on port 465. Needs `tls`.
    pub implicit_tls: bool,
    /// A user name and password that AUTH must present before MAIL. AUTH is offered only
    /// over TLS.
    pub auth: Option<(&'a str, &'a str)>,
    /// AUTH mechanisms not to offer, such as `PLAIN`.
    pub auth_exclude: &'a [&'a str],
    /// Whether EHLO announces PIPELINING.
    pub pipelining: bool,
}

/// A running aiosmtpd server, killed when dropped.
///
/// It rejects `RCPT TO` with 550 5.1.1 for local parts that start with `reject` and with
/// 452 4.2.2 for local parts that start with `busy`, and accepts every other recipient.
pub struct SmtpServer {
    process: PeerProcess,
    addr: SocketAddr,
    spool_dir: PathBuf,
}

impl SmtpServer {
    /// Starts an SMTP server on `ip:port` and waits until it accepts connections.
    ///
    /// With `tls` set to the paths of a PEM certificate and key, the server offers STARTTLS
    /// without requiring it. Each accepted message becomes one JSON file in `spool_dir`,
    /// which must exist.
    pub fn start(
        ip: IpAddr,
        port: u16,
        tls: Option<(&Path, &Path)>,
        spool_dir: &Path,
    ) -> io::Result<SmtpServer> {
        let options = SmtpOptions {
            tls,
            ..SmtpOptions::default()
        };
        SmtpServer::start_with(ip, port, spool_dir, &options)
    }

    /// Starts an SMTP server on `ip:port` with `options` and waits until it accepts
    /// connections. Each accepted message becomes one JSON file in `spool_dir`, which must
    /// exist.
    pub fn start_with(
        ip: IpAddr,
        port: u16,
        spool_dir: &Path,
        options: &SmtpOptions<'_>,
    ) -> io::Result<SmtpServer> {
        let mut command = Command::new("python3");
        command
            .arg(SCRIPT)
            .arg("--host")
            .arg(ip.to_string())
            .arg("--port")
            .arg(port.to_string());
        command.arg("--spool").arg(spool_dir);
        if let Some((cert, key)) = options.tls {
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if options.implicit_tls {
            command.arg("--implicit-tls");
        }
        if let Some((user, password)) = options.auth {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        for mechanism in options.auth_exclude {
            command.arg("--auth-exclude").arg(mechanism);
        }
        if options.pipelining {
            command.arg("--pipelining");
        }

        let mut process = PeerProcess::spawn("aiosmtpd", command, true)?;
        let addr = SocketAddr::new(ip, port);
        wait_until_listening(&mut process, addr)?;
        Ok(SmtpServer {
            process,
            addr,
            spool_dir: spool_dir.to_owned(),
        })
    }

    /// Returns the address that the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads every message in the spool, oldest first.
    pub fn messages(&self) -> io::Result<Vec<SpooledMessage>> {
        // File names start with the arrival time in nanoseconds, zero-padded.
        read_spool(&self.spool_dir)
    }

    /// Returns the server's log so far (aiosmtpd's warnings and errors).
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// Waits for the script's "ready" line, which it prints once it has bound the port, and then
/// for a TCP connection to succeed.
fn wait_until_listening(process: &mut PeerProcess, addr: SocketAddr) -> io::Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let line = process.first_stdout_line(STARTUP_TIMEOUT)?;
    if line != "ready" {
        return Err(process.startup_error(&format!("unexpected output {line:?}")));
    }
    process.wait_for_connection(addr, deadline)
}
