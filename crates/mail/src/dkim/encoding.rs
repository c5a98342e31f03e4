//! The file formats of private keys: PEM armor (RFC 7468) and the few DER fields that decide
//! how a key is loaded.
//!
//! Only what is needed to choose a signing library and to explain a rejection is decoded
//! here: the PEM label, the algorithm identifier of a PKCS#8 key and the size of an RSA
//! modulus. The cryptographic libraries parse and check the full structures.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// The label of a PKCS#8 `PrivateKeyInfo` (RFC 5208) section.
pub(crate) const PKCS8_LABEL: &str = "PRIVATE KEY";
/// The label of a PKCS#1 `RSAPrivateKey` (RFC 8017) section.
pub(crate) const PKCS1_LABEL: &str = "RSA PRIVATE KEY";
const ENCRYPTED_PKCS8_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// Maximum length of a label kept for an error message. Standard labels, such as
/// `ENCRYPTED PRIVATE KEY`, are shorter.
const MAX_LABEL_LEN: usize = 40;

/// One decoded PEM section.
pub(crate) struct PemSection {
    pub(crate) label: String,
    /// The decoded contents, which are key material.
    pub(crate) der: Zeroizing<Vec<u8>>,
}

/// The reason a PEM text yielded no usable private key section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PemError {
    /// No `-----BEGIN ...-----` line at all.
    NoPem,
    /// A private key section whose label names no supported format, such as
    /// `EC PRIVATE KEY` or `OPENSSH PRIVATE KEY`.
    UnsupportedLabel(String),
    /// An encrypted key: PKCS#8 `ENCRYPTED PRIVATE KEY`, or PKCS#1 with a `Proc-Type`
    /// header.
    Encrypted,
    /// Sections exist, but none is a private key. Contains their labels.
    NoPrivateKey(Vec<String>),
    /// The `-----END ...-----` line of the section is missing.
    MissingEnd(String),
    /// The text between the armor lines is not base64.
    InvalidBase64,
}

/// Returns the first PKCS#8 or PKCS#1 private key section of `text`.
///
/// Text outside the sections is ignored, as RFC 7468 allows, so a file may also contain a
/// certificate or comments.
pub(crate) fn private_key_section(text: &[u8]) -> Result<PemSection, PemError> {
    let text = Zeroizing::new(String::from_utf8_lossy(text).into_owned());
    let mut lines = text.lines().map(str::trim);
    let mut other_labels = Vec::new();
    let mut unsupported = None;
    while let Some(line) = lines.next() {
        let Some(label) = begin_label(line) else {
            continue;
        };
        let label = shorten(label);
        match label.as_str() {
            PKCS8_LABEL | PKCS1_LABEL => return decode_section(label, &mut lines),
            ENCRYPTED_PKCS8_LABEL => return Err(PemError::Encrypted),
            other if other.ends_with("PRIVATE KEY") => {
                unsupported.get_or_insert(label);
            }
            _ => other_labels.push(label),
        }
    }
    match unsupported {
        Some(label) => Err(PemError::UnsupportedLabel(label)),
        None if other_labels.is_empty() => Err(PemError::NoPem),
        None => Err(PemError::NoPrivateKey(other_labels)),
    }
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

fn shorten(label: &str) -> String {
    label.chars().take(MAX_LABEL_LEN).collect()
}

/// Decodes the lines after a BEGIN line up to the END line with the same label.
fn decode_section<'a>(
    label: String,
    lines: &mut impl Iterator<Item = &'a str>,
) -> Result<PemSection, PemError> {
    let end_line = format!("-----END {label}-----");
    let mut base64_text = Zeroizing::new(String::new());
    for line in lines {
        if line == end_line {
            let der = STANDARD
                .decode(base64_text.as_bytes())
                .map_err(|_| PemError::InvalidBase64)?;
            return Ok(PemSection {
                label,
                der: Zeroizing::new(der),
            });
        }
        // RFC 1421 headers mark the legacy encrypted form of PKCS#1 keys.
        if line.starts_with("Proc-Type:") || line.starts_with("DEK-Info:") {
            return Err(PemError::Encrypted);
        }
        base64_text.extend(line.chars().filter(|c| !c.is_whitespace()));
    }
    Err(PemError::MissingEnd(label))
}

