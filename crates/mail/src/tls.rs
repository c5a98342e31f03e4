//! TLS for opportunistic STARTTLS, which encrypts without authenticating the server.
//!
//! Mail servers found through MX records rarely present a certificate that matches the MX
//! host name and chains to a public root, and an unauthenticated MX lookup could be forged
//! anyway. So, as RFC 7435 (opportunistic security) describes and as common MTAs do by
//! default, the client accepts any certificate. This protects against passive eavesdropping
//! but not against an active attacker who can intercept the connection. Enforcing
//! authentication would need MTA-STS (RFC 8461) or DANE (RFC 7672), which are not
//! implemented.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

/// Builds the TLS connector for STARTTLS, using the ring provider and TLS 1.2 or 1.3.
pub(crate) fn opportunistic_connector() -> Result<TlsConnector, rustls::Error> {
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

/// Returns the name to send in the TLS server name indication: the MX host name when it is a
/// valid DNS name, and otherwise the IP address connected to.
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
