//! Provider callbacks acted on: a [`Hint`] makes us read again, from the provider's own
//! API, what it says changed. An eSIM's usage is read and recorded (with the events the
//! change tells); a `processing` order's reconciliation, and that of a pending
//! cancellation or top-up of the eSIM, is made due now, so the reconciler settles it from
//! the provider's answer at once instead of at its next backed-off try. Nothing the
//! callback itself says is written: a forged one can at most cause a read.

use std::time::Duration;

use super::{OrderError, Orders};
use crate::esims;
use crate::ids::{EsimId, PartnerId};
use crate::mode::Account;
use crate::provider::Hint;

/// How long a usage read for a callback may take, its read budget's wait included.
const READ_LIMIT: Duration = Duration::from_secs(30);

impl Orders {
    /// Acts on the hints of a callback from `provider` (see the module doc). Returns how
    /// many of our eSIMs and orders they named.
    pub async fn take_hints(&self, provider: &str, hints: &[Hint]) -> Result<usize, OrderError> {
        let mut named = 0;
        for hint in hints {
            named += match hint {
                Hint::Order {
                    provider_order_ref,
                    reference,
                } => {
                    self.reconcile_now(
                        provider,
                        provider_order_ref.as_deref(),
                        reference.as_deref(),
                    )
                    .await?
                }
                Hint::Esim { iccid } => self.reread_esim(provider, iccid).await?,
            };
        }
        Ok(named)
    }

    /// Makes the reconciliation of the live `processing` order of `provider` with that
    /// order id (or our reference) due now.
    async fn reconcile_now(
        &self,
        provider: &str,
        provider_order_ref: Option<&str>,
        reference: Option<&str>,
    ) -> Result<usize, OrderError> {
        let reference = reference.and_then(|r| uuid::Uuid::parse_str(r).ok());
        if provider_order_ref.is_none() && reference.is_none() {
            return Ok(0);
        }
        let due = sqlx::query!(
            "update order_jobs j set run_at = now()
               from orders o
              where o.id = j.order_id and o.provider = $1 and o.mode = 'live'
                and o.status = 'processing'
                and (o.provider_order_ref = $2 or o.id = $3)",
            provider,
            provider_order_ref,
            reference,
        )
        .execute(self.db())
        .await?
        .rows_affected();
        Ok(due as usize)
    }

    /// Reads the usage of `provider`'s live eSIMs with `iccid` and records it, and makes
    /// their pending cancellations' and processing top-ups' reconciliation due now.
    async fn reread_esim(&self, provider: &str, iccid: &str) -> Result<usize, OrderError> {
        let db = self.db();
        let found = sqlx::query!(
            r#"select id as "id: EsimId", partner_id as "partner_id: PartnerId" from esims
                where provider = $1 and iccid = $2 and mode = 'live' and status <> 'CANCELLED'"#,
            provider,
            iccid,
        )
        .fetch_all(db)
        .await?;
        let Some(upstream) = self.0.providers.get(provider).cloned() else {
            return Ok(0);
        };
        for row in &found {
            let Some(record) = esims::find(db, Account::live(row.partner_id), row.id).await? else {
                continue;
            };
            let usage = crate::provider::timed(
                upstream.name(),
                "usage_callback",
                READ_LIMIT,
                upstream.usage(&record.provider_ref),
            )
            .await;
            match usage {
                Ok(usage) => {
                    esims::apply_usage(db, record, usage).await?;
                }
                Err(e) => {
                    tracing::info!(esim_id = %row.id, error = %e, "usage not read after a callback; the poller reads it later");
                }
            }
        }
        let ids: Vec<uuid::Uuid> = found.iter().map(|r| r.id.0).collect();
        if !ids.is_empty() {
            sqlx::query!(
                "update esim_cancellations set run_at = now()
                  where esim_id = any($1) and status = 'pending'",
                &ids,
            )
            .execute(db)
            .await?;
            sqlx::query!(
                "update order_jobs j set run_at = now()
                   from orders o
                  where o.id = j.order_id and o.esim_id = any($1) and o.status = 'processing'",
                &ids,
            )
            .execute(db)
            .await?;
        }
        Ok(found.len())
    }
}
