//! `GET /v1/packages`: plans for a country or region, at the caller's markup.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::countries::GEOGRAPHY_HINT;
use super::{ApiQuery, Success, success};
use crate::auth::Principal;
use crate::catalog::{Geography, PackageFilter, Plan, Snapshot, Throttle};
use crate::error::{ApiError, ApiResult, FieldError, NotFound};
use crate::money::Cents;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/packages", get(list_packages))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackagesQuery {
    country: Option<String>,
    geography: Option<String>,
    days: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CoverageView {
    code: String,
    name: String,
    networks: Vec<String>,
    carriers: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PackageView {
    plan_id: String,
    name: String,
    country: String,
    geography: Geography,
    days: i32,
    data: String,
    data_mb: Option<i32>,
    price: Cents,
    currency: &'static str,
    activation: String,
    hotspot: bool,
    data_roaming: bool,
    top_up: bool,
    networks: Vec<String>,
    carriers: Vec<String>,
    coverage: Vec<CoverageView>,
    throttle: Option<Throttle>,
}

async fn list_packages(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PackagesQuery>,
) -> ApiResult<axum::Json<Success<Vec<PackageView>>>> {
    let mut errors = Vec::new();
    let geography = match query.geography.as_deref().map(Geography::parse) {
        None => None,
        Some(Some(g)) => Some(g),
        Some(None) => {
            errors.push(FieldError::new("geography", GEOGRAPHY_HINT));
            None
        }
    };
    let days = match query.days.as_deref() {
        None => None,
        Some(raw) => match raw.parse::<i32>() {
            Ok(d) if (1..=365).contains(&d) => Some(d),
            _ => {
                errors.push(FieldError::new(
                    "days",
                    "must be a whole number of days from 1 to 365",
                ));
                None
            }
        },
    };
    let country = query.country.as_deref().map(str::to_ascii_uppercase);
    if country.as_deref().is_some_and(|c| {
        c.is_empty() || c.len() > 16 || !c.bytes().all(|b| b.is_ascii_alphabetic())
    }) {
        errors.push(FieldError::new(
            "country",
            "must be an ISO country code or a region code",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }

    let snapshot = state.catalog.snapshot();
    let filter = PackageFilter {
        country: country.as_deref(),
        geography,
        days,
    };
    let plans = snapshot
        .packages(&filter)
        .map_err(|_| ApiError::NotFound(NotFound::Country))?;
    let views = plans
        .into_iter()
        .map(|plan| view(&snapshot, plan, plan.price(principal.markup_bps)))
        .collect();
    Ok(success(views))
}

fn view(snapshot: &Snapshot, plan: &Plan, price: Cents) -> PackageView {
    let coverage = plan
        .coverage
        .iter()
        .filter_map(|code| snapshot.area(code))
        .map(|area| CoverageView {
            code: area.code.clone(),
            name: area.name.clone(),
            networks: area.networks.clone(),
            carriers: area.carriers.clone(),
        })
        .collect();
    PackageView {
        plan_id: plan.id.clone(),
        name: plan.name.clone(),
        country: plan.area_code.clone(),
        geography: plan.geography,
        days: plan.days,
        data: plan.data_label(),
        data_mb: plan.data_mb,
        price,
        currency: "USD",
        activation: plan.activation.clone(),
        hotspot: plan.hotspot,
        data_roaming: plan.data_roaming,
        top_up: plan.top_up,
        networks: plan.networks.clone(),
        carriers: plan.carriers.clone(),
        coverage,
        throttle: plan.throttle.clone(),
    }
}
