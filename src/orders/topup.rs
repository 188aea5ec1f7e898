//! Top-ups: orders of kind `topup` on an eSIM the account holds. A top-up is an order like
//! any other (the same debit statement, Idempotency-Key rules, state machine, job and
//! reconciliation); what differs is what the provider is asked and what completion writes:
//! the eSIM gains the plan's data, an activated eSIM's validity runs to at least the
//! plan's days from now, and a `DEPLETED` eSIM is `ACTIVE` again.
//!
//! The plans that fit an eSIM are asked of its provider every time, never cached (they
//! depend on the eSIM's state, and upstreams say so). An offer is sold only where a plan
//! of our catalog carries its package code, at that plan's price.
//!
//! The debit statement locks the eSIM's row and counts the top-up on it (`topups`); a
//! cancellation needs that count at zero and changes the same row, so a top-up and a
//! cancellation of one eSIM never both go through.

use std::sync::Arc;

use sqlx::PgPool;

use super::settlement::Settled;
use super::{NewOrder, OrderError, OrderRecord, Orders};
use crate::catalog::Plan;
use crate::esims::{self, EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::mode::{Account, Mode};
use crate::provider::{Provider, ProviderError, SIMULATOR};
use crate::webhooks::{self, EventType, Subject};

impl Orders {
    /// The provider that serves an account's eSIMs and orders of `provider`'s plans: the
    /// sandbox simulator for the sandbox, whatever the plan names.
    pub(super) fn provider_for(&self, mode: Mode, provider: &str) -> Option<Arc<dyn Provider>> {
        match mode {
            Mode::Live => self.0.providers.get(provider).cloned(),
            Mode::Sandbox => Some(self.0.providers.sandbox().clone()),
        }
    }

    /// The plans that can top up one of the account's eSIMs now, asked of its provider
    /// (empty when it cannot be topped up). Errors: no such eSIM; the provider unreachable.
    pub async fn topup_plans(
        &self,
        account: Account,
        esim: EsimId,
    ) -> Result<Vec<Plan>, OrderError> {
        let record = esims::find(&self.0.db, account, esim)
            .await?
            .ok_or(OrderError::EsimNotFound)?;
        if self.topup_refusal(&record).is_some() {
            return Ok(Vec::new());
        }
        Ok(self
            .offered(&record)
            .await?
            .into_iter()
            .map(|o| o.plan)
            .collect())
    }

    /// Why `record` cannot be topped up whatever the plan, if it cannot.
    fn topup_refusal(&self, record: &EsimRecord) -> Option<&'static str> {
        match record.status {
            EsimStatus::Expired => return Some("the eSIM has expired"),
            EsimStatus::CancelPending => return Some("the eSIM's cancellation is pending"),
            EsimStatus::Cancelled => return Some("the eSIM is cancelled"),
            EsimStatus::Ready | EsimStatus::Active | EsimStatus::Depleted => {}
        }
        let snapshot = self.0.catalog.snapshot();
        match snapshot.plan(&record.plan_id) {
            Some(plan) if !plan.top_up => Some("the eSIM's plan does not allow top-ups"),
            _ => None,
        }
    }

    /// The catalog's plans among what the eSIM's provider offers to top it up with, each
    /// with the package code to order it by.
    async fn offered(&self, record: &EsimRecord) -> Result<Vec<Offered>, OrderError> {
        let Some(provider) = self.provider_for(record.mode, &record.provider) else {
            tracing::error!(provider = %record.provider, "eSIM of an unconfigured provider");
            return Err(OrderError::Unavailable);
        };
        let offers = crate::provider::timed(
            provider.name(),
            "topups",
            self.0.config.provider_timeout,
            provider.topups(&record.provider_ref, &record.plan_id),
        )
        .await;
        let offers = match offers {
            Ok(offers) => offers,
            // Refused for this eSIM (top-ups disabled by the operator, an eSIM the
            // upstream no longer tops up), or never offered by this upstream: none fit.
            Err(ProviderError::Unsupported(_) | ProviderError::Rejected { .. }) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, esim_id = %record.id, "top-up list not read from the provider");
                return Err(OrderError::Unavailable);
            }
        };
        let snapshot = self.0.catalog.snapshot();
        // The simulator (live or sandbox) names our plans by id; upstreams by package code.
        let by_id = provider.name() == SIMULATOR;
        let area = snapshot.plan(&record.plan_id).map(|p| p.area_code.clone());
        let mut offered: Vec<Offered> = Vec::new();
        for offer in offers {
            let plan = if by_id {
                snapshot.plan(&offer.sku).cloned()
            } else {
                let by_code = snapshot.plans().find(|p| {
                    p.provider == provider.name()
                        && p.provider_sku.as_deref() == Some(offer.sku.as_str())
                });
                // A top-up package of its own (never in the catalog): sold as the plan of
                // the same provider and area with the same days and data.
                let equivalent = || {
                    let (days, data_mb) = (offer.days?, offer.data_mb?);
                    snapshot.plans().find(|p| {
                        p.provider == provider.name()
                            && Some(&p.area_code) == area.as_ref()
                            && p.top_up
                            && p.days == days
                            && p.data_mb == Some(data_mb)
                    })
                };
                by_code.or_else(equivalent).cloned()
            };
            match plan {
                Some(plan) if !offered.iter().any(|o| o.plan.id == plan.id) => {
                    offered.push(Offered {
                        plan,
                        sku: offer.sku,
                    })
                }
                Some(_) => {}
                None => {
                    tracing::debug!(sku = %offer.sku, "top-up offered upstream matches no plan of the catalog")
                }
            }
        }
        Ok(offered)
    }

    /// The eSIM a top-up order is for, once it is shown to be allowed (the account's, not
    /// expired or cancelled, its plan allowing top-ups, and the order's plan among those
    /// its provider offers now), and the package code to order. Nothing is written.
    pub(super) async fn admit_topup(
        &self,
        account: Account,
        new: &NewOrder,
        esim: EsimId,
    ) -> Result<(EsimRecord, String), OrderError> {
        let record = esims::find(&self.0.db, account, esim)
            .await?
            .ok_or(OrderError::EsimNotFound)?;
        if let Some(reason) = self.topup_refusal(&record) {
            return Err(OrderError::TopupNotAllowed {
                reason: reason.to_owned(),
            });
        }
        let offered = self.offered(&record).await?;
        let Some(offer) = offered.into_iter().find(|o| o.plan.id == new.plan_id) else {
            return Err(OrderError::PlanNotCompatible);
        };
        Ok((record, offer.sku))
    }
}

