//! `GET /v1/countries`: countries and regions with plans on sale, at the caller's markup.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiQuery, Success, success};
use crate::auth::Principal;
use crate::catalog::Geography;
use crate::error::{ApiError, ApiResult};
use crate::money::Cents;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/countries", get(list_countries))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountriesQuery {
    geography: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CountryView {
    name: String,
    code: String,
    geography: Geography,
    plan_count: usize,
    from_price: Cents,
    networks: Vec<String>,
    carriers: Vec<String>,
    countries_covered: usize,
}

async fn list_countries(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CountriesQuery>,
) -> ApiResult<axum::Json<Success<Vec<CountryView>>>> {
    let geography = parse_geography(query.geography.as_deref())?;
    let snapshot = state.catalog.snapshot();
    let countries = snapshot
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
    Ok(success(countries))
}

/// What a bad `geography` parameter is told.
pub(super) const GEOGRAPHY_HINT: &str = "must be one of local, regional, global";

/// `geography=local|regional|global`, or a 400.
fn parse_geography(raw: Option<&str>) -> ApiResult<Option<Geography>> {
    raw.map(|g| {
        Geography::parse(g).ok_or_else(|| ApiError::invalid_field("geography", GEOGRAPHY_HINT))
    })
    .transpose()
}
