//! eSIM Access wire shapes: the envelope every answer comes in (HTTP 200 even on
//! failure), the package and profile objects, and what the provider's error codes mean
//! for us. Fields are read leniently (numbers as strings, `"true"` for `true`, `null` for
//! an empty list): the clones of this API disagree on all of those.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::provider::normalize::{flexible_bool, flexible_int, flexible_string, printable};
use crate::provider::upstream::Call;
use crate::provider::{ProviderError, Refusal};

/// `errorCode` 200010: the order's profiles are still being allocated.
pub(super) const STILL_ALLOCATING: &str = "200010";
/// `errorCode` 310272: no order with this `orderNo`.
pub(super) const NO_SUCH_ORDER: &str = "310272";

/// `{"success", "errorCode", "errorMessage", "obj"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope {
    #[serde(default, deserialize_with = "flexible_bool")]
    pub success: bool,
    #[serde(default, deserialize_with = "flexible_string")]
    pub error_code: Option<String>,
    #[serde(default, alias = "errorMsg", deserialize_with = "flexible_string")]
    pub error_message: Option<String>,
    #[serde(default)]
    pub obj: Value,
}

/// An answer with `success: false`: the provider's own refusal, not a transport failure.
#[derive(Debug, Clone)]
pub(super) struct ApiFailure {
    /// `errorCode`, when given.
    pub code: Option<String>,
    /// `errorMessage`, when given.
    pub message: String,
    /// The HTTP `Retry-After`, should the provider ever send one with 900001.
    pub retry_after: Option<Duration>,
}

impl ApiFailure {
    /// Whether this is the provider's `code`.
    pub(super) fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// What the failure means for us (eSIM Access error table, reference §4.1):
    /// balance, package, stock, credential and rate-limit codes have fixed meanings;
    /// 000001 (server error) or a failure without a code is unsure; any other code is
    /// a definitive refusal of an order and a failed read.
    pub(super) fn into_error(self, call: Call) -> ProviderError {
        let code = self.code.clone().unwrap_or_default();
        let text = format!("eSIM Access error {code}: {}", self.message);
        match code.as_str() {
            "200007" => ProviderError::InsufficientFunds(text),
            // 200005 "package price error": the price we state is not the package's
            // price any more; the plan must be re-synced before it can be sold.
            "310241" | "310243" | "200005" => {
                ProviderError::rejected(Refusal::InvalidPackage, text)
            }
            "200011" => ProviderError::rejected(Refusal::OutOfStock, text),
            // Missing or malformed headers, stale timestamp, IP not allow-listed, bad
            // signature: our credentials or their use, never the partner's order.
            "000101" | "000102" | "101001" | "101002" | "101003" => ProviderError::Auth(text),
            "900001" => ProviderError::RateLimited {
                retry_after: self.retry_after,
            },
            "000001" | "" => call.unsure(text),
            // 000103–000107 (method, JSON, parameters), 2000xx order rules, 3xxxxx
            // unknown ids: the request was refused as it stands.
            _ => match call {
                Call::Order => ProviderError::rejected(Refusal::Other, text),
                Call::Read => ProviderError::Unavailable(text),
            },
        }
    }
}

impl Envelope {
    /// `obj` on success; the failure otherwise.
    pub(super) fn into_result(self, retry_after: Option<Duration>) -> Result<Value, ApiFailure> {
        if self.success {
            Ok(self.obj)
        } else {
            Err(ApiFailure {
                code: self.error_code,
                message: printable(&self.error_message.unwrap_or_default()),
                retry_after,
            })
        }
    }
}

/// `obj` of `/package/list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PackageList {
    #[serde(default, deserialize_with = "nullable")]
    pub package_list: Vec<Package>,
}

/// One package of `/package/list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Package {
    #[serde(default, deserialize_with = "flexible_string")]
    pub package_code: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub name: Option<String>,
    /// ×10,000 of `currency_code`.
    #[serde(default, deserialize_with = "flexible_int")]
    pub price: Option<i64>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub currency_code: Option<String>,
    /// Bytes (binary: 1073741824 = 1 GB).
    #[serde(default, deserialize_with = "flexible_int")]
    pub volume: Option<i64>,
    #[serde(default, deserialize_with = "flexible_int")]
    pub duration: Option<i64>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub duration_unit: Option<String>,
    /// Comma-separated ISO codes (`"ES,FR"`).
    #[serde(default, deserialize_with = "flexible_string")]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub description: Option<String>,
    /// `"3G/4G/5G"`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub speed: Option<String>,
    /// 1: no top-ups; 2 and above: top-ups available.
    #[serde(default, deserialize_with = "flexible_int")]
    pub support_top_up_type: Option<i64>,
    /// 1: one allowance for the whole validity; otherwise a daily allowance.
    #[serde(default, deserialize_with = "flexible_int")]
    pub data_type: Option<i64>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub fup_policy: Option<String>,
    /// `BASE` or `TOPUP`, where a clone says.
    #[serde(default, rename = "type", deserialize_with = "flexible_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub location_network_list: Vec<LocationNetworks>,
}

