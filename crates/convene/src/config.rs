//! Command-line flags and environment variables.
//!
//! Every setting is a flag and an environment variable of the same meaning, so that
//! operators can use either and tests can set them per process. The mail settings shared
//! by several commands are defined in `mail_settings`, and each command's own arguments
//! next to the command.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::api_settings::ApiSettings;
use crate::channel_settings::ChannelSettings;
use crate::dkim_keygen::KeygenArgs;
use crate::ics_command::IcsCommand;
use crate::mail_doctor::DoctorArgs;
use crate::mail_send::SendArgs;
use crate::mail_settings::MailSettings;
use crate::push_command::{PushKeygenArgs, WebhookSecretArgs};
use crate::rrule_command::RruleArgs;
use crate::user_command::UserCommand;

/// Convene: a self-hosted scheduling service.
#[derive(Debug, Parser)]
#[command(name = "convene", version, about, long_about = None)]
pub struct Cli {
    /// Log filter in tracing's EnvFilter syntax, such as `info` or
    /// `convene_mail=debug,info`. Logs go to standard error. Default: `info` for
    /// `serve`, `warn` for the other commands, whose results go to standard output.
    #[arg(long, env = "CONVENE_LOG", global = true)]
    pub log: Option<String>,

    /// Log line format: `text` for reading, or `json` for one JSON object per line with
    /// the fields of the event and of its spans, for log collectors.
    #[arg(
        long,
        env = "CONVENE_LOG_FORMAT",
        global = true,
        default_value = "text"
    )]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once at start-up, so its size does not matter"
)]
pub enum Command {
    /// Run the HTTP API and the reminder Notifier until SIGINT or SIGTERM.
    Serve(ServeSettings),
    /// Send a message now, or check a sender domain's DNS records.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Manage DKIM keys.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// Manage the VAPID key of Web Push reminders.
    #[command(subcommand)]
    Push(PushCommand),
    /// Make signing secrets for webhook reminders.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Check iCalendar files, or print Convene's export of one.
    #[command(subcommand)]
    Ics(IcsCommand),
    /// Create users and issue API tokens directly in the database.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the occurrences of an RRULE from a DTSTART.
    ///
    /// Exit status: 0 on success, 2 for an invalid argument or rule, 1 when the rule
    /// finds no further occurrence within a million candidates (after printing those
    /// it found).
    Rrule(RruleArgs),
}

#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once at start-up, so its size does not matter"
)]
pub enum MailCommand {
    /// Deliver one message now, without the queue, and print each recipient's result.
    ///
    /// Exit status: 0 when every recipient got the message, 75 when some failed only
    /// temporarily (a retry may succeed), 1 when any failed permanently, 2 for invalid
    /// arguments or settings.
    Send(SendArgs),
    /// Check the SPF, DKIM, DMARC and reverse DNS records that receivers use to judge
    /// the domain's mail.
    ///
    /// Exit status: 0 when no check fails (warnings allowed), 1 when one fails, 2 for
    /// invalid arguments or settings.
    Doctor(DoctorArgs),
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Generate a DKIM key pair: write the private key to a file and print the DNS record.
    Keygen(KeygenArgs),
}

#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Generate a VAPID key pair: write the private key to a file and print the public key
    /// that browsers subscribe with.
    Keygen(PushKeygenArgs),
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Print a new random signing secret for CONVENE_WEBHOOK_SECRET.
    Secret(WebhookSecretArgs),
}