/// A plan of the catalog that tops an eSIM up, and the provider's code to order it by
/// (the plan's own, or the upstream's top-up package the plan stands for).
struct Offered {
    plan: Plan,
    sku: String,
}

/// What completing a top-up writes.
pub(super) struct ToppedUpOrder<'a> {
    pub(super) order: &'a OrderRecord,
    pub(super) plan_days: i32,
    pub(super) plan_data_mb: Option<i32>,
    pub(super) provider_order_ref: Option<String>,
}

/// `pending`/`processing` → `completed` for a top-up, in one transaction: the order, the
/// eSIM's new allowance and validity (a `DEPLETED` eSIM `ACTIVE` again), the job retired
/// and the `topup.completed` event. Returns the eSIM as written, or [`Settled::AlreadySettled`] when someone else
/// settled the order first. (Under an Idempotency-Key the request path stores its answer
/// next, as for an order completed by reconciliation.)
pub(super) async fn complete(
    db: &PgPool,
    done: &ToppedUpOrder<'_>,
) -> Result<(Settled, Option<EsimRecord>), OrderError> {
    let order = done.order;
    let esim = order
        .esim_id
        .ok_or_else(|| anyhow::anyhow!("top-up order {} names no eSIM", order.id))?;
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update orders set status = 'completed', updated_at = now(),
                           provider_order_ref = coalesce($2, provider_order_ref)
          where id = $1 and partner_id = $3 and status in ('pending', 'processing')",
        order.id as OrderId,
        done.provider_order_ref,
        order.partner_id as crate::ids::PartnerId,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok((Settled::AlreadySettled, None));
    }
    sqlx::query!(
        "update esims set
            data_total_mb = case when $2::int is null or data_total_mb is null then null
                                 else data_total_mb + $2 end,
            expires_at = case when expires_at is null then null
                              else greatest(expires_at, now() + make_interval(days => $3)) end,
            status = case when status = 'DEPLETED' then 'ACTIVE' else status end,
            updated_at = now()
          where id = $1 and partner_id = $4",
        esim as EsimId,
        done.plan_data_mb,
        done.plan_days,
        order.partner_id as crate::ids::PartnerId,
    )
    .execute(&mut *tx)
    .await?;
    super::settlement::retire_job(&mut tx, order.id).await?;
    let record = esims::select_one(&mut tx, order.account(), esim).await?;
    webhooks::emit(
        &mut tx,
        order.account(),
        EventType::TopupCompleted,
        Subject::Order(order.id),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(order_id = %order.id, esim_id = %esim, "top-up completed");
    Ok((Settled::Moved, record))
}
