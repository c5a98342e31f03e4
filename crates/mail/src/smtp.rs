//! One SMTP client connection: sending commands, reading replies and switching to TLS.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustls::pki_types::ServerName;
use thiserror::Error;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::debug;

use crate::reply::{MAX_LINE_LEN, Reply, ReplyError, ReplyParser};
use crate::tls::TlsDetails;

/// Size of each block of message data written under its own timeout. RFC 5321 (section
/// 4.5.3.2.5) times each block rather than the whole message, so that large messages on
/// slow links do not time out.
const DATA_BLOCK_LEN: usize = 64 * 1024;

/// Maximum time to wait for the reply to QUIT. The transaction is complete by then, so
/// there is no reason to wait long.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A failure of the connection itself, as opposed to an SMTP reply that reports a failure.
#[derive(Debug, Error)]
pub(crate) enum SmtpError {
    #[error("connection to {addr} failed: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("connection to {addr} timed out after {timeout:?}")]
    ConnectTimeout { addr: SocketAddr, timeout: Duration },
    #[error("timed out after {timeout:?} {step} ({addr})")]
    Timeout {
        addr: SocketAddr,
        step: String,
        timeout: Duration,
    },
    #[error("I/O error {step} ({addr}): {source}")]
    Io {
        addr: SocketAddr,
        step: String,
        source: io::Error,
    },
    #[error("connection closed by the server {step} ({addr})")]
    Closed { addr: SocketAddr, step: String },
    #[error("invalid reply {step} ({addr}): {source}")]
    Reply {
        addr: SocketAddr,
        step: String,
        source: ReplyError,
    },
    /// The server sent data that no command asked for yet, so a reply read next might
    /// belong to an earlier command.
    #[error(
        "server sent unexpected data {step}, so its replies no longer match the commands ({addr})"
    )]
    OutOfStep { addr: SocketAddr, step: String },
    #[error("server sent data after its STARTTLS reply, before the TLS handshake ({addr})")]
    DataBeforeTls { addr: SocketAddr },
    #[error("TLS handshake with {addr} failed: {source}")]
    TlsHandshake { addr: SocketAddr, source: io::Error },
    #[error("TLS handshake with {addr} timed out after {timeout:?}")]
    TlsHandshakeTimeout { addr: SocketAddr, timeout: Duration },
}

/// The transport under an SMTP session: plain TCP until STARTTLS succeeds, TLS after.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            Stream::Tls(stream) => Pin::new(stream).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(context, buffer),
            Stream::Tls(stream) => Pin::new(stream).poll_write(context, buffer),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(context),
            Stream::Tls(stream) => Pin::new(stream).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(context),
            Stream::Tls(stream) => Pin::new(stream).poll_shutdown(context),
        }
    }
}

/// An open connection to an SMTP server.
pub(crate) struct Connection {
    stream: BufReader<Stream>,
    addr: SocketAddr,
    /// The TLS session's details once the connection runs over TLS.
    tls: Option<TlsDetails>,
    /// False once an I/O error, a timeout, an invalid reply or a 421 reply (the server is
    /// closing the connection) has left the dialogue in an unknown state.
    usable: bool,
}

