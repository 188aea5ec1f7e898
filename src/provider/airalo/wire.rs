//! Airalo's JSON, as serde shapes (reference §1). Tolerant on purpose: numbers arrive as
//! strings (`quantity`, `price`, `validity`), lists are sometimes `null`, and from page 2
//! on a listing's `data` is an object keyed by index instead of an array. Only the fields
//! the adapter reads are declared.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::provider::normalize::{flexible_bool, flexible_int, flexible_string};

/// `POST /token`: `{"data":{"token_type":"Bearer","expires_in":86400,"access_token":"…"}}`.
#[derive(Deserialize)]
pub(super) struct TokenEnvelope {
    /// The token.
    pub data: TokenData,
}

/// An access token and its lifetime in seconds.
#[derive(Deserialize)]
pub(super) struct TokenData {
    /// The bearer token.
    pub access_token: String,
    /// Seconds until it expires.
    #[serde(default, deserialize_with = "flexible_int")]
    pub expires_in: Option<i64>,
}

/// A listing's `data`: an array on page 1, an object keyed by index on later pages.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Listing<T> {
    /// `[…]`.
    List(Vec<T>),
    /// `{"25": …, "26": …}`.
    Keyed(BTreeMap<String, T>),
    /// `null`.
    Nothing(()),
}

impl<T> Listing<T> {
    /// The entries in page order (keys compared as numbers).
    pub(super) fn into_vec(self) -> Vec<T> {
        match self {
            Self::List(items) => items,
            Self::Keyed(map) => {
                let mut entries: Vec<(String, T)> = map.into_iter().collect();
                entries
                    .sort_by_key(|(key, _)| (key.parse::<u64>().unwrap_or(u64::MAX), key.clone()));
                entries.into_iter().map(|(_, item)| item).collect()
            }
            Self::Nothing(()) => Vec::new(),
        }
    }
}

/// Paging of a listing.
#[derive(Deserialize, Default)]
pub(super) struct PageMeta {
    /// The last page number.
    #[serde(default, deserialize_with = "flexible_int")]
    pub last_page: Option<i64>,
}

/// `GET /packages`: one page of countries and regions.
#[derive(Deserialize)]
pub(super) struct PackagesPage {
    /// Countries (local) and regions (global) with their operators.
    pub data: Listing<Area>,
    /// Paging.
    #[serde(default)]
    pub meta: Option<PageMeta>,
}

/// A country, or a region (`country_code` empty) with its operators.
#[derive(Deserialize)]
pub(super) struct Area {
    /// `greece`, `europe`, `world`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub slug: Option<String>,
    /// ISO alpha-2 for a country; empty or `null` for a region.
    #[serde(default, deserialize_with = "flexible_string")]
    pub country_code: Option<String>,
    /// `Greece`, `Europe`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub title: Option<String>,
    /// The operators selling there.
    #[serde(default)]
    pub operators: Option<Vec<Operator>>,
}

/// An operator and its packages.
#[derive(Deserialize)]
pub(super) struct Operator {
    /// Countries the operator covers (regional operators), with their names.
    #[serde(default)]
    pub countries: Option<Vec<OperatorCountry>>,
    /// Countries with their networks.
    #[serde(default)]
    pub coverages: Option<Vec<Coverage>>,
    /// Whether top-ups can be bought for its eSIMs.
    #[serde(default)]
    pub rechargeability: Option<Value>,
    /// The packages.
    #[serde(default)]
    pub packages: Option<Vec<Package>>,
}

/// A country a regional operator covers.
#[derive(Deserialize)]
pub(super) struct OperatorCountry {
    /// ISO alpha-2.
    #[serde(default, deserialize_with = "flexible_string")]
    pub country_code: Option<String>,
    /// English name.
    #[serde(default, deserialize_with = "flexible_string")]
    pub title: Option<String>,
}

/// One covered country (`name` is its ISO code) and its networks.
#[derive(Deserialize)]
pub(super) struct Coverage {
    /// ISO alpha-2.
    #[serde(default, deserialize_with = "flexible_string")]
    pub name: Option<String>,
    /// Carriers and their radio technologies.
    #[serde(default)]
    pub networks: Option<Vec<Network>>,
}

/// A carrier and its radio technologies.
#[derive(Deserialize)]
pub(super) struct Network {
    /// Carrier name.
    #[serde(default, deserialize_with = "flexible_string")]
    pub name: Option<String>,
    /// `4G`, `5G`.
    #[serde(default)]
    pub types: Option<Vec<String>>,
}

/// A package: `sim` (sold as a new eSIM) or `topup`.
#[derive(Deserialize)]
pub(super) struct Package {
    /// The package id an order names.
    #[serde(default, deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// `sim` or `topup`.
    #[serde(default, deserialize_with = "flexible_string", rename = "type")]
    pub kind: Option<String>,
    /// What it costs us, in USD.
    #[serde(default)]
    pub net_price: Option<Value>,
    /// Prices per currency (`net_price.USD`).
    #[serde(default)]
    pub prices: Option<Prices>,
    /// Data in MB.
    #[serde(default, deserialize_with = "flexible_int")]
    pub amount: Option<i64>,
    /// Validity in days.
    #[serde(default, deserialize_with = "flexible_int")]
    pub day: Option<i64>,
    /// Unlimited data (then `amount` means nothing).
    #[serde(default, deserialize_with = "flexible_bool")]
    pub is_unlimited: bool,
    /// `1 GB - 7 Days`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub title: Option<String>,
}

