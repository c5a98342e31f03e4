//! Generating a key pair with its DNS record, and writing the private key to a file.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, RsaKeyPair};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::address::check_domain;

use super::encoding::{PKCS8_LABEL, to_pem};
use super::key::{Algorithm, PrivateKey};

/// Maximum length of a character-string in a TXT record (RFC 1035, section 3.3).
const MAX_TXT_STRING_LEN: usize = 255;

/// A new key pair: the private key for the signer and the DNS record for verifiers.
///
/// `Debug` leaves out the private key, and dropping the value overwrites it with zeros.
pub struct GeneratedKey {
    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), lines ending in LF.
    /// Write it with [`write_private_key`], which keeps it private.
    pub private_pem: String,
    /// The zone-file line that publishes the public key, such as
    /// `mail._domainkey.convene.example. IN TXT "v=DKIM1; k=rsa; p=MIIB..." "...="`. The
    /// text is split into quoted strings of at most 255 characters, as zone files require,
    /// and verifiers join them again.
    pub dns_record: String,
}

impl Drop for GeneratedKey {
    fn drop(&mut self) {
        self.private_pem.zeroize();
    }
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("GeneratedKey")
            .field("dns_record", &self.dns_record)
            .finish_non_exhaustive()
    }
}

/// The reason [`generate`] created no key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The requested size is not one this algorithm generates.
    #[error("unsupported key size {bits} bits for {algorithm}; use {supported}")]
    UnsupportedSize {
        algorithm: Algorithm,
        bits: u32,
        /// The sizes that are accepted, as text.
        supported: &'static str,
    },
    /// The selector is not a sequence of DNS labels.
    #[error("invalid DKIM selector {selector:?}: {reason}; use DNS labels such as \"mail2026\"")]
    InvalidSelector {
        selector: String,
        reason: &'static str,
    },
    /// The domain is not a host name.
    #[error("invalid DKIM domain {domain:?}: {reason}; use the domain of the From address")]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    /// The cryptographic library failed to generate or encode the key.
    #[error("generating the {algorithm} key failed in the cryptographic library")]
    Library { algorithm: Algorithm },
}

/// Generates a key pair for `algorithm` and the DNS record that publishes it for `selector`
/// and `domain`.
///
/// `bits` is the RSA modulus size (2048, 3072 or 4096) or 256 for Ed25519, whose keys have
/// one size only.
///
/// # Errors
///
/// Returns an error for another size, for a selector or domain that is not a DNS name, and
/// when the cryptographic library fails.
pub fn generate(
    algorithm: Algorithm,
    bits: u32,
    selector: &str,
    domain: &str,
) -> Result<GeneratedKey, GenerateError> {
    check_domain(selector).map_err(|reason| GenerateError::InvalidSelector {
        selector: selector.to_owned(),
        reason,
    })?;
    check_domain(domain).map_err(|reason| GenerateError::InvalidDomain {
        domain: domain.to_owned(),
        reason,
    })?;
    let library_error = |_| GenerateError::Library { algorithm };

    let (key, pkcs8) = match algorithm {
        Algorithm::RsaSha256 => {
            // RFC 8301 recommends at least 2048 bits. Larger keys make longer DNS records.
            let size = match bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                _ => {
                    return Err(GenerateError::UnsupportedSize {
                        algorithm,
                        bits,
                        supported: "2048, 3072 or 4096",
                    });
                }
            };
            let key_pair = RsaKeyPair::generate(size).map_err(library_error)?;
            let pkcs8 = Zeroizing::new(key_pair.as_der().map_err(library_error)?.as_ref().to_vec());
            (PrivateKey::from_rsa(key_pair), pkcs8)
        }
        Algorithm::Ed25519Sha256 => {
            if bits != 256 {
                return Err(GenerateError::UnsupportedSize {
                    algorithm,
                    bits,
                    supported: "256",
                });
            }
            let key_pair = Ed25519KeyPair::generate().map_err(library_error)?;
            // Version 1 (RFC 5208), the same form as `openssl genpkey` writes.
            let pkcs8 = Zeroizing::new(
                key_pair
                    .to_pkcs8v1()
                    .map_err(library_error)?
                    .as_ref()
                    .to_vec(),
            );
            (PrivateKey::from_ed25519(key_pair), pkcs8)
        }
    };

    Ok(GeneratedKey {
        private_pem: to_pem(PKCS8_LABEL, &pkcs8),
        dns_record: zone_file_line(selector, domain, &key.dns_record_text()),
    })
}

/// Returns the zone-file line of a TXT record at `<selector>._domainkey.<domain>.` with
/// `text` split into quoted strings of at most 255 characters.
///
/// `text` must be printable ASCII without `"` and `\`, as key records are, so it needs no
/// escaping.
pub(crate) fn zone_file_line(selector: &str, domain: &str, text: &str) -> String {
    let strings: Vec<String> = text
        .as_bytes()
        .chunks(MAX_TXT_STRING_LEN)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    format!(
        "{selector}._domainkey.{domain}. IN TXT {}",
        strings.join(" ")
    )
}

/// Writes `private_pem` to a new file at `path` that only its owner can read and write
/// (mode 0600).
///
/// The key is written to a temporary file in the same directory, which is created with mode
/// 0600, so the key is never readable by others, not even briefly. That file is synced and
/// then linked to `path`, so `path` either does not exist or contains the whole key, even
/// after a crash.
///
/// # Errors
///
/// Returns an error of kind [`io::ErrorKind::AlreadyExists`] when `path` exists, because
/// replacing a key whose record is published would break every signature, and any other I/O
/// error with the path in its message.
pub fn write_private_key(path: &Path, private_pem: &str) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid key file path {}: it names no file", path.display()),
        )
    })?;
    let context = |action: &str, error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("{action} {} failed: {error}", path.display()),
        )
    };

    let temporary_path = directory.join(format!(
        ".{}.{:016x}.tmp",
        file_name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let result = write_new_file(&temporary_path, private_pem.as_bytes())
        .map_err(|error| context("writing the key file for", error))
        .and_then(|()| match fs::hard_link(&temporary_path, path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "key file {} already exists; remove it or choose another path",
                    path.display()
                ),
            )),
            Err(error) => Err(context("creating the key file", error)),
        });
    // The temporary name is only a staging step, so it is removed whether linking worked or
    // not. A failure to remove it leaves a file as private as the key itself.
    let _ = fs::remove_file(&temporary_path);
    result?;

    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(|error| context("syncing the directory of", error))
}

/// Creates `path`, which must not exist, with mode 0600, writes `contents` and syncs it.
fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_file_line_splits_long_text() {
        let text = format!("v=DKIM1; k=rsa; p={}", "A".repeat(400));
        let line = zone_file_line("s1", "example.test", &text);
        let (name, rest) = line.split_once(" IN TXT ").unwrap();
        assert_eq!(name, "s1._domainkey.example.test.");
        // Odd pieces between quotes are the strings, even ones the spaces between them.
        let pieces: Vec<&str> = rest.split('"').collect();
        assert_eq!(pieces, ["", &text[..255], " ", &text[255..], ""]);
    }

    #[test]
    fn zone_file_line_short_text_single_string() {
        let line = zone_file_line("s1", "example.test", "v=DKIM1; k=ed25519; p=AAAA");
        assert_eq!(
            line,
            "s1._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p=AAAA\""
        );
    }
}
