//! `GET /v1/countries`: countries and regions with plans on sale, at the caller's markup.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{GEOGRAPHY_HINT, cache};
use crate::auth::Principal;
use crate::catalog::Geography;
use crate::http::envelope::Success;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiQuery;
use crate::http::openapi::errors;
use crate::http::state::AppState;
use crate::money::Cents;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_countries))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CountriesQuery {
    /// Only areas of this kind.
    #[param(value_type = Option<Geography>)]
    geography: Option<String>,
}

/// A country, region or the global area with plans on sale.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Country)]
struct CountryView {
    /// English name.
    #[schema(example = "United Arab Emirates")]
    name: String,
    /// ISO 3166-1 alpha-2 code for a country; a region code (`EU`, `ASIA`, `GLOBAL`, ...)
    /// otherwise. Use it as `country` in `GET /v1/packages`.
    #[schema(example = "AE")]
    code: String,
    geography: Geography,
    /// Plans on sale in this area.
    #[schema(example = 6)]
    plan_count: usize,
    /// The cheapest plan's price at your markup.
    from_price: Cents,
    /// Radio networks (for a region: those of its countries).
    #[schema(example = json!(["4G", "LTE", "5G"]))]
    networks: Vec<String>,
    /// Carriers (for a region: those of its countries).
    #[schema(example = json!(["du", "Etisalat"]))]
    carriers: Vec<String>,
    /// Countries the area spans: 1 for a country.
    #[schema(example = 1)]
    countries_covered: usize,
}

/// List countries and regions
///
/// Countries and regions with plans on sale, sorted by name, with the cheapest price at
/// your markup.
#[utoipa::path(
    get,
    path = "/v1/countries",
    tag = "Catalog",
    operation_id = "listCountries",
    params(CountriesQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Areas with plans, sorted by `name`.", body = Success<Vec<CountryView>>,
            example = json!({"status": "success", "data": [
                {"name": "Asia", "code": "ASIA", "geography": "regional", "planCount": 7, "fromPrice": 3.84,
                 "networks": ["4G", "5G", "LTE"], "carriers": ["China Mobile", "NTT Docomo", "Singtel"], "countriesCovered": 12},
                {"name": "United Arab Emirates", "code": "AE", "geography": "local", "planCount": 6, "fromPrice": 5.4,
                 "networks": ["4G", "LTE", "5G"], "carriers": ["du", "Etisalat"], "countriesCovered": 1}
            ]})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_countries(
    State(state): State<AppState>,
    principal: Principal,
    gzip: cache::AcceptsGzip,
    ApiQuery(query): ApiQuery<CountriesQuery>,
) -> ApiResult<Response> {
    let geography = parse_geography(query.geography.as_deref())?;
    let snapshot = state.catalog.snapshot();
    // Everything the answer depends on; rendered once per snapshot.
    let key = cache::AnswerKey::Countries {
        geography,
        markup_bps: principal.markup_bps,
    };
    let answer = state.catalog_answers.get(&snapshot, &key, || {
        let countries: Vec<CountryView> = snapshot
            .countries(geography)
            .into_iter()
            .map(|summary| CountryView {
                name: summary.area.name.clone(),
                code: summary.area.code.clone(),
                geography: summary.area.geography,
                plan_count: summary.plan_count,
                from_price: summary.cheapest.price(principal.markup_bps),
                networks: summary.networks,
                carriers: summary.carriers,
                countries_covered: summary.countries_covered,
            })
            .collect();
        serde_json::to_vec(&Success::new(countries)).map_err(|e| ApiError::Internal(e.into()))
    })?;
    Ok(cache::response(gzip, &answer))
}

/// `geography=local|regional|global`, or a 400.
fn parse_geography(raw: Option<&str>) -> ApiResult<Option<Geography>> {
    raw.map(|g| {
        Geography::parse(g).ok_or_else(|| ApiError::invalid_field("geography", GEOGRAPHY_HINT))
    })
    .transpose()
}
