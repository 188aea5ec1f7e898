//! The API key format.
//!
//! ```text
//! tvr_<lookup id: 12 base62>_<secret: 32 base62><checksum: 6 base62>        live
//! tvr_test_<lookup id: 12 base62>_<secret: 32 base62><checksum: 6 base62>   sandbox
//! ```
//!
//! The secret carries 32 × log2(62) ≈ 190 random bits from the OS-seeded CSPRNG. The
//! lookup id is not secret: it finds the key's row without revealing anything. The
//! checksum (CRC-32 of everything before it) lets us refuse a mistyped or made-up key
//! before any database query or argon2 run, and lets secret scanners recognise real keys.
//! NEVER change the prefix: partners' scanners and our own log filters match on it.
//! A sandbox key says so in its prefix (`tvr_test_`, which no live key can start with:
//! `_` is not base62), and its checksum covers the prefix, so a live key cannot be made
//! into a sandbox one by editing it; the key's stored mode must also agree
//! (`super::verifier`).
//!
//! Each key is stored twice, never in the clear: as an argon2id hash of its secret and as
//! its [`fast_verifier`], an HMAC-SHA-256 of the whole key. The checksum is public, so
//! anyone can mint well-formed keys; the fast verifier is what refuses them in a
//! microsecond.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::mode::Mode;
use crate::secret::Secret;

/// Every key starts with this.
pub const PREFIX: &str = "tvr_";
/// Every sandbox key starts with this.
pub const SANDBOX_PREFIX: &str = "tvr_test_";
pub(super) const LOOKUP_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// Total length of a live key.
pub const KEY_LEN: usize = PREFIX.len() + LOOKUP_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
/// Total length of a sandbox key.
pub const SANDBOX_KEY_LEN: usize =
    SANDBOX_PREFIX.len() + LOOKUP_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The HMAC key of [`fast_verifier`]: a fixed label that keeps these digests apart from any
/// other SHA-256 of a key (the verification cache keys by one). Not a secret, and needs not
/// be: with ~190 random bits in the secret, neither guessing a key nor inverting its
/// digest is feasible, pepper or not. NEVER change it: every stored verifier depends on it.
const FAST_VERIFIER_LABEL: &[u8] = b"tavaro api key fast verifier v1";

/// A key's fast verifier: what `api_keys.fast_verifier` holds.
pub(super) type FastVerifier = [u8; 32];

/// A freshly generated key: shown to the operator once, then only its hash is kept.
pub struct GeneratedKey {
    /// The full key, `tvr_...`.
    pub token: Secret<String>,
    /// The non-secret lookup id embedded in it.
    pub lookup_id: String,
    /// argon2id PHC hash of the secret part.
    pub secret_hash: String,
    /// The key's [`fast_verifier`].
    pub fast_verifier: [u8; 32],
}

/// The parts of a well-formed key (the checksum already verified).
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    /// Live or sandbox, as its prefix says.
    pub mode: Mode,
    /// The lookup id.
    pub lookup_id: &'a str,
    /// The secret part.
    pub secret: &'a str,
}

impl std::fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedKey")
            .field("mode", &self.mode)
            .field("lookup_id", &self.lookup_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// The prefix of keys of `mode`.
pub(super) fn prefix_of(mode: Mode) -> &'static str {
    match mode {
        Mode::Live => PREFIX,
        Mode::Sandbox => SANDBOX_PREFIX,
    }
}

/// Generates a new live key and hashes its secret (argon2id; blocking, ~20 ms).
pub fn generate() -> GeneratedKey {
    generate_in(Mode::Live)
}

/// Generates a new key of `mode` and hashes its secret (argon2id; blocking, ~20 ms).
pub fn generate_in(mode: Mode) -> GeneratedKey {
    let mut rng = rand::rng();
    let mut random = |n: usize| -> String {
        (&mut rng)
            .sample_iter(Alphanumeric)
            .take(n)
            .map(char::from)
            .collect()
    };
    let lookup_id = random(LOOKUP_LEN);
    let secret = random(SECRET_LEN);
    let token = assemble_in(mode, &lookup_id, &secret);
    GeneratedKey {
        fast_verifier: fast_verifier(&token),
        token: Secret::new(token),
        secret_hash: hash_secret(&secret),
        lookup_id,
    }
}

/// The key made of `lookup_id` and `secret`, with its checksum: what [`generate`] hands
/// out. For tests and tools that need a well-formed key they choose the parts of.
pub fn assemble(lookup_id: &str, secret: &str) -> String {
    assemble_in(Mode::Live, lookup_id, secret)
}

/// [`assemble`] for a key of `mode`.
pub fn assemble_in(mode: Mode, lookup_id: &str, secret: &str) -> String {
    let body = format!("{}{lookup_id}_{secret}", prefix_of(mode));
    let sum = checksum(&body);
    body + std::str::from_utf8(&sum).expect("base62 is ASCII")
}

/// Whether `token` is as long as a live or a sandbox key: the check before anything
/// costs more than a comparison.
pub(super) fn has_key_length(token: &str) -> bool {
    token.len() == KEY_LEN || token.len() == SANDBOX_KEY_LEN
}

/// Splits a key into its parts if it is well formed and its checksum matches. Costs a few
/// hundred nanoseconds: no database, no argon2.
pub fn parse(token: &str) -> Option<ParsedKey<'_>> {
    // ASCII first: the byte offsets below must fall on character boundaries.
    if !token.is_ascii() {
        return None;
    }
    let (mode, rest) = if token.len() == SANDBOX_KEY_LEN {
        (Mode::Sandbox, token.strip_prefix(SANDBOX_PREFIX)?)
    } else if token.len() == KEY_LEN {
        (Mode::Live, token.strip_prefix(PREFIX)?)
    } else {
        return None;
    };
    let (lookup_id, tail) = rest.split_at(LOOKUP_LEN);
    let tail = tail.strip_prefix('_')?;
    let (secret, sum) = tail.split_at(SECRET_LEN);
    let base62 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !base62(lookup_id) || !base62(secret) || !base62(sum) {
        return None;
    }
    if checksum(&token[..token.len() - CHECKSUM_LEN]) != sum.as_bytes() {
        return None;
    }
    Some(ParsedKey {
        mode,
        lookup_id,
        secret,
    })
}

