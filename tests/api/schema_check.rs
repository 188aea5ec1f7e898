//! Checks a JSON value against a schema of the served OpenAPI document with the
//! `jsonschema` crate (JSON Schema 2020-12, the dialect of OpenAPI 3.1); `$ref`s into
//! `#/components/schemas` resolve against the document.
//!
//! A pre-pass makes the schemas stricter than JSON Schema where the tests rely on it:
//! - an object whose schema lists `properties` may hold no other property
//!   (`additionalProperties: false`), so a field the server emits but the document does
//!   not describe fails the test; the branches of an `allOf` are merged first, so this
//!   holds for their union rather than refusing each branch's fields in the others;
//! - an `integer` is written without a fraction (`7`, not `7.0`);
//! - a `uri` is an absolute `http(s)` URL.
//!
//! And where a type allows `null`, a `null` passes an `enum` that does not list it.

use jsonschema::paths::Location;
use jsonschema::{Draft, Keyword, ValidationError};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use sqlx::PgPool;

use crate::helpers::spawn_app;
use crate::openapi::fetch_document;

/// The keyword the pre-pass puts beside `"type": "integer"`.
const WHOLE_NUMBER: &str = "x-whole-number";

/// The OpenAPI document and helpers to find what it says about an operation.
pub struct Document<'a>(pub &'a Value);

impl<'a> Document<'a> {
    /// Follows a local `$ref` (`#/components/...`) until a non-reference is reached.
    pub fn resolve(&self, mut node: &'a Value) -> &'a Value {
        while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {reference}"));
            node = self
                .0
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
        }
        node
    }

    /// The documented response for `status` of an operation, `$ref`s resolved.
    pub fn response(&self, method: &str, path: &str, status: u16) -> &'a Value {
        let operation = &self.0["paths"][path][method.to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let response = operation["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {path} does not document a {status}"));
        self.resolve(response)
    }

    /// The JSON schema of the documented response for `status` of an operation.
    pub fn response_schema(&self, method: &str, path: &str, status: u16) -> &'a Value {
        let schema = &self.response(method, path, status)["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} has no JSON schema"
        );
        schema
    }

    /// Every problem with `value` against `schema`; empty when it conforms.
    pub fn check(&self, value: &Value, schema: &Value) -> Vec<String> {
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_format("uri", |text: &str| {
                (text.starts_with("http://") || text.starts_with("https://"))
                    && reqwest::Url::parse(text).is_ok()
            })
            .with_keyword(WHOLE_NUMBER, whole_number)
            .build(&self.strict_root(schema))
            .unwrap_or_else(|e| panic!("the documented schema does not compile: {e}"));
        validator
            .iter_errors(value)
            .map(|e| format!("${}: {e}", e.instance_path()))
            .collect()
    }

    /// Panics with every problem unless `value` conforms to `schema`.
    pub fn assert_conforms(&self, value: &Value, schema: &Value, what: &str) {
        let problems = self.check(value, schema);
        assert!(
            problems.is_empty(),
            "{what} does not match its documented schema:\n  {}\nbody: {value:#}",
            problems.join("\n  ")
        );
    }

    /// `schema`, made strict, with the document's component schemas (made strict too)
    /// beside it so that its `#/components/schemas/...` references resolve.
    fn strict_root(&self, schema: &Value) -> Value {
        let components: Map<String, Value> = self.0["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, component)| (name.clone(), self.strict(component)))
            .collect();
        let mut root = match self.strict(schema) {
            Value::Object(root) => root,
            other => return other,
        };
        root.insert(
            "components".to_owned(),
            json!({ "schemas": Value::Object(components) }),
        );
        Value::Object(root)
    }

    /// The pre-pass over one schema and every schema inside it (see the module docs).
    fn strict(&self, schema: &Value) -> Value {
        let Some(object) = schema.as_object() else {
            return schema.clone();
        };
        let mut object = match object.get("allOf").and_then(Value::as_array) {
            Some(branches) => self.merge_all_of(branches),
            None => object.clone(),
        };
        for key in ["properties", "patternProperties", "$defs"] {
            if let Some(Value::Object(named)) = object.get_mut(key) {
                for sub in named.values_mut() {
                    *sub = self.strict(sub);
                }
            }
        }
        for key in ["oneOf", "anyOf", "prefixItems"] {
            if let Some(Value::Array(branches)) = object.get_mut(key) {
                for sub in branches.iter_mut() {
                    *sub = self.strict(sub);
                }
            }
        }
        for key in ["items", "additionalProperties", "not", "contains"] {
            if let Some(sub) = object.get_mut(key).filter(|s| s.is_object()) {
                *sub = self.strict(sub);
            }
        }
        if object.contains_key("properties") {
            object.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
        if type_allows(&object, "integer") {
            object.insert(WHOLE_NUMBER.to_owned(), Value::Bool(true));
        }
        if type_allows(&object, "null") {
            if let Some(Value::Array(allowed)) = object.get_mut("enum") {
                if !allowed.contains(&Value::Null) {
                    allowed.push(Value::Null);
                }
            }
        }
        Value::Object(object)
    }

    /// One object schema standing for all branches of an `allOf`: required names and
    /// properties of every branch (a property in several branches must match each).
    fn merge_all_of(&self, branches: &[Value]) -> Map<String, Value> {
        let mut required = Vec::new();
        let mut properties: Map<String, Value> = Map::new();
        let mut types = Vec::new();
        for branch in branches {
            let branch = self.resolve(branch);
            let branch = match branch.get("allOf").and_then(Value::as_array) {
                Some(inner) => Value::Object(self.merge_all_of(inner)),
                None => branch.clone(),
            };
            types.push(branch.get("type").cloned());
            for name in branch["required"].as_array().into_iter().flatten() {
                if !required.contains(name) {
                    required.push(name.clone());
                }
            }
            for (name, property) in branch["properties"].as_object().into_iter().flatten() {
                let merged = match properties.remove(name) {
                    None => property.clone(),
                    Some(Value::Object(earlier)) if earlier.contains_key("allOf") => {
                        let mut all = earlier["allOf"].as_array().cloned().unwrap_or_default();
                        all.push(property.clone());
                        json!({ "allOf": all })
                    }
                    Some(earlier) => json!({ "allOf": [earlier, property] }),
                };
                properties.insert(name.clone(), merged);
            }
        }
        let mut merged = Map::new();
        merged.insert("required".to_owned(), Value::Array(required));
        merged.insert("properties".to_owned(), Value::Object(properties));
        if let Some(Some(t)) = types.into_iter().find(Option::is_some) {
            merged.insert("type".to_owned(), t);
        }
        merged
    }
}

/// Whether the schema's `type` names `name` (alone or in a list).
fn type_allows(schema: &Map<String, Value>, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(ts)) => ts.iter().any(|t| t == name),
        _ => false,
    }
}

