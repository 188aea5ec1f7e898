//! Roamify's JSON shapes, as documented (upstream-apis §2) and no stricter than needed:
//! every field is optional or defaulted, so one unexpected field does not fail a whole
//! catalog or order answer, and [`super::mapping`] decides what is missing.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::provider::normalize::{flexible_int, flexible_string};

/// Every answer: `{"status":"success","data":…}` or
/// `{"status":"failed","message":"…"[,"code":"…"]}`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Envelope {
    /// `success` or `failed`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub status: Option<String>,
    /// The payload of a success.
    #[serde(default)]
    pub data: Value,
    /// Why it failed.
    #[serde(default, deserialize_with = "flexible_string")]
    pub message: Option<String>,
    /// A machine-readable reason (`insufficient_balance`, refund errors).
    #[serde(default, deserialize_with = "flexible_string")]
    pub code: Option<String>,
}

/// `data` of `GET /api/esim/packages`: one page of country (or region) groups. Roamify
/// documents no paging metadata in the answer; [`super::catalog`] pages by count.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PackagesData {
    /// The groups.
    #[serde(default)]
    pub packages: Vec<CountryGroup>,
}

/// One country, region or global group and its packages.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CountryGroup {
    /// The country's name, or the region's for a regional group.
    #[serde(default, deserialize_with = "flexible_string")]
    pub country_name: Option<String>,
    /// ISO alpha-2 for a local group.
    #[serde(default, deserialize_with = "flexible_string")]
    pub country_code: Option<String>,
    /// The continent the group is filed under (`Asia`).
    #[serde(default, deserialize_with = "flexible_string")]
    pub region: Option<String>,
    /// `local`, `regional` or `global`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub geography: Option<String>,
    /// Countries covered, with their networks and carriers.
    #[serde(default)]
    pub signals: Vec<Signal>,
    /// The packages.
    #[serde(default)]
    pub packages: Vec<Package>,
}

/// Coverage in one country.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Signal {
    /// ISO alpha-2.
    #[serde(default, deserialize_with = "flexible_string")]
    pub code: Option<String>,
    /// Country name.
    #[serde(default, deserialize_with = "flexible_string")]
    pub name: Option<String>,
    /// `3G`, `4G`, `5G`.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Operator names.
    #[serde(default)]
    pub carriers: Vec<String>,
}

/// One package as the catalog lists it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Package {
    /// What an order names.
    #[serde(default, deserialize_with = "flexible_string")]
    pub package_id: Option<String>,
    /// Display name (`1 GB - 7 Days`).
    #[serde(default, deserialize_with = "flexible_string")]
    pub package: Option<String>,
    /// `data-only`, …
    #[serde(default, deserialize_with = "flexible_string")]
    pub plan: Option<String>,
    /// An item type, should the catalog ever list top-ups (`esim`, `topup`).
    #[serde(default, rename = "type", deserialize_with = "flexible_string")]
    pub kind: Option<String>,
    /// Validity in days.
    #[serde(default, deserialize_with = "flexible_int")]
    pub day: Option<i64>,
    /// Float USD.
    #[serde(default)]
    pub price: Value,
    /// Undocumented in the catalog (USD is); honoured when present.
    #[serde(default, deserialize_with = "flexible_string")]
    pub currency: Option<String>,
    /// Unlimited data (possibly throttled).
    #[serde(default, deserialize_with = "optional_bool")]
    pub is_unlimited: Option<bool>,
    /// In `data_unit`; `9007199254740991` for unlimited.
    #[serde(default)]
    pub data_amount: Value,
    /// `MB` or `GB`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub data_unit: Option<String>,
    /// Tethering allowed.
    #[serde(default, deserialize_with = "optional_bool")]
    pub with_hotspot: Option<bool>,
    /// Top-ups offered (on eSIM records; honoured in the catalog when present).
    #[serde(default, deserialize_with = "optional_bool")]
    pub with_top_up: Option<bool>,
    /// Fair-use throttling applies.
    #[serde(default, deserialize_with = "optional_bool")]
    pub with_throttle: Option<bool>,
    /// The throttling terms.
    #[serde(default)]
    pub throttle: Option<Throttle>,
}

