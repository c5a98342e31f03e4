//! `convene mail send`: builds one message from files, delivers it now with the shared mail
//! settings, without the queue, and prints each recipient's result.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use convene_mail::{
    Address, Attachment, DeliveryStatus, Mailbox, Mailer, Message, RecipientResult,
};
use serde_json::json;

use crate::config::SettingsError;
use crate::mail_settings::{MailSettings, mailer_error, warn_if_unaligned};

/// Exit status when some recipients failed temporarily and none permanently: `EX_TEMPFAIL`
/// of BSD's sysexits.h, which mail programs such as sendmail use for "try again later".
const EXIT_TEMPORARY: u8 = 75;

/// Content types of attachments by file name extension, compared without regard to case.
/// Any other extension gets `application/octet-stream`.
const CONTENT_TYPES: [(&str, &str); 16] = [
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ics", "text/calendar"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
];

/// Arguments of `convene mail send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Sender: envelope sender and From header, as `local@domain` or
    /// `Display Name <local@domain>`.
    #[arg(long, value_name = "ADDR")]
    pub from: String,

    /// Recipient in the To header, as `local@domain` or `Name <local@domain>`.
    #[arg(long, value_name = "ADDR", required = true, num_args = 1..)]
    pub to: Vec<String>,

    /// Recipient in the Cc header.
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,

    /// Recipient in the envelope only, named in no header.
    #[arg(long, value_name = "ADDR")]
    pub bcc: Vec<String>,

    /// Subject line.
    #[arg(long)]
    pub subject: String,

    /// File with the plain-text body, UTF-8; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,

    /// File with the HTML body, UTF-8; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// File to attach, named after its last path component, with a content type chosen
    /// by its extension; `-` reads standard input. Repeat for several files.
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,

    /// Print the results as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub mail: MailSettings,
}

/// Builds, signs and delivers the message, prints the results and returns the exit status.
pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let mailer = Mailer::new(args.mail.mailer_config()?).map_err(mailer_error)?;
    let signer = args.mail.dkim.signer()?;
    let from = parse_mailbox(&args.from, "--from")?;
    let sender = from.address.clone();
    let message = build_message(&args, from)?;
    let mut data = message
        .to_bytes()
        .map_err(|error| SettingsError::new(error.to_string()))?;
    if let Some(signer) = &signer {
        warn_if_unaligned(&sender, signer);
        data = signer
            .sign(&data)
            .map_err(|error| anyhow::anyhow!("signing the message failed: {error}"))?;
    }

    let recipients = message.envelope_recipients();
    let results = mailer.send(&sender, &recipients, &data).await;
    mailer.close().await;

    let output = if args.json {
        json_output(&results)
    } else {
        table_output(&results)
    };
    println!("{output}");
    Ok(exit_status(&results))
}

/// Returns 0 when every recipient got the message, 1 when any failed permanently and 75
/// when the others failed only temporarily.
fn exit_status(results: &[RecipientResult]) -> ExitCode {
    let failed = |status| results.iter().any(|result| result.status == status);
    if failed(DeliveryStatus::PermanentFailure) {
        ExitCode::FAILURE
    } else if failed(DeliveryStatus::TemporaryFailure) {
        ExitCode::from(EXIT_TEMPORARY)
    } else {
        ExitCode::SUCCESS
    }
}

/// Builds the message from `from` and the other arguments, reading the body and
/// attachment files.
fn build_message(args: &SendArgs, from: Mailbox) -> Result<Message, SettingsError> {
    let stdin_users: Vec<&str> = [("--text", &args.text), ("--html", &args.html)]
        .into_iter()
        .filter(|(_, path)| path.as_deref().is_some_and(is_stdin))
        .map(|(flag, _)| flag)
        .chain(
            args.attach
                .iter()
                .filter(|path| is_stdin(path))
                .map(|_| "--attach"),
        )
        .collect();
    if stdin_users.len() > 1 {
        return Err(SettingsError::new(format!(
            "standard input can be read once, but {} all name `-`; write all but one to files",
            stdin_users.join(", ")
        )));
    }
    if args.text.is_none() && args.html.is_none() {
        return Err(SettingsError::new(
            "the message has no body; pass --text FILE or --html FILE (`-` reads standard input)",
        ));
    }

    let mut message = Message::new(from, args.subject.clone());
    for to in &args.to {
        message = message.to(parse_mailbox(to, "--to")?);
    }
    for cc in &args.cc {
        message = message.cc(parse_mailbox(cc, "--cc")?);
    }
    for bcc in &args.bcc {
        message = message.bcc(parse_mailbox(bcc, "--bcc")?.address);
    }
    if let Some(path) = &args.text {
        message = message.text(read_text(path, "--text")?);
    }
    if let Some(path) = &args.html {
        message = message.html(read_text(path, "--html")?);
    }
    for path in &args.attach {
        let data = read_file(path, "--attach")?;
        let file_name = if is_stdin(path) {
            "attachment".to_owned()
        } else {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".to_owned())
        };
        let content_type = content_type(&file_name);
        message = message.attachment(Attachment::new(file_name, content_type, data));
    }
    Ok(message)
}

