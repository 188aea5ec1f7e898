//! eSIM Access callbacks (`notifyType` `ORDER_STATUS`, `ESIM_STATUS`, `DATA_USAGE`,
//! `SMDP_EVENT`, `VALIDITY_USAGE`; `CHECK_HEALTH` is acknowledged). eSIM Access signs
//! nothing (its senders are known only by IP address, which we do not rely on): every
//! callback is a hint, and what it says is read again from the API.

use crate::provider::callbacks::{Callback, CallbackError, Hint, text_at};

/// The hints in an eSIM Access callback.
pub(super) fn hints(callback: &Callback<'_>) -> Result<Vec<Hint>, CallbackError> {
    let body = callback.json()?;
    let Some(kind) = body.get("notifyType").and_then(|t| t.as_str()) else {
        return Err(CallbackError::Malformed("no notifyType".to_owned()));
    };
    let iccid = text_at(&body, "/content/iccid");
    Ok(match kind {
        "ORDER_STATUS" => vec![Hint::Order {
            provider_order_ref: text_at(&body, "/content/orderNo"),
            reference: text_at(&body, "/content/transactionId"),
        }],
        "ESIM_STATUS" | "DATA_USAGE" | "SMDP_EVENT" | "VALIDITY_USAGE" => iccid
            .map(|iccid| Hint::Esim { iccid })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    })
}
