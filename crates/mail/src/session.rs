//! Opening an SMTP session: connection, greeting, EHLO, TLS and authentication, up to the
//! point where mail transactions can start (RFC 5321, section 3; RFC 3207; RFC 4954).

use std::net::SocketAddr;

use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tracing::{debug, warn};

use crate::auth::authenticate;
use crate::config::{Credentials, Timeouts};
use crate::ehlo::Extensions;
use crate::reply::Reply;
use crate::smtp::{Connection, SmtpError};
use crate::status::Outcome;

/// The TLS use of a session. Connections opened in different modes are never shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TlsMode {
    /// Never send STARTTLS.
    Disabled,
    /// Send STARTTLS when offered. A failed handshake is reported as
    /// [`OpenError::TlsFailed`], so that the caller can retry in plain text.
    Opportunistic,
    /// STARTTLS must succeed before anything else is sent.
    Required { verify: bool },
    /// TLS from the first byte.
    Implicit { verify: bool },
}

impl TlsMode {
    /// Returns whether the certificate is verified.
    pub(crate) fn verifies(self) -> bool {
        matches!(
            self,
            TlsMode::Required { verify: true } | TlsMode::Implicit { verify: true }
        )
    }
}

/// An open session, greeted and ready for a mail transaction.
pub(crate) struct Session {
    pub(crate) connection: Connection,
    /// The extensions of the last EHLO reply, after STARTTLS if TLS is in use.
    pub(crate) extensions: Extensions,
}

/// How to open a session.
pub(crate) struct SessionPlan<'a> {
    pub(crate) helo_name: &'a str,
    pub(crate) timeouts: &'a Timeouts,
    pub(crate) mode: TlsMode,
    /// The connector that matches `mode`: verifying or not.
    pub(crate) connector: &'a TlsConnector,
    pub(crate) server_name: ServerName<'static>,
    /// Sent with AUTH after TLS is established.
    pub(crate) credentials: Option<&'a Credentials>,
}

/// The reason no session could be opened. No mail transaction has started, so another
/// server, or another connection, may be tried.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The connection failed or the server rejected a step.
    Failed(Outcome),
    /// The server accepted STARTTLS but the TLS handshake failed, in
    /// [`TlsMode::Opportunistic`]. A new connection without STARTTLS may succeed.
    TlsFailed(Outcome),
}

/// Connects to `addr` and runs the session up to the first MAIL command: greeting, EHLO
/// (or HELO), TLS as `plan.mode` requires, EHLO again over TLS, and AUTH if credentials are set.
pub(crate) async fn open_session(
    addr: SocketAddr,
    plan: &SessionPlan<'_>,
) -> Result<Session, OpenError> {
    let timeouts = plan.timeouts;
    let mut connection = Connection::connect(addr, timeouts.connect)
        .await
        .map_err(connection_failed)?;
    if let TlsMode::Implicit { .. } = plan.mode {
        connection = connection
            .start_tls(plan.connector, plan.server_name.clone(), timeouts.command)
            .await
            .map_err(connection_failed)?;
    }

    // Any greeting other than 220 means that the server takes no mail now (RFC 5321,
    // section 3.1).
    let greeting = connection
        .read_reply("while waiting for the greeting", timeouts.greeting)
        .await
        .map_err(connection_failed)?;
    if greeting.code != 220 {
        return Err(rejected(connection, &greeting));
    }
    let mut extensions = match hello(&mut connection, plan).await {
        Ok(extensions) => extensions,
        Err(error) => return Err(error.end(connection)),
    };

    match plan.mode {
        TlsMode::Opportunistic if extensions.starttls => {
            (connection, extensions) = start_tls(connection, plan, extensions, false).await?;
        }
        TlsMode::Required { .. } if !extensions.starttls => {
            connection.quit_in_background();
            return Err(OpenError::Failed(Outcome::temporary(format!(
                "TLS is required, but the server at {addr} does not offer STARTTLS; \
                 nothing was sent"
            ))));
        }
        TlsMode::Required { .. } => {
            (connection, extensions) = start_tls(connection, plan, extensions, true).await?;
        }
        TlsMode::Disabled | TlsMode::Opportunistic | TlsMode::Implicit { .. } => {}
    }

    if let Some(credentials) = plan.credentials {
        // Every mode that carries credentials requires TLS, so this only guards against a
        // future mistake.
        if connection.tls().is_none() {
            connection.quit_in_background();
            return Err(OpenError::Failed(Outcome::temporary(
                "credentials are never sent without TLS",
            )));
        }
        let auth = authenticate(&mut connection, &extensions, credentials, timeouts.command);
        if let Err(outcome) = auth.await {
            connection.quit_in_background();
            return Err(OpenError::Failed(outcome));
        }
    }

    debug!(
        %addr,
        tls_version = connection.tls().map(|tls| tls.version.as_str()),
        pipelining = extensions.pipelining,
        size = extensions.size,
        eight_bit_mime = extensions.eight_bit_mime,
        smtputf8 = extensions.smtputf8,
        enhanced_status_codes = extensions.enhanced_status_codes,
        "session ready"
    );
    Ok(Session {
        connection,
        extensions,
    })
}

