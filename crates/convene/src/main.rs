//! The `convene` command: the HTTP API, the Notifier and the command line.
//!
//! This crate hides the wiring: which store, parser, channel and mail
//! transport are chosen, from which settings, and how they are exposed over
//! HTTP and on the command line. It is the only crate that depends on all
//! the others, and none depends on it.
//!
//! Layout:
//! - `config`: the command line, the settings of `convene serve` and
//!   [`config::SettingsError`].
//! - `mail_settings`: DNS, SMTP transport and DKIM settings, shared by the
//!   commands that send or check mail.
//! - `serve`: starts the HTTP server and the Notifier and stops them.
//! - `http`: routes, request decoding, JSON views and problem responses.
//! - `invitations`: invitations as iMIP e-mail through the mail queue.
//! - `mail_send`, `mail_doctor`, `dkim_keygen`: the `convene mail send`,
//!   `convene mail doctor` and `convene dkim keygen` commands.
//! - `ics_command`: the `convene ics check` and `convene ics normalize` commands.
//! - `rrule_command`: `convene rrule`, which prints a rule's occurrences.
//! - `user_command`: `convene user create` and `convene user token`.
//! - `api_settings`: the administrator token and rate limits of `convene serve`.
//!
//! Exit status: 0 on success, 2 for invalid arguments or settings (clap's
//! own errors included) and 1 for other errors. `mail send` and `mail
//! doctor` add their own, listed in their help.

mod api_settings;
mod channel_settings;
mod config;
mod dkim_keygen;
mod http;
mod ics_command;
mod invitations;
mod mail_doctor;
mod mail_send;
mod mail_settings;
mod push_command;
mod rrule_command;
mod serve;
mod user_command;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::FromArgMatches;

use crate::config::{
    Cli, Command, DkimCommand, MailCommand, PushCommand, SettingsError, WebhookCommand,
};

#[tokio::main]
async fn main() -> ExitCode {
    let command = config::command_with_settings_help();
    let matches = command
        .clone()
        .try_get_matches()
        .unwrap_or_else(|err| config::exit_naming_variable(&command, err));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    let default_filter = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = cli.log.as_deref().unwrap_or(default_filter);
    if let Err(error) = init_logging(filter, &cli.log_format) {
        eprintln!("convene: {error}");
        return ExitCode::from(2);
    }

    let result = match cli.command {
        Command::Serve(settings) => serve::serve(settings).await.map(|()| ExitCode::SUCCESS),
        Command::Mail(MailCommand::Send(args)) => mail_send::run(args).await,
        Command::Mail(MailCommand::Doctor(args)) => mail_doctor::run(args).await,
        Command::Dkim(DkimCommand::Keygen(args)) => dkim_keygen::run(&args),
        Command::Push(PushCommand::Keygen(args)) => push_command::keygen(&args),
        Command::Webhook(WebhookCommand::Secret(args)) => push_command::webhook_secret(&args),
        Command::Ics(command) => ics_command::run(command),
        Command::Rrule(args) => rrule_command::run(&args),
        Command::User(command) => user_command::run(command).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("convene: {error:#}");
            if error.downcast_ref::<SettingsError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(filter: &str, format: &str) -> Result<(), SettingsError> {
    let json = match format {
        "text" => false,
        "json" => true,
        other => {
            return Err(SettingsError::new(format!(
                "invalid log format {other:?}; set --log-format / CONVENE_LOG_FORMAT to text or json"
            )));
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter).map_err(|err| {
        SettingsError::new(format!(
            "invalid log filter {filter:?} ({err}); set --log / CONVENE_LOG to a filter such as info or info,convene_mail=debug"
        ))
    })?;
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logger.json().init();
    } else {
        logger.with_ansi(std::io::stderr().is_terminal()).init();
    }
    Ok(())
}
