//! `GET /v1/packages`: plans for a country or region, at the caller's markup.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{GEOGRAPHY_HINT, cache};
use crate::auth::Principal;
use crate::catalog::{Geography, PackageFilter, Plan, Snapshot, Throttle};
use crate::http::envelope::Success;
use crate::http::error::{ApiError, ApiResult};
use crate::http::error::{FieldError, NotFound};
use crate::http::extract::ApiQuery;
use crate::http::openapi::errors;
use crate::http::state::AppState;
use crate::money::Cents;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_packages))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PackagesQuery {
    /// An ISO 3166-1 alpha-2 country code (case-insensitive) or a region code from
    /// `GET /v1/countries`. With a country code: its local plans and, unless
    /// `geography=local`, the regional and global plans covering it.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z]{1,16}$", example = "AE")]
    country: Option<String>,
    /// Only plans of this kind.
    #[param(value_type = Option<Geography>)]
    geography: Option<String>,
    /// Only plans valid this many days.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 365, example = 7)]
    days: Option<String>,
}

/// One country a plan works in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Coverage)]
struct CoverageView {
    /// ISO 3166-1 alpha-2 code.
    #[schema(example = "AE")]
    code: String,
    /// English name.
    #[schema(example = "United Arab Emirates")]
    name: String,
    /// Radio networks.
    #[schema(example = json!(["4G", "5G"]))]
    networks: Vec<String>,
    /// Carriers.
    #[schema(example = json!(["du", "Etisalat"]))]
    carriers: Vec<String>,
}

/// A plan on sale, at your markup.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Package)]
pub(in crate::http) struct PackageView {
    /// What you order with (`planId` of `POST /v1/order`).
    #[schema(example = "ae-5gb-7d")]
    plan_id: String,
    /// Display name.
    #[schema(example = "UAE 5GB 7 days")]
    name: String,
    /// The area it is sold in: a country code, or a region code for regional and global
    /// plans.
    #[schema(example = "AE")]
    country: String,
    geography: Geography,
    /// Validity in days from activation.
    #[schema(example = 7)]
    days: i32,
    /// Data allowance for people: `5GB`, `512MB`, or `Unlimited`.
    #[schema(example = "5GB")]
    data: String,
    /// Data allowance in MB; `null` for unlimited plans.
    #[schema(required = true, example = 5120)]
    data_mb: Option<i32>,
    /// Your price: the net price × (1 + your markup), rounded half-up to the cent.
    price: Cents,
    #[schema(schema_with = crate::http::envelope::literal_usd)]
    currency: &'static str,
    /// When validity starts (`first-use`: when the eSIM first connects).
    #[schema(example = "first-use")]
    activation: String,
    /// Tethering allowed.
    hotspot: bool,
    /// Data roaming included.
    data_roaming: bool,
    /// Top-ups available.
    top_up: bool,
    /// Radio networks.
    #[schema(example = json!(["4G", "5G"]))]
    networks: Vec<String>,
    /// Carriers.
    #[schema(example = json!(["du", "Etisalat"]))]
    carriers: Vec<String>,
    /// The countries it works in.
    coverage: Vec<CoverageView>,
    /// The fair-use policy of an unlimited plan; `null` when none applies.
    #[schema(required = true)]
    throttle: Option<Throttle>,
}

/// List plans
///
/// Plans on sale, sorted by `days`, then `price`, at your markup (`price` = net price ×
/// (1 + your markup), rounded half-up to the cent). You are debited the net price.
#[utoipa::path(
    get,
    path = "/v1/packages",
    tag = "Catalog",
    operation_id = "listPackages",
    params(PackagesQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Plans, sorted by `days`, then `price`.", body = Success<Vec<PackageView>>,
            example = json!({"status": "success", "data": [
                {"planId": "ae-5gb-7d", "name": "UAE 5GB 7 days", "country": "AE", "geography": "local",
                 "days": 7, "data": "5GB", "dataMb": 5120, "price": 9, "currency": "USD",
                 "activation": "first-use", "hotspot": true, "dataRoaming": true, "topUp": true,
                 "networks": ["4G", "5G"], "carriers": ["du", "Etisalat"],
                 "coverage": [{"code": "AE", "name": "United Arab Emirates", "networks": ["4G", "LTE", "5G"], "carriers": ["du", "Etisalat"]}],
                 "throttle": null},
                {"planId": "ae-unlimited-7d", "name": "UAE Unlimited 7 days", "country": "AE", "geography": "local",
                 "days": 7, "data": "Unlimited", "dataMb": null, "price": 26.4, "currency": "USD",
                 "activation": "first-use", "hotspot": true, "dataRoaming": true, "topUp": false,
                 "networks": ["LTE"], "carriers": ["du"],
                 "coverage": [{"code": "AE", "name": "United Arab Emirates", "networks": ["4G", "LTE", "5G"], "carriers": ["du", "Etisalat"]}],
                 "throttle": {"afterMb": 2048, "speedKbps": 512, "description": "Full speed for the first 2 GB each day, then 512 kbps until midnight (UTC)."}}
            ]})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::CountryNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_packages(
    State(state): State<AppState>,
    principal: Principal,
    gzip: cache::AcceptsGzip,
    ApiQuery(query): ApiQuery<PackagesQuery>,
) -> ApiResult<Response> {
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
    // Everything the answer depends on; rendered once per snapshot.
    let key = cache::AnswerKey::Packages {
        country,
        geography,
        days,
        markup_bps: principal.markup_bps,
    };
    let answer = state.catalog_answers.get(&snapshot, &key, || {
        let filter = PackageFilter {
            country: key.area(),
            geography,
            days,
        };
        let plans = snapshot
            .packages(&filter)
            .map_err(|_| ApiError::NotFound(NotFound::Country))?;
        let views: Vec<PackageView> = plans
            .into_iter()
            .map(|plan| view(&snapshot, plan, plan.price(principal.markup_bps)))
            .collect();
        serde_json::to_vec(&Success::new(views)).map_err(|e| ApiError::Internal(e.into()))
    })?;
    Ok(cache::response(gzip, &answer))
}

/// The package view of `plan` at `price`.
pub(in crate::http) fn view(snapshot: &Snapshot, plan: &Plan, price: Cents) -> PackageView {
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
