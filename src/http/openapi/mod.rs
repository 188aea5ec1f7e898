//! The OpenAPI 3.1 document, generated from the code: each handler's `#[utoipa::path]`,
//! the `ToSchema`/`IntoParams` derives on the request, query and response types, and the
//! error responses of [`errors`]. Served as `GET /openapi.json` (no key needed) and
//! rendered by `/docs`.
//!
//! The routes and the document are built together (`utoipa-axum`'s `OpenApiRouter`, in
//! each resource's `router()`): an operation cannot be served undocumented, nor
//! documented unserved. [`finish`] adds what belongs to the whole document: the
//! introduction, tags, the bearer scheme, the error responses, `X-Request-Id`, and
//! `Tavaro-Mode` on every answer of an operation behind a key.

pub(crate) mod errors;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{HeaderBuilder, OpenApi as Document};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorEnvelope, FieldError};
use super::state::AppState;
use crate::orders::SandboxOutcome;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tavaro Partner API",
        version = "v1",
        description = include_str!("intro.md"),
    ),
    components(schemas(ErrorEnvelope, FieldError, SandboxOutcome)),
    modifiers(&BearerAuth),
    tags(
        (name = "Catalog", description = "Countries, regions and plans on sale, at your markup."),
        (name = "Orders", description = "Buy eSIMs with your prepaid credits, dry-run an order, and read your order history."),
        (name = "eSIMs", description = "Status, usage and install details of the eSIMs you bought."),
        (name = "Balance", description = "Your prepaid credits and the ledger entries behind them."),
        (name = "Sandbox", description = "Test mode, for sandbox keys (`tvr_test_…`) only: move your sandbox eSIMs through their statuses and set your sandbox balance. A live key gets 403 `sandbox_only`."),
        (name = "QR codes", description = "Install QR codes, public at unguessable URLs so travellers can open them."),
        (name = "Provider callbacks", description = "Where upstream providers POST their notifications. Not for partners: each is verified where the provider signs, and only makes the gateway read the state again from the provider's API."),
        (name = "Operations", description = "Liveness, readiness and metrics, for load balancers and monitoring. No key needed."),
        (name = "Documentation", description = "This document and the page that renders it. No key needed."),
    )
)]
struct ApiDoc;

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

/// The whole document: the operations `routes` documents, the error responses, the
/// `X-Request-Id` header on every documented response, and `Tavaro-Mode` on the answers of
/// every operation behind a key.
pub(super) fn finish(routes: Document) -> Document {
    let mut doc = ApiDoc::openapi();
    // utoipa copies Cargo.toml's licence (UNLICENSED, about the code); partners need none.
    doc.info.license = None;
    doc.merge(routes);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, response) in errors::components() {
        components.responses.insert(name.to_owned(), response);
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let keyed = operation.security.is_some();
            for response in operation.responses.responses.values_mut() {
                if let utoipa::openapi::RefOr::T(response) = response {
                    response
                        .headers
                        .entry("X-Request-Id".to_owned())
                        .or_insert_with(|| {
                            HeaderBuilder::new()
                                .schema(ObjectBuilder::new().schema_type(Type::String))
                                .description(Some("Your `X-Request-Id` echoed, or a new one."))
                                .build()
                        });
                    if keyed {
                        mode_header(response);
                    }
                }
            }
        }
    }
    let overview = endpoint_overview(&doc);
    if let Some(description) = doc.info.description.as_mut() {
        *description = description.replace("<!-- endpoints -->", &overview);
    }
    doc
}

/// Adds `Tavaro-Mode` to an operation's own response. The shared error responses also
/// serve operations without a key, so the introduction says it for errors (every answer
/// after authentication carries it, errors included).
fn mode_header(response: &mut utoipa::openapi::Response) {
    let header = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["live", "sandbox"])),
        )
        .description(Some(
            "The mode of the key the request was authenticated with: `live`, or `sandbox` \
             for a `tvr_test_` key. Also on every error answered after authentication.",
        ))
        .build();
    response.headers.insert(MODE_HEADER.to_owned(), header);
}

/// The name of the mode header in the document.
const MODE_HEADER: &str = "Tavaro-Mode";

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
