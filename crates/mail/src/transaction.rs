//! One mail transaction on an open session: MAIL, one RCPT per recipient, DATA and the
//! message (RFC 5321, section 3.3), as one pipelined command group when the server offers
//! PIPELINING (RFC 2920).

use std::time::Duration;

use memchr::memmem;
use tracing::debug;

use crate::address::Address;
use crate::config::Timeouts;
use crate::ehlo::Extensions;
use crate::reply::Reply;
use crate::session::Session;
use crate::smtp::{Connection, SmtpError};
use crate::status::Outcome;

/// The line that ends the message data.
const FINAL_DOT: &[u8] = b".\r\n";

/// Maximum time to wait for a reply that may explain a failed write of the message data.
/// A server that rejects a message while it arrives sends its reply before it closes the
/// connection, so the reply is already there or never comes.
const REPLY_AFTER_WRITE_ERROR_TIMEOUT: Duration = Duration::from_secs(2);

/// The sender, recipients and message of one transaction.
pub(crate) struct Envelope<'a> {
    pub(crate) sender: &'a Address,
    /// The recipients, without duplicates.
    pub(crate) recipients: &'a [Address],
    /// The message encoded for DATA, with dot-stuffing and the final dot.
    pub(crate) data: &'a [u8],
    /// The message size as the SIZE extension counts it (RFC 1870, section 3): octets with
    /// CRLF line endings, without dot-stuffing and the final dot.
    pub(crate) message_size: usize,
    /// Whether the message contains octets above 127.
    pub(crate) eight_bit: bool,
}

/// Returns the size of an encoded message as the SIZE extension counts it: the encoded
/// length without the final dot line and without the dot added to each line that starts
/// with a dot.
pub(crate) fn message_size(encoded: &[u8]) -> usize {
    let body = encoded.strip_suffix(FINAL_DOT).unwrap_or(encoded);
    let mut stuffed_dots = usize::from(body.first() == Some(&b'.'));
    // Two matches of "\n.." cannot overlap, so counting them one after another misses none.
    stuffed_dots += memmem::find_iter(body, b"\n..").count();
    body.len() - stuffed_dots
}

/// The end of a transaction.
#[derive(Debug)]
pub(crate) enum Transaction {
    /// The server replied for every recipient: one outcome per recipient, in envelope order.
    Completed(Vec<Outcome>),
    /// A reused connection was closed, or closing, before the reply to MAIL arrived, so the
    /// server accepted nothing. A new connection may succeed.
    Stale(Outcome),
    /// The connection failed, or the server sent 421, before the final dot was sent, so the
    /// server accepted nothing. Another server may be tried.
    Failed(Outcome),
}

/// The replies to MAIL, each RCPT and DATA, whether they were read one by one or as a
/// pipelined group.
struct Replies {
    mail: Reply,
    rcpts: Vec<Reply>,
    /// `None` when DATA was not sent because no recipient was accepted.
    data: Option<Reply>,
}

