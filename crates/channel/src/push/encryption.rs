//! Message encryption for Web Push (RFC 8291) in the `aes128gcm` content coding (RFC 8188).

use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use ring::error::Unspecified;
use ring::hkdf::{self, HKDF_SHA256, KeyType, Prk};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::subscription::{AUTH_SECRET_BYTES, PUBLIC_KEY_BYTES};

/// Maximum size of a message before encryption, in octets. RFC 8291, section 4: push
/// services need not take more than 4096 octets of body, which leaves 3993 for the message
/// once the header (86), the padding delimiter (1) and the AES-GCM tag (16) are counted.
pub const MAX_PAYLOAD_BYTES: usize = 3993;

/// The record size announced in the header. Every message fits in one record of this size,
/// as RFC 8291, section 4 requires.
const RECORD_SIZE: u32 = 4096;
const SALT_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
/// The delimiter that ends the last (here, the only) record's plaintext (RFC 8188,
/// section 2).
const LAST_RECORD_DELIMITER: u8 = 0x02;

/// An output length for HKDF-Expand.
struct Length(usize);

impl KeyType for Length {
    fn len(&self) -> usize {
        self.0
    }
}

/// Encrypts `payload` for the browser that has the private key of `p256dh` and the
/// authentication secret `auth`, with a fresh ephemeral key pair and salt, and returns
/// the body: the `aes128gcm` header (salt, record size, key id length and the ephemeral
/// public key as key id) followed by one record.
///
/// The payload must be at most [`MAX_PAYLOAD_BYTES`] long. Fails only when `p256dh` is not
/// a point on P-256 or the random number generator fails.
pub(crate) fn encrypt(
    payload: &[u8],
    p256dh: &[u8; PUBLIC_KEY_BYTES],
    auth: &[u8; AUTH_SECRET_BYTES],
) -> Result<Vec<u8>, Unspecified> {
    debug_assert!(payload.len() <= MAX_PAYLOAD_BYTES);
    let random = SystemRandom::new();
    let mut salt = [0u8; SALT_BYTES];
    random.fill(&mut salt)?;
    let ephemeral = EphemeralPrivateKey::generate(&ECDH_P256, &random)?;
    let sender_public = ephemeral.compute_public_key()?;

    // RFC 8291, section 3.4: the shared secret and the authentication secret give the
    // input keying material, bound to both public keys, receiver first.
    let key_info: [&[u8]; 3] = [b"WebPush: info\0", p256dh, sender_public.as_ref()];
    let mut input_key = Zeroizing::new([0u8; 32]);
    agreement::agree_ephemeral(
        ephemeral,
        &UnparsedPublicKey::new(&ECDH_P256, p256dh),
        |shared_secret| {
            hkdf::Salt::new(HKDF_SHA256, auth)
                .extract(shared_secret)
                .expand(&key_info, Length(32))
                .and_then(|okm| okm.fill(input_key.as_mut()))
        },
    )??;

    // RFC 8188, section 2.2 and 2.3: the salt and that key give the content encryption
    // key and the nonce. The only record has sequence number 0, so the nonce is used as is.
    let pseudorandom_key = hkdf::Salt::new(HKDF_SHA256, &salt).extract(input_key.as_ref());
    let mut content_key = Zeroizing::new([0u8; 16]);
    expand(
        &pseudorandom_key,
        b"Content-Encoding: aes128gcm\0",
        content_key.as_mut(),
    )?;
    let mut nonce = [0u8; 12];
    expand(&pseudorandom_key, b"Content-Encoding: nonce\0", &mut nonce)?;

    let mut record = Vec::with_capacity(payload.len() + 1 + TAG_BYTES);
    record.extend_from_slice(payload);
    record.push(LAST_RECORD_DELIMITER);
    LessSafeKey::new(UnboundKey::new(&AES_128_GCM, content_key.as_ref())?)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut record,
        )?;

    let sender_public = sender_public.as_ref();
    let mut body = Vec::with_capacity(SALT_BYTES + 4 + 1 + sender_public.len() + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(sender_public.len() as u8);
    body.extend_from_slice(sender_public);
    body.extend_from_slice(&record);
    Ok(body)
}

fn expand(key: &Prk, info: &[u8], out: &mut [u8]) -> Result<(), Unspecified> {
    key.expand(&[info], Length(out.len()))?.fill(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The receiver's keys of RFC 8291, appendix A.
    const P256DH: [u8; 65] = [
        0x04, 0x25, 0x71, 0xb2, 0xbe, 0xcd, 0xfd, 0xe3, 0x60, 0x55, 0x1a, 0xaf, 0x1e, 0xd0, 0xf4,
        0xcd, 0x36, 0x6c, 0x11, 0xce, 0xbe, 0x55, 0x5f, 0x89, 0xbc, 0xb7, 0xb1, 0x86, 0xa5, 0x33,
        0x39, 0x17, 0x31, 0x68, 0xec, 0xe2, 0xeb, 0xe0, 0x18, 0x59, 0x7b, 0xd3, 0x04, 0x79, 0xb8,
        0x6e, 0x3c, 0x8f, 0x8e, 0xce, 0xd5, 0x77, 0xca, 0x59, 0x18, 0x7e, 0x92, 0x46, 0x99, 0x0d,
        0xb6, 0x82, 0x00, 0x8b, 0x0e,
    ];
    const AUTH: [u8; 16] = [
        0x05, 0x30, 0x59, 0x32, 0xa1, 0xc7, 0xea, 0xbe, 0x13, 0xb6, 0xce, 0xc9, 0xfd, 0xa4, 0x88,
        0x82,
    ];

    #[test]
    fn body_has_header_and_one_record() {
        let payload = b"When I grow up, I want to be a watermelon";
        let body = encrypt(payload, &P256DH, &AUTH).unwrap();
        assert_eq!(body.len(), 86 + payload.len() + 1 + TAG_BYTES);
        assert_eq!(&body[16..20], &4096u32.to_be_bytes());
        assert_eq!(body[20], 65);
        assert_eq!(body[21], 0x04, "the key id is an uncompressed point");
    }

    #[test]
    fn salt_and_key_differ_per_message() {
        let first = encrypt(b"same", &P256DH, &AUTH).unwrap();
        let second = encrypt(b"same", &P256DH, &AUTH).unwrap();
        assert_ne!(&first[..16], &second[..16], "salt");
        assert_ne!(&first[21..86], &second[21..86], "ephemeral key");
        assert_ne!(&first[86..], &second[86..], "ciphertext");
    }

    #[test]
    fn largest_payload_fits_4096_octets() {
        let body = encrypt(&[b'x'; MAX_PAYLOAD_BYTES], &P256DH, &AUTH).unwrap();
        assert_eq!(body.len(), 4096);
    }
}
