//! `/docs` renders `/openapi.json` with assets the gateway serves itself: no CDN.

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::spawn_app;
use crate::openapi::fetch_document;

/// The values of `attribute="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| html[i + needle.len()..].split('"').next())
        .collect()
}

#[sqlx::test]
async fn the_docs_page_loads_only_assets_the_gateway_serves(db: PgPool) {
    let app = spawn_app(db).await;
    let response = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    let lower = html.to_ascii_lowercase();
    assert!(lower.contains("spec-url=\"/openapi.json\""), "{html}");

    let scripts = attribute_values(&lower, "src");
    let links = attribute_values(&lower, "href");
    assert!(!scripts.is_empty(), "the page loads no script: {html}");
    for url in scripts.iter().chain(&links) {
        assert!(
            !url.starts_with("http://") && !url.starts_with("https://") && !url.starts_with("//"),
            "/docs loads {url} from elsewhere"
        );
        let asset = app
            .client
            .get(format!("{}{url}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), StatusCode::OK, "{url}");
        let cache = asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cache.contains("max-age=31536000"), "{url}: {cache}");
        assert!(
            asset.bytes().await.unwrap().len() > 100_000,
            "{url} is too small"
        );
    }
}

#[sqlx::test]
async fn the_openapi_document_is_public_and_secures_only_the_partner_api(db: PgPool) {
    let app = spawn_app(db).await;
    let doc = fetch_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for (method, path) in crate::openapi::documented_operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let secured = operation["security"] == serde_json::json!([{"bearerAuth": []}]);
        assert_eq!(
            secured,
            path.starts_with("/v1/"),
            "{method} {path}: only /v1 needs a key"
        );
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        if secured {
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path} does not document its 401"
            );
        }
    }
    assert!(doc["security"].is_null(), "no global security requirement");
}
