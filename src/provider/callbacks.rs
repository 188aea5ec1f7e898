//! Callbacks upstreams send us (`POST /providers/{name}/webhook`): each adapter verifies
//! its provider's signature where it signs ([`Provider::callback`](super::Provider::callback))
//! and reads the body as [`Hint`]s only. Nothing a callback says is stored: a hint makes
//! us read the eSIM's usage, or reconcile the order, from the provider's API now, so a
//! forged callback can at most cause a read.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Sha256, Sha512};

/// A callback as it arrived: its headers and its exact body (signatures cover the raw
/// bytes, never a re-encoding).
#[derive(Clone, Copy, Debug)]
pub struct Callback<'a> {
    /// The request's headers.
    pub headers: &'a reqwest::header::HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
}

impl Callback<'_> {
    /// The value of header `name`, if it is there and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, CallbackError> {
        serde_json::from_slice(self.body).map_err(|e| CallbackError::Malformed(e.to_string()))
    }
}

/// What a callback says may have changed, to be read again from the provider's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// An eSIM's usage or status, by ICCID.
    Esim {
        /// The ICCID.
        iccid: String,
    },
    /// An order's outcome: by the provider's order id, or by our reference.
    Order {
        /// The provider's order id.
        provider_order_ref: Option<String>,
        /// Our order id, where the provider echoes it.
        reference: Option<String>,
    },
}

/// Why a callback is refused.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// This provider sends no callbacks we take.
    #[error("no callbacks are taken from this provider")]
    Unsupported,
    /// The signature is missing or wrong (or we hold no secret to check it with).
    #[error("the callback's signature does not verify")]
    BadSignature,
    /// The body is not the JSON the provider sends.
    #[error("the callback's body is malformed: {0}")]
    Malformed(String),
}

/// HMAC-SHA256 of `body` keyed with `key`.
pub fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA512 of `body` keyed with `key`.
pub fn hmac_sha512(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Whether `signature` is `mac` as hex (either case) or as base64 (standard alphabet,
/// with or without padding), compared in constant time.
pub fn signature_matches(signature: Option<&str>, mac: &[u8], base64_too: bool) -> bool {
    let Some(signature) = signature.map(str::trim) else {
        return false;
    };
    let hex = hex::encode(mac);
    if constant_time_eq(signature.to_ascii_lowercase().as_bytes(), hex.as_bytes()) {
        return true;
    }
    if !base64_too {
        return false;
    }
    let b64 = base64(mac);
    constant_time_eq(signature.as_bytes(), b64.as_bytes())
        || constant_time_eq(signature.as_bytes(), b64.trim_end_matches('=').as_bytes())
}

/// Equality whose time does not depend on where two equal-length inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The string at `pointer` in `value` (a number is taken as its digits), if any.
pub fn text_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn a_signature_matches_as_hex_or_base64_and_nothing_else() {
        let mac = hmac_sha256(b"key", b"The quick brown fox jumps over the lazy dog");
        let hex = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert_eq!(hex::encode(&mac), hex);
        assert!(signature_matches(Some(hex), &mac, true));
        assert!(signature_matches(Some(&hex.to_uppercase()), &mac, false));
        assert!(signature_matches(Some(&base64(&mac)), &mac, true));
        assert!(!signature_matches(Some(&base64(&mac)), &mac, false));
        assert!(!signature_matches(Some(&hex[1..]), &mac, true));
        assert!(!signature_matches(None, &mac, true));
        let other = hmac_sha256(b"kex", b"The quick brown fox jumps over the lazy dog");
        assert!(!signature_matches(Some(hex), &other, true));
    }
}
