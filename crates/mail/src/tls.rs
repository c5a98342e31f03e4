//! TLS client configurations: one that accepts any certificate, for opportunistic STARTTLS,
//! and one that verifies certificates against trusted CAs, for required TLS and the relay.
//!
//! Mail servers found through MX records rarely present a certificate that matches the MX
//! host name and chains to a public root, and an unauthenticated MX lookup could be forged
//! anyway. So, as RFC 7435 (opportunistic security) describes and as common MTAs do by
//! default, opportunistic TLS accepts any certificate. This protects against passive
//! eavesdropping but not against an active attacker who can intercept the connection.
//!
//! Verification trusts the operating system's CA store, read once by `rustls-native-certs`
//! when the [`Mailer`](crate::Mailer) is created (on Linux the PEM bundle or directory that
//! OpenSSL uses, or `SSL_CERT_FILE` and `SSL_CERT_DIR` when set), plus the PEM files in
//! [`MailerConfig::ca_certificates`](crate::MailerConfig::ca_certificates). Nothing is
//! downloaded at build or run time, and the roots follow the system's CA updates instead of
//! a list compiled into the binary. MTA-STS (RFC 8461) and DANE (RFC 7672), which would
//! publish when a domain's servers must be verified, are not implemented, so the policy is
//! configured.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::ClientConnection;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore, SignatureScheme,
};
use tokio_rustls::TlsConnector;
use tracing::{debug, warn};

use crate::deliver::MailerError;

/// The protocol version and cipher suite of an established TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsDetails {
    /// Such as `TLSv1.3`.
    pub(crate) version: String,
    /// The IANA name of the cipher suite as rustls spells it, such as
    /// `TLS13_AES_256_GCM_SHA384`.
    pub(crate) cipher_suite: String,
}

impl TlsDetails {
    pub(crate) fn of(session: &ClientConnection) -> TlsDetails {
        let version = match session.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_owned(),
        };
        let cipher_suite = match session.negotiated_cipher_suite() {
            Some(suite) => suite
                .suite()
                .as_str()
                .map_or_else(|| format!("{:?}", suite.suite()), str::to_owned),
            None => "unknown".to_owned(),
        };
        TlsDetails {
            version,
            cipher_suite,
        }
    }
}

/// The two TLS client configurations a mailer uses.
pub(crate) struct Connectors {
    /// Accepts any certificate.
    pub(crate) unverified: TlsConnector,
    /// Verifies certificates, or `None` when no setting requires verification, so that the
    /// trust store is only read when it is needed.
    pub(crate) verified: Option<TlsConnector>,
}

impl Connectors {
    /// Builds the connectors, reading the trust store only if `verify` is true.
    pub(crate) fn new(verify: bool, extra_ca_files: &[PathBuf]) -> Result<Connectors, MailerError> {
        let verified = if verify {
            Some(verifying_connector(extra_ca_files)?)
        } else {
            None
        };
        Ok(Connectors {
            unverified: unverified_connector()?,
            verified,
        })
    }

    /// Returns the connector that verifies certificates if `verify` is true, and the one that
    /// accepts any certificate otherwise.
    pub(crate) fn get(&self, verify: bool) -> &TlsConnector {
        if verify {
            self.verified
                .as_ref()
                .expect("the verifying connector is built whenever a setting verifies")
        } else {
            &self.unverified
        }
    }
}

/// Builds the connector for opportunistic STARTTLS, using the ring provider and TLS 1.2 or
/// 1.3, which accepts any certificate.
fn unverified_connector() -> Result<TlsConnector, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = AnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Builds a connector that verifies certificates against the system trust store and
/// `extra_ca_files`, with the ring provider and TLS 1.2 or 1.3.
fn verifying_connector(extra_ca_files: &[PathBuf]) -> Result<TlsConnector, MailerError> {
    let mut roots = RootCertStore::empty();

    // Unreadable files in the system store are skipped, as OpenSSL does.
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        warn!(%error, "skipping part of the system trust store");
    }
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    debug!(added, ignored, "read the system trust store");

    for path in extra_ca_files {
        for certificate in read_pem_certificates(path)? {
            roots
                .add(certificate)
                .map_err(|error| MailerError::CaCertificates {
                    path: path.clone(),
                    reason: error.to_string(),
                })?;
        }
    }
    if roots.is_empty() {
        return Err(MailerError::NoTrustAnchors);
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, MailerError> {
    let ca_error = |reason: String| MailerError::CaCertificates {
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| ca_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ca_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(ca_error("the file contains no PEM certificate".to_owned()));
    }
    Ok(certificates)
}

/// Returns the name to send in the TLS server name indication and to verify the certificate
/// against: the host name when it is a valid DNS name or IP address, and otherwise the IP
/// address connected to.
pub(crate) fn server_name(host: &str, address: IpAddr) -> ServerName<'static> {
    match ServerName::try_from(host.to_owned()) {
        Ok(name) => name,
        Err(_) => ServerName::IpAddress(address.into()),
    }
}

/// A certificate verifier that accepts every certificate chain, whatever its issuer, names
/// or validity period, but still checks the handshake signatures.
///
/// Checking the signatures proves that the server has the private key of the certificate
/// it sent. That does not authenticate the server, but it keeps the handshake sound and
/// rejects a peer that sends a certificate it cannot use.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_pem_certificates_rejects_files_without_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");

        for path in [empty, missing] {
            let error = read_pem_certificates(&path).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("set ca_certificates"), "{message}");
        }
    }

    #[test]
    fn verifying_connector_accepts_extra_ca_file() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.pem()).unwrap();

        assert!(Connectors::new(true, &[path]).is_ok());
    }
}
