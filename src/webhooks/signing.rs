//! Standard Webhooks signatures: `whsec_` secrets and the `webhook-signature` header
//! (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the base64-decoded
//! part of the secret after `whsec_`). Partners verify them with the `standardwebhooks`
//! libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// Random bytes in a new secret (the spec allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// The prefix of every secret as partners see it.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret, `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> Secret<String> {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// The key a `whsec_…` secret stands for; `None` when it is not one.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    STANDARD.decode(encoded).ok().filter(|k| !k.is_empty())
}

/// The `webhook-signature` header for `body` of message `id` sent at `timestamp` (Unix
/// seconds): one `v1,` signature per secret, space-separated (two while a rotated secret
/// is still valid). Secrets that are not `whsec_…` are skipped.
pub fn signature_header(
    secrets: &[Secret<String>],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .filter_map(|secret| key_of(secret.expose()))
        .map(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_reference_example() {
        // The example of the Standard Webhooks spec (and its libraries' tests).
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_space_separated_signatures_and_new_secrets_are_well_formed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(key_of(a.expose()).unwrap().len(), SECRET_BYTES);
        let header = signature_header(&[a.clone(), b], "evt_1", 1, b"{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_eq!(parts[0], signature_header(&[a], "evt_1", 1, b"{}"));
    }
}
