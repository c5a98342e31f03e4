//! Private signing keys: loading from PEM, the signature primitive and the public key record.
//!
//! RSA keys of 2048 to 8192 bits and Ed25519 keys sign through `aws-lc-rs`. That library
//! rejects RSA keys below 2048 bits, which RFC 8301 still allows signers to use (from 1024
//! bits), so those sign through the pure-Rust `rsa` crate instead.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use thiserror::Error;

use super::encoding::{
    KeyAlgorithm, PKCS1_LABEL, PemError, private_key_section, read_pkcs8, rsa_modulus_bits,
};

/// Minimum RSA key size in bits that RFC 8301, section 3.2, allows a signer to use.
pub const MIN_RSA_BITS: u32 = 1024;
/// Minimum RSA key size in bits that `aws-lc-rs` signs with.
const MIN_AWS_LC_RSA_BITS: u32 = 2048;
/// Maximum RSA key size in bits that `aws-lc-rs` signs with.
pub const MAX_RSA_BITS: u32 = 8192;

/// A DKIM signing algorithm (RFC 6376, section 3.3, and RFC 8463).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, `a=rsa-sha256`, which RFC 6376 requires every
    /// verifier to implement.
    RsaSha256,
    /// Ed25519 over the SHA-256 hash of the signed data, `a=ed25519-sha256` (RFC 8463).
    /// A verifier that does not implement RFC 8463 cannot check it.
    Ed25519Sha256,
}

impl Algorithm {
    /// Returns the name used in the `a=` tag.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// Returns the key type used in the `k=` tag of the key record.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The reason [`PrivateKey::from_pem`] rejected a key. No message contains key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text has no PEM section at all.
    #[error(
        "invalid DKIM private key: not PEM; expected a '-----BEGIN PRIVATE KEY-----' \
         (PKCS#8) or '-----BEGIN RSA PRIVATE KEY-----' (PKCS#1) line"
    )]
    NotPem,
    /// The PEM text contains sections, but no private key.
    #[error(
        "invalid DKIM private key: the PEM text contains {labels} but no private key; \
         expected PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY (PKCS#1)"
    )]
    NoPrivateKey {
        /// The labels of the sections found, comma-separated.
        labels: String,
    },
    /// The key is encrypted with a passphrase.
    #[error(
        "invalid DKIM private key: the key is encrypted; store it unencrypted with \
         'openssl pkey -in KEY -out PLAIN'"
    )]
    Encrypted,
    /// The PEM section is malformed: base64 or DER that does not parse.
    #[error("invalid DKIM private key: {problem}")]
    Malformed {
        /// A description of the problem, such as "the END line is missing".
        problem: String,
    },
    /// The PEM section is a private key in a format other than PKCS#8 and PKCS#1, such as
    /// `EC PRIVATE KEY` or `OPENSSH PRIVATE KEY`.
    #[error(
        "unsupported DKIM private key format '{label}'; use an RSA or Ed25519 key in PKCS#8 \
         (BEGIN PRIVATE KEY) or an RSA key in PKCS#1 (BEGIN RSA PRIVATE KEY) form"
    )]
    UnsupportedFormat {
        /// The PEM label, such as `EC PRIVATE KEY`.
        label: String,
    },
    /// The key is of an algorithm that DKIM does not sign with.
    #[error(
        "unsupported DKIM private key algorithm {algorithm}; use an RSA key (rsa-sha256) \
         or an Ed25519 key (ed25519-sha256)"
    )]
    UnsupportedAlgorithm {
        /// The algorithm, such as `EC` or `OID 1.2.3.4`.
        algorithm: String,
    },
    /// The RSA key is shorter than RFC 8301 allows.
    #[error(
        "DKIM RSA key too small: {bits} bits, but verifiers reject keys under \
         {MIN_RSA_BITS} bits (RFC 8301); generate a new key of 2048 bits"
    )]
    KeyTooSmall {
        /// The size of the modulus.
        bits: u32,
    },
    /// The RSA key is longer than the signing library supports.
    #[error("DKIM RSA key too large: {bits} bits, at most {MAX_RSA_BITS} are supported")]
    KeyTooLarge {
        /// The size of the modulus.
        bits: u32,
    },
    /// The cryptographic library rejected the key, for example because its components are
    /// inconsistent.
    #[error("invalid DKIM private key: the {algorithm} key was rejected ({reason})")]
    Rejected {
        /// `RSA` or `Ed25519`.
        algorithm: &'static str,
        /// The library's reason, which names a check and never contains key material.
        reason: String,
    },
}