/// The networks of one country of a package.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LocationNetworks {
    #[serde(default, deserialize_with = "flexible_string")]
    pub location_name: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub location_code: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub operator_list: Vec<Operator>,
}

/// A carrier and its radio network.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Operator {
    #[serde(default, deserialize_with = "flexible_string")]
    pub operator_name: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub network_type: Option<String>,
}

/// `obj` of `/esim/query`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProfilePage {
    #[serde(default, deserialize_with = "nullable")]
    pub esim_list: Vec<Profile>,
    #[serde(default)]
    pub pager: Option<Pager>,
}

/// `pager` of a query answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pager {
    #[serde(default, deserialize_with = "flexible_int")]
    pub page_size: Option<i64>,
    #[serde(default, deserialize_with = "flexible_int")]
    pub total: Option<i64>,
}

/// One allocated eSIM profile (reference §4.2).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Profile {
    /// The provider's id of this allocation (ICCIDs are recycled; this is not).
    #[serde(default, deserialize_with = "flexible_string")]
    pub esim_tran_no: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub order_no: Option<String>,
    /// Our `transactionId`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub transaction_id: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub iccid: Option<String>,
    /// The full LPA string `LPA:1$<smdp>$<matching id>`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub ac: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub esim_status: Option<String>,
    #[serde(default)]
    pub expired_time: Value,
    #[serde(default)]
    pub activate_time: Value,
    /// Bytes used (lags 2–3 h).
    #[serde(default, deserialize_with = "flexible_int")]
    pub order_usage: Option<i64>,
    /// `RELEASED` until the profile is downloaded to a device, then `DOWNLOAD`,
    /// `INSTALLATION`, `ENABLED`, `DISABLED`, `DELETED`.
    #[serde(default, deserialize_with = "flexible_string")]
    pub smdp_status: Option<String>,
    /// Bytes of the allowance: the package's plus every top-up's.
    #[serde(default, deserialize_with = "flexible_int")]
    pub total_volume: Option<i64>,
    /// 1: one allowance for the whole validity; otherwise a daily allowance.
    #[serde(default, deserialize_with = "flexible_int")]
    pub data_type: Option<i64>,
    /// The package the profile was ordered with, then every top-up applied to it.
    #[serde(default, deserialize_with = "nullable")]
    pub package_list: Vec<ProfilePackage>,
}

/// One package applied to a profile: the one it was ordered with, or a top-up.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProfilePackage {
    #[serde(default, deserialize_with = "flexible_string")]
    pub package_code: Option<String>,
    /// The `transactionId` of the order or top-up that applied it, where the provider
    /// records it.
    #[serde(default, deserialize_with = "flexible_string")]
    pub transaction_id: Option<String>,
    /// When it was applied.
    #[serde(default)]
    pub create_time: Value,
}

/// A list sent as `null` reads as empty.
fn nullable<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn failure(code: &str) -> ApiFailure {
        ApiFailure {
            code: Some(code.into()),
            message: "m".into(),
            retry_after: None,
        }
    }

    #[test]
    fn error_codes_map_onto_what_they_tell_us_about_the_order() {
        let order = |code| failure(code).into_error(Call::Order);
        assert!(matches!(
            order("200007"),
            ProviderError::InsufficientFunds(_)
        ));
        for code in ["310241", "200005"] {
            assert!(matches!(
                order(code),
                ProviderError::Rejected {
                    reason: Refusal::InvalidPackage,
                    ..
                }
            ));
        }
        assert!(matches!(
            order("200011"),
            ProviderError::Rejected {
                reason: Refusal::OutOfStock,
                ..
            }
        ));
        for code in ["101001", "101002", "101003", "000101", "000102"] {
            assert!(matches!(order(code), ProviderError::Auth(_)), "{code}");
        }
        assert!(matches!(
            order("000105"),
            ProviderError::Rejected {
                reason: Refusal::Other,
                ..
            }
        ));
        assert!(matches!(
            failure("000105").into_error(Call::Read),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(order("900001"), ProviderError::RateLimited { .. }));
        assert!(matches!(order("000001"), ProviderError::Unknown(_)));
    }

    #[test]
    fn success_is_read_from_strings_and_booleans() {
        for success in [json!("true"), json!(true)] {
            let envelope: Envelope = serde_json::from_value(
                json!({"success": success, "errorCode": null, "obj": {"a": 1}}),
            )
            .unwrap();
            assert_eq!(envelope.into_result(None).unwrap(), json!({"a": 1}));
        }
        let envelope: Envelope = serde_json::from_value(
            json!({"success": "false", "errorCode": "200010", "errorMessage": "wait", "obj": null}),
        )
        .unwrap();
        let failure = envelope.into_result(None).unwrap_err();
        assert!(failure.is(STILL_ALLOCATING));
        assert_eq!(failure.message, "wait");
    }
}
