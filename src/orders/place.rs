//! Placing one order: price it, debit it (one statement, see [`super::debit`]), ask the
//! provider for the eSIMs outside any transaction, and settle the order by the answer.
//! The work runs in its own task: a partner hanging up cannot cancel any step of it.

use tracing::Instrument;

use super::debit::{self, Terms};
use super::keyed::Keyed;
use super::settlement::{self, Completion, Settled};
use super::{NewOrder, OrderError, OrderReceipt, OrderRecord, OrderStatus, Orders};
use crate::catalog::Plan;
use crate::esims::{self, EsimRecord};
use crate::failpoint;
use crate::ids::PartnerId;
use crate::money::Cents;
use crate::provider::{ProviderError, ProvisionRequest};

/// What [`Orders::place_with`] did.
#[derive(Debug)]
pub(super) enum Placed {
    /// The order exists; `stored` is the answer the settlement kept for replays, when it
    /// did.
    Order {
        /// The order as placed.
        receipt: Box<OrderReceipt>,
        /// The stored answer (status, exact body).
        stored: Option<(u16, String)>,
    },
    /// [`Keyed::claim`] was asked and the key was not claimed: known to the partner
    /// already, taken by a concurrent request, or the order was refused (unknown plan,
    /// short of credits) before any debit. Nothing was written.
    NotClaimed,
}

/// A plan on sale and what an order of it costs (net prices).
pub(super) struct Priced {
    pub(super) plan: Plan,
    pub(super) unit_cost: Cents,
    pub(super) total_cost: Cents,
}

/// What settling an order stored: its eSIMs and, under an Idempotency-Key, the answer.
struct Stored {
    esims: Vec<EsimRecord>,
    answer: Option<(u16, String)>,
}

impl Orders {
    /// Places an order without an Idempotency-Key: debit, provision, settle. Errors: no
    /// such plan, short of credits (nothing written), provider refusal (refunded),
    /// provider unreachable (refunded). An unknown provider outcome is not an error: the
    /// receipt says `processing`.
    pub async fn place(
        &self,
        partner: PartnerId,
        new: NewOrder,
    ) -> Result<OrderReceipt, OrderError> {
        let orders = self.clone();
        let work = async move {
            match orders.place_with(partner, &new, None).await? {
                Placed::Order { receipt, .. } => Ok(*receipt),
                Placed::NotClaimed => {
                    Err(anyhow::anyhow!("an order without a key was not placed").into())
                }
            }
        };
        detached(work).await
    }

    /// The workflow, under `keyed` when the order carries an Idempotency-Key.
    #[tracing::instrument(name = "orders.place", skip_all, fields(order_id, plan_id = %new.plan_id, quantity = new.quantity))]
    pub(super) async fn place_with(
        &self,
        partner: PartnerId,
        new: &NewOrder,
        keyed: Option<&Keyed<'_>>,
    ) -> Result<Placed, OrderError> {
        let claiming = keyed.is_some_and(|k| k.claim.is_some());
        let priced = match self.priced(new) {
            Ok(priced) => priced,
            // Refusals are answered, and kept, under a claimed key.
            Err(_) if claiming => return Ok(Placed::NotClaimed),
            Err(e) => return Err(e),
        };
        let terms = Terms {
            plan: &priced.plan,
            new,
            unit_cost: priced.unit_cost,
            total_cost: priced.total_cost,
        };
        let job_delay = self.0.config.provider_timeout * 2;
        let debited = debit::debit(&self.0.db, partner, &terms, keyed, job_delay).await?;
        let Some((order, balance)) = debited else {
            return Ok(Placed::NotClaimed);
        };
        tracing::Span::current().record("order_id", tracing::field::display(order.id));
        failpoint::hit("after_debit_commit");

        let outcome = self.provision(&order, &priced.plan, balance, keyed).await;
        crate::metrics::order_outcome(match &outcome {
            Ok((OrderStatus::Completed, _)) => "completed",
            Ok(_) => "processing",
            Err(OrderError::Refused { .. }) => "failed",
            Err(OrderError::Unavailable) => "unavailable",
            Err(_) => "error",
        });
        let (status, settled) = outcome?;
        let (esims, stored) = match settled {
            Some(Stored { esims, answer }) => (esims, answer),
            // Settled by someone else: its eSIMs are read back.
            None => {
                let mut conn = self.0.db.acquire().await?;
                let esims = esims::for_order(&mut conn, order.partner_id, order.id).await?;
                (esims, None)
            }
        };
        Ok(Placed::Order {
            receipt: Box::new(OrderReceipt {
                order: OrderRecord { status, ..order },
                esims,
                balance,
            }),
            stored,
        })
    }