/// Runs one transaction for `envelope` on `session`. A `reused` session first gets RSET,
/// which clears what an earlier transaction left and shows whether the server is still
/// there.
///
/// The session can take another transaction afterwards if its connection is still usable.
pub(crate) async fn run_transaction(
    session: &mut Session,
    envelope: &Envelope<'_>,
    timeouts: &Timeouts,
    reused: bool,
) -> Transaction {
    let recipient_count = envelope.recipients.len();

    // A message over the server's announced limit would be rejected after transfer, and a
    // server that stays the same will keep rejecting it (RFC 1870).
    if let Some(limit) = session
        .extensions
        .exceeded_size_limit(envelope.message_size)
    {
        let outcome = Outcome::permanent(format!(
            "message of {} octets exceeds the server's size limit of {limit} octets",
            envelope.message_size
        ));
        return Transaction::Completed(vec![outcome; recipient_count]);
    }

    let mail_from = mail_from_command(envelope, &session.extensions);
    let rcpts: Vec<String> = envelope
        .recipients
        .iter()
        .map(|recipient| format!("RCPT TO:<{recipient}>"))
        .collect();
    let connection = &mut session.connection;
    let exchange = if session.extensions.pipelining {
        pipelined(connection, &mail_from, &rcpts, timeouts, reused).await
    } else {
        one_by_one(connection, &mail_from, &rcpts, timeouts, reused).await
    };
    let replies = match exchange {
        Ok(replies) => replies,
        Err(end) => return end,
    };

    // MAIL FROM: a rejection applies to every recipient. RCPT TO: a rejection is that
    // recipient's final outcome. `None` marks an accepted recipient, whose outcome is the
    // reply to DATA or to the message.
    let outcomes: Vec<Option<Outcome>> = if replies.mail.is_positive() {
        let rcpt_outcome =
            |reply: &Reply| (!reply.is_positive()).then(|| Outcome::from_reply(reply));
        replies.rcpts.iter().map(rcpt_outcome).collect()
    } else {
        vec![Some(Outcome::from_reply(&replies.mail)); recipient_count]
    };
    let any_accepted = outcomes.iter().any(Option::is_none);

    // DATA: a 4xx or 5xx reply ends the transaction for the accepted recipients. Any other
    // reply but 354 does not fit DATA at all. It is most likely the reply to an earlier
    // command read one step late, so no reply of this transaction can be trusted.
    let data_reply = match replies.data {
        Some(reply) if reply.code == 354 => reply,
        Some(reply) if reply.code >= 400 => {
            return Transaction::Completed(fill_accepted(outcomes, Outcome::from_reply(&reply)));
        }
        Some(reply) => {
            connection.mark_unusable();
            return Transaction::Failed(Outcome::temporary(format!(
                "unexpected reply {} {:?} to DATA ({}), so the replies no longer match the \
                 commands; the message was not sent",
                reply.code,
                reply.text(),
                connection.addr()
            )));
        }
        None => return Transaction::Completed(outcomes.into_iter().flatten().collect()),
    };
    debug_assert_eq!(data_reply.code, 354);
    if !any_accepted {
        // A pipelining client sends DATA before it knows whether any recipient was
        // accepted. When the server still replies 354, RFC 2920, section 3.1, requires a
        // single dot, which ends an empty message. The message itself is never sent.
        end_empty_data(connection, timeouts).await;
        return Transaction::Completed(outcomes.into_iter().flatten().collect());
    }

    // The message. Until the final dot has been sent, the server cannot have accepted it,
    // so a failure here lets the caller try another server.
    if let Err(error) = connection.check_in_step("before the message data") {
        return Transaction::Failed(failure(error));
    }
    let body = &envelope.data[..envelope.data.len() - FINAL_DOT.len()];
    if let Err(error) = connection.write_data(body, timeouts.data_block).await {
        return match read_reply_after_write_error(connection).await {
            Some(outcome) => Transaction::Completed(fill_accepted(outcomes, outcome)),
            None => Transaction::Failed(failure(error)),
        };
    }

    // The final dot and its reply. From the moment the dot may have left, the server may
    // have accepted the message, so every failure is a temporary outcome of this attempt
    // and no other server is tried in this call.
    let step = "while waiting for the reply to the message data";
    let outcome = match connection.write_data(FINAL_DOT, timeouts.data_block).await {
        Ok(()) => match connection.read_reply(step, timeouts.data_termination).await {
            Ok(reply) => Outcome::from_reply(&reply),
            Err(error) => failure(error),
        },
        Err(error) => read_reply_after_write_error(connection)
            .await
            .unwrap_or_else(|| failure(error)),
    };
    Transaction::Completed(fill_accepted(outcomes, outcome))
}