/// Returns `der` as PEM text with the given label, in lines of 64 characters ending in LF.
///
/// The text is built without reallocating, and the intermediate base64 text is zeroed, so
/// that no stray copy of a private key is left in freed memory.
pub(crate) fn to_pem(label: &str, der: &[u8]) -> String {
    let base64_text = Zeroizing::new(STANDARD.encode(der));
    let armor_len = 2 * (label.len() + "-----BEGIN -----\n".len());
    let mut pem = String::with_capacity(armor_len + base64_text.len() * 65 / 64 + 1);
    pem.push_str(&format!("-----BEGIN {label}-----\n"));
    for chunk in base64_text.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(chunk).expect("base64 output is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The key algorithm named by a PKCS#8 algorithm identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyAlgorithm {
    Rsa,
    Ed25519,
    /// Any other algorithm, by its usual name or its dotted object identifier.
    Other(String),
}

/// `rsaEncryption`, 1.2.840.113549.1.1.1 (RFC 8017).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-Ed25519`, 1.3.101.112 (RFC 8410).
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// Algorithms that DKIM cannot use but that a key file may well contain, for error messages.
const OTHER_OIDS: [(&[u8], &str); 5] = [
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01], "EC"),
    (&[0x2b, 0x65, 0x71], "Ed448"),
    (&[0x2b, 0x65, 0x6e], "X25519"),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
        "RSASSA-PSS",
    ),
    (&[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01], "DSA"),
];

/// The fields of a PKCS#8 `PrivateKeyInfo` that the loader needs.
pub(crate) struct Pkcs8<'a> {
    pub(crate) algorithm: KeyAlgorithm,
    /// The contents of the `privateKey` octet string: an `RSAPrivateKey` for RSA.
    pub(crate) private_key: &'a [u8],
}

/// Reads the algorithm and the inner key of a PKCS#8 `PrivateKeyInfo` (RFC 5208, section 5).
pub(crate) fn read_pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
    let mut outer = DerReader::new(DerReader::new(der).read(TAG_SEQUENCE)?);
    outer.read(TAG_INTEGER)?;
    let mut algorithm_identifier = DerReader::new(outer.read(TAG_SEQUENCE)?);
    let oid = algorithm_identifier.read(TAG_OID)?;
    let private_key = outer.read(TAG_OCTET_STRING)?;

    let algorithm = if oid == OID_RSA {
        KeyAlgorithm::Rsa
    } else if oid == OID_ED25519 {
        KeyAlgorithm::Ed25519
    } else {
        let known = OTHER_OIDS.iter().find(|(known, _)| *known == oid);
        KeyAlgorithm::Other(match known {
            Some((_, name)) => (*name).to_owned(),
            None => format!("OID {}", dotted_oid(oid)),
        })
    };
    Some(Pkcs8 {
        algorithm,
        private_key,
    })
}

/// Returns the size in bits of the modulus of a PKCS#1 `RSAPrivateKey` (RFC 8017,
/// appendix A.1.2).
pub(crate) fn rsa_modulus_bits(rsa_private_key: &[u8]) -> Option<u32> {
    let mut sequence = DerReader::new(DerReader::new(rsa_private_key).read(TAG_SEQUENCE)?);
    sequence.read(TAG_INTEGER)?;
    let modulus = sequence.read(TAG_INTEGER)?;
    let first_nonzero = modulus.iter().position(|&byte| byte != 0)?;
    let significant = &modulus[first_nonzero..];
    let bytes = u32::try_from(significant.len()).ok()?;
    Some(bytes * 8 - significant[0].leading_zeros())
}

fn dotted_oid(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &byte in oid {
        value = value.saturating_mul(128) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                // The first encoded number contains the first two arcs (X.690, section 8.19.4).
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    let arcs: Vec<String> = arcs.iter().map(u64::to_string).collect();
    arcs.join(".")
}

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Reads DER type-length-value items one after another.
struct DerReader<'a> {
    input: &'a [u8],
}

impl<'a> DerReader<'a> {
    fn new(input: &'a [u8]) -> DerReader<'a> {
        DerReader { input }
    }

    /// Reads the next item, which must have tag `tag`, and returns its contents.
    fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&actual_tag, rest) = self.input.split_first()?;
        if actual_tag != tag {
            return None;
        }
        let (&first_length_byte, mut rest) = rest.split_first()?;
        let length = if first_length_byte < 0x80 {
            usize::from(first_length_byte)
        } else {
            // Long form: the low bits count the length bytes that follow. DER forbids the
            // indefinite form (0x80), and four bytes cover any key.
            let count = usize::from(first_length_byte & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (length_bytes, after) = rest.split_at(count);
            rest = after;
            length_bytes
                .iter()
                .fold(0usize, |length, &byte| (length << 8) | usize::from(byte))
        };
        if rest.len() < length {
            return None;
        }
        let (contents, after) = rest.split_at(length);
        self.input = after;
        Some(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, body: &str) -> String {
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    }

    #[test]
    fn private_key_section_finds_key_after_other_sections() {
        let text = format!(
            "comment\n{}{}",
            pem("CERTIFICATE", "AAEC"),
            pem("PRIVATE KEY", "AwQF\nBg==")
        );
        let section = private_key_section(text.as_bytes()).unwrap();
        assert_eq!(section.label, "PRIVATE KEY");
        assert_eq!(*section.der, [3, 4, 5, 6]);
    }

    #[test]
    fn private_key_section_accepts_crlf_and_indentation() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\r\n  AAEC\r\n-----END RSA PRIVATE KEY-----\r\n";
        let section = private_key_section(text.as_bytes()).unwrap();
        assert_eq!(section.label, "RSA PRIVATE KEY");
        assert_eq!(*section.der, [0, 1, 2]);
    }

