//! Parsing untrusted request bodies outside a request, exactly as the handlers do: the
//! entry points of the fuzz targets in `fuzz/`.

use super::extract::parse_json;
use super::order_request::OrderRequest;
use crate::error::ApiResult;
use crate::orders::NewOrder;

/// Parses and validates a `POST /v1/order` body as the order handler does: JSON checks
/// (object, types, unknown fields), then field validation.
pub fn parse_order_body(bytes: &[u8]) -> ApiResult<NewOrder> {
    parse_json::<OrderRequest>(bytes)?.validate()
}