/// `{"throttleSpeed":128,"throttleSpeedUnit":"kbps","throttleThreshold":2,"throttleThresholdUnit":"gb"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Throttle {
    /// Speed once throttled.
    #[serde(default)]
    pub throttle_speed: Value,
    /// `kbps` (or `mbps`).
    #[serde(default, deserialize_with = "flexible_string")]
    pub throttle_speed_unit: Option<String>,
    /// Full-speed allowance.
    #[serde(default)]
    pub throttle_threshold: Value,
    /// `gb` or `mb`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub throttle_threshold_unit: Option<String>,
}

/// An order (`data` of the order endpoints).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Order {
    /// Roamify's order id.
    #[serde(default, deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// Our order id, as we sent it.
    #[serde(default, deserialize_with = "flexible_string")]
    pub reference_id: Option<String>,
    /// `PENDING`, `COMPLETED`, `ARCHIVED`, `CANCELLED`, `REFUNDED`, `REQUIRE_ACTION`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub status: Option<String>,
    /// One item per eSIM (`esimId`, `packageId`, …); may embed the eSIM.
    #[serde(default)]
    pub items: Vec<Value>,
    /// The issued eSIMs (instant orders).
    #[serde(default)]
    pub esims: Vec<EsimRecord>,
}

/// An eSIM (`data` of `GET /api/esim`, and each of an instant order's `esims`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EsimRecord {
    /// Roamify's eSIM id.
    #[serde(default, alias = "esimId", deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// ICCID.
    #[serde(default, deserialize_with = "flexible_string")]
    pub iccid: Option<String>,
    /// Install data.
    #[serde(default)]
    pub esim: Option<Install>,
}

/// `esim` of an eSIM record.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Install {
    /// `LPA:1$<smdp>$<code>`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub lpa_code: Option<String>,
    /// SM-DP+ address.
    #[serde(default, deserialize_with = "flexible_string")]
    pub smdp_address: Option<String>,
    /// Matching id.
    #[serde(default, deserialize_with = "flexible_string")]
    pub activation_code: Option<String>,
}

/// `data` of `GET /api/esim/usage`: MB and epoch seconds.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Usage {
    /// `NEW`, `READY`, `INSTALLED`, `ACTIVATED`, `EXPIRED`, …
    #[serde(default, deserialize_with = "flexible_string")]
    pub status: Option<String>,
    /// First use.
    #[serde(default)]
    pub started_at: Value,
    /// End of validity.
    #[serde(default)]
    pub expired_at: Value,
    /// Allowance in MB.
    #[serde(default)]
    pub allowed_data: Value,
    /// Left, in MB.
    #[serde(default)]
    pub remaining_data: Value,
}

/// A refund request (`data` of `POST /api/refund`, each of `GET /api/refund`'s).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Refund {
    /// Roamify's id of the request.
    #[serde(default, deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// The same id, as some answers and the refund webhook name it.
    #[serde(default, alias = "refund_id", deserialize_with = "flexible_string")]
    pub refund_id: Option<String>,
    /// The eSIM's ICCID.
    #[serde(default, deserialize_with = "flexible_string")]
    pub iccid: Option<String>,
    /// `PENDING`, `PROCESSING`, `REFUNDED`, `REJECTED` (or `CANCELLED`).
    #[serde(default, deserialize_with = "flexible_string")]
    pub status: Option<String>,
    /// Why support rejected it.
    #[serde(
        default,
        alias = "rejection_reason",
        deserialize_with = "flexible_string"
    )]
    pub rejection_reason: Option<String>,
}

impl Refund {
    /// The request's id, however the answer names it.
    pub(super) fn id(&self) -> Option<String> {
        self.refund_id
            .clone()
            .or_else(|| self.id.clone())
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
    }
}

/// `data` of `GET /api/balance`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Balance {
    /// Float amount.
    #[serde(default)]
    pub balance: Value,
    /// ISO 4217.
    #[serde(default, deserialize_with = "flexible_string")]
    pub currency: Option<String>,
}

/// A boolean (`true`, `"true"`, `1`) that may be absent or null: absent stays `None`.
fn optional_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n == 1),
        _ => None,
    })
}
