//! A scripted SMTP server for faults that real servers do not produce on demand: chosen
//! replies at each step, silence, slow replies, dropped connections, STARTTLS followed by
//! garbage, and a record of which commands arrived together in one read.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    /// The raw reply to EHLO, without the STARTTLS and PIPELINING lines, which the server
    /// adds when `starttls` and `pipelining` are set.
    pub ehlo_reply: String,
    /// Whether EHLO announces STARTTLS, and how the server then breaks it.
    pub starttls: StartTls,
    /// Whether EHLO announces PIPELINING.
    pub pipelining: bool,
    /// Replacements for the server's own behaviour, by command verb (`EHLO`, `HELO`, `MAIL`,
    /// `RSET`, `DATA`) or `.` for the reply to the message data. The first match applies.
    pub overrides: Vec<(&'static str, Action)>,
    /// Whether the server replies 354 to DATA even when no recipient was accepted, which
    /// RFC 5321 does not allow.
    pub accept_data_without_recipients: bool,
    /// Closes the connection, without a reply to anything sent later, once this many
    /// messages were accepted on it.
    pub close_after_messages: Option<usize>,
    /// Closes the connection after reading the final dot of this message on a connection
    /// (1 for the first), without a reply.
    pub close_before_reply_to_message: Option<usize>,
    /// Raw text sent on its own, unasked, a moment after the reply to the first message on
    /// a connection, while the client keeps the connection idle.
    pub unsolicited_after_message: Option<String>,
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

/// What the server does in place of its usual reply.
#[derive(Debug, Clone)]
pub enum Action {
    /// Sends this raw reply, with CRLF line endings. After a 421 reply the server closes the
    /// connection, as RFC 5321, section 3.8, describes.
    Reply(String),
    /// Waits, then sends the reply.
    Delay(Duration, String),
    /// Closes the connection without a reply.
    Close,
    /// For `DATA`: replies 354, reads the first line of the message and closes the
    /// connection.
    CloseDuringData,
    /// For `DATA`: replies 354, reads once from the message, sends this raw reply and closes
    /// the connection while the rest of the message is still arriving.
    ReplyDuringData(String),
}

impl Action {
    pub fn reply(text: &str) -> Action {
        Action::Reply(text.to_owned())
    }
}

impl Default for Script {
    fn default() -> Script {
        Script {
            greeting: Some("220-fault.test ESMTP\r\n220 ready\r\n".to_owned()),
            close_after_greeting: false,
            ehlo_reply: "250-fault.test\r\n250 8BITMIME\r\n".to_owned(),
            starttls: StartTls::NotOffered,
            pipelining: false,
            overrides: Vec::new(),
            accept_data_without_recipients: false,
            close_after_messages: None,
            close_before_reply_to_message: None,
            unsolicited_after_message: None,
        }
    }
}

/// What the server received on one connection.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Every command line, without its line ending.
    pub commands: Vec<String>,
    /// The command lines in groups: each group contains the lines that one read returned,
    /// before the server sent any reply to them.
    pub groups: Vec<Vec<String>>,
    /// The data of every message whose final dot arrived, with dot-stuffing removed.
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

    pub fn count_commands(&self, verb: &str) -> usize {
        self.commands
            .iter()
            .filter(|command| command.starts_with(verb))
            .count()
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
                let mut server = Server {
                    wire: Wire {
                        stream,
                        buffer: Vec::new(),
                    },
                    script: script.clone(),
                    sessions: Arc::clone(&accepted),
                    index,
                    accepted_recipients: 0,
                    messages: 0,
                };
                tokio::spawn(async move {
                    // A client that hangs up early ends the session with an error; the
                    // transcript so far is what the test checks.
                    let _ = server.serve().await;
                });
            }
        });
        FaultServer { sessions, task }
    }

    /// Returns a copy of every session so far, in the order the connections arrived.
    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }

    /// Waits until the last command of every session is one of `verbs`, or 10 s have
    /// passed, and returns the sessions. QUIT is sent after results are returned, so tests
    /// that check it wait here.
    pub async fn sessions_ending_with(&self, verbs: &[&str]) -> Vec<Session> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let sessions = self.sessions();
            let ended = sessions.iter().all(|session| {
                session
                    .commands
                    .last()
                    .is_some_and(|last| verbs.iter().any(|verb| last.starts_with(verb)))
            });
            if ended || std::time::Instant::now() > deadline {
                return sessions;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP stream with a read buffer that can return every complete line received so far.
struct Wire {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Wire {
    /// Reads once more from the stream. Returns false at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 8192];
        let len = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..len]);
        Ok(len > 0)
    }

    /// Waits for at least one complete line and returns every complete line buffered, or
    /// `None` at the end of the stream.
    async fn read_lines(&mut self) -> std::io::Result<Option<Vec<String>>> {
        while !self.buffer.contains(&b'\n') {
            if !self.fill().await? {
                return Ok(None);
            }
        }
        let end = self.buffer.iter().rposition(|&byte| byte == b'\n').unwrap() + 1;
        let bytes: Vec<u8> = self.buffer.drain(..end).collect();
        let text = String::from_utf8_lossy(&bytes);
        Ok(Some(
            text.split_terminator('\n')
                .map(|line| line.trim_end_matches('\r').to_owned())
                .collect(),
        ))
    }

    /// Returns one line, with its line ending, or `None` at the end of the stream.
    async fn read_line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(position) = self.buffer.iter().position(|&byte| byte == b'\n') {
                let bytes: Vec<u8> = self.buffer.drain(..=position).collect();
                return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    async fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.stream.write_all(text.as_bytes()).await
    }
}

