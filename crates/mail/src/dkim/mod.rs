//! DKIM signing (RFC 6376), so that receivers can check that a message comes from the
//! domain it claims and was not changed on the way.
//!
//! This module hides how a signature is made: which header fields are signed, the two
//! canonicalization algorithms, the hashing, how the `DKIM-Signature` field is folded, and
//! which cryptographic library computes the signature. Callers give a [`PrivateKey`] and a
//! [`SignerConfig`] once, and then pass each message through [`Signer::sign`], which returns
//! the message with the signature field in front, ready for
//! [`Mailer::send`](crate::Mailer::send).
//!
//! It signs with `rsa-sha256` (RSA keys of 1024 bits or more, as RFC 8301 requires) and
//! `ed25519-sha256` (RFC 8463). It never writes an `l=` tag, so content appended to a signed
//! body always breaks the signature. It does not verify signatures, which is the receiver's
//! work, and it does not look up DNS.
//!
//! # Layout
//!
//! - `sign`: [`Signer`], the choice of signed header fields and the `DKIM-Signature` field.
//! - `header`: line-ending normalization, identical to the SMTP transport's, and the split
//!   into header fields and body.
//! - `canonicalize`: the `simple` and `relaxed` algorithms.
//! - `fold`: line folding at 78 characters.
//! - `key`: [`PrivateKey`], loaded from PEM, and the signature primitive.
//! - `encoding`: the PEM and DER details of key files.
//! - `keygen`: [`generate`], which makes a key and its DNS record, and
//!   [`write_private_key`].
//!
//! # Example
//!
//! ```no_run
//! use convene_mail::dkim::{PrivateKey, Signer, SignerConfig};
//!
//! # fn example(message: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let key = PrivateKey::from_pem(&std::fs::read("/etc/convene/dkim.pem")?)?;
//! let signer = Signer::new(SignerConfig::new("convene.example", "mail2026"), key)?;
//! let signed = signer.sign(message)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Cryptography
//!
//! Canonicalization is written here, and `aws-lc-rs` computes SHA-256 and the signatures.
//! RSA keys of 1024 to 2047 bits, which `aws-lc-rs` rejects, sign through the pure-Rust
//! `rsa` crate. Copies of private keys made here are overwritten with zeros when dropped.

mod canonicalize;
mod encoding;
mod fold;
mod header;
mod key;
mod keygen;
mod sign;

pub use canonicalize::Canonicalization;
pub use key::{Algorithm, KeyError, MAX_RSA_BITS, MIN_RSA_BITS, PrimitiveError, PrivateKey};
pub use keygen::{GenerateError, GeneratedKey, generate, write_private_key};
pub use sign::{ConfigError, SignError, Signer, SignerConfig};
