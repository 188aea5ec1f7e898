//! How orders and their eSIMs look in responses, shared by the order and history
//! endpoints.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::esims::{EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::money::Cents;
use crate::orders::{OrderKind, OrderRecord, OrderStatus};

/// One eSIM in an order response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderEsim)]
pub(super) struct OrderEsimView {
    /// For `GET /v1/esim/{esimId}`.
    #[schema(value_type = uuid::Uuid)]
    esim_id: EsimId,
    /// 18–20 digits starting `89`, as the issuing network numbers the eSIM (most have
    /// 19). The last is a Luhn check digit, except on eSIMs whose provider sends ICCIDs
    /// without one (Airalo, Roamify): those are passed on as sent.
    #[schema(pattern = "^89[0-9]{16,18}$", example = "8901264426716552582")]
    iccid: String,
    status: EsimStatus,
    /// The activation string (`LPA:1$<SM-DP+ address>$<activation code>`); the QR code
    /// encodes exactly this.
    #[schema(example = "LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5")]
    lpa_code: String,
    /// SM-DP+ address, for manual installation.
    #[schema(example = "smdp.sim.tavaro.io")]
    smdp_address: String,
    /// Activation code, for manual installation.
    #[schema(example = "ALW4J-EM2S9-BPKY7-6NLZ5")]
    activation_code: String,
    /// A PNG of the install QR code, served by the gateway at an unguessable public URL.
    #[schema(
        format = "uri",
        example = "https://api.tavaro.io/qr/Z3L9GpeleVVuSasqPCdBDxf0Ud.png"
    )]
    qr_code_url: String,
    /// One-tap install on iOS 17.4+.
    #[schema(
        format = "uri",
        example = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5"
    )]
    ios_install_url: String,
    /// One-tap install on Android.
    #[schema(
        format = "uri",
        example = "https://esimsetup.android.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5"
    )]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderSummary)]
pub(super) struct OrderSummaryView {
    /// Our id of the order.
    #[schema(value_type = uuid::Uuid, example = "914ce31d-f1b1-43a4-82d4-95f0b9622496")]
    order_id: OrderId,
    status: OrderStatus,
    kind: OrderKind,
    /// The eSIM a top-up is for; `null` for an order of new eSIMs.
    #[schema(value_type = Option<uuid::Uuid>, required = true, example = json!(null))]
    esim_id: Option<EsimId>,
    /// Your booking reference, if you sent one.
    #[schema(required = true, example = "BK-12345")]
    reference: Option<String>,
    /// The plan bought.
    #[schema(example = "ae-5gb-7d")]
    plan_id: String,
    /// eSIMs ordered.
    #[schema(minimum = 1, maximum = 10, example = 1)]
    quantity: i32,
    /// The net price of one eSIM: what you were debited for each (the markup is not).
    unit_cost: Cents,
    /// `unitCost` × `quantity`: what was debited.
    total_cost: Cents,
    #[schema(schema_with = crate::http::envelope::literal_usd)]
    currency: &'static str,
    /// The traveller's address, if you sent one.
    #[schema(required = true, format = Email, example = "traveller@example.com")]
    customer_email: Option<String>,
    /// When the order was placed.
    #[serde(serialize_with = "crate::http::time::rfc3339")]
    #[schema(example = "2026-11-22T14:22:58Z")]
    created_at: DateTime<Utc>,
}

impl OrderSummaryView {
    pub(super) fn new(order: &OrderRecord) -> Self {
        Self {
            order_id: order.id,
            status: order.status,
            kind: order.kind,
            esim_id: order.esim_id,
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
