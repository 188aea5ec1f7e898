//! eSIM Go callbacks (V3: usage alerts and other notifications), signed with
//! `X-Signature-SHA256`: HMAC-SHA256 of the raw body keyed with our API key, hex in eSIM
//! Go's guide and base64 in its v2.4 reference; both are accepted. A callback that does
//! not verify is refused; one that does is still only a hint.

use crate::provider::callbacks::{
    Callback, CallbackError, Hint, hmac_sha256, signature_matches, text_at,
};
use crate::provider::upstream::UpstreamConfig;

/// The hints in an eSIM Go callback, once its signature verifies.
pub(super) fn hints(
    config: &UpstreamConfig,
    callback: &Callback<'_>,
) -> Result<Vec<Hint>, CallbackError> {
    let mac = hmac_sha256(config.credential.expose().as_bytes(), callback.body);
    if !signature_matches(callback.header("x-signature-sha256"), &mac, true) {
        return Err(CallbackError::BadSignature);
    }
    let body = callback.json()?;
    Ok(text_at(&body, "/iccid")
        .map(|iccid| Hint::Esim { iccid })
        .into_iter()
        .collect())
}
