//! API key parsing never panics, and whatever it accepts has the documented shape:
//! `tvr_` + a 12-character lookup id + `_` + a 32-character secret + a 6-character
//! checksum, all alphanumeric (a sandbox key: `tvr_test_` instead of `tvr_`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(parsed) = tavaro::auth::parse_key(text) {
        if parsed.mode == tavaro::mode::Mode::Sandbox {
            assert_eq!(text.len(), tavaro::auth::SANDBOX_KEY_LEN);
            assert!(text.starts_with(tavaro::auth::SANDBOX_PREFIX));
        } else {
            assert_eq!(text.len(), tavaro::auth::KEY_LEN);
            assert!(text.starts_with(tavaro::auth::PREFIX));
        }
        assert_eq!(parsed.lookup_id.len(), 12);
        assert!(parsed.lookup_id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(parsed.secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
});
