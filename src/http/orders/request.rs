//! The `POST /v1/order` body (also `POST /v1/order/quote`) and its validation: every
//! problem reported at once, each naming its field.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::parse_json;
use crate::orders::NewOrder;

/// The order body. Types are loose on purpose where serde's own message would be
/// unhelpful; [`OrderRequest::validate`] gives each field a precise message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(
    as = OrderRequest,
    description = "An order: which plan, how many eSIMs, and optionally the traveller's address and your booking reference. Unknown fields are refused (400).",
    example = json!({"planId": "ae-5gb-7d", "quantity": 1, "customerEmail": "traveller@example.com", "reference": "BK-12345"})
)]
pub(crate) struct OrderRequest {
    /// A `planId` from `GET /v1/packages`: 1 to 64 of `a-z`, `0-9` and `-` (surrounding
    /// spaces are ignored).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[a-z0-9-]+$",
        example = "ae-5gb-7d"
    )]
    plan_id: String,
    /// How many eSIMs of this plan; 1 when left out. Never `null`.
    // No `default = 1` in the schema: openapi-typescript types a property that has one as
    // required, and the order body without `quantity` would not compile.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, required = false, minimum = 1, maximum = 10, example = 1)]
    quantity: Option<serde_json::Number>,
    /// The traveller's address, kept with the order.
    #[schema(value_type = Option<String>, required = false, format = Email, max_length = 254, example = "traveller@example.com")]
    customer_email: Option<String>,
    /// Your booking reference, to find the order again (`GET /v1/orders?reference=`).
    #[schema(value_type = Option<String>, required = false, min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", example = "BK-12345")]
    reference: Option<String>,
}

/// A field that, when present, must hold a value: `null` is refused (naming the field) as
/// any other wrong type is, where `Option` alone would read it as left out.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl OrderRequest {
    /// Checks every field and reports all problems at once.
    pub(crate) fn validate(self) -> ApiResult<NewOrder> {
        let mut errors = Vec::new();
        // Plan ids are slugs (the catalog import and sync make them so): anything else,
        // a control character above all (it would forge log lines), is not one.
        let plan_id = self.plan_id.trim_matches(' ');
        if !is_plan_id(plan_id) {
            errors.push(FieldError::new(
                "planId",
                "must be a plan id from /v1/packages: 1 to 64 of a-z, 0-9 and -",
            ));
        }
        // An integer, also when written `6.0` (JSON Schema's notion); never `1.5` or `"3"`.
        let quantity = match &self.quantity {
            None => 1,
            Some(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() <= 1e6)
                        .map(|f| f as i64)
                })
                .unwrap_or(0),
        };
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
            if !valid_reference(reference) {
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
            sandbox_outcome: None,
            topup_of: None,
        })
    }
}

/// Parses and validates a `POST /v1/order` body as the order handler does: JSON checks
/// (object, types, unknown fields), then field validation. The entry point of the
/// `order_body` fuzz target in `fuzz/`.
pub fn parse_order_body(bytes: &[u8]) -> ApiResult<NewOrder> {
    parse_json::<OrderRequest>(bytes)?.validate()
}

/// A booking reference: 1 to 64 characters, none a control character.
pub(super) fn valid_reference(reference: &str) -> bool {
    let len = reference.chars().count();
    len > 0 && len <= 64 && !reference.chars().any(char::is_control)
}

/// The documented `planId` pattern, `^[a-z0-9-]+$`, at most 64 characters.
pub(super) fn is_plan_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An address a traveller can receive mail at: RFC 5322 syntax (checked by
/// `email_address`) without the forms no traveller's mailbox has (display names, quoted
/// local parts, IP literals), and a public domain name: dot-separated labels of ASCII
/// letters, digits and hyphens, ending in a top-level domain of two letters or more.
fn is_valid_email(email: &str) -> bool {
    let options = email_address::Options {
        minimum_sub_domains: 2,
        allow_domain_literal: false,
        allow_display_text: false,
        allow_long_local_parts: false,
    };
    let Ok(address) = email_address::EmailAddress::parse_with_options(email, options) else {
        return false;
    };
    let labels: Vec<&str> = address.domain().split('.').collect();
    let domain_ok = labels
        .iter()
        .all(|l| l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    email.len() <= 254 && !address.local_part().starts_with('"') && domain_ok
}

#[cfg(test)]
mod tests {
    use super::{is_plan_id, is_valid_email};

    #[test]
    fn plan_ids_are_slugs_without_control_characters() {
        for good in ["ae-5gb-7d", "x", &"a".repeat(64)] {
            assert!(is_plan_id(good), "{good}");
        }
        for bad in [
            "",
            &"a".repeat(65),
            "ae-5gb-7d\n",
            "ae\u{1b}[2J",
            "ae\u{85}",
            "ae\u{7f}",
            "\u{0}",
            "AE-5GB-7D",
            "ae 5gb",
            "ae_5gb",
            "é",
        ] {
            assert!(!is_plan_id(bad), "{bad:?}");
        }
    }

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
