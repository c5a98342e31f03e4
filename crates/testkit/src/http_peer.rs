//! HTTP peers for the channels that send over HTTP: an SMS gateway, a webhook receiver and
//! a Web Push service, each a Python script on loopback that checks what it receives with
//! an independent implementation.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;

use crate::process::PeerProcess;
use crate::spool::read_spool;

/// Maximum time to wait for the peer to listen. A generous bound for a loaded machine:
/// starting Python and importing `cryptography` normally takes well under a second.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The peer script, run with `python3`.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/http_peer.py");

/// One request that an [`HttpPeer`] received, as it recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceivedRequest {
    pub method: String,
    /// The path and query, such as `/2010-04-01/Accounts/AC1/Messages.json`.
    pub path: String,
    /// The request headers, with names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body, decoded as UTF-8 with U+FFFD for bytes that are not.
    pub body: String,
    /// The status the peer replied with.
    pub status: u16,
    /// The reason one of the peer's checks failed, or `None` when all passed or none ran.
    pub error: Option<String>,
    /// SMS: the form fields as Python's `urllib.parse.parse_qs` read them.
    #[serde(default)]
    pub form: Option<BTreeMap<String, Vec<String>>>,
    /// SMS: the user name of HTTP Basic authentication.
    #[serde(default)]
    pub auth_user: Option<String>,
    /// Webhook: the payload that `standardwebhooks` verified and parsed.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// Web Push: the message that `http_ece` decrypted, as UTF-8.
    #[serde(default)]
    pub plaintext: Option<String>,
    /// Web Push: the claims of the VAPID token, once its signature was read.
    #[serde(default)]
    pub claims: Option<serde_json::Value>,
}

/// A Web Push subscription that a push service peer made, in base64url, as a browser
/// would report it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PeerSubscription {
    /// The public key of the subscription's P-256 key pair, an uncompressed point.
    pub p256dh: String,
    /// The 16-byte authentication secret.
    pub auth: String,
}

/// The first line a peer prints: where it listens and, for push, its subscription.
#[derive(Deserialize)]
struct Ready {
    port: u16,
    #[serde(flatten)]
    subscription: Option<PeerSubscription>,
}

/// A running HTTP peer on `127.0.0.1`, killed when dropped.
///
/// Every peer replies to a path that starts with `/status/CODE` with that status and no
/// checks, adding `Retry-After: N` when the path continues with `/retry-after/N`, so tests
/// can produce faults. The script `peers/http_peer.py` describes each peer's checks and
/// replies.
pub struct HttpPeer {
    process: PeerProcess,
    addr: SocketAddr,
    /// `https` when the peer was started with a certificate, else `http`.
    scheme: &'static str,
    spool: TempDir,
    subscription: Option<PeerSubscription>,
}

impl HttpPeer {
    /// Starts an SMS gateway that takes the request form of Twilio's Messages API for the
    /// account `account_sid` with the auth token `auth_token`. It replies 201 with a
    /// message SID, 401 for other credentials, and 400 with error 21211 for the number
    /// `+15005550001` and 21610 for `+15005550004`.
    pub fn sms_gateway(account_sid: &str, auth_token: &str) -> io::Result<HttpPeer> {
        HttpPeer::start(
            "sms",
            &[
                ("PEER_ACCOUNT_SID", account_sid),
                ("PEER_AUTH_TOKEN", auth_token),
            ],
            None,
        )
    }

    /// Starts a webhook receiver that verifies every request with the PyPI package
    /// `standardwebhooks` and `secret` (`whsec_...`), replying 204 when it passes and 400
    /// when it does not.
    pub fn webhook_receiver(secret: &str) -> io::Result<HttpPeer> {
        HttpPeer::start("webhook", &[("PEER_WEBHOOK_SECRET", secret)], None)
    }

    /// Starts a webhook receiver, as [`HttpPeer::webhook_receiver`] does, that speaks HTTPS
    /// with the PEM certificate and key at `tls`.
    pub fn webhook_receiver_over_tls(secret: &str, tls: (&Path, &Path)) -> io::Result<HttpPeer> {
        HttpPeer::start("webhook", &[("PEER_WEBHOOK_SECRET", secret)], Some(tls))
    }

    /// Starts a Web Push service with a subscription of its own making, which
    /// [`HttpPeer::subscription`] returns. It verifies the VAPID token, decrypts each
    /// message with the PyPI package `http_ece` and replies 201. With `vapid_key`, the
    /// base64url public key the subscription was made with, it replies 403 to any other key.
    pub fn push_service(vapid_key: Option<&str>) -> io::Result<HttpPeer> {
        match vapid_key {
            Some(key) => HttpPeer::start("push", &[("PEER_VAPID_KEY", key)], None),
            None => HttpPeer::start("push", &[], None),
        }
    }

    fn start(
        kind: &str,
        environment: &[(&str, &str)],
        tls: Option<(&Path, &Path)>,
    ) -> io::Result<HttpPeer> {
        let spool = tempfile::Builder::new()
            .prefix("convene-http-peer-")
            .tempdir()?;
        let mut command = Command::new("python3");
        command
            .arg(SCRIPT)
            .arg("--kind")
            .arg(kind)
            .arg("--spool")
            .arg(spool.path());
        command.envs(environment.iter().copied());
        if let Some((cert, key)) = tls {
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }

        let mut process = PeerProcess::spawn("http_peer.py", command, true)?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let line = process.first_stdout_line(STARTUP_TIMEOUT)?;
        let ready: Ready = serde_json::from_str(&line).map_err(|error| {
            process.startup_error(&format!("unexpected output {line:?}: {error}"))
        })?;
        let addr = SocketAddr::from(([127, 0, 0, 1], ready.port));
        process.wait_for_connection(addr, deadline)?;
        Ok(HttpPeer {
            process,
            addr,
            scheme: if tls.is_some() { "https" } else { "http" },
            spool,
            subscription: ready.subscription,
        })
    }

    /// Returns the address that the peer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns `http://127.0.0.1:PORT`, or `https://` for a peer with a certificate,
    /// followed by `path`, which starts with `/` or is empty.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Returns the subscription of a push service peer, or `None` for other peers.
    pub fn subscription(&self) -> Option<&PeerSubscription> {
        self.subscription.as_ref()
    }

    /// Reads every request received so far, oldest first.
    pub fn requests(&self) -> io::Result<Vec<ReceivedRequest>> {
        // File names are the arrival order, zero-padded.
        read_spool(self.spool.path())
    }

    /// Returns the peer's log so far: one line per request, and Python's errors.
    pub fn log(&self) -> String {
        self.process.log()
    }
}
