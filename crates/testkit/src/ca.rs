//! A certificate authority for tests, whose server certificates a client can verify.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

use crate::SelfSignedCert;

/// A CA certificate and key, generated for one test. Its certificate is written as PEM to
/// [`TestCa::cert_path`], for the client to trust, and [`TestCa::issue`] signs server
/// certificates with it. Files are deleted when the value is dropped.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_path: PathBuf,
    _dir: TempDir,
}

impl TestCa {
    /// Generates a CA key pair and a self-signed CA certificate.
    pub fn generate() -> io::Result<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Convene test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let certificate = params.self_signed(&key).map_err(rcgen_error)?;

        let dir = tempfile::Builder::new().prefix("convene-ca-").tempdir()?;
        let cert_path = dir.path().join("ca.pem");
        fs::write(&cert_path, certificate.pem())?;
        Ok(TestCa {
            issuer: Issuer::new(params, key),
            cert_path,
            _dir: dir,
        })
    }

    /// Returns the path of the PEM CA certificate.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Issues a server certificate for `subject_alt_names` (DNS names or IP addresses),
    /// signed by this CA. The files come in a [`SelfSignedCert`], which also contains the
    /// files of self-signed certificates.
    pub fn issue(&self, subject_alt_names: &[&str]) -> io::Result<SelfSignedCert> {
        let names: Vec<String> = subject_alt_names
            .iter()
            .map(|name| name.to_string())
            .collect();
        let params = CertificateParams::new(names).map_err(rcgen_error)?;
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let certificate = params.signed_by(&key, &self.issuer).map_err(rcgen_error)?;
        SelfSignedCert::write(&certificate.pem(), &key.serialize_pem())
    }
}

fn rcgen_error(error: rcgen::Error) -> io::Error {
    io::Error::other(format!("certificate generation failed: {error}"))
}
