//! The OpenAPI 3.1 document, generated from the code: each handler's `#[utoipa::path]`,
//! the `ToSchema`/`IntoParams` derives on the request, query and response types, and the
//! error responses of [`errors`]. Served as `GET /openapi.json` (no key needed) and
//! rendered by `/docs`.
//!
//! The routes and the document are built together (`utoipa-axum`'s `OpenApiRouter`, in
//! each resource's `router()`): an operation cannot be served undocumented, nor
//! documented unserved. [`finish`] adds what belongs to the whole document: the
//! introduction, servers, tags, the bearer scheme, the error responses and their schemas,
//! the named success envelopes, the headers of [`headers`], the `x-internal` marks, and
//! the webhook deliveries of [`events`] (OpenAPI 3.1 `webhooks`).
//!
//! The document is written for code generators as much as for readers: `scripts/sdks`
//! generates the Python and TypeScript SDKs from it (without the `x-internal`
//! operations) and `make test` lints it with Redocly (`redocly.yaml`).

pub(crate) mod errors;
mod events;
mod headers;
mod wrappers;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::FieldError;
use super::state::AppState;
use crate::orders::SandboxOutcome;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tavaro Partner API",
        version = "v1",
        description = include_str!("intro.md"),
        contact(name = "Tavaro partner support", email = "partners@tavaro.io", url = "https://tavaro.io/support"),
        license(name = "Tavaro Partner Terms", url = "https://tavaro.io/legal/partner-terms"),
    ),
    servers(
        (url = "https://api.tavaro.io", description = "Production: live keys (`tvr_...`) move real credits."),
        (url = "https://api.tavaro.io", description = "Sandbox: the same host with a sandbox key (`tvr_test_...`): simulated eSIMs, a sandbox balance of its own."),
        (url = "http://127.0.0.1:8080", description = "Local: `make run` in the gateway's repository."),
    ),
    components(schemas(FieldError, SandboxOutcome)),
    modifiers(&BearerAuth),
    tags(
        (name = "Catalog", description = "Countries, regions and plans on sale, at your markup."),
        (name = "Orders", description = "Buy eSIMs with your prepaid credits, dry-run an order, and read your order history."),
        (name = "Esims", description = "Status, usage and install details of the eSIMs you bought."),
        (name = "Balance", description = "Your prepaid credits and the ledger entries behind them."),
        (name = "Sandbox", description = "Test mode, for sandbox keys (`tvr_test_…`) only: move your sandbox eSIMs through their statuses and set your sandbox balance. A live key gets 403 `sandbox_only`."),
        (name = "Webhooks", description = "Signed event deliveries (Standard Webhooks) to your endpoints, per mode: manage endpoints and their secrets, send test events, follow and retry deliveries, and list your events. Every delivery body is an `Event`; verify it with a `standardwebhooks` library."),
        (name = "QrCodes", description = "Install QR codes, public at unguessable URLs so travellers can open them."),
        (name = "ProviderCallbacks", description = "Where upstream providers POST their notifications. Not for partners: each is verified where the provider signs, and only makes the gateway read the state again from the provider's API. Internal: left out of the SDKs."),
        (name = "Operations", description = "Liveness, readiness and metrics, for load balancers and monitoring. No key needed. Internal: left out of the SDKs."),
        (name = "Documentation", description = "This document and the page that renders it. No key needed. Internal: left out of the SDKs."),
    )
)]
struct ApiDoc;

/// Tag names are identifiers (generators make modules of them: `Esims` → `esims`, where
/// `eSIMs` gave `e_si_ms`); `/docs` shows each tag's `x-displayName`.
const TAG_TITLES: &[(&str, &str)] = &[
    ("Esims", "eSIMs"),
    ("QrCodes", "QR codes"),
    ("ProviderCallbacks", "Provider callbacks"),
];

/// The operations for operators and for the documentation itself: marked `x-internal`
/// (`scripts/sdks` leaves them out of the SDKs; `/docs` still shows them).
const INTERNAL: &[&str] = &[
    "/metrics",
    "/healthz",
    "/readyz",
    "/docs",
    "/docs/redoc.standalone.js",
    "/openapi.json",
    "/providers/{name}/webhook",
];

/// The bearer scheme every `/v1` operation names in its `security`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tvr_...")
                    .description(Some(
                        "A partner API key, `tvr_` followed by random characters: \
                         `Authorization: Bearer tvr_...`. Sandbox keys start `tvr_test_`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every operation of a path item.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// The whole document: the operations `routes` documents, and what belongs to all of
/// them: the error responses and their schemas, the success envelopes named and pointing
/// at their data schemas, `X-Request-Id` (sent and answered), `Tavaro-Mode` and the rate
/// limit headers on the answers of every operation behind a key, an explicit empty
/// `security` on public ones, the 405 every path can answer, and the internal marks.
pub(super) fn finish(routes: Document) -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(routes);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, response) in errors::components() {
        components.responses.insert(name.to_owned(), response);
    }
    components.schemas.extend(errors::schemas());
    components
        .schemas
        .extend(super::envelope::literal_schemas());
    for tag in doc.tags.iter_mut().flatten() {
        if let Some((_, title)) = TAG_TITLES.iter().find(|(name, _)| *name == tag.name) {
            tag.extensions = Some(
                ExtensionsBuilder::new()
                    .add("x-displayName", *title)
                    .build(),
            );
        }
    }
    wrappers::name_wrappers(&mut doc);
    events::add(&mut doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        let internal = INTERNAL.contains(&path.as_str());
        for operation in operations_mut(item) {
            finish_operation(operation, internal);
        }
    }
    let overview = endpoint_overview(&doc);
    if let Some(description) = doc.info.description.as_mut() {
        *description = description.replace("<!-- endpoints -->", &overview);
    }
    doc
}

