//! A partner's order history, newest first, with keyset pagination: the cursor names the
//! last order of a page (its creation time and id), so pages stay stable while new orders
//! arrive.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{OrderRecord, OrderRow, OrderStatus};
use crate::ids::{OrderId, PartnerId};

/// Filters of `GET /v1/orders`.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// Only orders in this state.
    pub status: Option<OrderStatus>,
    /// Only orders with this booking reference.
    pub reference: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// Position after which a page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    created_at: DateTime<Utc>,
    id: OrderId,
}

impl OrderCursor {
    /// The opaque text form given to partners.
    pub fn encode(&self) -> String {
        format!(
            "o1.{}.{}",
            self.created_at.timestamp_micros(),
            self.id.0.simple()
        )
    }

    /// Parses a cursor previously handed out; `None` if it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("o1.")?;
        let (micros, id) = rest.split_once('.')?;
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: OrderId(Uuid::try_parse(id).ok()?),
        })
    }
}

/// One page of orders and the cursor of the next page, if any.
pub async fn list(
    db: &PgPool,
    partner: PartnerId,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u32,
) -> Result<(Vec<OrderRecord>, Option<OrderCursor>), sqlx::Error> {
    let rows = sqlx::query_as!(
        OrderRow,
        r#"select id as "id: OrderId", partner_id as "partner_id: PartnerId", plan_id, quantity,
                  unit_cost_cents, total_cost_cents, status, reference, customer_email, created_at
           from orders
           where partner_id = $1
             and ($2::text is null or status = $2)
             and ($3::text is null or reference = $3)
             and ($4::timestamptz is null or created_at >= $4)
             and ($5::timestamptz is null or created_at < $5)
             and ($6::timestamptz is null or (created_at, id) < ($6, $7::uuid))
           order by created_at desc, id desc
           limit $8"#,
        partner as PartnerId,
        filter.status.map(OrderStatus::as_str),
        filter.reference,
        filter.from,
        filter.to,
        after.map(|c| c.created_at),
        after.map(|c| c.id.0),
        i64::from(limit) + 1,
    )
    .fetch_all(db)
    .await?;
    let mut orders: Vec<OrderRecord> = rows.into_iter().map(OrderRecord::from).collect();
    let next = if orders.len() > limit as usize {
        orders.truncate(limit as usize);
        orders.last().map(|o| OrderCursor {
            created_at: o.created_at,
            id: o.id,
        })
    } else {
        None
    };
    Ok((orders, next))
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
        assert_eq!(OrderCursor::decode(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "o1.",
            "o1.abc.def",
            "o2.1.00000000000000000000000000000000",
            "x",
        ] {
            assert_eq!(OrderCursor::decode(bad), None, "{bad}");
        }
    }
}
