//! A scripted SMTP server for faults that real servers do not produce on demand: rejected
//! greetings, silence, malformed replies, STARTTLS followed by garbage, and chosen RCPT
//! replies.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the server behaves on every connection.
#[derive(Debug, Clone)]
pub struct Script {
    /// The raw greeting, with CRLF line endings. `None` sends nothing and waits for the
    /// client to give up.
    pub greeting: Option<String>,
    /// Whether the server closes the connection right after the greeting.
    pub close_after_greeting: bool,
    /// The raw reply to EHLO.
    pub ehlo_reply: String,
    /// Whether EHLO announces STARTTLS, and how the server then breaks it.
    pub starttls: StartTls,
}

/// The server's behaviour after STARTTLS. It never completes a TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    /// STARTTLS is not announced.
    NotOffered,
    /// The server replies 220, waits for the client's first handshake message and then
    /// sends bytes that are not a TLS record.
    GarbageHandshake,
    /// The server sends more text right behind its 220 reply, before any handshake, as in a
    /// STARTTLS command injection.
    DataAfterReply,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            greeting: Some("220-fault.test ESMTP\r\n220 ready\r\n".to_owned()),
            close_after_greeting: false,
            ehlo_reply: "250-fault.test\r\n250 8BITMIME\r\n".to_owned(),
            starttls: StartTls::NotOffered,
        }
    }
}

/// What the server received on one connection.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Every command line, without its line ending.
    pub commands: Vec<String>,
    /// The data of every message, with dot-stuffing removed.
    pub messages: Vec<String>,
    /// Whether a TLS handshake record (content type 22) arrived after STARTTLS.
    pub received_client_hello: bool,
}

impl Session {
    pub fn has_command(&self, verb: &str) -> bool {
        self.commands
            .iter()
            .any(|command| command.starts_with(verb))
    }
}

/// A running scripted server, stopped when dropped.
pub struct FaultServer {
    sessions: Arc<Mutex<Vec<Session>>>,
    task: JoinHandle<()>,
}

impl FaultServer {
    pub async fn start(addr: SocketAddr, script: Script) -> FaultServer {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|error| panic!("bind {addr}: {error}"));
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::clone(&sessions);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let index = {
                    let mut sessions = accepted.lock().unwrap();
                    sessions.push(Session::default());
                    sessions.len() - 1
                };
                let sessions = Arc::clone(&accepted);
                let script = script.clone();
                tokio::spawn(async move {
                    // A client that hangs up early ends the session with an error; the
                    // transcript so far is what the test checks.
                    let _ = serve(stream, &script, &sessions, index).await;
                });
            }
        });
        FaultServer { sessions, task }
    }

    /// Returns a copy of every session so far, in the order the connections arrived.
    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Returns the reply to `RCPT TO` for the local part: 550 for `reject…`, 452 for `busy…`
/// and 250 for anything else.
fn rcpt_reply(command: &str) -> &'static str {
    let address = command.trim_start_matches("RCPT TO:<");
    if address.starts_with("reject") {
        "550 5.1.1 no such user\r\n"
    } else if address.starts_with("busy") {
        "452 4.2.2 mailbox full\r\n"
    } else {
        "250 2.1.5 ok\r\n"
    }
}

async fn serve(
    stream: TcpStream,
    script: &Script,
    sessions: &Mutex<Vec<Session>>,
    index: usize,
) -> std::io::Result<()> {
    let record_command = |line: &str| {
        sessions.lock().unwrap()[index]
            .commands
            .push(line.to_owned())
    };
    let mut stream = BufReader::new(stream);

    let Some(greeting) = &script.greeting else {
        // Wait until the client closes the connection.
        let mut line = String::new();
        while stream.read_line(&mut line).await? > 0 {}
        return Ok(());
    };
    stream.get_mut().write_all(greeting.as_bytes()).await?;
    if script.close_after_greeting {
        return Ok(());
    }

    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']).to_owned();
        record_command(&command);
        let verb = command
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();

        let reply: String = match verb.as_str() {
            "EHLO" if script.starttls != StartTls::NotOffered => {
                // The first line carries the server name, so the keyword goes second.
                let (first, rest) = script.ehlo_reply.split_once("\r\n").unwrap_or_default();
                format!(
                    "{}\r\n250-STARTTLS\r\n{rest}",
                    first.replacen("250 ", "250-", 1)
                )
            }
            "EHLO" => script.ehlo_reply.clone(),
            "HELO" => "250 fault.test\r\n".to_owned(),
            "STARTTLS" if script.starttls == StartTls::GarbageHandshake => {
                stream.get_mut().write_all(b"220 go ahead\r\n").await?;
                let mut client_hello = [0u8; 512];
                let len = stream.read(&mut client_hello).await?;
                if len > 0 && client_hello[0] == 22 {
                    sessions.lock().unwrap()[index].received_client_hello = true;
                }
                stream
                    .get_mut()
                    .write_all(b"this is not a TLS record\r\n")
                    .await?;
                return Ok(());
            }
            "STARTTLS" if script.starttls == StartTls::DataAfterReply => {
                let reply = b"220 go ahead\r\n250 injected\r\n";
                stream.get_mut().write_all(reply).await?;
                return Ok(());
            }
            "MAIL" | "RSET" | "NOOP" => "250 2.0.0 ok\r\n".to_owned(),
            "RCPT" => rcpt_reply(&command).to_owned(),
            "DATA" => {
                stream
                    .get_mut()
                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                    .await?;
                let message = read_message(&mut stream).await?;
                sessions.lock().unwrap()[index].messages.push(message);
                "250 2.0.0 queued\r\n".to_owned()
            }
            "QUIT" => {
                stream.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "500 5.5.2 unknown command\r\n".to_owned(),
        };
        stream.get_mut().write_all(reply.as_bytes()).await?;
    }
}

/// Reads message data up to the line with a single dot and removes dot-stuffing.
async fn read_message(stream: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut message = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == ".\r\n" {
            return Ok(message);
        }
        message.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}
