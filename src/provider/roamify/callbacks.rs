//! Roamify callbacks (`event_category` `esim`, `refund`, `partner`, ...), signed with
//! `X-Roamify-Signature`: hex HMAC-SHA256 of the raw body keyed with the webhook secret
//! of Roamify's dashboard (`TAVARO_ROAMIFY_WEBHOOK_SECRET`; docs.getroamify.com/webhooks/
//! verification). Without that secret no callback can be verified, and none is taken.

use crate::provider::callbacks::{
    Callback, CallbackError, Hint, hmac_sha256, signature_matches, text_at,
};
use crate::provider::upstream::UpstreamConfig;

/// The hints in a Roamify callback, once its signature verifies.
pub(super) fn hints(
    config: &UpstreamConfig,
    callback: &Callback<'_>,
) -> Result<Vec<Hint>, CallbackError> {
    let Some(secret) = &config.secret else {
        return Err(CallbackError::BadSignature);
    };
    let mac = hmac_sha256(secret.expose().as_bytes(), callback.body);
    if !signature_matches(callback.header("x-roamify-signature"), &mac, false) {
        return Err(CallbackError::BadSignature);
    }
    let body = callback.json()?;
    let mut hints = Vec::new();
    if let Some(iccid) = text_at(&body, "/data/iccid") {
        hints.push(Hint::Esim { iccid });
    }
    // Our order id is the order's `referenceId`.
    if let Some(reference) = text_at(&body, "/data/reference_id") {
        hints.push(Hint::Order {
            provider_order_ref: None,
            reference: Some(reference),
        });
    }
    Ok(hints)
}
