//! The webhook deliveries in the document: OpenAPI 3.1's top-level `webhooks`, one entry
//! per event type (what we POST to a partner's endpoint, with the Standard Webhooks
//! headers), and the event bodies typed by family: an `OrderEvent` carries an `Order`, an
//! `EsimEvent` an `Esim`, a `BalanceEvent` the `Balance`, a `WebhookTestEvent` the
//! endpoint. `Event` (the items of `GET /v1/events`) is one of the four; their `type`
//! enums do not overlap, so a body matches exactly one.

use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};

use crate::webhooks::{DEFAULT_RETRY_SCHEDULE, EventType};

/// An event family: its body schema, the `data` schema it carries, what that `data` is,
/// and whether `data` can be `null` (its subject deleted since).
struct Family {
    schema: &'static str,
    data: &'static str,
    data_description: &'static str,
    nullable: bool,
}

const FAMILIES: &[Family] = &[
    Family {
        schema: "OrderEvent",
        data: "Order",
        data_description: "The order (or top-up order) as `GET /v1/orders/{orderId}` answers it.",
        nullable: false,
    },
    Family {
        schema: "EsimEvent",
        data: "Esim",
        data_description: "The eSIM as `GET /v1/esim/{esimId}` answers it (the figures the gateway last read).",
        nullable: false,
    },
    Family {
        schema: "BalanceEvent",
        data: "Balance",
        data_description: "The balance of the event's mode, as `GET /v1/balance` answers it.",
        nullable: false,
    },
    Family {
        schema: "WebhookTestEvent",
        data: "Webhook",
        data_description: "The endpoint as `GET /v1/webhooks/{webhookId}` answers it; `null` in \
                           `GET /v1/events` once the endpoint is deleted.",
        nullable: true,
    },
];

/// Which family an event type's body belongs to (its `data`), and what the event means.
fn describe(kind: EventType) -> (&'static str, &'static str) {
    use EventType::*;
    match kind {
        OrderCompleted => (
            "OrderEvent",
            "An order of new eSIMs completed: `data.esims` holds them, ready to install.",
        ),
        OrderFailed => (
            "OrderEvent",
            "An order of new eSIMs failed upstream; its cost is refunded to the balance.",
        ),
        TopupCompleted => (
            "OrderEvent",
            "A top-up completed: the eSIM (`data.esimId`) has the plan's data added.",
        ),
        TopupFailed => (
            "OrderEvent",
            "A top-up failed upstream; its cost is refunded to the balance.",
        ),
        EsimActivated => (
            "EsimEvent",
            "An eSIM was used for the first time: its validity runs from now.",
        ),
        EsimLowData => (
            "EsimEvent",
            "80 % of an eSIM's allowance is used (once per allowance: again after a top-up).",
        ),
        EsimDepleted => ("EsimEvent", "An eSIM's data is used up."),
        EsimExpiring => ("EsimEvent", "An eSIM expires within 24 hours."),
        EsimExpired => ("EsimEvent", "An eSIM's validity ended."),
        EsimCancelled => (
            "EsimEvent",
            "An eSIM was cancelled; `refund.completed` follows with the refund.",
        ),
        RefundCompleted => (
            "EsimEvent",
            "A cancelled eSIM's unit cost was credited back to the balance (a `refund` in \
             `GET /v1/balance/transactions`).",
        ),
        RefundRejected => (
            "EsimEvent",
            "The provider rejected the refund it reviewed: the eSIM is `READY` again, and final.",
        ),
        BalanceLow => (
            "BalanceEvent",
            "The balance fell below your threshold (`PUT /v1/balance/alert`), once per crossing.",
        ),
        WebhookTest => (
            "WebhookTestEvent",
            "Sent by `POST /v1/webhooks/{webhookId}/test`, and to your other endpoints when \
             one is disabled after failing for 5 days.",
        ),
    }
}

