//! Measures a whole DKIM signing call against the bare signature primitive it uses.
//!
//! Run with `cargo run --release -p convene-mail --example dkim_sign_bench`. For RSA-2048 and
//! Ed25519 it prints the mean time of `Signer::sign_at` on a message of about 3 KB built by
//! `Message`. Beside it, it prints the mean time of the `aws-lc-rs` signature alone, on input
//! of the same size as the signed header data, and the ratio of the two. The difference is
//! the cost of normalizing, canonicalizing, hashing and formatting.
//!
//! One run on a shared 2-core x86-64 machine (SHA extensions, AVX2), under a load of about 3
//! from other builds, printed the following. Absolute times vary with load from run to run,
//! and ratios within a few hundredths.
//!
//! ```text
//! message: 3282 bytes
//! rsa-sha256:     sign_at  719.1 µs, primitive  708.4 µs, ratio 1.02
//! ed25519-sha256: sign_at   19.1 µs, primitive    9.8 µs, ratio 1.96
//! ```
//!
//! The overhead is about 10 µs either way: line-ending normalization, two SHA-256 hashes and
//! formatting the field. That is small beside RSA, but as large as the Ed25519 primitive
//! itself.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use convene_mail::dkim::{Algorithm, PrivateKey, Signer, SignerConfig, generate};
use convene_mail::{Address, Mailbox, Message};
use jiff::Timestamp;

/// Length of each measurement round. Rounds of the signing call and of the primitive
/// alternate, and the fastest round of each is reported, which filters out most of the
/// interference from other processes.
const ROUND: Duration = Duration::from_millis(200);
const ROUNDS: usize = 10;

fn main() {
    let message = sample_message();
    println!("message: {} bytes", message.len());

    for (algorithm, bits) in [
        (Algorithm::RsaSha256, 2048),
        (Algorithm::Ed25519Sha256, 256),
    ] {
        let generated = generate(algorithm, bits, "bench", "convene.example").unwrap();
        let key = PrivateKey::from_pem(generated.private_pem.as_bytes()).unwrap();
        let signer = Signer::new(SignerConfig::new("convene.example", "bench"), key).unwrap();
        let now = Timestamp::now();

        // The signed data: the header fields and the signature field without its value.
        let signed = signer.sign_at(&message, now).unwrap();
        let signed_data = vec![b'x'; header_data_len(&signed)];
        let der = pem_to_der(&generated.private_pem);

        let mut sign_call = || {
            black_box(signer.sign_at(black_box(&message), now).unwrap());
        };
        let (whole, primitive) = match algorithm {
            Algorithm::RsaSha256 => {
                let key_pair = RsaKeyPair::from_pkcs8(&der).unwrap();
                let random = SystemRandom::new();
                let mut signature = vec![0; key_pair.public_modulus_len()];
                fastest_rounds(&mut sign_call, || {
                    key_pair
                        .sign(
                            &RSA_PKCS1_SHA256,
                            &random,
                            black_box(&signed_data),
                            &mut signature,
                        )
                        .unwrap();
                })
            }
            // Ed25519 signs the 32-byte SHA-256 hash of the data (RFC 8463), so the primitive
            // is measured on a hash, and hashing is counted as part of the signing call.
            Algorithm::Ed25519Sha256 => {
                let key_pair = Ed25519KeyPair::from_pkcs8(&der).unwrap();
                let hash = digest(&SHA256, &signed_data);
                fastest_rounds(&mut sign_call, || {
                    black_box(key_pair.sign(black_box(hash.as_ref())));
                })
            }
        };

        println!(
            "{:<15} sign_at {:>6.1} µs, primitive {:>6.1} µs, ratio {:.2}",
            format!("{algorithm}:"),
            micros(whole),
            micros(primitive),
            whole.as_secs_f64() / primitive.as_secs_f64()
        );
    }
}

/// Returns a message of about 3 KB, as the e-mail channel builds them.
fn sample_message() -> Vec<u8> {
    let paragraph = "The weekly planning meeting moved from 09:00 to 10:00 in room 4.12. \
        Please update your calendar and tell the organizer if the new time does not suit you.\n";
    let message = Message::new(
        Mailbox::new(
            "Convene",
            Address::parse("noreply@convene.example").unwrap(),
        ),
        "Reminder: planning meeting at 10:00",
    )
    .to(Mailbox::new(
        "Ada Lovelace",
        Address::parse("ada@example.org").unwrap(),
    ))
    .text(paragraph.repeat(8))
    .html(format!("<p>{}</p>", paragraph.repeat(8)));
    message.to_bytes().unwrap()
}

/// Returns the mean time of one call of `first` and of `second` in the fastest of several
/// alternating rounds.
fn fastest_rounds(mut first: impl FnMut(), mut second: impl FnMut()) -> (Duration, Duration) {
    let mut fastest = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        fastest.0 = fastest.0.min(mean_time(&mut first));
        fastest.1 = fastest.1.min(mean_time(&mut second));
    }
    fastest
}

/// Returns the mean time of one call of `operation` over one round.
fn mean_time(operation: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut calls: u32 = 0;
    while start.elapsed() < ROUND {
        operation();
        calls += 1;
    }
    start.elapsed() / calls
}

/// Returns the length of the data a signature covers, estimated as the length of the header
/// minus the signature value. The estimate is a little high, because fields that are not
/// signed and folding whitespace count too.
fn header_data_len(signed: &[u8]) -> usize {
    let text = String::from_utf8_lossy(signed);
    let header_len = text.find("\r\n\r\n").unwrap_or(text.len());
    // The signature value starts after "b=" at the start of a continuation line and runs to
    // the end of the field, folded over further continuation lines.
    let value_start = text.find("\r\n b=").expect("a b= tag") + "\r\n b=".len();
    let value_len: usize = text[value_start..header_len]
        .split("\r\n")
        .enumerate()
        .take_while(|(index, line)| *index == 0 || line.starts_with(' '))
        .map(|(_, line)| line.trim_start().len())
        .sum();
    header_len - value_len
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
