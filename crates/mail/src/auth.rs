//! SMTP authentication with the PLAIN and LOGIN mechanisms (RFC 4954), for the relay.
//!
//! Both mechanisms send the password in base64, which is no protection, so the caller
//! authenticates only over TLS. Commands that carry credentials are logged with
//! placeholders.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tracing::debug;

use crate::config::Credentials;
use crate::ehlo::Extensions;
use crate::reply::Reply;
use crate::smtp::Connection;
use crate::status::Outcome;

/// A SASL mechanism this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    /// RFC 4616: one command with the user name and password.
    Plain,
    /// The pre-standard LOGIN mechanism: user name and password as the responses to two 334
    /// challenges.
    Login,
}

/// Authenticates with PLAIN when the server offers it, and otherwise with LOGIN.
///
/// Returns the failure to report for every recipient: the server's reply when it rejects the
/// credentials (535 is permanent, 454 temporary), or a temporary local failure when the
/// server offers neither mechanism or the connection fails.
pub(crate) async fn authenticate(
    connection: &mut Connection,
    extensions: &Extensions,
    credentials: &Credentials,
    command_timeout: Duration,
) -> Result<(), Outcome> {
    let mechanism = if extensions.offers_auth("PLAIN") {
        Mechanism::Plain
    } else if extensions.offers_auth("LOGIN") {
        Mechanism::Login
    } else {
        let offered = if extensions.auth_mechanisms.is_empty() {
            "no AUTH mechanism".to_owned()
        } else {
            format!("AUTH {}", extensions.auth_mechanisms.join(" "))
        };
        return Err(Outcome::temporary(format!(
            "the relay at {} offers {offered}, but credentials are configured and only PLAIN \
             and LOGIN are supported",
            connection.addr()
        )));
    };
    debug!(
        ?mechanism,
        username = credentials.username(),
        "authenticating"
    );

    let reply = match mechanism {
        Mechanism::Plain => plain(connection, credentials, command_timeout).await,
        Mechanism::Login => login(connection, credentials, command_timeout).await,
    }?;
    if reply.code == 235 {
        Ok(())
    } else {
        if reply.code == 334 {
            // The server wants more than this mechanism has to send. The exchange is
            // unfinished, so no further command can follow on this connection.
            connection.mark_unusable();
        }
        Err(Outcome::from_rejection(&reply))
    }
}

/// Sends `AUTH PLAIN` with the initial response: an empty authorization identity, the user
/// name and the password, separated by NUL (RFC 4616, section 2).
async fn plain(
    connection: &mut Connection,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<Reply, Outcome> {
    let message = format!("\0{}\0{}", credentials.username(), credentials.password());
    let command = format!("AUTH PLAIN {}", BASE64.encode(message));
    send(connection, &command, "AUTH PLAIN <credentials>", timeout).await
}

/// Sends `AUTH LOGIN`, then the user name and the password in response to the two 334
/// challenges.
async fn login(
    connection: &mut Connection,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<Reply, Outcome> {
    let reply = send(connection, "AUTH LOGIN", "AUTH LOGIN", timeout).await?;
    if reply.code != 334 {
        return Ok(reply);
    }
    let username = BASE64.encode(credentials.username());
    let reply = send(connection, &username, "<user name>", timeout).await?;
    if reply.code != 334 {
        return Ok(reply);
    }
    let password = BASE64.encode(credentials.password());
    send(connection, &password, "<password>", timeout).await
}

async fn send(
    connection: &mut Connection,
    command: &str,
    shown: &str,
    timeout: Duration,
) -> Result<Reply, Outcome> {
    connection
        .command_logged_as(command, shown, timeout)
        .await
        .map_err(|error| Outcome::temporary(error.to_string()))
}
