//! `POST /v1/order`: buy eSIMs with credits. The workflow lives in [`crate::orders`];
//! this module validates the request and shapes the response.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiJson, success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::esims::{EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::money::Cents;
use crate::orders::{self, NewOrder, OrderReceipt, OrderStatus};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/order", post(place_order))
}

/// The order body. Types are loose on purpose where serde's own message would be
/// unhelpful; [`OrderRequest::validate`] gives each field a precise message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct OrderRequest {
    plan_id: String,
    quantity: Option<i64>,
    customer_email: Option<String>,
    reference: Option<String>,
}

impl OrderRequest {
    /// Checks every field and reports all problems at once.
    pub(super) fn validate(self) -> ApiResult<NewOrder> {
        let mut errors = Vec::new();
        let plan_id = self.plan_id.trim();
        if plan_id.is_empty() || plan_id.len() > 64 {
            errors.push(FieldError::new(
                "planId",
                "must be a plan id from /v1/packages",
            ));
        }
        let quantity = self.quantity.unwrap_or(1);
        if !(1..=10).contains(&quantity) {
            errors.push(FieldError::new(
                "quantity",
                "must be an integer from 1 to 10",
            ));
        }
        if let Some(email) = &self.customer_email {
            if !is_valid_email(email) {
                errors.push(FieldError::new(
                    "customerEmail",
                    "must be a valid e-mail address",
                ));
            }
        }
        if let Some(reference) = &self.reference {
            let len = reference.chars().count();
            if len == 0 || len > 64 || reference.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    "reference",
                    "must be 1 to 64 characters without control characters",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid_fields(errors));
        }
        Ok(NewOrder {
            plan_id: plan_id.to_owned(),
            quantity: quantity as u32,
            customer_email: self.customer_email,
            reference: self.reference,
        })
    }
}

/// A pragmatic address check: one `@`, a plausible local part, a dotted domain of
/// letters, digits and hyphens, a letters-only top-level domain.
fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

/// One eSIM in an order response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderEsimView {
    esim_id: EsimId,
    iccid: String,
    status: EsimStatus,
    lpa_code: String,
    smdp_address: String,
    activation_code: String,
    qr_code_url: String,
    ios_install_url: String,
    android_install_url: String,
}

impl OrderEsimView {
    pub(super) fn new(esim: &EsimRecord, base_url: &str) -> Self {
        Self {
            esim_id: esim.id,
            iccid: esim.iccid.clone(),
            status: esim.status,
            lpa_code: esim.lpa_code(),
            smdp_address: esim.smdp_address.clone(),
            activation_code: esim.activation_code.clone(),
            qr_code_url: esim.qr_code_url(base_url),
            ios_install_url: esim.ios_install_url(),
            android_install_url: esim.android_install_url(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderView {
    order_id: OrderId,
    reference: Option<String>,
    status: OrderStatus,
    plan_id: String,
    quantity: i32,
    unit_cost: Cents,
    total_cost: Cents,
    currency: &'static str,
    balance: Cents,
    customer_email: Option<String>,
    #[serde(serialize_with = "super::time::rfc3339")]
    created_at: DateTime<Utc>,
    esims: Vec<OrderEsimView>,
}

async fn place_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<Response> {
    let new = request.validate()?;
    let receipt = orders::place(&state, &principal, new).await?;
    let status = match receipt.order.status {
        OrderStatus::Completed => StatusCode::CREATED,
        _ => StatusCode::ACCEPTED,
    };
    Ok((status, success(view(&receipt, &state.public_base_url))).into_response())
}

fn view(receipt: &OrderReceipt, base_url: &str) -> OrderView {
    let order = &receipt.order;
    OrderView {
        order_id: order.id,
        reference: order.reference.clone(),
        status: order.status,
        plan_id: order.plan_id.clone(),
        quantity: order.quantity,
        unit_cost: order.unit_cost,
        total_cost: order.total_cost,
        currency: "USD",
        balance: receipt.balance,
        customer_email: order.customer_email.clone(),
        created_at: order.created_at,
        esims: receipt
            .esims
            .iter()
            .map(|e| OrderEsimView::new(e, base_url))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_email;

    #[test]
    fn email_addresses_are_checked_pragmatically() {
        for good in [
            "traveller@example.com",
            "a.b+tag@sub.example.co.uk",
            "x@y.io",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a b@example.com",
            "a@@example.com",
            "a@exa mple.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a@example.c0m",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
