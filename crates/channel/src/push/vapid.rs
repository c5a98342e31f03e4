//! VAPID (RFC 8292): the application server's key pair and the signed JWT that identifies
//! it to push services.

use std::fmt;
use std::io;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject};
use serde::Serialize;
use zeroize::Zeroizing;

/// The length of the base64 lines of a PEM file (RFC 7468, section 2).
const PEM_LINE_CHARS: usize = 64;

/// Returns the JOSE header of every VAPID token, `{"typ":"JWT","alg":"ES256"}`, in
/// base64url.
fn jwt_header() -> String {
    URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#)
}

/// The claims of a VAPID token (RFC 8292, section 2).
#[derive(Serialize)]
struct Claims<'a> {
    /// The origin of the push endpoint.
    aud: &'a str,
    /// The expiry, in Unix seconds.
    exp: i64,
    /// A contact for the push service's operator: a `mailto:` or `https:` URI.
    sub: &'a str,
}

/// The application server's P-256 key pair, which signs the VAPID token of each request.
///
/// Browsers receive the public key as `applicationServerKey` when they subscribe, and push
/// services then take messages for that subscription only with tokens it signed. `Debug`
/// shows the public key only.
pub struct VapidKey {
    key_pair: EcdsaKeyPair,
    public_key: String,
}

/// The reason a VAPID key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum VapidKeyError {
    #[error("reading the VAPID key file {path} failed: {source}")]
    Read { path: String, source: io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("writing the VAPID key failed: {0}")]
    Write(io::Error),
    #[error("generating the VAPID key failed in the cryptographic library")]
    Library,
}

impl VapidKey {
    /// Reads a P-256 private key from PEM text in PKCS#8 form (`-----BEGIN PRIVATE
    /// KEY-----`), as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` and
    /// [`VapidKey::generate`] write it.
    ///
    /// # Errors
    ///
    /// Returns [`VapidKeyError::Invalid`] saying how to convert a SEC1 key
    /// (`-----BEGIN EC PRIVATE KEY-----`), and naming the problem for any other text that
    /// is not such a key.
    pub fn from_pem(pem_text: &[u8]) -> Result<VapidKey, VapidKeyError> {
        let invalid = |reason: &str| VapidKeyError::Invalid(reason.to_owned());
        let der = match PrivateKeyDer::from_pem_slice(pem_text) {
            Ok(PrivateKeyDer::Pkcs8(der)) => der,
            Ok(PrivateKeyDer::Sec1(_)) => {
                return Err(invalid(
                    "the VAPID key is a SEC1 key (BEGIN EC PRIVATE KEY); convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8`",
                ));
            }
            Ok(_) => {
                return Err(invalid(
                    "the VAPID key is an RSA key; VAPID needs a P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)",
                ));
            }
            Err(pem::Error::NoItemsFound) => {
                return Err(invalid(
                    "the VAPID key file contains no unencrypted private key; give a PEM file with a BEGIN PRIVATE KEY section",
                ));
            }
            Err(error) => {
                return Err(VapidKeyError::Invalid(format!(
                    "the VAPID key file is not valid PEM: {error}"
                )));
            }
        };
        let key_pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .map_err(|rejected| {
            VapidKeyError::Invalid(format!(
                "the VAPID key is not a P-256 key with its public key included ({rejected}); make one with openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
            ))
        })?;
        Ok(VapidKey::from_key_pair(key_pair))
    }

    /// Reads the key from the PEM file at `path`, as [`VapidKey::from_pem`] describes.
    pub fn from_pem_file(path: &Path) -> Result<VapidKey, VapidKeyError> {
        let text = Zeroizing::new(std::fs::read(path).map_err(|source| VapidKeyError::Read {
            path: path.display().to_string(),
            source,
        })?);
        VapidKey::from_pem(&text)
    }