    /// The plan on sale and the order's unit and total cost (net prices): no such plan
    /// on sale, or a plan routed to an upstream this process has no credentials for
    /// (unavailable), refused before any money moves.
    pub(super) fn priced(&self, new: &NewOrder) -> Result<Priced, OrderError> {
        let plan = self
            .0
            .catalog
            .snapshot()
            .plan(&new.plan_id)
            .cloned()
            .ok_or(OrderError::PlanNotFound)?;
        if self.0.providers.get(&plan.provider).is_none() {
            tracing::error!(provider = %plan.provider, plan_id = %plan.id, "plan routed to an unconfigured provider");
            return Err(OrderError::Unavailable);
        }
        let total_cost = plan
            .net_price
            .checked_mul(i64::from(new.quantity))
            .ok_or_else(|| anyhow::anyhow!("order total overflows"))?;
        Ok(Priced {
            unit_cost: plan.net_price,
            total_cost,
            plan,
        })
    }

    /// Calls the provider, then settles the order by what it said. Returns the order's
    /// status and, when this call settled it, what it stored.
    async fn provision(
        &self,
        order: &OrderRecord,
        plan: &Plan,
        balance: Cents,
        keyed: Option<&Keyed<'_>>,
    ) -> Result<(OrderStatus, Option<Stored>), OrderError> {
        let db = &self.0.db;
        let request = ProvisionRequest {
            order_ref: order.id,
            plan_id: plan.id.clone(),
            sku: plan.provider_sku.clone().unwrap_or_else(|| plan.id.clone()),
            unit_cost_e4: plan.provider_cost_e4,
            quantity: order.quantity as u32,
            days: plan.days,
            data_mb: plan.data_mb,
        };
        // Crash while the request is in flight upstream.
        failpoint::hit_soon("during_provider_call");
        let Some(provider) = self.0.providers.get(&plan.provider).cloned() else {
            // Checked before the debit; only a registry without the plan's provider gets here.
            settlement::fail_and_refund(db, order, "provider not configured").await?;
            return Err(OrderError::Unavailable);
        };
        let result = crate::provider::timed(
            provider.name(),
            "provision",
            self.0.config.provider_timeout,
            provider.provision(&request),
        )
        .await;
        let result = result.and_then(|provisioned| {
            if provisioned.esims.len() == request.quantity as usize {
                Ok(provisioned)
            } else {
                Err(ProviderError::Unknown(format!(
                    "asked for {} eSIMs, received {}",
                    request.quantity,
                    provisioned.esims.len()
                )))
            }
        });
        match result {
            Ok(provisioned) => {
                failpoint::hit("before_esims_stored");
                let issued = esims::NewEsims::of(&provisioned.esims);
                // The answer is rendered before the settlement, which stores it: the eSIMs'
                // issue time is the one thing not known yet, and no answer shows it.
                let mut esims = settlement::records(&issued, order, plan, order.created_at);
                let mut answer = None;
                if let Some(k) = keyed {
                    let receipt = OrderReceipt {
                        order: OrderRecord {
                            status: OrderStatus::Completed,
                            ..order.clone()
                        },
                        esims,
                        balance,
                    };
                    let rendered = k.answers.placed(&receipt);
                    answer = Some((rendered.status, rendered.body));
                    esims = receipt.esims;
                }
                let completion = Completion {
                    order: order.id,
                    provider_order_ref: provisioned.provider_order_ref.clone(),
                    data_total_mb: plan.data_mb,
                    esims: issued,
                    answer: keyed.zip(answer.as_ref()).map(|(k, (status, body))| {
                        (k.key.as_str().to_owned(), *status, body.clone())
                    }),
                };
                let settled = self.0.completions.complete(completion).await?;
                failpoint::hit("after_esims_stored");
                let stored = match settled {
                    (Settled::Moved, created_at) => {
                        for esim in &mut esims {
                            esim.created_at = created_at;
                        }
                        Some(Stored { esims, answer })
                    }
                    (Settled::AlreadySettled, _) => None,
                };
                Ok((OrderStatus::Completed, stored))
            }
            Err(e) if e.issued_nothing() => {
                tracing::warn!(error = %e, "provider did not issue the order; refunding");
                settlement::fail_and_refund(db, order, &e.to_string()).await?;
                Err(match e {
                    // The upstream refused this order: the partner may pick another plan.
                    ProviderError::Rejected { .. } => OrderError::Refused { refunded: true },
                    // Our side is out of order (credentials, upstream credit, rate limit,
                    // outage): never the partner's fault, never a 402.
                    _ => OrderError::Unavailable,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "provider outcome unknown; order left to reconciliation");
                let provider_ref = match &e {
                    ProviderError::Accepted { provider_order_ref } => {
                        Some(provider_order_ref.as_str())
                    }
                    _ => None,
                };
                settlement::mark_processing(db, order, provider_ref, &e.to_string()).await?;
                let stored = Stored {
                    esims: Vec::new(),
                    answer: None,
                };
                Ok((OrderStatus::Processing, Some(stored)))
            }
        }
    }
}

/// Runs `work` in a task of its own, in the caller's tracing span: from validation on,
/// nothing depends on the partner staying connected. A hang-up drops the caller's
/// future, never the order's work: were the debit's COMMIT cut off, the order would be
/// charged with no provisioning started; were the claim, its key would stay in flight.
pub(super) async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, OrderError>> + Send + 'static,
) -> Result<T, OrderError> {
    tokio::spawn(work.instrument(tracing::Span::current()))
        .await
        .map_err(|e| anyhow::anyhow!("order task failed: {e}"))?
}