    #[test]
    fn private_key_section_errors() {
        let cases = [
            ("not a key".to_owned(), PemError::NoPem),
            (
                pem("CERTIFICATE", "AAEC"),
                PemError::NoPrivateKey(vec!["CERTIFICATE".to_owned()]),
            ),
            (
                pem("EC PRIVATE KEY", "AAEC"),
                PemError::UnsupportedLabel("EC PRIVATE KEY".to_owned()),
            ),
            (pem("ENCRYPTED PRIVATE KEY", "AAEC"), PemError::Encrypted),
            (
                pem("RSA PRIVATE KEY", "Proc-Type: 4,ENCRYPTED\nAAEC"),
                PemError::Encrypted,
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAEC\n".to_owned(),
                PemError::MissingEnd("PRIVATE KEY".to_owned()),
            ),
        ];
        for (text, expected) in cases {
            let result = private_key_section(text.as_bytes()).err();
            assert_eq!(result, Some(expected), "{text:?}");
        }
    }

    #[test]
    fn private_key_section_rejects_invalid_base64() {
        let text = pem("PRIVATE KEY", "not*base64");
        let result = private_key_section(text.as_bytes()).err();
        assert_eq!(result, Some(PemError::InvalidBase64));
    }

    #[test]
    fn to_pem_wraps_at_64_characters() {
        let pem = to_pem("PRIVATE KEY", &[0u8; 60]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "-----BEGIN PRIVATE KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 16);
        assert_eq!(lines[3], "-----END PRIVATE KEY-----");
        let section = private_key_section(pem.as_bytes()).unwrap();
        assert_eq!(*section.der, [0u8; 60]);
    }

    #[test]
    fn read_pkcs8_names_algorithms() {
        // PrivateKeyInfo with version 0, the given OID without parameters and an empty key.
        fn pkcs8_with_oid(oid: &[u8]) -> Vec<u8> {
            let mut identifier = vec![TAG_OID, oid.len() as u8];
            identifier.extend_from_slice(oid);
            let mut inner = vec![TAG_INTEGER, 1, 0, TAG_SEQUENCE, identifier.len() as u8];
            inner.extend_from_slice(&identifier);
            inner.extend_from_slice(&[TAG_OCTET_STRING, 0]);
            let mut outer = vec![TAG_SEQUENCE, inner.len() as u8];
            outer.extend_from_slice(&inner);
            outer
        }
        let cases: [(&[u8], KeyAlgorithm); 4] = [
            (OID_RSA, KeyAlgorithm::Rsa),
            (OID_ED25519, KeyAlgorithm::Ed25519),
            (
                &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
                KeyAlgorithm::Other("EC".to_owned()),
            ),
            (
                &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37],
                KeyAlgorithm::Other("OID 1.3.6.1.4.1.311".to_owned()),
            ),
        ];
        for (oid, expected) in cases {
            let der = pkcs8_with_oid(oid);
            let pkcs8 = read_pkcs8(&der).expect("parses");
            assert_eq!(pkcs8.algorithm, expected);
        }
        assert!(read_pkcs8(&[TAG_SEQUENCE, 0x85, 0, 0, 0, 0, 1]).is_none());
        assert!(read_pkcs8(&[TAG_SEQUENCE, 10, 0]).is_none());
    }

    #[test]
    fn rsa_modulus_bits_counts_significant_bits() {
        // RSAPrivateKey prefix: version 0 and a modulus with a leading zero byte.
        let mut modulus = vec![0x00, 0x80];
        modulus.extend_from_slice(&[0xff; 127]);
        let mut inner = vec![TAG_INTEGER, 1, 0, TAG_INTEGER, 0x81, modulus.len() as u8];
        inner.extend_from_slice(&modulus);
        let mut der = vec![TAG_SEQUENCE, 0x81, inner.len() as u8];
        der.extend_from_slice(&inner);
        assert_eq!(rsa_modulus_bits(&der), Some(1024));
    }
}
