//! How orders and their eSIMs look in responses, shared by the order and history
//! endpoints.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::esims::{EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::money::Cents;
use crate::orders::{OrderRecord, OrderStatus};

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

/// The fields every order view shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderSummaryView {
    order_id: OrderId,
    status: OrderStatus,
    reference: Option<String>,
    plan_id: String,
    quantity: i32,
    unit_cost: Cents,
    total_cost: Cents,
    currency: &'static str,
    customer_email: Option<String>,
    #[serde(serialize_with = "super::time::rfc3339")]
    created_at: DateTime<Utc>,
}

impl OrderSummaryView {
    pub(super) fn new(order: &OrderRecord) -> Self {
        Self {
            order_id: order.id,
            status: order.status,
            reference: order.reference.clone(),
            plan_id: order.plan_id.clone(),
            quantity: order.quantity,
            unit_cost: order.unit_cost,
            total_cost: order.total_cost,
            currency: "USD",
            customer_email: order.customer_email.clone(),
            created_at: order.created_at,
        }
    }
}