/// Parses `local@domain` or `Display Name <local@domain>`, with the display name
/// optionally in double quotes.
fn parse_mailbox(text: &str, flag: &str) -> Result<Mailbox, SettingsError> {
    let invalid = |error: convene_mail::AddressError| {
        SettingsError::new(format!(
            "{flag} {text:?}: {error}; use local@domain or \"Display Name <local@domain>\""
        ))
    };
    let text = text.trim();
    let Some(inner) = text.strip_suffix('>') else {
        return Address::parse(text).map(Mailbox::from).map_err(invalid);
    };
    let Some((name, address)) = inner.rsplit_once('<') else {
        return Err(SettingsError::new(format!(
            "{flag} {text:?} ends with '>' but has no '<'; use \"Display Name <local@domain>\""
        )));
    };
    let address = Address::parse(address.trim()).map_err(invalid)?;
    let name = name.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|name| name.strip_suffix('"'))
        .unwrap_or(name);
    if name.is_empty() {
        return Ok(Mailbox::from(address));
    }
    Ok(Mailbox::new(name, address))
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads `path`, or standard input for `-`.
fn read_file(path: &Path, flag: &str) -> Result<Vec<u8>, SettingsError> {
    let result = if is_stdin(path) {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data).map(|_| data)
    } else {
        std::fs::read(path)
    };
    result.map_err(|error| {
        SettingsError::new(format!("reading {flag} {} failed: {error}", path.display()))
    })
}

fn read_text(path: &Path, flag: &str) -> Result<String, SettingsError> {
    String::from_utf8(read_file(path, flag)?).map_err(|_| {
        SettingsError::new(format!(
            "{flag} {} is not UTF-8 text; convert it, for example with iconv -t UTF-8",
            path.display()
        ))
    })
}

/// Returns the content type for `file_name` from [`CONTENT_TYPES`].
fn content_type(file_name: &str) -> &'static str {
    let extension = Path::new(file_name)
        .extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
    extension
        .and_then(|extension| {
            CONTENT_TYPES
                .iter()
                .find(|(known, _)| *known == extension)
                .map(|(_, content_type)| *content_type)
        })
        .unwrap_or("application/octet-stream")
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::TemporaryFailure => "temporary",
        DeliveryStatus::PermanentFailure => "permanent",
    }
}

/// Returns a JSON array with one object per recipient.
fn json_output(results: &[RecipientResult]) -> String {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|result| {
            json!({
                "recipient": result.recipient.as_str(),
                "status": status_name(result.status),
                "mx": result.mx_host,
                "tls": result.tls,
                "tls_version": result.tls_version,
                "tls_cipher": result.tls_cipher_suite,
                "code": result.reply_code,
                "message": result.reply_text,
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("JSON values always serialize")
}

/// Returns a table with a header line and one line per recipient, columns aligned.
fn table_output(results: &[RecipientResult]) -> String {
    let mut rows = vec![[
        "RECIPIENT".to_owned(),
        "STATUS".to_owned(),
        "MX".to_owned(),
        "TLS".to_owned(),
        "CODE".to_owned(),
        "MESSAGE".to_owned(),
    ]];
    for result in results {
        rows.push([
            result.recipient.to_string(),
            status_name(result.status).to_owned(),
            result.mx_host.clone().unwrap_or_else(|| "-".to_owned()),
            result.tls_version.clone().unwrap_or_else(|| "-".to_owned()),
            result
                .reply_code
                .map_or_else(|| "-".to_owned(), |code| code.to_string()),
            // A reply text from a server could hold control characters that would
            // break the table or reach the terminal.
            result
                .reply_text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        ]);
    }

    let mut widths = [0; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                if index + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[index]));
                }
            }
            line.trim_end().to_owned()
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_by_extension() {
        let rows = [
            ("report.pdf", "application/pdf"),
            ("Photo.JPG", "image/jpeg"),
            ("invite.ics", "text/calendar"),
            ("archive.tar.gz", "application/gzip"),
            ("notes", "application/octet-stream"),
            ("program.exe", "application/octet-stream"),
        ];
        for (file_name, expected) in rows {
            assert_eq!(content_type(file_name), expected, "{file_name}");
        }
    }

    #[test]
    fn parse_mailbox_forms() {
        let plain = parse_mailbox("ada@example.test", "--to").unwrap();
        assert_eq!(plain.name, None);
        assert_eq!(plain.address.as_str(), "ada@example.test");

        let named = parse_mailbox("Ada Lovelace <ada@example.test>", "--to").unwrap();
        assert_eq!(named.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(named.address.as_str(), "ada@example.test");

        let quoted = parse_mailbox("\"Lovelace, Ada\" <ada@example.test>", "--to").unwrap();
        assert_eq!(quoted.name.as_deref(), Some("Lovelace, Ada"));

        let bare = parse_mailbox("<ada@example.test>", "--to").unwrap();
        assert_eq!(bare.name, None);
    }

    #[test]
    fn parse_mailbox_rejects_invalid() {
        let rows = [
            ("ada", "missing '@'"),
            ("Ada ada@example.test>", "no '<'"),
            ("Ada <ada@@example.test>", "--cc"),
        ];
        for (text, expected) in rows {
            let error = parse_mailbox(text, "--cc").unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
