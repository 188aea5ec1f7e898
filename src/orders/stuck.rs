//! Orders the reconciler flagged for the operator (`tavaro orders stuck`): unsettled
//! after the reconciliation window, never refunded on a guess.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::ids::{OrderId, PartnerId};
use crate::money::Cents;

/// An order the reconciler could not settle in time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StuckOrder {
    /// Order id.
    pub order_id: OrderId,
    /// Owner.
    pub partner_id: PartnerId,
    /// Partner name.
    pub partner: String,
    /// `pending` or `processing`.
    pub status: String,
    /// What was debited.
    pub total_cost: Cents,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it was flagged.
    pub stuck_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt did not settle it.
    pub last_error: Option<String>,
}

/// Orders flagged as stuck and still unsettled, oldest first.
pub async fn stuck(db: &PgPool) -> Result<Vec<StuckOrder>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select o.id as "order_id: OrderId", o.partner_id as "partner_id: PartnerId", p.name,
                  o.status, o.total_cost_cents, o.created_at, o.stuck_at as "stuck_at!",
                  coalesce(j.attempts, 0) as "attempts!", j.last_error
           from orders o
           join partners p on p.id = o.partner_id
           left join order_jobs j on j.order_id = o.id
           where o.stuck_at is not null and o.status in ('pending', 'processing')
           order by o.created_at"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StuckOrder {
            order_id: r.order_id,
            partner_id: r.partner_id,
            partner: r.name,
            status: r.status,
            total_cost: Cents::new(r.total_cost_cents),
            created_at: r.created_at,
            stuck_at: r.stuck_at,
            attempts: r.attempts,
            last_error: r.last_error,
        })
        .collect())
}