/// Whether the dialogue goes on after a command.
enum Next {
    Continue,
    Close,
}

struct Server {
    wire: Wire,
    script: Script,
    sessions: Arc<Mutex<Vec<Session>>>,
    index: usize,
    /// Recipients accepted since the last MAIL or RSET.
    accepted_recipients: usize,
    /// Messages accepted on this connection.
    messages: usize,
}

impl Server {
    fn record(&self, change: impl FnOnce(&mut Session)) {
        change(&mut self.sessions.lock().unwrap()[self.index]);
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let Some(greeting) = self.script.greeting.clone() else {
            // Wait until the client closes the connection.
            while self.wire.fill().await? {}
            return Ok(());
        };
        self.wire.write(&greeting).await?;
        if self.script.close_after_greeting {
            return Ok(());
        }

        // Replies to commands that arrived together are sent together, after the last of
        // them, so that each group shows what the client sent before waiting.
        while let Some(lines) = self.wire.read_lines().await? {
            self.record(|session| session.groups.push(lines.clone()));
            let mut replies = String::new();
            for command in lines {
                self.record(|session| session.commands.push(command.clone()));
                if let Next::Close = self.handle(&command, &mut replies).await? {
                    self.wire.write(&replies).await?;
                    return Ok(());
                }
            }
            self.wire.write(&replies).await?;
        }
        Ok(())
    }

    /// Replies to one command, appending the reply to `replies` or writing `replies` and
    /// more when the exchange needs it.
    async fn handle(&mut self, command: &str, replies: &mut String) -> std::io::Result<Next> {
        let verb = command
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let action = self.override_for(&verb);

        match verb.as_str() {
            "STARTTLS" if self.script.starttls != StartTls::NotOffered => {
                self.flush(replies).await?;
                self.break_starttls().await?;
                Ok(Next::Close)
            }
            "DATA" => {
                let action = action.unwrap_or_else(|| self.data_reply());
                self.data(action, replies).await
            }
            _ => {
                let action = action.unwrap_or_else(|| Action::Reply(self.reply(&verb, command)));
                if verb == "MAIL" || verb == "RSET" {
                    self.accepted_recipients = 0;
                }
                if verb == "QUIT" {
                    replies.push_str("221 2.0.0 bye\r\n");
                    return Ok(Next::Close);
                }
                self.act(action, replies).await
            }
        }
    }

    fn override_for(&self, verb: &str) -> Option<Action> {
        self.script
            .overrides
            .iter()
            .find(|(overridden, _)| *overridden == verb)
            .map(|(_, action)| action.clone())
    }

    /// Returns the server's usual reply to a command other than DATA.
    fn reply(&mut self, verb: &str, command: &str) -> String {
        match verb {
            "EHLO" => self.ehlo_reply(),
            "HELO" => "250 fault.test\r\n".to_owned(),
            "MAIL" | "RSET" | "NOOP" => "250 2.0.0 ok\r\n".to_owned(),
            "RCPT" => {
                let reply = rcpt_reply(command);
                if reply.starts_with('2') {
                    self.accepted_recipients += 1;
                }
                reply.to_owned()
            }
            _ => "500 5.5.2 unknown command\r\n".to_owned(),
        }
    }

    /// Returns the EHLO reply with the STARTTLS and PIPELINING lines the script sets.
    fn ehlo_reply(&self) -> String {
        let mut extra = String::new();
        if self.script.starttls != StartTls::NotOffered {
            extra.push_str("250-STARTTLS\r\n");
        }
        if self.script.pipelining {
            extra.push_str("250-PIPELINING\r\n");
        }
        if extra.is_empty() || !self.script.ehlo_reply.starts_with("250") {
            return self.script.ehlo_reply.clone();
        }
        // The first line carries the server name, so the keywords go second.
        let (first, rest) = self
            .script
            .ehlo_reply
            .split_once("\r\n")
            .unwrap_or_default();
        let first = first.replacen("250 ", "250-", 1);
        let rest = if rest.is_empty() {
            "250 HELP\r\n"
        } else {
            rest
        };
        format!("{first}\r\n{extra}{rest}")
    }

