//! Self-signed certificates for test servers.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A self-signed certificate and its private key, written as PEM files into a temporary
/// directory that is deleted when this value is dropped.
pub struct SelfSignedCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    _dir: TempDir,
}

impl SelfSignedCert {
    /// Generates a key pair and a certificate valid for `subject_alt_names` (DNS names or IP
    /// addresses) and writes them to `cert.pem` and `key.pem`.
    pub fn generate(subject_alt_names: &[&str]) -> io::Result<SelfSignedCert> {
        let names: Vec<String> = subject_alt_names
            .iter()
            .map(|name| name.to_string())
            .collect();
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|error| io::Error::other(format!("certificate generation failed: {error}")))?;
        SelfSignedCert::write(
            &certified.cert.pem(),
            &certified.signing_key.serialize_pem(),
        )
    }

    /// Writes a PEM certificate and key into a new temporary directory.
    pub(crate) fn write(cert_pem: &str, key_pem: &str) -> io::Result<SelfSignedCert> {
        let dir = tempfile::Builder::new().prefix("convene-cert-").tempdir()?;
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        fs::write(&cert_path, cert_pem)?;
        fs::write(&key_path, key_pem)?;
        Ok(SelfSignedCert {
            cert_path,
            key_path,
            _dir: dir,
        })
    }

    /// Returns the path of the PEM certificate.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Returns the path of the PEM private key.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }
}
