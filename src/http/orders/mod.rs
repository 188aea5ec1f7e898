//! The order resources: placing an order ([`place`]), its dry run ([`quote`]), and the
//! order history ([`history`]); the body both `POST`s take ([`request`]) and the views
//! their answers share ([`views`]).

mod history;
mod place;
mod quote;
pub(super) mod request;
mod topup;
mod views;

pub(super) use history::order_data;
pub(super) use place::idempotency_key;

use utoipa_axum::router::OpenApiRouter;

use super::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(place::router())
        .merge(quote::router())
        .merge(history::router())
        .merge(topup::router())
}
