//! Upstream adapters against local wiremock servers that replay each provider's documented
//! requests and answers (fixtures in `tests/fixtures/<provider>/`, built from the
//! providers' documented examples), including their errors, time-outs and malformed
//! bodies; and the whole gateway (`/v1/order`, `catalog sync`) routed to each of them.
//! [`boundary`] holds what every adapter refuses (eSIM fields that are not an eSIM's,
//! oversize answers) and [`sync`] the guards of `catalog sync` itself.

mod airalo;
mod boundary;
mod cli;
// Also for the order workflow's tests against an upstream (`upstream_outcomes`).
pub mod common;
pub mod esimaccess;
mod esimgo;
pub mod roamify;
mod sync;