/// Builds the [`WholeNumber`] check wherever the pre-pass put [`WHOLE_NUMBER`].
fn whole_number<'a>(
    _: &'a Map<String, Value>,
    _: &'a Value,
    _: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    Ok(Box::new(WholeNumber))
}

/// `x-whole-number`: a number must be written as an integer (JSON Schema 2020-12 counts
/// `7.0` as an integer; the server never writes one where the document says `integer`).
struct WholeNumber;

impl<'i> Keyword<'i> for WholeNumber {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(format!(
                "{instance} is not written as an integer"
            )))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        instance
            .as_number()
            .is_none_or(|n| n.is_i64() || n.is_u64())
    }
}

#[test]
fn the_checker_refuses_undocumented_missing_and_mistyped_properties() {
    let doc = serde_json::json!({"components": {"schemas": {
        "Money": {"type": "number"},
        "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "format": "uuid"}}},
        "Item": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object",
            "required": ["price", "kind"], "properties": {
                "price": {"$ref": "#/components/schemas/Money"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "note": {"type": ["string", "null"]}}}]}
    }}});
    let document = Document(&doc);
    let schema = serde_json::json!({"$ref": "#/components/schemas/Item"});
    let id = "914ce31d-f1b1-43a4-82d4-95f0b9622496";
    let good = serde_json::json!({"id": id, "price": 7.5, "kind": "a", "note": null});
    assert_eq!(document.check(&good, &schema), Vec::<String>::new());
    for bad in [
        serde_json::json!({"id": id, "price": 7.5, "kind": "a", "extra": 1}),
        serde_json::json!({"id": id, "price": 7.5}),
        serde_json::json!({"id": id, "price": "7.50", "kind": "a"}),
        serde_json::json!({"id": id, "price": 7.5, "kind": "c"}),
        serde_json::json!({"id": "nope", "price": 7.5, "kind": "a"}),
    ] {
        assert!(!document.check(&bad, &schema).is_empty(), "{bad} passed");
    }
}

#[test]
fn the_checker_keeps_integers_whole_urls_absolute_and_lets_null_past_an_enum() {
    let doc = serde_json::json!({"components": {"schemas": {}}});
    let document = Document(&doc);
    let schema = serde_json::json!({"type": "object", "properties": {
        "count": {"type": "integer"},
        "link": {"type": "string", "format": "uri"},
        "state": {"type": ["string", "null"], "enum": ["on", "off"]},
        "when": {"type": "string", "format": "date-time"}}});
    let good = serde_json::json!({"count": 2, "link": "https://example.com/qr/a.png",
        "state": null, "when": "2026-11-22T13:15:00Z"});
    assert_eq!(document.check(&good, &schema), Vec::<String>::new());
    for bad in [
        serde_json::json!({"count": 2.0}),
        serde_json::json!({"link": "lpa:1$smdp$code"}),
        serde_json::json!({"link": "/qr/a.png"}),
        serde_json::json!({"state": "maybe"}),
        serde_json::json!({"when": "yesterday"}),
    ] {
        assert!(!document.check(&bad, &schema).is_empty(), "{bad} passed");
    }
}

#[sqlx::test]
async fn a_served_answer_conforms_and_fails_once_a_field_is_added_or_dropped(db: PgPool) {
    let app = spawn_app(db).await;
    let doc = fetch_document(&app).await;
    let document = Document(&doc);
    let partner = app.create_partner("acme", "0", "10.00").await;
    let response = app.get("/v1/balance", &partner.key).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let schema = document.response_schema("GET", "/v1/balance", 200);
    document.assert_conforms(&body, schema, "GET /v1/balance 200");

    // The envelope and its `data` are each held to their documented fields.
    let mut extra = body.clone();
    extra["data"]["overdraft"] = json!(0);
    let mut outer = body.clone();
    outer["debug"] = json!(true);
    let mut missing = body.clone();
    missing["data"].as_object_mut().unwrap().remove("balance");
    for bad in [extra, outer, missing] {
        assert!(!document.check(&bad, schema).is_empty(), "{bad} passed");
    }
}
