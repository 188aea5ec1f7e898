//! Airalo callbacks: low-data notifications and async-order notifications, signed with
//! `airalo-signature`: hex HMAC-SHA512 of the raw body keyed with our client secret.
//! (Airalo's PHP SDK hashes a compact re-encoding of the JSON instead; we verify the raw
//! body only.)

use crate::provider::callbacks::{
    Callback, CallbackError, Hint, hmac_sha512, signature_matches, text_at,
};
use crate::provider::upstream::UpstreamConfig;

/// The hints in an Airalo callback, once its signature verifies.
pub(super) fn hints(
    config: &UpstreamConfig,
    callback: &Callback<'_>,
) -> Result<Vec<Hint>, CallbackError> {
    let Some(secret) = &config.secret else {
        return Err(CallbackError::BadSignature);
    };
    let mac = hmac_sha512(secret.expose().as_bytes(), callback.body);
    if !signature_matches(callback.header("airalo-signature"), &mac, false) {
        return Err(CallbackError::BadSignature);
    }
    let body = callback.json()?;
    let mut hints = Vec::new();
    if let Some(iccid) = text_at(&body, "/iccid").or_else(|| text_at(&body, "/data/iccid")) {
        hints.push(Hint::Esim { iccid });
    }
    // An async order's result: the order response and its `request_id`.
    if body.get("request_id").is_some() {
        hints.push(Hint::Order {
            provider_order_ref: text_at(&body, "/data/id"),
            reference: text_at(&body, "/data/description"),
        });
    }
    Ok(hints)
}