/// Reads a reply that the server sent before a write of the message data failed, such as
/// a 554 rejection of a message still arriving, followed by a closed connection. Returns
/// the outcome of a 4xx or 5xx reply, or `None` when no such reply arrives in time. Any
/// other reply is ignored, because a server cannot accept a message it did not receive in
/// full. The reply's size is bounded by the reply parser's line length and line count.
async fn read_reply_after_write_error(connection: &mut Connection) -> Option<Outcome> {
    let step = "after a failed write of the message data";
    match connection
        .read_reply(step, REPLY_AFTER_WRITE_ERROR_TIMEOUT)
        .await
    {
        Ok(reply) if reply.code >= 400 => Some(Outcome::from_reply(&reply)),
        Ok(reply) => {
            debug!(
                addr = %connection.addr(), code = reply.code,
                "ignoring a reply that does not explain the failed write"
            );
            None
        }
        Err(error) => {
            debug!(%error, "no reply after the failed write of the message data");
            None
        }
    }
}

/// Builds `MAIL FROM` with the SIZE and BODY parameters the server and message call for.
fn mail_from_command(envelope: &Envelope<'_>, extensions: &Extensions) -> String {
    let mut command = format!("MAIL FROM:<{}>", envelope.sender);
    if extensions.size.is_some() {
        command.push_str(&format!(" SIZE={}", envelope.message_size));
    }
    // NOTE: 8-bit data also goes to servers without 8BITMIME, unchanged, which RFC 6152
    // does not allow. Output of `Message::to_bytes` is 7-bit, so only raw messages from
    // elsewhere can be affected.
    if envelope.eight_bit && extensions.eight_bit_mime {
        command.push_str(" BODY=8BITMIME");
    }
    command
}

/// Sends RSET (on a reused connection), MAIL, every RCPT and DATA in one write, then reads
/// their replies in order (RFC 2920, section 3.1).
async fn pipelined(
    connection: &mut Connection,
    mail_from: &str,
    rcpts: &[String],
    timeouts: &Timeouts,
    reused: bool,
) -> Result<Replies, Transaction> {
    let mut group = Vec::with_capacity(rcpts.len() + 3);
    if reused {
        group.push("RSET".to_owned());
    }
    group.push(mail_from.to_owned());
    group.extend_from_slice(rcpts);
    group.push("DATA".to_owned());
    if let Err(error) = connection.send_group(&group, timeouts.mail).await {
        return Err(before_mail_reply(reused, failure(error)));
    }

    if reused {
        read_rset_reply(connection, timeouts).await?;
    }
    let mail = read_mail_reply(connection, timeouts, reused).await?;
    let mut rcpt_replies = Vec::with_capacity(rcpts.len());
    for _ in rcpts {
        let step = "while waiting for the reply to RCPT";
        rcpt_replies.push(in_transaction(
            connection.read_reply(step, timeouts.rcpt).await,
        )?);
    }
    let step = "while waiting for the reply to DATA";
    let data = in_transaction(connection.read_reply(step, timeouts.data_initiation).await)?;
    Ok(Replies {
        mail,
        rcpts: rcpt_replies,
        data: Some(data),
    })
}

/// Sends RSET (on a reused connection), MAIL, every RCPT and DATA one at a time, waiting
/// for each reply. DATA is not sent when MAIL or every RCPT was rejected.
async fn one_by_one(
    connection: &mut Connection,
    mail_from: &str,
    rcpts: &[String],
    timeouts: &Timeouts,
    reused: bool,
) -> Result<Replies, Transaction> {
    if reused {
        if let Err(error) = connection
            .send_group(&["RSET".to_owned()], timeouts.command)
            .await
        {
            return Err(Transaction::Stale(failure(error)));
        }
        read_rset_reply(connection, timeouts).await?;
    }

    if let Err(error) = connection
        .send_group(&[mail_from.to_owned()], timeouts.mail)
        .await
    {
        return Err(before_mail_reply(reused, failure(error)));
    }
    let mail = read_mail_reply(connection, timeouts, reused).await?;
    let mut replies = Replies {
        mail,
        rcpts: Vec::with_capacity(rcpts.len()),
        data: None,
    };
    if !replies.mail.is_positive() {
        return Ok(replies);
    }

    for rcpt in rcpts {
        let reply = in_transaction(connection.command(rcpt, timeouts.rcpt).await)?;
        replies.rcpts.push(reply);
    }
    if replies.rcpts.iter().any(Reply::is_positive) {
        let reply = in_transaction(connection.command("DATA", timeouts.data_initiation).await)?;
        replies.data = Some(reply);
    }
    Ok(replies)
}