/// The reason a signature could not be computed with a loaded key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("computing the DKIM signature failed in the cryptographic library: {reason}")]
pub struct PrimitiveError {
    reason: String,
}

/// A private key that signs DKIM signatures, with the algorithm it implies.
///
/// `Debug` shows the algorithm and size only.
pub struct PrivateKey {
    repr: Repr,
    bits: u32,
}

enum Repr {
    /// RSA keys of 2048 bits or more.
    Rsa(RsaKeyPair),
    /// RSA keys of 1024 to 2047 bits, which `aws-lc-rs` refuses. Boxed because the `rsa`
    /// crate's key is several times larger than the other variants.
    SmallRsa(Box<rsa::PrivateKey>),
    Ed25519(Ed25519KeyPair),
}

impl PrivateKey {
    /// Loads a key from PEM text: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    ///
    /// Other PEM sections, such as a certificate, may come before the key and are skipped.
    ///
    /// # Errors
    ///
    /// Returns an error when the text is not PEM, contains no unencrypted private key in a
    /// supported format, is malformed, contains a key of another algorithm, or contains an
    /// RSA key of fewer than 1024 or more than 8192 bits.
    pub fn from_pem(pem: &[u8]) -> Result<PrivateKey, KeyError> {
        let section = private_key_section(pem).map_err(KeyError::from)?;
        if section.label == PKCS1_LABEL {
            return PrivateKey::from_rsa_der(&section.der, &section.der, RsaFormat::Pkcs1);
        }

        let pkcs8 = read_pkcs8(&section.der).ok_or_else(|| KeyError::Malformed {
            problem: "the PRIVATE KEY section is not a PKCS#8 structure".to_owned(),
        })?;
        match pkcs8.algorithm {
            KeyAlgorithm::Rsa => {
                PrivateKey::from_rsa_der(&section.der, pkcs8.private_key, RsaFormat::Pkcs8)
            }
            KeyAlgorithm::Ed25519 => {
                let key_pair = Ed25519KeyPair::from_pkcs8(&section.der).map_err(|rejected| {
                    KeyError::Rejected {
                        algorithm: "Ed25519",
                        reason: rejected.to_string(),
                    }
                })?;
                Ok(PrivateKey::from_ed25519(key_pair))
            }
            KeyAlgorithm::Other(algorithm) => Err(KeyError::UnsupportedAlgorithm { algorithm }),
        }
    }

    /// Loads an RSA key from `der`, its PKCS#8 or PKCS#1 encoding, choosing the library by
    /// size. `rsa_private_key` is the PKCS#1 `RSAPrivateKey` inside, which is `der` itself
    /// for PKCS#1.
    fn from_rsa_der(
        der: &[u8],
        rsa_private_key: &[u8],
        format: RsaFormat,
    ) -> Result<PrivateKey, KeyError> {
        let bits = rsa_modulus_bits(rsa_private_key).ok_or_else(|| KeyError::Malformed {
            problem: format!("the {} RSA key has no readable modulus", format.name()),
        })?;
        let rejected = |reason: String| KeyError::Rejected {
            algorithm: "RSA",
            reason,
        };

        let repr = match bits {
            0..MIN_RSA_BITS => return Err(KeyError::KeyTooSmall { bits }),
            MIN_RSA_BITS..MIN_AWS_LC_RSA_BITS => {
                let key = match format {
                    RsaFormat::Pkcs1 => rsa::PrivateKey::from_pkcs1_der(der)
                        .map_err(|error| rejected(error.to_string()))?,
                    RsaFormat::Pkcs8 => rsa::PrivateKey::from_pkcs8_der(der)
                        .map_err(|error| rejected(error.to_string()))?,
                };
                Repr::SmallRsa(Box::new(key))
            }
            MIN_AWS_LC_RSA_BITS..=MAX_RSA_BITS => {
                let key_pair = match format {
                    RsaFormat::Pkcs1 => RsaKeyPair::from_der(der),
                    RsaFormat::Pkcs8 => RsaKeyPair::from_pkcs8(der),
                }
                .map_err(|error| rejected(error.to_string()))?;
                Repr::Rsa(key_pair)
            }
            _ => return Err(KeyError::KeyTooLarge { bits }),
        };
        Ok(PrivateKey { repr, bits })
    }

