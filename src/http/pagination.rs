//! Paging through lists: the `limit` parameter and the opaque cursors handed out in
//! `meta.nextCursor`. A cursor names the last item of a page, so pages stay stable while
//! new items arrive; its text form is ours to change, which is why partners are told it
//! is opaque.

use chrono::DateTime;
use uuid::Uuid;

use super::error::FieldError;
use crate::ids::OrderId;
use crate::orders::history::OrderCursor;

/// `limit`: 1 to 100, 20 when absent; a bad value is reported in `errors`.
pub(super) fn parse_limit(raw: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match raw.map(str::parse::<u32>) {
        None => 20,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 100",
            ));
            20
        }
    }
}

/// An order cursor as text: `o1.<created at, µs>.<order id>`.
pub(super) fn encode_order_cursor(cursor: &OrderCursor) -> String {
    format!(
        "o1.{}.{}",
        cursor.created_at.timestamp_micros(),
        cursor.id.0.simple()
    )
}

/// Parses an order cursor previously handed out; `None` if it is not one.
pub(super) fn decode_order_cursor(text: &str) -> Option<OrderCursor> {
    let rest = text.strip_prefix("o1.")?;
    let (micros, id) = rest.split_once('.')?;
    Some(OrderCursor {
        created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: OrderId(Uuid::try_parse(id).ok()?),
    })
}

/// A transaction cursor as text: `t1.<entry id>`.
pub(super) fn encode_transaction_cursor(entry_id: i64) -> String {
    format!("t1.{entry_id}")
}

/// Parses a transaction cursor previously handed out; `None` if it is not one.
pub(super) fn decode_transaction_cursor(raw: &str) -> Option<i64> {
    raw.strip_prefix("t1.")?.parse().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = OrderCursor {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: OrderId::new(),
        };
        assert_eq!(
            decode_order_cursor(&encode_order_cursor(&cursor)),
            Some(cursor)
        );
        for bad in [
            "",
            "o1.",
            "o1.abc.def",
            "o2.1.00000000000000000000000000000000",
            "x",
        ] {
            assert_eq!(decode_order_cursor(bad), None, "{bad}");
        }
        assert_eq!(
            decode_transaction_cursor(&encode_transaction_cursor(42)),
            Some(42)
        );
        for bad in ["", "t1.", "t1.0", "t1.-3", "t2.5", "5"] {
            assert_eq!(decode_transaction_cursor(bad), None, "{bad}");
        }
    }
}