    fn data_reply(&self) -> Action {
        if self.accepted_recipients == 0 && !self.script.accept_data_without_recipients {
            Action::reply("554 5.5.1 no valid recipients\r\n")
        } else {
            Action::reply("354 end with <CRLF>.<CRLF>\r\n")
        }
    }

    /// Carries out `action` as the reply to a command.
    async fn act(&mut self, action: Action, replies: &mut String) -> std::io::Result<Next> {
        match action {
            Action::Reply(text) => {
                replies.push_str(&text);
                Ok(if text.starts_with("421") {
                    Next::Close
                } else {
                    Next::Continue
                })
            }
            Action::Delay(delay, text) => {
                self.flush(replies).await?;
                tokio::time::sleep(delay).await;
                self.wire.write(&text).await?;
                Ok(Next::Continue)
            }
            Action::Close | Action::CloseDuringData | Action::ReplyDuringData(_) => Ok(Next::Close),
        }
    }

    /// Replies to DATA and, after a 354 reply, reads the message and replies to it.
    async fn data(&mut self, action: Action, replies: &mut String) -> std::io::Result<Next> {
        match action {
            Action::CloseDuringData => {
                replies.push_str("354 end with <CRLF>.<CRLF>\r\n");
                self.flush(replies).await?;
                self.wire.read_line().await?;
                return Ok(Next::Close);
            }
            Action::ReplyDuringData(text) => {
                replies.push_str("354 end with <CRLF>.<CRLF>\r\n");
                self.flush(replies).await?;
                self.wire.fill().await?;
                self.wire.write(&text).await?;
                return Ok(Next::Close);
            }
            Action::Reply(ref text) | Action::Delay(_, ref text) if text.starts_with("354") => {}
            other => return self.act(other, replies).await,
        }
        self.act(action, replies).await?;
        self.flush(replies).await?;

        let Some(message) = self.read_message().await? else {
            return Ok(Next::Close);
        };
        self.record(|session| session.messages.push(message));
        self.messages += 1;
        if self.script.close_before_reply_to_message == Some(self.messages) {
            return Ok(Next::Close);
        }
        let action = self
            .override_for(".")
            .unwrap_or_else(|| Action::reply("250 2.0.0 queued\r\n"));
        let next = self.act(action, replies).await?;
        if let Some(text) = self.script.unsolicited_after_message.clone()
            && self.messages == 1
        {
            self.flush(replies).await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.wire.write(&text).await?;
        }
        if self.script.close_after_messages == Some(self.messages) {
            return Ok(Next::Close);
        }
        Ok(next)
    }

    async fn flush(&mut self, replies: &mut String) -> std::io::Result<()> {
        self.wire.write(replies).await?;
        replies.clear();
        Ok(())
    }

    /// Reads message data up to the line with a single dot and removes dot-stuffing.
    /// Returns `None` if the connection ends first.
    async fn read_message(&mut self) -> std::io::Result<Option<String>> {
        let mut message = String::new();
        loop {
            let Some(line) = self.wire.read_line().await? else {
                return Ok(None);
            };
            if line == ".\r\n" {
                return Ok(Some(message));
            }
            message.push_str(line.strip_prefix('.').unwrap_or(&line));
        }
    }

    async fn break_starttls(&mut self) -> std::io::Result<()> {
        match self.script.starttls {
            StartTls::GarbageHandshake => {
                self.wire.write("220 go ahead\r\n").await?;
                if self.wire.fill().await? && self.wire.buffer.first() == Some(&22) {
                    self.record(|session| session.received_client_hello = true);
                }
                self.wire.write("this is not a TLS record\r\n").await
            }
            StartTls::DataAfterReply => self.wire.write("220 go ahead\r\n250 injected\r\n").await,
            StartTls::NotOffered => unreachable!("STARTTLS is handled as unknown"),
        }
    }
}

/// Returns the reply to `RCPT TO` for the local part: 550 for `reject…`, 452 for `busy…`,
/// 421 for `closing…` and 250 for anything else.
fn rcpt_reply(command: &str) -> &'static str {
    let address = command.trim_start_matches("RCPT TO:<");
    if address.starts_with("reject") {
        "550 5.1.1 no such user\r\n"
    } else if address.starts_with("busy") {
        "452 4.2.2 mailbox full\r\n"
    } else if address.starts_with("closing") {
        "421 4.3.2 shutting down\r\n"
    } else {
        "250 2.1.5 ok\r\n"
    }
}