/// The Standard Webhooks headers of every delivery.
fn signature_headers() -> Value {
    json!([
        {"name": "webhook-id", "in": "header", "required": true,
         "description": "The event's `id`, the same on every attempt: deduplicate on it.",
         "schema": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"}},
        {"name": "webhook-timestamp", "in": "header", "required": true,
         "description": "When this attempt was signed, in Unix seconds. Refuse a delivery more than 5 minutes old or ahead (the `standardwebhooks` libraries do).",
         "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        {"name": "webhook-signature", "in": "header", "required": true,
         "description": "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of your endpoint's secret after `whsec_`; two of them, space-separated, for 24 hours after a secret rotation. Verify with a `standardwebhooks` library.",
         "schema": {"type": "string"}},
    ])
}

/// Adds the event families, `Event` as one of them, and the `webhooks` section.
pub(super) fn add(doc: &mut Document) {
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("the document has components")
        .schemas;
    let Some(RefOr::T(Schema::Object(base))) = schemas.get("Event").cloned() else {
        panic!("the Event schema is derived from the events view, as an object");
    };
    for family in FAMILIES {
        let types: Vec<&str> = EventType::ALL
            .into_iter()
            .filter(|kind| describe(*kind).0 == family.schema)
            .map(EventType::as_str)
            .collect();
        let mut schema = base.clone();
        schema.example = None;
        schema.description = Some(format!(
            "The body of a `{}` event, signed per Standard Webhooks.",
            types.join("`, `")
        ));
        // In place: the properties keep their order.
        schema.properties.insert(
            "type".to_owned(),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(types))
                .description(Some("What happened."))
                .into(),
        );
        let mut data_ref = Ref::from_schema_name(family.data);
        data_ref.description = family.data_description.to_owned();
        let data_schema: RefOr<Schema> = if family.nullable {
            OneOfBuilder::new()
                .item(data_ref)
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .description(Some(family.data_description))
                .into()
        } else {
            data_ref.into()
        };
        schema.properties.insert("data".to_owned(), data_schema);
        schemas.insert(family.schema.to_owned(), Schema::Object(schema).into());
    }
    let event = FAMILIES
        .iter()
        .fold(OneOfBuilder::new(), |one_of, family| {
            one_of.item(Ref::from_schema_name(family.schema))
        })
        .description(Some(
            "An event: the body of every webhook delivery, signed per Standard Webhooks, and \
             an item of `GET /v1/events`. Its `type` says which of the four it is, and so \
             what `data` holds.",
        ))
        .examples(base.example.clone());
    schemas.insert("Event".to_owned(), event.into());

    let retries = retry_schedule_text();
    let mut webhooks = Map::new();
    for kind in EventType::ALL {
        let (family, meaning) = describe(kind);
        let name = kind.as_str();
        webhooks.insert(
            name.to_owned(),
            json!({"post": {
                "tags": ["Webhooks"],
                "summary": name,
                "description": format!(
                    "{meaning}\n\nPOSTed to each of your enabled endpoints subscribed to \
                     `{name}` (or to every type), in the mode of the change. Delivery is at \
                     least once; answer 2xx within 10 s, or it is retried after {retries}."
                ),
                "operationId": operation_id(name),
                "security": [],
                "parameters": signature_headers(),
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {
                        "schema": {"$ref": format!("#/components/schemas/{family}")}
                    }},
                },
                "responses": {
                    "2XX": {"description": "Received: the delivery succeeded."},
                    "4XX": {"description": "Not received (a 410 too): retried on the schedule, then `failed`."},
                    "5XX": {"description": "Not received: retried on the schedule, then `failed`."},
                },
            }}),
        );
    }
    // utoipa's model has no `webhooks`: an extension serializes at the top level as well.
    doc.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".to_owned(), Value::Object(webhooks));
}

/// The default pauses between attempts, as a reader says them: `5 s, 5 min, …, 10 h and 10 h`.
fn retry_schedule_text() -> String {
    let pauses: Vec<String> = DEFAULT_RETRY_SCHEDULE
        .iter()
        .map(|&secs| match secs {
            s if s % 3_600 == 0 => format!("{} h", s / 3_600),
            s if s % 60 == 0 => format!("{} min", s / 60),
            s => format!("{s} s"),
        })
        .collect();
    match pauses.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "no retry".to_owned(),
    }
}

/// `esim.low_data` → `esimLowDataWebhook`.
fn operation_id(name: &str) -> String {
    let mut id = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '.' || c == '_' {
            upper = true;
        } else if upper {
            id.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            id.push(c);
        }
    }
    id + "Webhook"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_a_webhook_whose_body_types_its_data() {
        let doc = serde_json::to_value(crate::http::document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let mut seen = Vec::new();
        for kind in EventType::ALL {
            let post = &doc["webhooks"][kind.as_str()]["post"];
            let body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{kind:?} has no body"));
            let family = &schemas[body.rsplit('/').next().unwrap()];
            let types = family["properties"]["type"]["enum"].as_array().unwrap();
            assert!(types.contains(&json!(kind.as_str())), "{kind:?}");
            assert!(
                family["required"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("data"))
            );
            let headers: Vec<&str> = post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                headers,
                ["webhook-id", "webhook-timestamp", "webhook-signature"]
            );
            seen.extend(types.iter().cloned());
        }
        // The families' types do not overlap and cover every type: a body matches one.
        seen.sort_by_key(|v| v.to_string());
        seen.dedup();
        let mut each = Vec::new();
        for family in FAMILIES {
            each.extend(
                schemas[family.schema]["properties"]["type"]["enum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .cloned(),
            );
        }
        assert_eq!(each.len(), EventType::ALL.len());
        assert_eq!(seen.len(), EventType::ALL.len());
        assert_eq!(
            schemas["Event"]["oneOf"].as_array().unwrap().len(),
            FAMILIES.len()
        );
        assert_eq!(operation_id("esim.low_data"), "esimLowDataWebhook");
    }
}