/// Prices per currency.
#[derive(Deserialize)]
pub(super) struct Prices {
    /// Our cost per currency code.
    #[serde(default)]
    pub net_price: Option<BTreeMap<String, Value>>,
}

/// `POST /orders`, `GET /orders/{id}`: `{"data": order}`.
#[derive(Deserialize)]
pub(super) struct OrderEnvelope {
    /// The order.
    pub data: Order,
}

/// `GET /orders`: one page of orders.
#[derive(Deserialize)]
pub(super) struct OrdersPage {
    /// The orders.
    pub data: Listing<Order>,
    /// Paging.
    #[serde(default)]
    pub meta: Option<PageMeta>,
}

/// An order.
#[derive(Deserialize)]
pub(super) struct Order {
    /// Airalo's order id (a number).
    #[serde(default, deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// Our order id, as sent.
    #[serde(default, deserialize_with = "flexible_string")]
    pub description: Option<String>,
    /// `{"name": "Completed", "slug": "completed"}` with `include=status`.
    #[serde(default)]
    pub status: Option<Value>,
    /// The eSIMs, with `include=sims` (always on `POST /orders`).
    #[serde(default)]
    pub sims: Option<Vec<Sim>>,
}

/// One issued eSIM.
#[derive(Deserialize)]
pub(super) struct Sim {
    /// Airalo's eSIM id.
    #[serde(default, deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// ICCID.
    #[serde(default, deserialize_with = "flexible_string")]
    pub iccid: Option<String>,
    /// The SM-DP+ address (despite its name).
    #[serde(default, deserialize_with = "flexible_string")]
    pub lpa: Option<String>,
    /// The activation code.
    #[serde(default, deserialize_with = "flexible_string")]
    pub matching_id: Option<String>,
    /// The full LPA string `LPA:1$<smdp>$<code>`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub qrcode: Option<String>,
}

/// `GET /sims/{iccid}/topups`: the top-up packages this eSIM takes now.
#[derive(Deserialize)]
pub(super) struct TopupsEnvelope {
    /// The packages (`type: topup`), priced as the catalogue's.
    pub data: Listing<Package>,
}

/// `POST /refund`: `{"data":{"refund_id":"12345","created_at":"…"},"meta":{"message":"success"}}`
/// when accepted for review; `{"data":[],"meta":{"message":"…why…"}}` when refused.
#[derive(Deserialize)]
pub(super) struct RefundAnswer {
    /// The refund request, or the refused fields (`[]` or `{"field":"message"}`).
    #[serde(default)]
    pub data: Value,
    /// What Airalo says.
    #[serde(default)]
    pub meta: Option<Meta>,
}

/// `meta` of an answer.
#[derive(Deserialize, Default)]
pub(super) struct Meta {
    /// `success`, or what went wrong.
    #[serde(default, deserialize_with = "flexible_string")]
    pub message: Option<String>,
}

/// `GET /sims/{iccid}/usage`.
#[derive(Deserialize)]
pub(super) struct UsageEnvelope {
    /// The usage.
    pub data: Usage,
}

/// Data left and total in MB, status and end of validity.
#[derive(Deserialize)]
pub(super) struct Usage {
    /// MB left.
    #[serde(default, deserialize_with = "flexible_int")]
    pub remaining: Option<i64>,
    /// MB in the package.
    #[serde(default, deserialize_with = "flexible_int")]
    pub total: Option<i64>,
    /// `YYYY-MM-DD HH:MM:SS` (UTC).
    #[serde(default)]
    pub expired_at: Option<Value>,
    /// Unlimited (then `remaining`/`total` mean nothing).
    #[serde(default, deserialize_with = "flexible_bool")]
    pub is_unlimited: bool,
    /// `NOT_ACTIVE`, `ACTIVE`, `FINISHED`, `EXPIRED`, `RECYCLED`, `UNKNOWN`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub status: Option<String>,
}

/// `GET /balance`: `{"data":{"balances":{"availableBalance":{…}}}}`.
#[derive(Deserialize)]
pub(super) struct BalanceEnvelope {
    /// The balances.
    pub data: BalanceData,
}

/// The balances.
#[derive(Deserialize)]
pub(super) struct BalanceData {
    /// Our account's balance.
    pub balances: Balances,
}

/// Our account's balance.
#[derive(Deserialize)]
pub(super) struct Balances {
    /// What we can spend (camelCase here, unlike the rest of the API).
    #[serde(rename = "availableBalance")]
    pub available_balance: Money,
}

/// An amount and its currency.
#[derive(Deserialize)]
pub(super) struct Money {
    /// Whole currency units.
    pub amount: Value,
    /// ISO 4217.
    pub currency: String,
}

/// An error body: `{"code":11,"reason":"…"}` (business errors), or
/// `{"data":{"field":"message"},"meta":{"message":"the parameter is invalid"}}`
/// (validation), or `{"message":"…"}`.
#[derive(Deserialize, Default)]
pub(super) struct ErrorBody {
    /// Airalo's error code.
    #[serde(default, deserialize_with = "flexible_int")]
    pub code: Option<i64>,
    /// What went wrong.
    #[serde(default, deserialize_with = "flexible_string")]
    pub reason: Option<String>,
    /// A plain message.
    #[serde(default, deserialize_with = "flexible_string")]
    pub message: Option<String>,
    /// Per-field validation messages.
    #[serde(default)]
    pub data: Option<Value>,
    /// `{"message": "the parameter is invalid"}` and the like.
    #[serde(default)]
    pub meta: Option<Meta>,
}