/// Reads the reply to RSET. A reused connection that fails here is stale.
async fn read_rset_reply(
    connection: &mut Connection,
    timeouts: &Timeouts,
) -> Result<(), Transaction> {
    let step = "while waiting for the reply to RSET";
    match connection.read_reply(step, timeouts.command).await {
        Ok(reply) if reply.is_positive() => Ok(()),
        Ok(reply) => {
            // The replies to the rest of a pipelined group may still be on their way.
            connection.mark_unusable();
            Err(Transaction::Stale(Outcome::from_reply(&reply)))
        }
        Err(error) => Err(Transaction::Stale(failure(error))),
    }
}

/// Reads the reply to MAIL. A failure or 421 here means that the connection is gone: stale
/// on a reused connection, failed on a new one.
async fn read_mail_reply(
    connection: &mut Connection,
    timeouts: &Timeouts,
    reused: bool,
) -> Result<Reply, Transaction> {
    let step = "while waiting for the reply to MAIL";
    match connection.read_reply(step, timeouts.mail).await {
        Ok(reply) if reply.code == 421 => {
            Err(before_mail_reply(reused, Outcome::from_reply(&reply)))
        }
        Ok(reply) => Ok(reply),
        Err(error) => Err(before_mail_reply(reused, failure(error))),
    }
}

fn before_mail_reply(reused: bool, outcome: Outcome) -> Transaction {
    if reused {
        Transaction::Stale(outcome)
    } else {
        Transaction::Failed(outcome)
    }
}

/// Checks a reply inside the transaction, where a connection failure or 421 ends the whole
/// attempt.
fn in_transaction(result: Result<Reply, SmtpError>) -> Result<Reply, Transaction> {
    match result {
        Ok(reply) if reply.code == 421 => Err(Transaction::Failed(Outcome::from_reply(&reply))),
        Ok(reply) => Ok(reply),
        Err(error) => Err(Transaction::Failed(failure(error))),
    }
}

/// Ends a DATA that the server accepted although no recipient was accepted, with a single
/// dot. The reply only matters for the connection's state, which `read_reply` tracks.
async fn end_empty_data(connection: &mut Connection, timeouts: &Timeouts) {
    if connection
        .write_data(FINAL_DOT, timeouts.data_block)
        .await
        .is_ok()
    {
        let step = "while waiting for the reply to an empty message";
        let _ = connection.read_reply(step, timeouts.data_termination).await;
    }
}

fn failure(error: SmtpError) -> Outcome {
    Outcome::temporary(error.to_string())
}

/// Gives `outcome` to every accepted recipient (marked `None`).
fn fill_accepted(outcomes: Vec<Option<Outcome>>, outcome: Outcome) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|rejected| rejected.unwrap_or_else(|| outcome.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_size_counts_crlf_without_stuffing() {
        let cases: [(&[u8], usize); 4] = [
            (b".\r\n", 0),
            (b"a\r\n.\r\n", 3),
            (b"..a\r\nb\r\n...\r\n.\r\n", 11),
            (b"x\r\n..\r\n.\r\n", 6),
        ];
        for (encoded, expected) in cases {
            assert_eq!(
                message_size(encoded),
                expected,
                "{:?}",
                String::from_utf8_lossy(encoded)
            );
        }
    }
}
