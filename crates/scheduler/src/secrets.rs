//! Secret tokens: the ones in calendar feed URLs and the bearer tokens of the API.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// The length of a token before encoding: 256 bits, beyond any guessing.
const TOKEN_BYTES: usize = 32;

/// Returns a new random token, URL-safe base64 without padding.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The prefix of API tokens, so that secret scanners and people can tell them apart from
/// feed tokens and other secrets.
pub(crate) const API_TOKEN_PREFIX: &str = "cnv_";

/// Returns a new API token: [`API_TOKEN_PREFIX`] and a random token.
pub(crate) fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", new_token())
}

/// Returns whether `left` and `right` are equal, taking the same time wherever they
/// differ, so that a comparison with a secret leaks nothing through its duration.
pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// Returns the stored form of a token: its SHA-256 hash in lower-case hexadecimal. A
/// plain hash suffices because the token is random and long, unlike a password.
pub(crate) fn token_hash(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn tokens_are_distinct_and_hash_stably() {
        let first = new_token();
        let second = new_token();
        assert_ne!(first, second);
        assert_eq!(first.len(), 43);
        assert_eq!(token_hash(&first), token_hash(&first));
        assert_ne!(token_hash(&first), token_hash(&second));
        assert!(new_api_token().starts_with("cnv_"));
        assert_eq!(new_api_token().len(), 47);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