/// Settings of `convene serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address and port the HTTP API listens on.
    #[arg(long, env = "CONVENE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Where data is stored: `sqlite:PATH` for a SQLite file (created when
    /// missing), `postgres://USER@HOST/DATABASE` for an existing PostgreSQL
    /// database that several processes can share, or `memory:` for an
    /// in-process store that is lost on exit.
    #[arg(
        long,
        env = "CONVENE_DATABASE_URL",
        default_value = "sqlite:convene.db"
    )]
    pub database_url: String,

    #[command(flatten)]
    pub api: ApiSettings,

    #[command(flatten)]
    pub mail: MailSettings,

    #[command(flatten, next_help_heading = "Reminder channels")]
    pub channels: ChannelSettings,

    /// Sender address of reminders (envelope sender and From header).
    /// Default: convene@ followed by the HELO name.
    #[arg(
        long,
        help_heading = "Reminders and mail queue",
        env = "CONVENE_MAIL_FROM"
    )]
    pub mail_from: Option<String>,

    /// Display name in the From header of reminders.
    #[arg(
        long,
        help_heading = "Reminders and mail queue",
        env = "CONVENE_MAIL_FROM_NAME",
        default_value = "Convene"
    )]
    pub mail_from_name: String,

    /// Time between polls for due reminders, such as `1s`, `500ms` or `1m`;
    /// from 10ms to 1h.
    #[arg(long, help_heading = "Reminders and mail queue", env = "CONVENE_NOTIFIER_INTERVAL", default_value = "5s", value_parser = parse_interval)]
    pub notifier_interval: Duration,

    /// How long a claimed reminder is reserved for this process, such as
    /// `20m`. After a crash, its claimed reminders are sent by the next poll
    /// after this time. Keep it longer than the longest SMTP transaction
    /// (up to 10 minutes for the final reply, RFC 5321 §4.5.3.2): a send
    /// that outlasts the lease may be repeated by another poll. A send is
    /// cut off at three quarters of the lease. From 1s to 168h.
    #[arg(long, help_heading = "Reminders and mail queue", env = "CONVENE_NOTIFIER_LEASE", default_value = "20m", value_parser = parse_lease)]
    pub notifier_lease: Duration,

    /// Maximum number of reminder deliveries one poll claims, and of queued
    /// recipients the mail queue claims; from 1 to 10000.
    #[arg(long, help_heading = "Reminders and mail queue", env = "CONVENE_NOTIFIER_BATCH", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub notifier_batch: u32,

    /// Delay before the first retry of a temporarily failed reminder, such
    /// as `1m`; from 1s to 168h. Each further retry doubles it, up to one
    /// hour or this delay, whichever is longer.
    #[arg(long, help_heading = "Reminders and mail queue", env = "CONVENE_RETRY_INITIAL", default_value = "1m", value_parser = parse_retry)]
    pub retry_initial: Duration,

    /// How long queued mail is retried before a recipient that still fails
    /// temporarily fails permanently, such as `120h` (five days) or `30m`;
    /// from 1m to 720h. A reminder is never retried after its event ends.
    #[arg(long, help_heading = "Reminders and mail queue", env = "CONVENE_MAIL_EXPIRY", default_value = "120h", value_parser = parse_expiry)]
    pub mail_expiry: Duration,
}

/// An invalid setting or argument found before any work starts: a file that cannot be
/// read, settings that only work together, or a value clap cannot check alone. `convene`
/// exits with status 2 for it, as clap does for the errors it finds.
#[derive(Debug)]
pub struct SettingsError(String);

impl SettingsError {
    pub fn new(message: impl Into<String>) -> SettingsError {
        SettingsError(message.into())
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

/// Builds the command line, with every setting of `convene serve` listed
/// in the top-level help too, generated from the same definitions so the
/// two never disagree.
/// Prints a command-line error and exits, adding the environment variable that sets the
/// offending value, because a value from `CONVENE_*` is reported by its flag alone.
pub fn exit_naming_variable(command: &clap::Command, err: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) && let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg)
        && let Some(long) = arg
            .strip_prefix("--")
            .and_then(|rest| rest.split([' ', '=']).next())
        && let Some(variable) = env_of(command, long)
    {
        let _ = err.print();
        eprintln!("The value may come from the environment variable {variable}; check it too.");
        std::process::exit(err.exit_code());
    }
    // Two settings that exclude each other may both come from the environment.
    if err.kind() == ErrorKind::ArgumentConflict {
        let variables: Vec<String> = [ContextKind::InvalidArg, ContextKind::PriorArg]
            .into_iter()
            .filter_map(|kind| match err.get(kind) {
                Some(ContextValue::String(arg)) => Some(arg.clone()),
                Some(ContextValue::Strings(args)) => args.first().cloned(),
                _ => None,
            })
            .filter_map(|arg| {
                let long = arg.strip_prefix("--")?.split([' ', '=']).next()?.to_owned();
                env_of(command, &long)
            })
            .collect();
        if !variables.is_empty() {
            let _ = err.print();
            eprintln!(
                "The values may come from the environment variables {}; set only one.",
                variables.join(" and ")
            );
            std::process::exit(err.exit_code());
        }
    }
    err.exit()
}