    pub(crate) fn from_rsa(key_pair: RsaKeyPair) -> PrivateKey {
        let bits = u32::try_from(key_pair.public_modulus_len() * 8).unwrap_or(u32::MAX);
        PrivateKey {
            repr: Repr::Rsa(key_pair),
            bits,
        }
    }

    pub(crate) fn from_ed25519(key_pair: Ed25519KeyPair) -> PrivateKey {
        PrivateKey {
            repr: Repr::Ed25519(key_pair),
            bits: 256,
        }
    }

    /// Returns the signing algorithm this key is for.
    pub fn algorithm(&self) -> Algorithm {
        match self.repr {
            Repr::Rsa(_) | Repr::SmallRsa(_) => Algorithm::RsaSha256,
            Repr::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// Returns the key size in bits: the modulus size for RSA, 256 for Ed25519.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Returns the text of the DNS TXT record that publishes the public key, such as
    /// `v=DKIM1; k=rsa; p=MIIBIjANBg...` (RFC 6376, section 3.6.1).
    ///
    /// For RSA, `p=` contains the DER `SubjectPublicKeyInfo`, as OpenSSL writes it. For
    /// Ed25519 it contains the 32-byte raw public key, as RFC 8463, section 4.2, requires.
    pub fn dns_record_text(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().key_type(),
            STANDARD.encode(self.public_key_bytes())
        )
    }

    fn public_key_bytes(&self) -> Vec<u8> {
        match &self.repr {
            Repr::Rsa(key_pair) => key_pair
                .public_key()
                .as_der()
                .expect("aws-lc-rs encodes the public key of a loaded key")
                .as_ref()
                .to_vec(),
            Repr::SmallRsa(key) => key
                .to_public_key()
                .to_public_key_der()
                .expect("the rsa crate encodes the public key of a loaded key")
                .into_vec(),
            Repr::Ed25519(key_pair) => key_pair.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `data`, the canonicalized header fields, as the key's algorithm prescribes.
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
        match &self.repr {
            Repr::Rsa(key_pair) => {
                let mut signature = vec![0; key_pair.public_modulus_len()];
                key_pair
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        data,
                        &mut signature,
                    )
                    .map_err(|error| PrimitiveError {
                        reason: error.to_string(),
                    })?;
                Ok(signature)
            }
            Repr::SmallRsa(key) => {
                let hash = digest(&SHA256, data);
                // The `getrandom` feature makes this blind the private key operation.
                key.sign(rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(), hash.as_ref())
                    .map_err(|error| PrimitiveError {
                        reason: error.to_string(),
                    })
            }
            // RFC 8463, section 3: Ed25519 signs the SHA-256 hash, not the data itself.
            Repr::Ed25519(key_pair) => {
                let hash = digest(&SHA256, data);
                Ok(key_pair.sign(hash.as_ref()).as_ref().to_vec())
            }
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum RsaFormat {
    Pkcs1,
    Pkcs8,
}

impl RsaFormat {
    fn name(self) -> &'static str {
        match self {
            RsaFormat::Pkcs1 => "PKCS#1",
            RsaFormat::Pkcs8 => "PKCS#8",
        }
    }
}

impl From<PemError> for KeyError {
    fn from(error: PemError) -> KeyError {
        match error {
            PemError::NoPem => KeyError::NotPem,
            PemError::Encrypted => KeyError::Encrypted,
            PemError::NoPrivateKey(labels) => KeyError::NoPrivateKey {
                labels: labels.join(", "),
            },
            PemError::UnsupportedLabel(label) => KeyError::UnsupportedFormat { label },
            PemError::MissingEnd(label) => KeyError::Malformed {
                problem: format!("the '-----END {label}-----' line is missing"),
            },
            PemError::InvalidBase64 => KeyError::Malformed {
                problem: "the PEM section is not valid base64".to_owned(),
            },
        }
    }
}
