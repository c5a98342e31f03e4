//! One SMTP client connection: sending commands, reading replies and switching to TLS.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::debug;

use crate::reply::{MAX_LINE_LEN, Reply, ReplyError, ReplyParser};

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
        })
    }

    /// Returns whether the connection runs over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream.get_ref(), Stream::Tls(_))
    }

    /// Reads one reply, such as the greeting. `step` describes the wait in error messages,
    /// as in "while waiting for the greeting".
    pub(crate) async fn read_reply(
        &mut self,
        step: &str,
        reply_timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        let reply = match timeout(reply_timeout, self.read_reply_lines(step)).await {
            Ok(result) => result?,
            Err(_) => return Err(self.timeout_error(step, reply_timeout)),
        };
        debug!(addr = %self.addr, code = reply.code, text = %reply.text(), "received SMTP reply");
        Ok(reply)
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
        debug_assert!(
            !command.contains(['\r', '\n']),
            "command contains a line break"
        );
        let step = format!("while waiting for the reply to {}", command_verb(command));
        debug!(addr = %self.addr, command, "sending SMTP command");

        let line = format!("{command}\r\n");
        let exchange = async {
            self.write(line.as_bytes(), &step).await?;
            self.read_reply_lines(&step).await
        };
        let reply = match timeout(command_timeout, exchange).await {
            Ok(result) => result?,
            Err(_) => return Err(self.timeout_error(&step, command_timeout)),
        };
        debug!(addr = %self.addr, code = reply.code, text = %reply.text(), "received SMTP reply");
        Ok(reply)
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
            match timeout(block_timeout, self.write(block, step)).await {
                Ok(result) => result?,
                Err(_) => return Err(self.timeout_error(step, block_timeout)),
            }
        }
        debug!(addr = %self.addr, octets = data.len(), "sent message data");
        Ok(())
    }

    /// Performs the TLS handshake after the server's 220 reply to STARTTLS.
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
        let (_, session) = tls.get_ref();
        debug!(%addr, version = ?session.protocol_version(), "TLS established");
        Ok(Connection {
            stream: BufReader::new(Stream::Tls(Box::new(tls))),
            addr,
        })
    }

    /// Sends QUIT and closes the connection. Errors are only logged, because the outcome of
    /// the transaction is already known.
    /// Sends QUIT and closes the connection in a task of its own, so that
    /// the transaction's result is available without waiting for a server
    /// that is slow to answer QUIT or never does.
    pub(crate) fn quit_in_background(self) {
        tokio::spawn(self.quit());
    }

    pub(crate) async fn quit(mut self) {
        if let Err(error) = self.command("QUIT", QUIT_TIMEOUT).await {
            debug!(addr = %self.addr, %error, "QUIT failed");
        }
        // Closing needs no confirmation from the server.
        let _ = timeout(QUIT_TIMEOUT, self.stream.get_mut().shutdown()).await;
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

    fn timeout_error(&self, step: &str, duration: Duration) -> SmtpError {
        SmtpError::Timeout {
            addr: self.addr,
            step: step.to_owned(),
            timeout: duration,
        }
    }
}

/// Returns the command word, such as `RCPT`, used in error messages.
fn command_verb(command: &str) -> &str {
    command.split_once(' ').map_or(command, |(verb, _)| verb)
}
