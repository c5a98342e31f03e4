//! The SMTP dialogue on one connection, from greeting to QUIT (RFC 5321, section 3).

use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tracing::warn;

use crate::address::Address;
use crate::ehlo::Extensions;
use crate::reply::Reply;
use crate::smtp::{Connection, SmtpError};
use crate::status::Outcome;

/// The sender, recipients and message of one transaction.
pub(crate) struct Envelope<'a> {
    pub(crate) sender: &'a Address,
    /// The recipients, all in one domain and without duplicates.
    pub(crate) recipients: &'a [Address],
    /// The message encoded for DATA, with dot-stuffing and the final dot.
    pub(crate) data: &'a [u8],
    /// The size of the message before encoding, for the SIZE extension.
    pub(crate) message_len: usize,
    /// Whether the message contains octets above 127.
    pub(crate) eight_bit: bool,
}

/// How to conduct the dialogue.
pub(crate) struct SessionSettings<'a> {
    pub(crate) helo_name: &'a str,
    pub(crate) command_timeout: Duration,
    pub(crate) data_timeout: Duration,
    /// The connector and server name for STARTTLS, or `None` to stay in plain text even if
    /// the server offers STARTTLS.
    pub(crate) tls: Option<(&'a TlsConnector, ServerName<'static>)>,
}

/// The result of one session.
#[derive(Debug)]
pub(crate) enum SessionResult {
    /// The server replied for every recipient. `outcomes` has one entry per recipient, in
    /// envelope order.
    Completed { tls: bool, outcomes: Vec<Outcome> },
    /// The session ended before the message could have been accepted, because of a
    /// connection failure or a rejected greeting or EHLO. Another address may succeed.
    Failed(Outcome),
    /// The server accepted STARTTLS but the TLS handshake failed, which leaves the connection
    /// unusable. A new connection without STARTTLS may succeed.
    TlsFailed(Outcome),
}

/// A failure before the mail transaction began.
enum SetupError {
    /// The server rejected a step. The connection still works, so QUIT is sent.
    Rejected(Reply),
    /// The connection failed.
    Connection(SmtpError),
}

/// Runs the dialogue on a new connection: greeting, EHLO, STARTTLS when offered and
/// allowed, and the mail transaction.
pub(crate) async fn run_session(
    mut connection: Connection,
    settings: &SessionSettings<'_>,
    envelope: &Envelope<'_>,
) -> SessionResult {
    let extensions = match greet(&mut connection, settings).await {
        Ok(extensions) => extensions,
        Err(error) => return fail(connection, error).await,
    };
    if extensions.starttls && settings.tls.is_some() {
        start_tls_and_transact(connection, settings, envelope, extensions).await
    } else {
        transact(connection, settings, envelope, &extensions).await
    }
}

/// Reads the greeting and sends EHLO, returning the server's extensions.
async fn greet(
    connection: &mut Connection,
    settings: &SessionSettings<'_>,
) -> Result<Extensions, SetupError> {
    // Any greeting other than 220 means that the server takes no mail now (RFC 5321,
    // section 3.1).
    let greeting = connection
        .read_reply("while waiting for the greeting", settings.command_timeout)
        .await
        .map_err(SetupError::Connection)?;
    if greeting.code != 220 {
        return Err(SetupError::Rejected(greeting));
    }
    hello(connection, settings).await
}

/// Sends STARTTLS, performs the handshake and runs the transaction over TLS (RFC 3207).
///
/// If the server rejects STARTTLS, the transaction runs in plain text on the same
/// connection with the `plain_extensions` announced before, because opportunistic TLS does
/// not require encryption.
async fn start_tls_and_transact(
    mut connection: Connection,
    settings: &SessionSettings<'_>,
    envelope: &Envelope<'_>,
    plain_extensions: Extensions,
) -> SessionResult {
    let (connector, server_name) = settings.tls.as_ref().expect("TLS settings are present");
    let reply = match connection
        .command("STARTTLS", settings.command_timeout)
        .await
    {
        Ok(reply) => reply,
        Err(error) => return SessionResult::Failed(Outcome::temporary(error.to_string())),
    };
    if reply.code != 220 {
        warn!(code = reply.code, text = %reply.text(), "server rejected STARTTLS, continuing without TLS");
        return transact(connection, settings, envelope, &plain_extensions).await;
    }

    let handshake = connection
        .start_tls(connector, server_name.clone(), settings.command_timeout)
        .await;
    let mut connection = match handshake {
        Ok(connection) => connection,
        Err(error) => return SessionResult::TlsFailed(Outcome::temporary(error.to_string())),
    };

    // The client must forget what it learned before TLS and send EHLO again (RFC 3207,
    // section 4.2).
    match hello(&mut connection, settings).await {
        Ok(extensions) => transact(connection, settings, envelope, &extensions).await,
        Err(error) => fail(connection, error).await,
    }
}