/// Sends STARTTLS, performs the handshake and sends EHLO again, as the client must forget
/// what it learned before TLS (RFC 3207, section 4.2).
///
/// If the server rejects STARTTLS and TLS is not `required`, the session goes on in plain
/// text on the same connection with the `plain_extensions` announced before.
async fn start_tls(
    mut connection: Connection,
    plan: &SessionPlan<'_>,
    plain_extensions: Extensions,
    required: bool,
) -> Result<(Connection, Extensions), OpenError> {
    let addr = connection.addr();
    let reply = connection
        .command("STARTTLS", plan.timeouts.command)
        .await
        .map_err(connection_failed)?;
    if reply.code != 220 {
        if required {
            connection.quit_in_background();
            return Err(OpenError::Failed(Outcome::temporary(format!(
                "TLS is required, but the server at {addr} rejected STARTTLS with {} {}; \
                 nothing was sent",
                reply.code,
                reply.text()
            ))));
        }
        warn!(code = reply.code, text = %reply.text(), "server rejected STARTTLS, continuing without TLS");
        return Ok((connection, plain_extensions));
    }

    let handshake = connection
        .start_tls(
            plan.connector,
            plan.server_name.clone(),
            plan.timeouts.command,
        )
        .await;
    let mut connection = match handshake {
        Ok(connection) => connection,
        Err(error) if required => {
            let text = format!("{error}; TLS is required, so nothing was sent");
            return Err(OpenError::Failed(Outcome::temporary(text)));
        }
        Err(error) => return Err(OpenError::TlsFailed(Outcome::temporary(error.to_string()))),
    };
    match hello(&mut connection, plan).await {
        Ok(extensions) => Ok((connection, extensions)),
        Err(error) => Err(error.end(connection)),
    }
}

/// A failed EHLO or HELO.
enum HelloError {
    /// The server rejected the command. The connection still works, so QUIT is sent.
    Rejected(Reply),
    /// The connection failed.
    Connection(SmtpError),
}

impl HelloError {
    /// Ends the session, with QUIT if the connection still works.
    fn end(self, connection: Connection) -> OpenError {
        match self {
            HelloError::Rejected(reply) => rejected(connection, &reply),
            HelloError::Connection(error) => connection_failed(error),
        }
    }
}

/// Sends EHLO, or HELO when the server rejects EHLO with a 5xx reply, as servers without
/// the SMTP service extensions do (RFC 5321, section 3.2).
async fn hello(
    connection: &mut Connection,
    plan: &SessionPlan<'_>,
) -> Result<Extensions, HelloError> {
    let timeout = plan.timeouts.command;
    let ehlo = format!("EHLO {}", plan.helo_name);
    let reply = connection
        .command(&ehlo, timeout)
        .await
        .map_err(HelloError::Connection)?;
    if reply.is_positive() {
        return Ok(Extensions::from_ehlo_reply(&reply));
    }
    if !(500..600).contains(&reply.code) {
        return Err(HelloError::Rejected(reply));
    }

    let helo = format!("HELO {}", plan.helo_name);
    let reply = connection
        .command(&helo, timeout)
        .await
        .map_err(HelloError::Connection)?;
    if !reply.is_positive() {
        return Err(HelloError::Rejected(reply));
    }
    Ok(Extensions::default())
}

fn connection_failed(error: SmtpError) -> OpenError {
    OpenError::Failed(Outcome::temporary(error.to_string()))
}

/// Ends a session whose server rejected a step, with QUIT if the connection still works.
fn rejected(connection: Connection, reply: &Reply) -> OpenError {
    connection.quit_in_background();
    OpenError::Failed(Outcome::from_rejection(reply))
}
