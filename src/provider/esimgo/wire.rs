//! eSIM Go's JSON, as serde shapes. Every field is optional and read leniently (numbers
//! as strings, `null` lists), because the published v2.4 spec and the live API disagree on
//! several shapes; the dispatchers below accept each variant we know of:
//! the catalogue as `{"bundles": [...], "pageCount": N}` (live) or a bare array (spec),
//! order lists as a bare array, `{"orders": [...]}` or one order object, install details
//! as a list, `{"esims"|"assignments": [...]}` or one object, and eSIM bundles as
//! `{"bundles": [{"name", "assignments": [...]}]}` or `{"assignments": [...]}`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::provider::normalize::{flexible_bool, flexible_int, flexible_string};

/// One catalogue bundle.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Bundle {
    /// The bundle's name: the (case-sensitive) code an order names.
    #[serde(default, deserialize_with = "flexible_string")]
    pub name: Option<String>,
    /// Human-readable description.
    #[serde(default)]
    pub description: Option<String>,
    /// Bundle groups (`Standard Fixed`, `Standard Unlimited Lite`, ...).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Base countries.
    #[serde(default)]
    pub countries: Option<Vec<Country>>,
    /// Data in MB (decimal: 1 GB = 1000 MB); -1 or absent for unlimited bundles.
    #[serde(default, deserialize_with = "flexible_int")]
    pub data_amount: Option<i64>,
    /// Validity in days.
    #[serde(default, deserialize_with = "flexible_int")]
    pub duration: Option<i64>,
    /// Radio networks (`4G`, `5G`).
    #[serde(default)]
    pub speed: Option<Vec<String>>,
    /// Whether the data is unlimited.
    #[serde(default, deserialize_with = "flexible_bool")]
    pub unlimited: bool,
    /// Price in the organisation's currency.
    #[serde(default)]
    pub price: Value,
    /// Currency of `price`, when the answer states one (the spec does not).
    #[serde(default)]
    pub currency: Option<String>,
}

/// A country of a bundle.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct Country {
    /// English name.
    #[serde(default)]
    pub name: Option<String>,
    /// eSIM Go's region of the country (`Europe`).
    #[serde(default)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub iso: Option<String>,
}

/// An order, as `POST /orders`, `GET /orders/{ref}` and `GET /orders` answer it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Order {
    /// The order's lines (one per bundle ordered).
    #[serde(default)]
    pub order: Option<Vec<OrderLine>>,
    /// `completed`, or a processing/failure state.
    #[serde(default)]
    pub status: Option<String>,
    /// Human-readable status.
    #[serde(default)]
    pub status_message: Option<String>,
    /// eSIM Go's order id.
    #[serde(default, deserialize_with = "flexible_string")]
    pub order_reference: Option<String>,
    /// When the order was created (the spec's `Order` schema spells it `createDate`).
    #[serde(default, alias = "createDate")]
    pub created_date: Value,
}

/// One line of an order.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderLine {
    /// The bundle name.
    #[serde(default, deserialize_with = "flexible_string")]
    pub item: Option<String>,
    /// How many.
    #[serde(default, deserialize_with = "flexible_int")]
    pub quantity: Option<i64>,
    /// Install details, inline for small orders only.
    #[serde(default)]
    pub esims: Option<Vec<EsimDetails>>,
}

/// Install details of one eSIM (order lines, `/esims/assignments`, `/esims/{iccid}`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EsimDetails {
    /// ICCID.
    #[serde(default, deserialize_with = "flexible_string")]
    pub iccid: Option<String>,
    /// Matching id: the activation code.
    #[serde(default, deserialize_with = "flexible_string")]
    pub matching_id: Option<String>,
    /// SM-DP+ address (sometimes written as a URL).
    #[serde(default, deserialize_with = "flexible_string")]
    pub smdp_address: Option<String>,
    /// First installation: epoch milliseconds on `/esims/{iccid}`, RFC 3339 elsewhere.
    #[serde(default)]
    pub first_installed_date_time: Value,
}

/// One bundle assignment of an eSIM (usage).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Assignment {
    /// eSIM Go's id of the assignment (the `offerId` a refund to balance names).
    #[serde(default, deserialize_with = "flexible_string")]
    pub id: Option<String>,
    /// `data`, `voice` or `sms`.
    #[serde(default)]
    pub call_type_group: Option<String>,
    /// Allowance in bytes (decimal).
    #[serde(default, deserialize_with = "flexible_int")]
    pub initial_quantity: Option<i64>,
    /// What is left, in bytes.
    #[serde(default, deserialize_with = "flexible_int")]
    pub remaining_quantity: Option<i64>,
    /// When the bundle was assigned (at order time).
    #[serde(default)]
    pub assignment_date_time: Value,
    /// `processing|queued|active|depleted|expired|revoked|lapsed`.
    #[serde(default)]
    pub bundle_state: Option<String>,
    /// Start of validity, when given (eSIM Go's callbacks carry it; v2.4 assignments may).
    #[serde(default)]
    pub start_time: Value,
    /// End of validity, when given.
    #[serde(default)]
    pub end_time: Value,
    /// Unlimited data (its quantities say nothing about an allowance).
    #[serde(default, deserialize_with = "flexible_bool")]
    pub unlimited: bool,
}

