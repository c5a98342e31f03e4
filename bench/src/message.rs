//! The test message: a reminder with a text and an HTML part (`multipart/alternative`),
//! about 4 KiB, built with `convene_mail::Message` as Convene builds its own mail.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use convene_mail::{Address, Mailbox, Message};

/// The envelope sender of every contender.
pub const SENDER: &str = "sender@bench.test";
/// The single envelope recipient of every message. bench.test's MX record leads to the
/// SMTP server under test.
pub const RECIPIENT: &str = "rcpt@bench.test";

/// The number of agenda items in the delivered message, which makes it about 4 KiB.
const DELIVERY_AGENDA_ITEMS: usize = 21;
/// The number of agenda items in the signed message, which makes it about 3 KB.
pub const DKIM_AGENDA_ITEMS: usize = 14;

/// Writes the message as `message.eml` (CRLF line endings, as sent) and `message.lf` (LF
/// line endings, because `smtp-source -F` appends CRLF to each line it reads) into `out`.
pub fn write(out: &Path) -> Result<()> {
    let bytes = build(DELIVERY_AGENDA_ITEMS)?;
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let eml = out.join("message.eml");
    fs::write(&eml, &bytes).with_context(|| format!("writing {}", eml.display()))?;
    let lf = out.join("message.lf");
    let text = std::str::from_utf8(&bytes).context("the message is not valid UTF-8")?;
    fs::write(&lf, text.replace("\r\n", "\n"))
        .with_context(|| format!("writing {}", lf.display()))?;

    println!("{} octets", bytes.len());
    Ok(())
}

/// Builds the message with `agenda_items` lines of agenda in each part.
pub fn build(agenda_items: usize) -> Result<Vec<u8>> {
    let sender = Address::parse(SENDER)?;
    let recipient = Address::parse(RECIPIENT)?;

    let mut text = String::from(
        "Hello Ada,\n\nthis is a reminder of the planning meeting tomorrow at 10:00 \
         (Europe/Berlin) in room 4.12. The agenda:\n\n",
    );
    let mut html = String::from(
        "<p>Hello Ada,</p><p>this is a reminder of the planning meeting tomorrow at \
         <b>10:00</b> (Europe/Berlin) in room 4.12. The agenda:</p><ol>",
    );
    for item in 1..=agenda_items {
        text.push_str(&format!(
            "{item}. Review of work package {item}, its open tasks and the next milestone.\n"
        ));
        html.push_str(&format!(
            "<li>Review of work package {item}, its open tasks and the next milestone.</li>"
        ));
    }
    text.push_str("\nSee you there,\nConvene\n");
    html.push_str("</ol><p>See you there,<br>Convene</p>");

    let message = Message::new(
        Mailbox::new("Convene", sender),
        "Reminder: planning meeting",
    )
    .to(Mailbox::new("Ada Lovelace", recipient))
    .text(text)
    .html(html)
    .message_id_domain("bench.test");
    Ok(message.to_bytes()?)
}
