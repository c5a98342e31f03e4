//! `convene dkim keygen`: generates a DKIM key pair, writes the private key to a file that
//! only its owner can read and prints the DNS record to publish.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use convene_mail::dkim::{Algorithm, GenerateError, generate, write_private_key};

use crate::config::SettingsError;

/// Arguments of `convene dkim keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Signing domain (d=), normally the domain of the sender address.
    #[arg(long)]
    pub domain: String,

    /// Selector (s=), such as `mail2026`: the record goes to SELECTOR._domainkey.DOMAIN.
    #[arg(long)]
    pub selector: String,

    /// Key algorithm: `rsa` (rsa-sha256, verified by every receiver) or `ed25519`
    /// (ed25519-sha256, RFC 8463, which not every receiver verifies yet).
    #[arg(long, value_enum)]
    pub algorithm: KeyAlgorithm,

    /// Key size in bits: 2048, 3072 or 4096 for RSA (default 2048), 256 for Ed25519.
    #[arg(long)]
    pub bits: Option<u32>,

    /// File the private key is written to, as PKCS#8 PEM with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Replace FILE if it exists. Signatures by the old key fail once its record is
    /// replaced by the new one.
    #[arg(long)]
    pub force: bool,
}

/// A DKIM key algorithm by its command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    Rsa,
    Ed25519,
}

/// Generates the key, writes it and prints the record.
pub fn run(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let (algorithm, default_bits) = match args.algorithm {
        KeyAlgorithm::Rsa => (Algorithm::RsaSha256, 2048),
        KeyAlgorithm::Ed25519 => (Algorithm::Ed25519Sha256, 256),
    };
    if !args.force && args.out.exists() {
        anyhow::bail!(
            "the key file {} already exists; choose another --out, or pass --force to replace it",
            args.out.display()
        );
    }
    let generated = generate(
        algorithm,
        args.bits.unwrap_or(default_bits),
        &args.selector,
        &args.domain,
    )
    .map_err(|error| SettingsError::new(argument_error(&error)))?;

    if args.force {
        replace_private_key(&args.out, &generated.private_pem)
    } else {
        write_private_key(&args.out, &generated.private_pem)
    }
    .with_context(|| format!("writing the private key to {} failed", args.out.display()))?;

    eprintln!(
        "Wrote the private key to {} (mode 0600). Publish this record in the DNS zone of {}:",
        args.out.display(),
        args.domain
    );
    println!("{}", generated.dns_record);
    Ok(ExitCode::SUCCESS)
}

/// Names the flag behind an error of [`generate`].
fn argument_error(error: &GenerateError) -> String {
    let flag = match error {
        GenerateError::UnsupportedSize { .. } => "--bits",
        GenerateError::InvalidSelector { .. } => "--selector",
        GenerateError::InvalidDomain { .. } => "--domain",
        _ => return error.to_string(),
    };
    format!("invalid {flag}: {error}")
}

/// Writes the key to a new file beside `path` and renames it over `path`, so that `path`
/// contains either the old key or the whole new one, even after a crash.
fn replace_private_key(path: &Path, private_pem: &str) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid key file path {}: it names no file", path.display()),
        )
    })?;
    let staging = path.with_file_name(format!(
        ".{}.{}.new",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    write_private_key(&staging, private_pem)?;
    std::fs::rename(&staging, path).inspect_err(|_| {
        // The staging file is as private as the key, but it is of no further use.
        let _ = std::fs::remove_file(&staging);
    })
}