/// An assignment with the name of the bundle it belongs to, when the answer says.
#[derive(Clone, Debug)]
pub(super) struct NamedAssignment {
    /// Bundle name.
    pub bundle: Option<String>,
    /// The assignment.
    pub assignment: Assignment,
}

/// `GET /esims/{iccid}/compatible/{bundle}`: `{"compatible": true}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct Compatibility {
    /// Whether the bundle can be applied to the eSIM.
    #[serde(default, deserialize_with = "flexible_bool")]
    pub compatible: bool,
}

/// `GET /organisation`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct Organisation {
    /// Currency of the balance.
    #[serde(default)]
    pub currency: Option<String>,
    /// Balance (plus test credit).
    #[serde(default)]
    pub balance: Value,
}

/// One catalogue page: its bundles, and how many pages there are when the answer says.
pub(super) fn catalogue_page(value: Value) -> Result<(Vec<Bundle>, Option<i64>), String> {
    match value {
        Value::Array(items) => Ok((items_of(items)?, None)),
        Value::Object(mut map) => {
            let pages = map
                .get("pageCount")
                .and_then(crate::provider::normalize::int);
            let bundles = list_in(&mut map, &["bundles"]).ok_or("no `bundles` list")?;
            Ok((items_of(bundles)?, pages))
        }
        _ => Err("neither a list nor an object".into()),
    }
}

/// A page of `GET /orders`: its orders, and how many pages there are when it says.
pub(super) fn order_list(value: Value) -> Result<(Vec<Order>, Option<i64>), String> {
    match value {
        Value::Array(items) => Ok((items_of(items)?, None)),
        Value::Object(mut map) => {
            let pages = map
                .get("pageCount")
                .and_then(crate::provider::normalize::int);
            if let Some(orders) = list_in(&mut map, &["orders", "data"]) {
                return Ok((items_of(orders)?, pages));
            }
            if map.contains_key("orderReference") {
                return Ok((vec![parse(Value::Object(map))?], pages));
            }
            Err("no `orders` list".into())
        }
        _ => Err("neither a list nor an object".into()),
    }
}

/// The install details of `GET /esims/assignments`.
pub(super) fn install_details(value: Value) -> Result<Vec<EsimDetails>, String> {
    match value {
        Value::Array(items) => items_of(items),
        Value::Object(mut map) => match list_in(&mut map, &["esims", "assignments", "data"]) {
            Some(items) => items_of(items),
            None if map.contains_key("iccid") => Ok(vec![parse(Value::Object(map))?]),
            None => Err("no eSIM details".into()),
        },
        _ => Err("neither a list nor an object".into()),
    }
}

/// The assignments of `GET /esims/{iccid}/bundles`, with their bundle names.
pub(super) fn assignments(value: Value) -> Result<Vec<NamedAssignment>, String> {
    let (bundles, top_level) = match value {
        Value::Array(items) => (items, Vec::new()),
        Value::Object(mut map) => (
            list_in(&mut map, &["bundles"]).unwrap_or_default(),
            list_in(&mut map, &["assignments"]).unwrap_or_default(),
        ),
        _ => return Err("neither a list nor an object".into()),
    };
    let mut named = Vec::new();
    for bundle in bundles {
        let Value::Object(mut bundle) = bundle else {
            return Err("a bundle is not an object".into());
        };
        let name = bundle
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for assignment in
            items_of::<Assignment>(list_in(&mut bundle, &["assignments"]).unwrap_or_default())?
        {
            named.push(NamedAssignment {
                bundle: name.clone(),
                assignment,
            });
        }
    }
    for assignment in items_of::<Assignment>(top_level)? {
        named.push(NamedAssignment {
            bundle: None,
            assignment,
        });
    }
    Ok(named)
}

/// The `{"message": ...}` of an error answer.
pub(super) fn message(value: &Value) -> Option<String> {
    ["message", "error", "statusMessage"]
        .iter()
        .find_map(|key| value.get(key)?.as_str())
        .map(str::to_owned)
        .filter(|m| !m.trim().is_empty())
}

fn list_in(map: &mut serde_json::Map<String, Value>, keys: &[&str]) -> Option<Vec<Value>> {
    keys.iter().find_map(|key| match map.remove(*key) {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    })
}

fn items_of<T: DeserializeOwned>(items: Vec<Value>) -> Result<Vec<T>, String> {
    items.into_iter().map(parse).collect()
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}
