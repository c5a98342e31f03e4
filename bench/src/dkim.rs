//! The cost of DKIM signing: `convene_mail::dkim::Signer::sign` next to the bare signature
//! primitive it calls (`aws-lc-rs`), with the same key and the same message.
//!
//! The primitive signs the whole message once, as `a=rsa-sha256` or `a=ed25519-sha256`
//! sign their data: RSA PKCS #1 v1.5 over SHA-256, or Ed25519 over the SHA-256 hash (RFC
//! 8463). `Signer::sign` also splits and canonicalizes the message, hashes the body, builds
//! the `DKIM-Signature` field and copies the message behind it. Each is timed in batches
//! that alternate, so that other load on the machine affects both alike, in CPU time of
//! the signing thread.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use convene_mail::dkim::{
    Algorithm, PrivateKey, Signer, SignerConfig, generate, write_private_key,
};

/// The signing domain and selector. The signature names them, and nothing here looks up
/// the key record.
const DOMAIN: &str = "bench.test";
const SELECTOR: &str = "bench";

/// Measures both algorithms with `rounds` alternating batches of `rsa_batch` RSA-2048 or
/// `ed25519_batch` Ed25519 signatures each, and prints one line per algorithm and signer:
/// `ALGORITHM SIGNER MICROSECONDS...`, the time per signature in each batch, in order.
///
/// The message and keys are written to `out` for dkimpy: `dkim.eml`, `rsa-2048.pem` and
/// `ed25519.pem` (PKCS #8), and `ed25519.seed`, the base64 private key that dkimpy takes.
pub fn run(out: &Path, rounds: usize, rsa_batch: usize, ed25519_batch: usize) -> Result<()> {
    let message = crate::message::build(crate::message::DKIM_AGENDA_ITEMS)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("dkim.eml");
    std::fs::write(&path, &message).with_context(|| format!("writing {}", path.display()))?;

    let cases = [
        ("rsa-2048", Algorithm::RsaSha256, 2048, rsa_batch),
        ("ed25519", Algorithm::Ed25519Sha256, 256, ed25519_batch),
    ];
    for (name, algorithm, bits, batch) in cases {
        let generated = generate(algorithm, bits, SELECTOR, DOMAIN)?;
        let pem_path = out.join(format!("{name}.pem"));
        write_private_key(&pem_path, &generated.private_pem)?;
        let der = pem_to_der(&generated.private_pem)?;
        let primitive = Primitive::from_pkcs8(algorithm, &der)?;
        if algorithm == Algorithm::Ed25519Sha256 {
            write_ed25519_seed(&out.join("ed25519.seed"), &der)?;
        }

        let key = PrivateKey::from_pem(generated.private_pem.as_bytes())?;
        let signer = Signer::new(SignerConfig::new(DOMAIN, SELECTOR), key)?;
        let signed = signer.sign(&message)?;
        if !signed.starts_with(b"DKIM-Signature:") {
            bail!("the {name} signer returned a message without a DKIM-Signature field");
        }

        let mut primitive_times = Vec::with_capacity(rounds);
        let mut signer_times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            primitive_times.push(per_call(batch, || primitive.sign(&message))?);
            signer_times.push(per_call(batch, || {
                signer.sign(&message)?;
                Ok(())
            })?);
        }
        println!("{name} primitive {}", micros(&primitive_times));
        println!("{name} convene {}", micros(&signer_times));
    }
    Ok(())
}

/// The signature primitive that `convene_mail::dkim` uses, called directly.
enum Primitive {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Primitive {
    fn from_pkcs8(algorithm: Algorithm, der: &[u8]) -> Result<Primitive> {
        Ok(match algorithm {
            Algorithm::RsaSha256 => Primitive::Rsa(RsaKeyPair::from_pkcs8(der)?),
            Algorithm::Ed25519Sha256 => Primitive::Ed25519(Ed25519KeyPair::from_pkcs8(der)?),
        })
    }

    fn sign(&self, data: &[u8]) -> Result<()> {
        match self {
            Primitive::Rsa(key_pair) => {
                let mut signature = vec![0; key_pair.public_modulus_len()];
                key_pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    data,
                    &mut signature,
                )?;
            }
            Primitive::Ed25519(key_pair) => {
                let hash = digest(&SHA256, data);
                std::hint::black_box(key_pair.sign(hash.as_ref()));
            }
        }
        Ok(())
    }
}

/// Runs `sign` `batch` times and returns the CPU time of this thread per call.
fn per_call(batch: usize, mut sign: impl FnMut() -> Result<()>) -> Result<Duration> {
    let start = thread_cpu_time();
    for _ in 0..batch {
        sign()?;
    }
    let elapsed = thread_cpu_time().saturating_sub(start);
    Ok(elapsed / u32::try_from(batch)?)
}

/// Formats `times` as microseconds separated by spaces.
fn micros(times: &[Duration]) -> String {
    let values: Vec<String> = times
        .iter()
        .map(|time| format!("{:.2}", time.as_secs_f64() * 1e6))
        .collect();
    values.join(" ")
}

/// Returns the user and system CPU time this thread has used. Unlike wall-clock time, it
/// leaves out the time in which other processes hold the CPU.
fn thread_cpu_time() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid timespec that clock_gettime may write to.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    let seconds = u64::try_from(time.tv_sec).expect("CPU time is not negative");
    let nanoseconds = u32::try_from(time.tv_nsec).expect("nanoseconds are below 10^9");
    Duration::new(seconds, nanoseconds)
}

/// Decodes the base64 body of a PEM document.
fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    Ok(STANDARD.decode(body)?)
}

/// Writes the 32-octet Ed25519 private key, the last field of its PKCS #8 v1 encoding
/// (RFC 8410, section 7), in base64, as dkimpy's `dkim.sign` takes it.
fn write_ed25519_seed(path: &Path, der: &[u8]) -> Result<()> {
    let Some(seed) = der
        .get(der.len().saturating_sub(32)..)
        .filter(|_| der.len() == 48)
    else {
        bail!(
            "invalid Ed25519 PKCS #8 key of {} octets; expected 48 (version 1)",
            der.len()
        );
    };
    write_private_key(path, &STANDARD.encode(seed))?;
    Ok(())
}