    /// Generates a key pair and writes the private key as PKCS#8 PEM to a new file at
    /// `path`, which only its owner can read and write (mode 0600).
    ///
    /// # Errors
    ///
    /// Fails when `path` exists, because replacing the key would break every browser's
    /// subscription, and on any other I/O error.
    pub fn generate(path: &Path) -> Result<VapidKey, VapidKeyError> {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .map_err(|_| VapidKeyError::Library)?;
        let pem_text = Zeroizing::new(to_pem(pkcs8.as_ref()));
        let key = VapidKey::from_pem(pem_text.as_bytes())?;
        convene_mail::dkim::write_private_key(path, &pem_text).map_err(VapidKeyError::Write)?;
        Ok(key)
    }

    fn from_key_pair(key_pair: EcdsaKeyPair) -> VapidKey {
        let public_key = URL_SAFE_NO_PAD.encode(key_pair.public_key().as_ref());
        VapidKey {
            key_pair,
            public_key,
        }
    }

    /// Returns the public key as an uncompressed point in base64url: the
    /// `applicationServerKey` that browsers subscribe with.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Returns the `Authorization` header value `vapid t=<token>, k=<public key>` for
    /// requests to push endpoints of `audience`, an origin such as
    /// `https://push.example.net`, valid until `expires`.
    pub(crate) fn authorization(
        &self,
        audience: &str,
        subject: &str,
        expires: Timestamp,
    ) -> Result<String, ring::error::Unspecified> {
        let claims = Claims {
            aud: audience,
            exp: expires.as_second(),
            sub: subject,
        };
        // serde_json fails only on maps with non-string keys or failing Serialize impls,
        // and these claims have neither.
        let claims = serde_json::to_vec(&claims).map_err(|_| ring::error::Unspecified)?;
        let signing_input = format!("{}.{}", jwt_header(), URL_SAFE_NO_PAD.encode(claims));
        // ES256 signatures in a JWT are r and s, 32 octets each (RFC 7518, section 3.4),
        // which is the fixed form ring produces.
        let signature = self
            .key_pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())?;
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            URL_SAFE_NO_PAD.encode(signature.as_ref()),
            self.public_key
        ))
    }
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("VapidKey")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// Encodes PKCS#8 DER as PEM with 64-character lines and LF line ends.
fn to_pem(der: &[u8]) -> String {
    let encoded = Zeroizing::new(STANDARD.encode(der));
    let mut pem_text = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(PEM_LINE_CHARS) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem_text.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem_text.push('\n');
    }
    pem_text.push_str("-----END PRIVATE KEY-----\n");
    pem_text
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    #[test]
    fn generated_key_is_private_and_reloads() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("vapid.pem");
        let key = VapidKey::generate(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let reloaded = VapidKey::from_pem_file(&path).unwrap();
        assert_eq!(reloaded.public_key(), key.public_key());
        let public = URL_SAFE_NO_PAD.decode(key.public_key()).unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 0x04);

        let error = VapidKey::generate(&path).unwrap_err();
        assert!(error.to_string().contains("already exists"), "{error}");
    }

    #[test]
    fn token_is_signed_es256_jwt() {
        let directory = tempfile::tempdir().unwrap();
        let key = VapidKey::generate(&directory.path().join("vapid.pem")).unwrap();
        let expires = Timestamp::from_second(1_900_000_000).unwrap();
        let header = key
            .authorization(
                "https://push.example.net",
                "mailto:ops@example.test",
                expires,
            )
            .unwrap();

        let (token, public) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(public, key.public_key());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_900_000_000);
        assert_eq!(claims["sub"], "mailto:ops@example.test");

        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(signature.len(), 64);
        let public = URL_SAFE_NO_PAD.decode(public).unwrap();
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(signing_input.as_bytes(), &signature)
            .expect("the signature verifies");
    }

    #[test]
    fn unusable_pem_is_explained() {
        let sec1 = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n";
        let cases: [(&[u8], &str); 3] = [
            (sec1, "openssl pkcs8 -topk8"),
            (b"not a key at all", "BEGIN PRIVATE KEY"),
            (
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "P-256",
            ),
        ];
        for (text, expected) in cases {
            let error = VapidKey::from_pem(text).unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
        }
    }
}