/// Sends EHLO, or HELO when the server rejects EHLO with a 5xx reply, as servers without
/// the SMTP service extensions do (RFC 5321, section 3.2).
async fn hello(
    connection: &mut Connection,
    settings: &SessionSettings<'_>,
) -> Result<Extensions, SetupError> {
    let ehlo = format!("EHLO {}", settings.helo_name);
    let reply = connection.command(&ehlo, settings.command_timeout).await;
    let reply = reply.map_err(SetupError::Connection)?;
    if reply.is_positive() {
        return Ok(Extensions::from_ehlo_reply(&reply));
    }
    if !(500..600).contains(&reply.code) {
        return Err(SetupError::Rejected(reply));
    }

    let helo = format!("HELO {}", settings.helo_name);
    let reply = connection.command(&helo, settings.command_timeout).await;
    let reply = reply.map_err(SetupError::Connection)?;
    if !reply.is_positive() {
        return Err(SetupError::Rejected(reply));
    }
    Ok(Extensions::default())
}

/// Ends a session that failed before the transaction, sending QUIT if the connection works.
async fn fail(connection: Connection, error: SetupError) -> SessionResult {
    match error {
        SetupError::Rejected(reply) => {
            connection.quit_in_background();
            SessionResult::Failed(Outcome::from_reply(&reply))
        }
        SetupError::Connection(error) => {
            SessionResult::Failed(Outcome::temporary(error.to_string()))
        }
    }
}

/// Runs MAIL, one RCPT per recipient, DATA and the message, then QUIT.
async fn transact(
    mut connection: Connection,
    settings: &SessionSettings<'_>,
    envelope: &Envelope<'_>,
    extensions: &Extensions,
) -> SessionResult {
    let tls = connection.is_tls();
    let recipient_count = envelope.recipients.len();
    let timeout = settings.command_timeout;

    // A message over the server's announced limit would be rejected after transfer, and a
    // server that stays the same will keep rejecting it (RFC 1870).
    if let Some(limit) = extensions.exceeded_size_limit(envelope.message_len) {
        connection.quit_in_background();
        let outcome = Outcome::permanent(format!(
            "message of {} octets exceeds the server's size limit of {limit} octets",
            envelope.message_len
        ));
        return SessionResult::Completed {
            tls,
            outcomes: vec![outcome; recipient_count],
        };
    }

    // MAIL FROM: a rejection applies to every recipient.
    let mut mail_from = format!("MAIL FROM:<{}>", envelope.sender);
    if extensions.size.is_some() {
        mail_from.push_str(&format!(" SIZE={}", envelope.message_len));
    }
    // NOTE: 8-bit data also goes to servers without 8BITMIME, unchanged, which RFC 6152
    // does not allow. Output of `Message::to_bytes` is 7-bit, so only raw messages from
    // elsewhere can be affected.
    if envelope.eight_bit && extensions.eight_bit_mime {
        mail_from.push_str(" BODY=8BITMIME");
    }
    let reply = match connection.command(&mail_from, timeout).await {
        Ok(reply) => reply,
        Err(error) => return SessionResult::Failed(Outcome::temporary(error.to_string())),
    };
    if !reply.is_positive() {
        connection.quit_in_background();
        let outcome = Outcome::from_reply(&reply);
        return SessionResult::Completed {
            tls,
            outcomes: vec![outcome; recipient_count],
        };
    }

    // RCPT TO: a rejection is that recipient's final outcome. `None` marks an accepted
    // recipient, whose outcome is the reply to the message data.
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(recipient_count);
    for recipient in envelope.recipients {
        let reply = match connection
            .command(&format!("RCPT TO:<{recipient}>"), timeout)
            .await
        {
            Ok(reply) => reply,
            Err(error) => return SessionResult::Failed(Outcome::temporary(error.to_string())),
        };
        outcomes.push((!reply.is_positive()).then(|| Outcome::from_reply(&reply)));
    }
    if outcomes.iter().all(Option::is_some) {
        connection.quit_in_background();
        return SessionResult::Completed {
            tls,
            outcomes: outcomes.into_iter().flatten().collect(),
        };
    }

    // DATA: anything but 354 ends the transaction for the accepted recipients.
    let reply = match connection.command("DATA", timeout).await {
        Ok(reply) => reply,
        Err(error) => return SessionResult::Failed(Outcome::temporary(error.to_string())),
    };
    if reply.code != 354 {
        connection.quit_in_background();
        let outcome = Outcome::from_reply(&reply);
        return SessionResult::Completed {
            tls,
            outcomes: fill_accepted(outcomes, outcome),
        };
    }

    // The message. Until the final dot has been sent, the server cannot have accepted it.
    if let Err(error) = connection.write_data(envelope.data, timeout).await {
        return SessionResult::Failed(Outcome::temporary(error.to_string()));
    }

    // The reply to the final dot. Without it, the server may or may not have accepted the
    // message, so the failure is temporary and no other server is tried in this call.
    let step = "while waiting for the reply to the message data";
    let outcome = match connection.read_reply(step, settings.data_timeout).await {
        Ok(reply) => {
            connection.quit_in_background();
            Outcome::from_reply(&reply)
        }
        Err(error) => Outcome::temporary(error.to_string()),
    };
    SessionResult::Completed {
        tls,
        outcomes: fill_accepted(outcomes, outcome),
    }
}

/// Gives `outcome` to every accepted recipient (marked `None`).
fn fill_accepted(outcomes: Vec<Option<Outcome>>, outcome: Outcome) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|rejected| rejected.unwrap_or_else(|| outcome.clone()))
        .collect()
}