/// HMAC-SHA-256 of the whole key (lookup id, secret, checksum): stored beside the argon2
/// hash, it tells the right secret from a wrong one in about a microsecond.
pub(super) fn fast_verifier(token: &str) -> FastVerifier {
    fast_verifier_mac(token).finalize().into_bytes().into()
}

/// Whether `token` is the key `stored` was computed from. Constant-time in the digests.
pub(super) fn fast_verifier_matches(token: &str, stored: &FastVerifier) -> bool {
    fast_verifier_mac(token).verify_slice(stored).is_ok()
}

fn fast_verifier_mac(token: &str) -> Hmac<sha2::Sha256> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(FAST_VERIFIER_LABEL)
        .expect("HMAC takes a key of any length");
    mac.update(token.as_bytes());
    mac
}

/// argon2id (default parameters: m = 19 MiB, t = 2, p = 1) PHC string of a secret.
pub(super) fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Whether `secret` matches a stored PHC hash. Constant-time in the secret; blocking.
///
/// argon2's working memory (m_cost KiB: 19 MiB by default) is `memory`, grown on first use
/// and reused by later calls. Allocated afresh for every verification, it left a freed
/// 19 MiB chunk in every malloc arena the blocking threads touched: hundreds of MB resident
/// after a burst of first uses.
pub(super) fn verify_secret_in(secret: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    // What `PasswordVerifier::verify_password` does, minus the allocation.
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let computed = Output::init_with(expected.len(), |out| {
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(secret.as_bytes(), salt, out, &mut memory[..])
            .map_err(|_| argon2::password_hash::Error::Password)
    });
    // `Output` compares in constant time.
    computed.is_ok_and(|computed| computed == expected)
}

/// CRC-32 of `body` as six base62 digits.
fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let key = generate();
        let token = key.token.expose();
        assert!(token.starts_with("tvr_"));
        assert_eq!(token.len(), KEY_LEN);
        let parsed = parse(token).expect("a generated key parses");
        assert_eq!(parsed.lookup_id, key.lookup_id);
        assert!(key.secret_hash.starts_with("$argon2id$"));
        // Fresh or reused working memory, the same answers.
        let mut memory = Vec::new();
        for _ in 0..2 {
            assert!(verify_secret_in(
                parsed.secret,
                &key.secret_hash,
                &mut memory
            ));
            assert!(!verify_secret_in(
                "not-the-secret",
                &key.secret_hash,
                &mut memory
            ));
        }
        assert!(!verify_secret_in(
            parsed.secret,
            "not a phc string",
            &mut memory
        ));
        assert!(fast_verifier_matches(token, &key.fast_verifier));
        let other = generate();
        assert!(!fast_verifier_matches(
            other.token.expose(),
            &key.fast_verifier
        ));
        assert_ne!(key.fast_verifier, other.fast_verifier);
    }

    #[test]
    fn sandbox_keys_say_so_and_parse_as_sandbox() {
        let key = generate_in(Mode::Sandbox);
        let token = key.token.expose();
        assert!(token.starts_with("tvr_test_"));
        assert_eq!(token.len(), SANDBOX_KEY_LEN);
        let parsed = parse(token).expect("a generated sandbox key parses");
        assert_eq!(parsed.mode, Mode::Sandbox);
        assert_eq!(parsed.lookup_id, key.lookup_id);
        assert_eq!(parse(generate().token.expose()).unwrap().mode, Mode::Live);
        // The checksum covers the prefix: a live key's parts under the sandbox prefix
        // (or the reverse) with the old checksum are refused without a query.
        let live = generate();
        let live_token = live.token.expose();
        let relabelled = format!("tvr_test_{}", &live_token[PREFIX.len()..]);
        assert!(parse(&relabelled).is_none());
        let unlabelled = format!("tvr_{}", &token[SANDBOX_PREFIX.len()..]);
        assert!(parse(&unlabelled).is_none());
        // A typo in a sandbox key fails its checksum like a live one's.
        let mut bytes = token.clone().into_bytes();
        let i = SANDBOX_PREFIX.len() + LOOKUP_LEN + 5;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        assert!(parse(&String::from_utf8(bytes).unwrap()).is_none());
    }

    #[test]
    fn one_changed_character_breaks_the_checksum() {
        let key = generate();
        let token = key.token.expose().clone();
        // Change one character of the secret part to another base62 character.
        let i = PREFIX.len() + LOOKUP_LEN + 5;
        let mut bytes = token.into_bytes();
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert!(parse(&typo).is_none());
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "tvr_",
            "sk_live_abc",
            "tvr_short",
            &format!("tvr_{}", "a".repeat(KEY_LEN - 4)),
            &format!("xyz_{}", "a".repeat(KEY_LEN - 4)),
            &format!("tvr_{}a", "é".repeat((KEY_LEN - 5) / 2)),
            "tvr_test_",
            &format!("tvr_test_{}", "a".repeat(SANDBOX_KEY_LEN - 9)),
            &format!("tvr_tesx_{}", "a".repeat(SANDBOX_KEY_LEN - 9)),
        ] {
            assert!(parse(bad).is_none(), "{bad:?} should not parse");
        }
    }
}
