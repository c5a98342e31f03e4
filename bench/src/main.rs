//! Benchmarks of the Mail Broker (`convene-mail`), run by `bench/run`: its delivery
//! throughput against lettre and Postfix's `smtp-source` with the same message, message count
//! and concurrency, and the cost of its DKIM signer against the signature primitive.
//!
//! Each subcommand does one thing and exits. `message` writes the test message. `convene`
//! and `lettre` deliver it many times to an SMTP server on loopback and exit with an error
//! if any delivery fails. The script times each of them from start to exit, so every
//! contender, `smtp-source` included, pays for its own start-up and its closing QUITs.
//! `dkim` times the signer and the primitive and writes the keys that dkimpy then uses.

mod convene;
mod dkim;
mod lettre_send;
mod load;
mod message;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::lettre_send::LettreMode;

#[derive(Parser)]
#[command(about = "Mail Broker benchmarks: delivery on loopback and DKIM signing")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the test message, built with convene_mail::Message, as message.eml (CRLF line
    /// endings) and message.lf (LF line endings, for smtp-source -F) into a directory.
    Message {
        /// The directory to write the two files to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measures the CPU time of DKIM signing per message with convene_mail::dkim and with
    /// the bare signature primitive, and writes the message and keys for dkimpy.
    Dkim {
        /// The directory to write the message and keys to.
        #[arg(long)]
        out: PathBuf,
        /// The number of alternating batches of each signer.
        #[arg(long, default_value_t = 21, value_parser = positive())]
        rounds: usize,
        /// Signatures per batch with RSA-2048.
        #[arg(long, default_value_t = 100, value_parser = positive())]
        rsa_batch: usize,
        /// Signatures per batch with Ed25519.
        #[arg(long, default_value_t = 2000, value_parser = positive())]
        ed25519_batch: usize,
    },
    /// Delivers the message with convene_mail::Mailer, which finds the server through an
    /// MX lookup of bench.test.
    Convene {
        #[command(flatten)]
        load: LoadArgs,
        /// The DNS server that answers the MX query for bench.test, as IP:PORT.
        #[arg(long)]
        dns: SocketAddr,
        /// MailerConfig::max_idle_per_host: idle connections kept for reuse. 0 opens a new
        /// connection for every message. Default: the concurrency, one per task.
        #[arg(long)]
        max_idle_per_host: Option<usize>,
    },
    /// Delivers the message with lettre's SMTP client to 127.0.0.1.
    Lettre {
        #[command(flatten)]
        load: LoadArgs,
        /// Connection handling: pooled, one per message, or kept per task.
        #[arg(long, value_enum)]
        mode: LettreMode,
    },
}

/// The message, server and load shared by the delivery contenders.
#[derive(Args)]
struct LoadArgs {
    /// The message file to send, with CRLF line endings.
    #[arg(long)]
    message: PathBuf,
    /// The TCP port of the SMTP server on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// The number of messages to deliver in all.
    #[arg(long, default_value_t = 20_000, value_parser = positive())]
    messages: usize,
    /// The number of messages in flight at once: tasks, each with its own connection.
    #[arg(long, default_value_t = 16, value_parser = positive())]
    concurrency: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Message { out } => message::write(&out),
        Command::Dkim {
            out,
            rounds,
            rsa_batch,
            ed25519_batch,
        } => dkim::run(&out, rounds, rsa_batch, ed25519_batch),
        Command::Convene {
            load,
            dns,
            max_idle_per_host,
        } => {
            let max_idle_per_host = max_idle_per_host.unwrap_or(load.concurrency);
            runtime()?.block_on(convene::run(&load, dns, max_idle_per_host))
        }
        Command::Lettre { load, mode } => runtime()?.block_on(lettre_send::run(&load, mode)),
    }
}

/// Accepts a whole number of at least 1.
fn positive() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

/// Builds the multi-threaded Tokio runtime with one worker per core, as `#[tokio::main]`
/// does, so that both Rust contenders run on the same executor.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