/// What every operation gets; see [`finish`].
fn finish_operation(operation: &mut Operation, internal: bool) {
    let keyed = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if !keyed {
        operation.security = Some(Vec::new());
    }
    if internal {
        let extensions = operation.extensions.get_or_insert_with(Default::default);
        extensions.merge(ExtensionsBuilder::new().add("x-internal", true).build());
    }
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(headers::request_id_parameter());
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        response
            .headers
            .entry(headers::REQUEST_ID.to_owned())
            .or_insert_with(headers::request_id);
        if let Some(replayed) = response.headers.get_mut(headers::REPLAYED) {
            *replayed = headers::replayed(replayed.description.take());
        }
        if keyed {
            response.headers.extend(
                headers::after_authentication()
                    .into_iter()
                    .map(|(name, header)| (name.to_owned(), header)),
            );
        }
    }
    operation
        .responses
        .responses
        .entry("405".to_owned())
        .or_insert_with(|| Ref::from_response_name("MethodNotAllowed").into());
}

/// `## Endpoints`: a table of every operation, by tag, linking to its section of `/docs`.
fn endpoint_overview(doc: &Document) -> String {
    let mut rows = Vec::new();
    for tag in doc.tags.iter().flatten() {
        for (path, item) in &doc.paths.paths {
            let operations = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                if operation.tags.as_ref().and_then(|t| t.first()) != Some(&tag.name) {
                    continue;
                }
                let id = operation.operation_id.as_deref().unwrap_or_default();
                let summary = operation.summary.as_deref().unwrap_or_default();
                rows.push(format!(
                    "| `{method}` | [`{path}`](#operation/{id}) | {summary} |"
                ));
            }
        }
    }
    format!(
        "## Endpoints\n\n| | path | what it does |\n|---|---|---|\n{}",
        rows.join("\n")
    )
}

/// The document as served, built once.
static JSON: LazyLock<String> = LazyLock::new(|| {
    super::document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
});

/// `GET /openapi.json`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// Get the OpenAPI document
///
/// This OpenAPI 3.1 document, generated from the gateway's code.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Documentation",
    operation_id = "getOpenApi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object),
    )
)]
async fn openapi_json() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JSON.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// What `scripts/sdks`'s generators rely on, checked on every operation: a declared tag
    /// (an identifier), a `security` said out loud, the 405, the request id parameter, no
    /// `pattern` on a cursor, no `default` in a request body, and no unnamed wrapper left.
    #[test]
    fn every_operation_reads_cleanly_for_client_generators() {
        let doc = serde_json::to_value(crate::http::document()).unwrap();
        let tags: Vec<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        for tag in &tags {
            assert!(
                tag.chars().all(|c| c.is_ascii_alphanumeric()),
                "tag {tag:?} is no identifier: name it so, with an x-displayName"
            );
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let what = format!("{method} {path}");
                let tag = operation["tags"][0].as_str().unwrap_or_default();
                assert!(tags.contains(&tag), "{what}: tag {tag:?} is not declared");
                assert!(operation["security"].is_array(), "{what}: no security");
                assert!(operation["responses"]["405"].is_object(), "{what}: no 405");
                let parameters = operation["parameters"].as_array().unwrap();
                assert!(
                    parameters.iter().any(|p| p["name"] == "X-Request-Id"),
                    "{what}: no X-Request-Id parameter"
                );
                for parameter in parameters.iter().filter(|p| p["name"] == "cursor") {
                    assert!(parameter["schema"]["pattern"].is_null(), "{what}: cursor");
                }
                let body = &operation["requestBody"]["content"]["application/json"]["schema"];
                if let Some(name) = body["$ref"].as_str() {
                    let name = name.rsplit('/').next().unwrap();
                    for (field, property) in schemas[name]["properties"].as_object().unwrap() {
                        assert!(
                            property["default"].is_null(),
                            "{name}.{field} has a default"
                        );
                    }
                }
            }
        }
        for (name, schema) in schemas {
            assert!(
                !name.starts_with("Success_") && !name.starts_with("Page_"),
                "{name}"
            );
            if schema["x-error-envelope"] == Value::Bool(true) {
                assert_eq!(
                    schema["properties"]["status"]["$ref"],
                    "#/components/schemas/ErrorStatus"
                );
            }
        }
        let envelopes = schemas
            .values()
            .filter(|s| s["x-error-envelope"] == Value::Bool(true))
            .count();
        assert_eq!(envelopes, super::errors::components().len());
    }

    #[test]
    fn the_endpoint_overview_links_every_operation() {
        let doc = crate::http::document();
        let description = doc.info.description.as_deref().unwrap_or_default();
        assert!(!description.contains("<!-- endpoints -->"));
        let operations = doc
            .paths
            .paths
            .values()
            .flat_map(|item| [&item.get, &item.post, &item.put, &item.patch, &item.delete])
            .flatten();
        for operation in operations {
            let id = operation
                .operation_id
                .as_deref()
                .expect("every operation has an id");
            assert!(description.contains(&format!("(#operation/{id})")), "{id}");
        }
    }
}
