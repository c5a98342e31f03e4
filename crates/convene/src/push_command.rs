//! `convene push keygen` and `convene webhook secret`: the keys of the Web Push and webhook
//! channels.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use convene_channel::push::VapidKey;
use convene_channel::webhook::WebhookSecret;

/// Arguments of `convene push keygen`.
#[derive(Debug, Clone, Args)]
pub struct PushKeygenArgs {
    /// File the private key is written to, as PKCS#8 PEM with mode 0600. An existing file
    /// is never replaced: browsers subscribed with its key would stop receiving reminders.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `convene webhook secret`.
#[derive(Debug, Clone, Args)]
pub struct WebhookSecretArgs {}

/// Generates the VAPID key, writes it and prints its public key.
pub fn keygen(args: &PushKeygenArgs) -> anyhow::Result<ExitCode> {
    let key = VapidKey::generate(&args.out)
        .map_err(|err| anyhow::anyhow!("generating the VAPID key failed: {err}"))?;
    println!("{}", key.public_key());
    eprintln!(
        "Wrote the private key to {}. Set CONVENE_PUSH_VAPID_KEY_FILE to it; browsers subscribe with the public key above, which GET /v1/push/key also serves.",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints a new webhook signing secret.
pub fn webhook_secret(_args: &WebhookSecretArgs) -> anyhow::Result<ExitCode> {
    println!("{}", WebhookSecret::generate().expose());
    Ok(ExitCode::SUCCESS)
}
