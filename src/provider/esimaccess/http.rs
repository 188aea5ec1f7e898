//! The eSIM Access transport: every call is a JSON POST carrying `RT-AccessCode`, signed
//! with HMAC-SHA256 when a secret key is configured, answered in an HTTP 200 envelope;
//! queries are paged until the pager's total.

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::wire::{self, ApiFailure, Envelope};
use super::{Ask, EsimAccess, MAX_PAGES, PAGE_SIZE};
use crate::provider::ProviderError;
use crate::provider::upstream::{self, Call};

impl EsimAccess {
    /// POSTs `body` to `path` (signed when a secret key is configured) and opens the
    /// envelope: `Err` for transport, HTTP and undecodable failures; `Ok(Err)` for the
    /// provider's own refusals, which callers read by code.
    pub(super) async fn post(
        &self,
        path: &str,
        body: &Value,
        ask: Ask,
    ) -> Result<Result<Value, ApiFailure>, ProviderError> {
        let Ask {
            call,
            turn,
            catalog,
            timeout,
        } = ask;
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ProviderError::Unavailable(format!("cannot encode request: {e}")))?;
        let access_code = self.config.credential.expose();
        let mut request = self
            .client
            .post(format!("{}{path}", self.config.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("RT-AccessCode", access_code.as_str());
        if let Some(secret) = &self.config.secret {
            let request_id = Uuid::new_v4().simple().to_string();
            let timestamp = Utc::now().timestamp_millis().to_string();
            let signature = sign(
                secret.expose(),
                &timestamp,
                &request_id,
                access_code,
                &bytes,
            )
            .ok_or_else(|| ProviderError::Auth("cannot sign with the secret key".into()))?;
            request = request
                .header("RT-RequestID", request_id)
                .header("RT-Timestamp", timestamp)
                .header("RT-Signature", signature);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        self.budget.take(turn).await?;
        let limits = self.config.body_limits;
        let limit = if catalog {
            limits.catalog
        } else {
            limits.answer
        };
        let answer = upstream::send(request.body(bytes), call, limit).await?;
        if let Some(e) = answer.common_error(call) {
            return Err(e);
        }
        if !answer.status.is_success() {
            return Err(call.unsure(format!(
                "HTTP {}: {}",
                answer.status.as_u16(),
                answer.snippet()
            )));
        }
        let envelope: Envelope = answer.json(call)?;
        Ok(envelope.into_result(answer.retry_after()))
    }

    /// [`Self::post`] for a read whose every refusal is an error.
    pub(super) async fn read<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        ask: Ask,
    ) -> Result<T, ProviderError> {
        let obj = self
            .post(path, body, ask)
            .await?
            .map_err(|f| f.into_error(Call::Read))?;
        decode(obj, Call::Read)
    }

    /// Every profile matching `filter`, page by page until the pager's total.
    pub(super) async fn query(
        &self,
        filter: Value,
        ask: Ask,
    ) -> Result<Result<Vec<wire::Profile>, ApiFailure>, ProviderError> {
        let mut profiles = Vec::new();
        let mut page_num = 1;
        loop {
            let mut body = filter.clone();
            body["pager"] = json!({"pageNum": page_num, "pageSize": PAGE_SIZE});
            let obj = match self.post("/esim/query", &body, ask).await? {
                Ok(obj) => obj,
                Err(failure) => return Ok(Err(failure)),
            };
            let page: wire::ProfilePage = decode(obj, Call::Read)?;
            let received = page.esim_list.len();
            profiles.extend(page.esim_list);
            let (size, total) = page
                .pager
                .map(|p| (p.page_size.unwrap_or(PAGE_SIZE), p.total.unwrap_or(0)))
                .unwrap_or((PAGE_SIZE, 0));
            if received == 0 || page_num * size.max(1) >= total || page_num >= MAX_PAGES {
                return Ok(Ok(profiles));
            }
            page_num += 1;
        }
    }
}

/// Decodes an envelope's `obj`; an unexpected shape is an unsure failure of `call`.
pub(super) fn decode<T: DeserializeOwned>(obj: Value, call: Call) -> Result<T, ProviderError> {
    serde_json::from_value(obj).map_err(|e| call.unsure(format!("unexpected answer: {e}")))
}

/// `RT-Signature`: lowercase hex HMAC-SHA256 of timestamp + request id + access code +
/// body, keyed with the secret key (`None` only if HMAC refused the key, which it never
/// does: it takes keys of any length).
fn sign(
    secret: &str,
    timestamp: &str,
    request_id: &str,
    access_code: &str,
    body: &[u8],
) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(request_id.as_bytes());
    mac.update(access_code.as_bytes());
    mac.update(body);
    Some(hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_documented_example() {
        assert_eq!(
            sign(
                "1111",
                "1628670421",
                "4ce9d9cdac9e4e17b3a2c66c358c1ce2",
                "11111",
                br#"{"imsi":"326543826"}"#
            )
            .as_deref(),
            Some("7eb765e27df5373dea2dbc8c41a7d9557743e46c8054750f3d851b3fd01d0835")
        );
    }
}
