//! The catalog resources: `GET /v1/countries` and `GET /v1/packages`, answered from the
//! in-memory snapshot at the caller's markup, rendered once per snapshot ([`cache`]).

pub(super) mod cache;
mod countries;
pub(super) mod packages;

use utoipa_axum::router::OpenApiRouter;

use super::state::AppState;

/// What a bad `geography` parameter is told.
const GEOGRAPHY_HINT: &str = "must be one of local, regional, global";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(countries::router())
        .merge(packages::router())
}