/// Returns the environment variable of the flag `--long` in `command` or its subcommands.
fn env_of(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long))
        .and_then(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|subcommand| env_of(subcommand, long))
        })
}

pub fn command_with_settings_help() -> clap::Command {
    let command = Cli::command();
    let serve = command
        .find_subcommand("serve")
        .expect("the serve subcommand is defined")
        .clone();
    let mut text =
        String::from("Settings of `convene serve`, as flags or environment variables:\n");
    for arg in serve.get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let default = match arg.get_default_values() {
            [] => String::new(),
            values => format!(" [default: {}]", values[0].to_string_lossy()),
        };
        text.push_str(&format!(
            "  --{long}, {}{default}\n      {help}\n",
            env.to_string_lossy()
        ));
    }
    command.after_help(text)
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    parse_bounded(
        text,
        Duration::from_millis(10),
        Duration::from_secs(3600),
        "10ms to 1h",
    )
}

fn parse_lease(text: &str) -> Result<Duration, String> {
    parse_bounded(
        text,
        Duration::from_secs(1),
        Duration::from_secs(7 * 24 * 3600),
        "1s to 168h",
    )
}

fn parse_retry(text: &str) -> Result<Duration, String> {
    parse_bounded(
        text,
        Duration::from_secs(1),
        Duration::from_secs(7 * 24 * 3600),
        "1s to 168h",
    )
}

fn parse_expiry(text: &str) -> Result<Duration, String> {
    parse_bounded(
        text,
        Duration::from_secs(60),
        Duration::from_secs(30 * 24 * 3600),
        "1m to 720h",
    )
}

/// Parses a duration and checks that it lies within `[min, max]`.
fn parse_bounded(
    text: &str,
    min: Duration,
    max: Duration,
    range: &str,
) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < min || duration > max {
        return Err(format!(
            "{text:?} is out of range; use a duration from {range}"
        ));
    }
    Ok(duration)
}

/// Parses a positive duration such as `1s`, `250ms`, `2m`, `1h30m` or the
/// ISO 8601 form `PT1S`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text.parse().map_err(|_| {
        format!("{text:?} is not a duration; combine a number with ms, s, m or h, such as 500ms, 1s, 2m or 1h30m")
    })?;
    match Duration::try_from(parsed) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(format!(
            "{text:?} is not positive; use a duration such as 1s"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_help_lists_every_setting() {
        let help = command_with_settings_help().render_help().to_string();
        for env in [
            "CONVENE_LISTEN",
            "CONVENE_DATABASE_URL",
            "CONVENE_DNS_SERVER",
            "CONVENE_SMTP_PORT",
            "CONVENE_MAIL_FROM",
            "CONVENE_HELO_NAME",
            "CONVENE_NOTIFIER_INTERVAL",
            "CONVENE_MAIL_EXPIRY",
            "CONVENE_TLS_POLICY",
            "CONVENE_TLS_POLICY_DOMAINS",
            "CONVENE_TLS_CA_FILE",
            "CONVENE_RELAY",
            "CONVENE_RELAY_USER",
            "CONVENE_RELAY_PASSWORD_FILE",
            "CONVENE_DKIM_KEY",
            "CONVENE_DKIM_DOMAIN",
            "CONVENE_DKIM_SELECTOR",
            "CONVENE_ADMIN_TOKEN",
            "CONVENE_ADMIN_TOKEN_FILE",
            "CONVENE_RATE_LIMIT",
            "CONVENE_RATE_BURST",
        ] {
            assert!(help.contains(env), "{env} missing from:\n{help}");
        }
        assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
        assert!(help.contains("[default: opportunistic]"), "{help}");
    }

    #[test]
    fn parse_duration_forms() {
        let rows = [
            ("1s", Duration::from_secs(1)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5400)),
            ("PT1S", Duration::from_secs(1)),
        ];
        for (text, expected) in rows {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_interval("1ns").is_err());
        assert!(parse_interval("250ms").is_ok());
        assert!(parse_lease("100000000h").is_err());
        assert!(parse_lease("500ms").is_err());
        assert!(parse_retry("2h").is_ok());
        assert!(parse_duration("soon").is_err());
    }
}