impl Connection {
    /// Opens a TCP connection to `addr` with Nagle's algorithm off, because SMTP sends many
    /// small commands and waits for each reply.
    pub(crate) async fn connect(
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<Connection, SmtpError> {
        let stream = match timeout(connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(SmtpError::Connect { addr, source }),
            Err(_) => {
                return Err(SmtpError::ConnectTimeout {
                    addr,
                    timeout: connect_timeout,
                });
            }
        };
        stream
            .set_nodelay(true)
            .map_err(|source| SmtpError::Connect { addr, source })?;
        debug!(%addr, "connected");
        Ok(Connection {
            stream: BufReader::new(Stream::Plain(stream)),
            addr,
            tls: None,
            usable: true,
        })
    }

    /// Returns the address connected to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the protocol version and cipher suite, or `None` on a plain connection.
    pub(crate) fn tls(&self) -> Option<&TlsDetails> {
        self.tls.as_ref()
    }

    /// Returns whether another command can follow: no error or 421 reply has occurred, and
    /// the server has sent nothing that was not read yet.
    pub(crate) fn is_usable(&self) -> bool {
        self.usable && self.stream.buffer().is_empty()
    }

    /// Returns whether a new command can be sent without waiting: the connection is usable,
    /// the server has not closed it and has sent nothing since the last reply. Data that
    /// arrived on an idle connection would be read as the reply to the next command.
    pub(crate) fn is_idle(&mut self) -> bool {
        self.usable && matches!(self.poll_unread(), Unread::Nothing)
    }

    /// Fails if the server has sent anything since the last reply, checked without waiting,
    /// and marks the connection unusable then. `step` names the point of the check in the
    /// error, as in "before the MAIL command".
    ///
    /// The check finds only data that has already arrived. An extra reply still on its way
    /// is missed here and shows up later as a reply that does not fit its command.
    pub(crate) fn check_in_step(&mut self, step: &str) -> Result<(), SmtpError> {
        let addr = self.addr;
        let result = match self.poll_unread() {
            Unread::Nothing => Ok(()),
            Unread::Data => Err(SmtpError::OutOfStep {
                addr,
                step: step.to_owned(),
            }),
            Unread::EndOfStream => Err(SmtpError::Closed {
                addr,
                step: step.to_owned(),
            }),
            Unread::Error(source) => Err(SmtpError::Io {
                addr,
                step: step.to_owned(),
                source,
            }),
        };
        self.track(result)
    }

    /// Marks the dialogue as broken, for example after an unexpected reply in the middle of
    /// an exchange.
    pub(crate) fn mark_unusable(&mut self) {
        self.usable = false;
    }

    /// Reads one reply, such as the greeting. `step` describes the wait in error messages,
    /// as in "while waiting for the greeting".
    pub(crate) async fn read_reply(
        &mut self,
        step: &str,
        reply_timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        let result = match timeout(reply_timeout, self.read_reply_lines(step)).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout_error(step, reply_timeout)),
        };
        self.track_reply(result)
    }

    /// Sends `command` followed by CRLF and reads the reply, both within `command_timeout`.
    ///
    /// `command` must not contain CR or LF. Commands are built from validated addresses and
    /// fixed keywords only.
    pub(crate) async fn command(
        &mut self,
        command: &str,
        command_timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        self.command_logged_as(command, command, command_timeout)
            .await
    }

    /// Sends `command` like [`Connection::command`], but logs `shown` in its place, so that
    /// credentials stay out of the logs.
    pub(crate) async fn command_logged_as(
        &mut self,
        command: &str,
        shown: &str,
        command_timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        debug_assert!(
            !command.contains(['\r', '\n']),
            "command contains a line break"
        );
        let verb = command_verb(shown);
        self.check_in_step(&format!("before the {verb} command"))?;
        let step = format!("while waiting for the reply to {verb}");
        debug!(addr = %self.addr, command = shown, "sending SMTP command");

        let line = format!("{command}\r\n");
        let exchange = async {
            self.write(line.as_bytes(), &step).await?;
            self.read_reply_lines(&step).await
        };
        let result = match timeout(command_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout_error(&step, command_timeout)),
        };
        self.track_reply(result)
    }

    /// Sends several commands in one write without reading any reply, for a PIPELINING
    /// command group (RFC 2920). The caller reads the replies in order with
    /// [`Connection::read_reply`].
    pub(crate) async fn send_group(
        &mut self,
        commands: &[String],
        write_timeout: Duration,
    ) -> Result<(), SmtpError> {
        self.check_in_step("before the pipelined commands")?;
        let mut bytes = Vec::new();
        for command in commands {
            debug_assert!(
                !command.contains(['\r', '\n']),
                "command contains a line break"
            );
            debug!(addr = %self.addr, command, "sending pipelined SMTP command");
            bytes.extend_from_slice(command.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        let step = "while sending pipelined commands";
        let result = match timeout(write_timeout, self.write(&bytes, step)).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout_error(step, write_timeout)),
        };
        self.track(result)
    }

    /// Writes message data that is already encoded for DATA, in blocks that each get
    /// `block_timeout`. The data is not logged.
    pub(crate) async fn write_data(
        &mut self,
        data: &[u8],
        block_timeout: Duration,
    ) -> Result<(), SmtpError> {
        let step = "while sending message data";
        for block in data.chunks(DATA_BLOCK_LEN) {
            let result = match timeout(block_timeout, self.write(block, step)).await {
                Ok(result) => result,
                Err(_) => Err(self.timeout_error(step, block_timeout)),
            };
            self.track(result)?;
        }
        debug!(addr = %self.addr, octets = data.len(), "sent message data");
        Ok(())
    }

    /// Performs the TLS handshake, after the server's 220 reply to STARTTLS or right after
    /// connecting for implicit TLS.
    ///
    /// Fails if the server has already sent more data: that data arrived unencrypted and
    /// must not be taken as part of the TLS session (the STARTTLS command injection
    /// described in RFC 3207, section 5).
    pub(crate) async fn start_tls(
        self,
        connector: &TlsConnector,
        server_name: ServerName<'static>,
        handshake_timeout: Duration,
    ) -> Result<Connection, SmtpError> {
        let addr = self.addr;
        if !self.stream.buffer().is_empty() {
            return Err(SmtpError::DataBeforeTls { addr });
        }
        let Stream::Plain(tcp) = self.stream.into_inner() else {
            unreachable!("STARTTLS is sent only on a plain connection");
        };

        let handshake = connector.connect(server_name, tcp);
        let tls = match timeout(handshake_timeout, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(source)) => return Err(SmtpError::TlsHandshake { addr, source }),
            Err(_) => {
                return Err(SmtpError::TlsHandshakeTimeout {
                    addr,
                    timeout: handshake_timeout,
                });
            }
        };
        let details = TlsDetails::of(tls.get_ref().1);
        debug!(%addr, version = %details.version, cipher_suite = %details.cipher_suite, "TLS established");
        Ok(Connection {
            stream: BufReader::new(Stream::Tls(Box::new(tls))),
            addr,
            tls: Some(details),
            usable: true,
        })
    }

    /// Sends QUIT and closes the connection in a task of its own, so that
    /// the transaction's result is available without waiting for a server
    /// that is slow to answer QUIT or never does.
    pub(crate) fn quit_in_background(self) {
        tokio::spawn(self.quit());
    }

    /// Sends QUIT, if the dialogue is still in a known state, and closes the connection.
    /// Errors are only logged, because the outcome of the transaction is already known.
    pub(crate) async fn quit(mut self) {
        if !self.is_usable() {
            debug!(addr = %self.addr, "closing a connection that cannot take QUIT");
            return;
        }
        if let Err(error) = self.command("QUIT", QUIT_TIMEOUT).await {
            debug!(addr = %self.addr, %error, "QUIT failed");
        }
        // Closing needs no confirmation from the server.
        let _ = timeout(QUIT_TIMEOUT, self.stream.get_mut().shutdown()).await;
    }

    /// Polls the stream once, without waiting, for data the server sent since the last
    /// reply. Data found stays buffered for the next read.
    fn poll_unread(&mut self) -> Unread {
        if !self.stream.buffer().is_empty() {
            return Unread::Data;
        }
        // A waker that does nothing is enough, because nothing waits on this poll: the next
        // read polls the stream again with the task's own waker.
        let mut context = Context::from_waker(Waker::noop());
        match Pin::new(&mut self.stream).poll_fill_buf(&mut context) {
            Poll::Pending => Unread::Nothing,
            Poll::Ready(Ok([])) => Unread::EndOfStream,
            Poll::Ready(Ok(_)) => Unread::Data,
            Poll::Ready(Err(source)) => Unread::Error(source),
        }
    }

    async fn write(&mut self, bytes: &[u8], step: &str) -> Result<(), SmtpError> {
        let stream = self.stream.get_mut();
        let result = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        }
        .await;
        result.map_err(|source| SmtpError::Io {
            addr: self.addr,
            step: step.to_owned(),
            source,
        })
    }

    async fn read_reply_lines(&mut self, step: &str) -> Result<Reply, SmtpError> {
        let mut parser = ReplyParser::default();
        let mut line = Vec::new();
        loop {
            self.read_line(&mut line, step).await?;
            let parsed = parser.push_line(&line).map_err(|source| SmtpError::Reply {
                addr: self.addr,
                step: step.to_owned(),
                source,
            })?;
            if let Some(reply) = parsed {
                return Ok(reply);
            }
        }
    }

    /// Reads one line into `line`, without its line ending, and stops reading as soon as
    /// the line exceeds the maximum length. A bare LF is accepted as line ending.
    async fn read_line(&mut self, line: &mut Vec<u8>, step: &str) -> Result<(), SmtpError> {
        line.clear();
        loop {
            let available = self
                .stream
                .fill_buf()
                .await
                .map_err(|source| SmtpError::Io {
                    addr: self.addr,
                    step: step.to_owned(),
                    source,
                })?;
            if available.is_empty() {
                return Err(SmtpError::Closed {
                    addr: self.addr,
                    step: step.to_owned(),
                });
            }

            let newline = available.iter().position(|&byte| byte == b'\n');
            let end = newline.unwrap_or(available.len());
            line.extend_from_slice(&available[..end]);
            let consumed = newline.map_or(end, |position| position + 1);
            self.stream.consume(consumed);

            // One more octet is allowed for the CR of the line ending.
            if line.len() > MAX_LINE_LEN + 1 {
                return Err(SmtpError::Reply {
                    addr: self.addr,
                    step: step.to_owned(),
                    source: ReplyError::LineTooLong,
                });
            }
            if newline.is_some() {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(());
            }
        }
    }

    /// Marks the connection unusable if `result` is an error.
    fn track<T>(&mut self, result: Result<T, SmtpError>) -> Result<T, SmtpError> {
        if result.is_err() {
            self.usable = false;
        }
        result
    }

    /// Logs a reply and marks the connection unusable if the reply is 421, with which the
    /// server announces that it closes the connection (RFC 5321, section 3.8).
    fn track_reply(&mut self, result: Result<Reply, SmtpError>) -> Result<Reply, SmtpError> {
        let reply = self.track(result)?;
        debug!(addr = %self.addr, code = reply.code, text = %reply.text(), "received SMTP reply");
        if reply.code == 421 {
            self.usable = false;
        }
        Ok(reply)
    }

    fn timeout_error(&self, step: &str, duration: Duration) -> SmtpError {
        SmtpError::Timeout {
            addr: self.addr,
            step: step.to_owned(),
            timeout: duration,
        }
    }
}

/// What the server has sent since the last reply, as found by one poll without waiting.
enum Unread {
    Nothing,
    Data,
    EndOfStream,
    Error(io::Error),
}

/// Returns the command word, such as `RCPT`, used in error messages.
fn command_verb(command: &str) -> &str {
    command.split_once(' ').map_or(command, |(verb, _)| verb)
}
