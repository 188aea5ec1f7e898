//! Checks a JSON value against a schema of the served OpenAPI document: the subset of
//! JSON Schema the document uses (`$ref`, `allOf`, `oneOf`/`anyOf`, `type` with `null`,
//! `enum`, `required`, `properties`, `items`, bounds, `uuid` and `date-time` formats).
//!
//! Stricter than JSON Schema on one point: an object whose schema lists `properties` may
//! hold no other property, so a field the server emits but the document does not
//! describe fails the test.

use serde_json::{Map, Value};

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
        let mut problems = Vec::new();
        self.check_at(value, schema, "$", &mut problems);
        problems
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

    fn check_at(&self, value: &Value, schema: &Value, at: &str, problems: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
            let merged = self.merge_all_of(branches);
            return self.check_at(value, &merged, at, problems);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let attempts: Vec<Vec<String>> =
                    branches.iter().map(|b| self.check(value, b)).collect();
                if !attempts.iter().any(Vec::is_empty) {
                    problems.push(format!("{at}: matches no branch of {key}: {attempts:?}"));
                }
                return;
            }
        }
        if !type_allows(schema.get("type"), value) {
            problems.push(format!("{at}: {value} is not of type {}", schema["type"]));
            return;
        }
        if value.is_null() {
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                problems.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        check_format(schema, value, at, problems);
        check_bounds(schema, value, at, problems);
        if let Some(object) = value.as_object() {
            self.check_object(object, schema, at, problems);
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.check_at(item, items, &format!("{at}[{i}]"), problems);
            }
        }
    }

    fn check_object(
        &self,
        object: &Map<String, Value>,
        schema: &Value,
        at: &str,
        problems: &mut Vec<String>,
    ) {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                problems.push(format!("{at}: required property `{name}` is missing"));
            }
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return; // a free-form object
        };
        for (name, value) in object {
            match properties.get(name) {
                Some(property) => self.check_at(value, property, &format!("{at}.{name}"), problems),
                None => problems.push(format!("{at}: property `{name}` is not documented")),
            }
        }
    }

    /// One object schema standing for all branches of an `allOf`: required names and
    /// properties of every branch (a property in several branches must match each).
    fn merge_all_of(&self, branches: &[Value]) -> Value {
        let mut required = Vec::new();
        let mut properties: Map<String, Value> = Map::new();
        let mut types = Vec::new();
        for branch in branches {
            let mut branch = self.resolve(branch).clone();
            if let Some(inner) = branch.get("allOf").and_then(Value::as_array) {
                branch = self.merge_all_of(inner);
            }
            types.push(branch.get("type").cloned());
            required.extend(branch["required"].as_array().cloned().unwrap_or_default());
            for (name, property) in branch["properties"].as_object().into_iter().flatten() {
                let merged = match properties.remove(name) {
                    None => property.clone(),
                    Some(Value::Object(earlier)) if earlier.contains_key("allOf") => {
                        let mut all = earlier["allOf"].as_array().cloned().unwrap_or_default();
                        all.push(property.clone());
                        serde_json::json!({ "allOf": all })
                    }
                    Some(earlier) => serde_json::json!({ "allOf": [earlier, property] }),
                };
                properties.insert(name.clone(), merged);
            }
        }
        let mut merged = serde_json::json!({ "required": required, "properties": properties });
        if let Some(Some(t)) = types.into_iter().find(Option::is_some) {
            merged["type"] = t;
        }
        merged
    }
}

fn type_allows(declared: Option<&Value>, value: &Value) -> bool {
    let matches = |t: &str| match t {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    match declared {
        None => true,
        Some(Value::String(t)) => matches(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(matches),
        Some(_) => false,
    }
}

fn check_format(schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) else {
        return;
    };
    let ok = match format {
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "uri" => text.starts_with("http://") || text.starts_with("https://"),
        "email" => text.contains('@'),
        _ => true,
    };
    if !ok {
        problems.push(format!("{at}: {value} is not a valid {format}"));
    }
}

fn check_bounds(schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min) {
            problems.push(format!(
                "{at}: {n} is below the minimum {}",
                schema["minimum"]
            ));
        }
        if schema["maximum"].as_f64().is_some_and(|max| n > max) {
            problems.push(format!(
                "{at}: {n} is above the maximum {}",
                schema["maximum"]
            ));
        }
    }
    if let Some(text) = value.as_str() {
        let len = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| len < min) {
            problems.push(format!(
                "{at}: {value} is shorter than {}",
                schema["minLength"]
            ));
        }
        if schema["maxLength"].as_u64().is_some_and(|max| len > max) {
            problems.push(format!(
                "{at}: {value} is longer than {}",
                schema["maxLength"]
            ));
        }
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
