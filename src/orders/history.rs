//! Reading orders back: one order ([`find`]), its receipt, and a partner's order history,
//! newest first, with keyset pagination: a page starts after
//! the last order of the previous one (its creation time and id), so pages stay stable
//! while new orders arrive.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{OrderKind, OrderReceipt, OrderRecord, OrderStatus};
use crate::esims;
use crate::ids::{EsimId, OrderId, PartnerId};
use crate::ledger;
use crate::mode::{Account, Mode};
use crate::money::Cents;

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
    /// Only new eSIMs, or only top-ups.
    pub kind: Option<OrderKind>,
    /// Only the orders of this eSIM: the one that bought it and its top-ups.
    pub esim: Option<EsimId>,
}

/// Position after which a page starts: the last order of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    /// Its creation time.
    pub created_at: DateTime<Utc>,
    /// Its id (orders created in the same microsecond are ordered by it).
    pub id: OrderId,
}

/// One page of an account's orders and the cursor of the next page, if any.
pub async fn list(
    db: &PgPool,
    account: Account,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u32,
) -> Result<(Vec<OrderRecord>, Option<OrderCursor>), sqlx::Error> {
    let rows = sqlx::query_as!(
        OrderRow,
        r#"select id as "id: OrderId", partner_id as "partner_id: PartnerId", mode as "mode: Mode",
                  kind as "kind: OrderKind", esim_id as "esim_id: EsimId", plan_id, quantity, unit_cost_cents, total_cost_cents,
                  status as "status: OrderStatus", reference, customer_email, created_at
           from orders
           where partner_id = $1 and mode = $9
             and ($2::text is null or status = $2)
             and ($3::text is null or reference = $3)
             and ($4::timestamptz is null or created_at >= $4)
             and ($5::timestamptz is null or created_at < $5)
             and ($6::timestamptz is null or (created_at, id) < ($6, $7::uuid))
             and ($10::text is null or kind = $10)
             and ($11::uuid is null or esim_id = $11
                  or id = (select order_id from esims where id = $11 and partner_id = $1))
           order by created_at desc, id desc
           limit $8"#,
        account.partner as PartnerId,
        filter.status.map(OrderStatus::as_str),
        filter.reference,
        filter.from,
        filter.to,
        after.map(|c| c.created_at),
        after.map(|c| c.id.0),
        i64::from(limit) + 1,
        account.mode as Mode,
        filter.kind.map(OrderKind::as_str),
        filter.esim.map(|e| e.0),
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

/// An `orders` row as read by [`find`] and [`list`].
pub(super) struct OrderRow {
    pub(super) id: OrderId,
    pub(super) partner_id: PartnerId,
    pub(super) mode: Mode,
    pub(super) kind: OrderKind,
    pub(super) esim_id: Option<EsimId>,
    pub(super) plan_id: String,
    pub(super) quantity: i32,
    pub(super) unit_cost_cents: i64,
    pub(super) total_cost_cents: i64,
    pub(super) status: OrderStatus,
    pub(super) reference: Option<String>,
    pub(super) customer_email: Option<String>,
    pub(super) created_at: DateTime<Utc>,
}

impl From<OrderRow> for OrderRecord {
    fn from(r: OrderRow) -> Self {
        Self {
            id: r.id,
            partner_id: r.partner_id,
            mode: r.mode,
            kind: r.kind,
            esim_id: r.esim_id,
            plan_id: r.plan_id,
            quantity: r.quantity,
            unit_cost: Cents::new(r.unit_cost_cents),
            total_cost: Cents::new(r.total_cost_cents),
            status: r.status,
            reference: r.reference,
            customer_email: r.customer_email,
            created_at: r.created_at,
        }
    }
}

/// Loads one of an account's orders.
pub async fn find(
    conn: &mut PgConnection,
    account: Account,
    id: OrderId,
) -> Result<Option<OrderRecord>, sqlx::Error> {
    let row = sqlx::query_as!(
        OrderRow,
        r#"select id as "id: OrderId", partner_id as "partner_id: PartnerId", mode as "mode: Mode",
                  kind as "kind: OrderKind", esim_id as "esim_id: EsimId", plan_id, quantity, unit_cost_cents, total_cost_cents,
                  status as "status: OrderStatus", reference, customer_email, created_at
           from orders where partner_id = $1 and mode = $3 and id = $2"#,
        account.partner as PartnerId,
        id as OrderId,
        account.mode as Mode,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(OrderRecord::from))
}

/// See [`Orders::receipt`](super::Orders::receipt).
pub(super) async fn receipt(
    db: &PgPool,
    account: Account,
    id: OrderId,
) -> Result<Option<OrderReceipt>, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let Some(order) = find(&mut conn, account, id).await? else {
        return Ok(None);
    };
    let esims = match order.esim_id {
        Some(esim) => esims::select_one(&mut conn, account, esim)
            .await?
            .into_iter()
            .collect(),
        None => esims::for_order(&mut conn, account, id).await?,
    };
    let balance = ledger::balance_after_debit(&mut conn, account, id).await?;
    Ok(Some(OrderReceipt {
        order,
        esims,
        balance,
    }))
}
