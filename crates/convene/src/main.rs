//! The `convene` command: the HTTP API, the Notifier and the command line.
//!
//! This crate hides the wiring: which store, parser, channel and mail
//! transport are chosen, from which settings, and how they are exposed over
//! HTTP. It is the only crate that depends on all the others, and none
//! depends on it.
//!
//! Layout:
//! - `config`: command-line flags and environment variables.
//! - `serve`: starts the HTTP server and the Notifier and stops them.
//! - `http`: routes, request decoding, JSON views and problem responses.

mod config;
mod http;
mod serve;

use std::io::IsTerminal;

use clap::FromArgMatches;

use crate::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let matches = config::command_with_settings_help().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    init_logging(&cli.log);
    match cli.command {
        Command::Serve(settings) => serve::serve(settings).await,
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|err| {
        eprintln!("convene: invalid log filter {filter:?} ({err}); using \"info\"");
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
