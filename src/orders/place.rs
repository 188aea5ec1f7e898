//! Placing one order: price it, debit it (one statement, see [`super::debit`]), ask the
//! provider for the eSIMs outside any transaction, and settle the order by the answer.
//! The work runs in its own task: a partner hanging up cannot cancel any step of it.
//!
//! Once the debit has committed, every answer tells of it: 201 with the eSIMs, 202
//! `processing` while the outcome is open (a provider time-out, and also any failure of
//! ours after the debit: the order's job settles it), or the refund (502). Where someone
//! else settled the order first (the reconciler of another server), the answer is what
//! the database says, not what this request saw.

use std::sync::Arc;

use tracing::Instrument;

use super::debit::{self, Debit, Terms};
use super::history;
use super::idempotency;
use super::keyed::{Answers, Keyed};
use super::settlement::{self, Completion, Settled};
use super::topup;
use super::{NewOrder, OrderError, OrderReceipt, OrderRecord, OrderStatus, Orders, SandboxOutcome};
use crate::catalog::Plan;
use crate::esims::{self, EsimRecord};
use crate::failpoint;
use crate::mode::{Account, Mode};
use crate::money::Cents;
use crate::provider::{ProviderError, ProvisionRequest, Refusal, SIMULATOR, TopupRequest};

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
    /// Under a claim taken before, the claim was taken over by another request before
    /// this one debited. Nothing was written.
    ClaimLost,
}

/// A plan on sale and what an order of it costs (net prices).
pub(super) struct Priced {
    pub(super) plan: Plan,
    pub(super) unit_cost: Cents,
    pub(super) total_cost: Cents,
}

/// Where a debited order stands once this request is done with it, as the database
/// holds it.
pub(super) enum Settlement {
    /// Completed: its eSIMs and, when this request stored the completion under an
    /// Idempotency-Key, the answer it kept.
    Completed {
        esims: Vec<EsimRecord>,
        answer: Option<(u16, String)>,
    },
    /// The outcome is open: reconciliation settles it.
    Processing,
    /// Failed and refunded. `outage`: the upstream was out of order (rather than refusing
    /// the order), as far as this request knows.
    Refunded { outage: bool },
}

impl Orders {
    /// Places an order without an Idempotency-Key: debit, provision, settle. Errors: no
    /// such plan, short of credits (nothing written), not issued by the provider
    /// (refunded), unavailable before any debit. An open provider outcome is not an
    /// error: the receipt says `processing`. `answers` hears of the debit.
    pub async fn place(
        &self,
        account: Account,
        new: NewOrder,
        answers: Arc<dyn Answers>,
    ) -> Result<OrderReceipt, OrderError> {
        let orders = self.clone();
        let work = async move {
            match orders.place_with(account, &new, None, &*answers).await? {
                Placed::Order { receipt, .. } => Ok(*receipt),
                Placed::NotClaimed | Placed::ClaimLost => {
                    Err(anyhow::anyhow!("an order without a key was not placed").into())
                }
            }
        };
        detached(work).await
    }

    /// The workflow, under `keyed` when the order carries an Idempotency-Key.
    #[tracing::instrument(name = "orders.place", skip_all, fields(order_id, mode = %account.mode, plan_id = %new.plan_id, quantity = new.quantity))]
    pub(super) async fn place_with(
        &self,
        account: Account,
        new: &NewOrder,
        keyed: Option<&Keyed<'_>>,
        answers: &dyn Answers,
    ) -> Result<Placed, OrderError> {
        let claiming = keyed.is_some_and(|k| k.claim.is_some());
        let priced = match self.priced(account.mode, new) {
            Ok(priced) => priced,
            // Refusals are answered, and kept, under a claimed key.
            Err(_) if claiming => return Ok(Placed::NotClaimed),
            Err(e) => return Err(e),
        };
        let target = match new.topup_of {
            Some(esim) => match self.admit_topup(account, new, esim).await {
                Ok(record) => Some(record),
                Err(_) if claiming => return Ok(Placed::NotClaimed),
                Err(e) => return Err(e),
            },
            None => None,
        };
        let terms = Terms {
            plan: &priced.plan,
            // A sandbox order is the simulator's, whatever its plan names.
            provider: match account.mode {
                Mode::Live => &priced.plan.provider,
                Mode::Sandbox => SIMULATOR,
            },
            new,
            unit_cost: priced.unit_cost,
            total_cost: priced.total_cost,
            esim: target.as_ref().map(|(e, _)| e.id),
        };
        let job_delay = self.0.config.provider_timeout * 2;
        let (order, balance) =
            match debit::debit(&self.0.debits, account, &terms, keyed, job_delay).await? {
                Debit::Placed(order, balance) => (order, balance),
                Debit::NotClaimed => return Ok(Placed::NotClaimed),
                Debit::ClaimLost => return Ok(Placed::ClaimLost),
            };
        tracing::Span::current().record("order_id", tracing::field::display(order.id));
        failpoint::hit("after_debit_commit");

        // From here on the money has moved, and every answer says so.
        let open = OrderReceipt {
            order: OrderRecord {
                status: OrderStatus::Processing,
                ..order.clone()
            },
            esims: Vec::new(),
            balance,
        };
        if !answers.debited(&open) {
            self.give_back(&order, keyed).await;
            return Err(OrderError::Unavailable);
        }
        let outcome = new.sandbox_outcome.filter(|_| account.mode.is_sandbox());
        let provisioned = match &target {
            Some((esim, sku)) => {
                self.apply_topup(&order, &priced.plan, esim, sku, outcome)
                    .await
            }
            None => {
                self.provision(&order, &priced.plan, outcome, balance, keyed, answers)
                    .await
            }
        };
        let settled = match provisioned {
            Ok(settled) => settled,
            Err(e) => {
                // The order's job settles it (the provider is asked by our reference).
                tracing::error!(error = %cause_chain(&e), "a debited order could not be settled; left to reconciliation");
                crate::metrics::order_outcome("error");
                Settlement::Processing
            }
        };
        match settled {
            Settlement::Completed { esims, answer } => {
                crate::metrics::order_outcome("completed");
                Ok(Placed::Order {
                    receipt: Box::new(OrderReceipt {
                        order: OrderRecord {
                            status: OrderStatus::Completed,
                            ..order
                        },
                        esims,
                        balance,
                    }),
                    stored: answer,
                })
            }
            Settlement::Processing => {
                crate::metrics::order_outcome("processing");
                Ok(Placed::Order {
                    receipt: Box::new(open),
                    stored: None,
                })
            }
            Settlement::Refunded { outage } => {
                crate::metrics::order_outcome(if outage { "unavailable" } else { "failed" });
                Err(OrderError::Refused { refunded: true })
            }
        }
    }

    /// The plan on sale and the order's unit and total cost (net prices): no such plan
    /// on sale, or a live order of a plan routed to an upstream this process has no
    /// credentials for (unavailable), refused before any money moves. So is a sandbox
    /// order made to answer `service_unavailable`.
    pub(super) fn priced(&self, mode: Mode, new: &NewOrder) -> Result<Priced, OrderError> {
        let plan = self
            .0
            .catalog
            .snapshot()
            .plan(&new.plan_id)
            .cloned()
            .ok_or(OrderError::PlanNotFound)?;
        if mode.is_sandbox() && new.sandbox_outcome == Some(SandboxOutcome::ServiceUnavailable) {
            tracing::info!("sandbox order made to answer service_unavailable");
            return Err(OrderError::Unavailable);
        }
        if !mode.is_sandbox() && self.0.providers.get(&plan.provider).is_none() {
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

    /// Calls the provider (for a sandbox order, the sandbox simulator, made to have
    /// `outcome` when one is forced), then settles the order by what it said. An error is
    /// a failure of ours after the debit (the order stays with its job).
    async fn provision(
        &self,
        order: &OrderRecord,
        plan: &Plan,
        outcome: Option<SandboxOutcome>,
        balance: Cents,
        keyed: Option<&Keyed<'_>>,
        answers: &dyn Answers,
    ) -> Result<Settlement, OrderError> {
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
        let provider = match order.mode {
            Mode::Live => self.0.providers.get(&plan.provider).cloned(),
            Mode::Sandbox => Some(self.0.providers.sandbox().clone()),
        };
        let Some(provider) = provider else {
            // Checked before the debit; only a registry without the plan's provider gets here.
            return self.refund(order, "provider not configured", true).await;
        };
        let call = crate::provider::timed(
            provider.name(),
            "provision",
            self.0.config.provider_timeout,
            provider.provision(&request),
        );
        let result = forced(outcome, call).await;
        let result = result.and_then(|provisioned| {
            if provisioned.esims.len() != request.quantity as usize {
                return Err(ProviderError::Unknown(format!(
                    "asked for {} eSIMs, received {}",
                    request.quantity,
                    provisioned.esims.len()
                )));
            }
            // Never one eSIM sold twice: an answer that names an ICCID twice is not an
            // answer to trust, and goes to reconciliation and the operator.
            if settlement::repeats_an_iccid(&provisioned.esims) {
                return Err(ProviderError::Unknown(
                    "the provider's answer names one ICCID twice".to_owned(),
                ));
            }
            Ok(provisioned)
        });
        match result {
            Ok(provisioned) => {
                failpoint::hit("before_esims_stored");
                let issued = esims::NewEsims::of(&provisioned.esims);
                // The answer is rendered before the settlement, which stores it: the eSIMs'
                // issue time is the one thing not known yet, and no answer shows it.
                let mut esims =
                    settlement::records(&issued, order, plan, provider.name(), order.created_at);
                let mut answer = None;
                if keyed.is_some() {
                    let receipt = OrderReceipt {
                        order: OrderRecord {
                            status: OrderStatus::Completed,
                            ..order.clone()
                        },
                        esims,
                        balance,
                    };
                    let rendered = answers.placed(&receipt);
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
                match self.0.completions.complete(completion).await {
                    Ok((Settled::Moved, created_at)) => {
                        failpoint::hit("after_esims_stored");
                        for esim in &mut esims {
                            esim.created_at = created_at;
                        }
                        Ok(Settlement::Completed { esims, answer })
                    }
                    Ok((Settled::AlreadySettled, _)) => self.as_settled(order).await,
                    Err(e) => {
                        // Issued upstream, refused here (an ICCID a live eSIM of ours holds,
                        // a value the database cannot store, or the database itself): the
                        // reconciler asks again, and flags the order if it cannot store it.
                        let why = settlement::not_stored(&e);
                        tracing::warn!(error = %cause_chain(&e), "issued eSIMs not stored; order left to reconciliation");
                        let provider_ref = provisioned.provider_order_ref.as_deref();
                        self.processing(order, provider_ref, &why).await
                    }
                }
            }
            Err(e) if e.issued_nothing() => {
                tracing::warn!(error = %e, "provider did not issue the order; refunding");
                // A refusal of this order, or our side out of order (credentials, upstream
                // credit, rate limit, outage): refunded either way, never a 402.
                let outage = !matches!(e, ProviderError::Rejected { .. });
                self.refund(order, &e.to_string(), outage).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "provider outcome unknown; order left to reconciliation");
                let provider_ref = match &e {
                    ProviderError::Accepted { provider_order_ref } => {
                        Some(provider_order_ref.as_str())
                    }
                    _ => None,
                };
                self.processing(order, provider_ref, &e.to_string()).await
            }
        }
    }

    /// Asks the eSIM's provider (for a sandbox order, the sandbox simulator, made to have
    /// `outcome` when one is forced) to apply a top-up, then settles the order by what it
    /// said, as [`Self::provision`] does for new eSIMs.
    async fn apply_topup(
        &self,
        order: &OrderRecord,
        plan: &Plan,
        esim: &EsimRecord,
        sku: &str,
        outcome: Option<SandboxOutcome>,
    ) -> Result<Settlement, OrderError> {
        let request = TopupRequest {
            order_ref: order.id,
            esim: esim.provider_ref.clone(),
            plan_id: plan.id.clone(),
            sku: sku.to_owned(),
            unit_cost_e4: plan.provider_cost_e4,
            days: plan.days,
            data_mb: plan.data_mb,
        };
        failpoint::hit_soon("during_provider_call");
        let Some(provider) = self.provider_for(order.mode, &esim.provider) else {
            return self.refund(order, "provider not configured", true).await;
        };
        let call = crate::provider::timed(
            provider.name(),
            "topup",
            self.0.config.provider_timeout,
            provider.topup(&request),
        );
        let result = forced(outcome, call).await;
        match result {
            Ok(topped) => {
                let done = topup::ToppedUpOrder {
                    order,
                    plan_days: plan.days,
                    plan_data_mb: plan.data_mb,
                    provider_order_ref: topped.provider_order_ref.clone(),
                };
                match topup::complete(&self.0.db, &done).await {
                    Ok((Settled::Moved, record)) => Ok(Settlement::Completed {
                        esims: record.into_iter().collect(),
                        answer: None,
                    }),
                    Ok((Settled::AlreadySettled, _)) => self.as_settled(order).await,
                    Err(e) => {
                        tracing::warn!(error = %cause_chain(&e), "applied top-up not stored; order left to reconciliation");
                        let provider_ref = topped.provider_order_ref.as_deref();
                        self.processing(order, provider_ref, "the top-up could not be stored")
                            .await
                    }
                }
            }
            Err(e) if e.issued_nothing() => {
                tracing::warn!(error = %e, "provider did not apply the top-up; refunding");
                let outage = !matches!(e, ProviderError::Rejected { .. });
                self.refund(order, &e.to_string(), outage).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "top-up outcome unknown; order left to reconciliation");
                let provider_ref = match &e {
                    ProviderError::Accepted { provider_order_ref } => {
                        Some(provider_order_ref.as_str())
                    }
                    _ => None,
                };
                self.processing(order, provider_ref, &e.to_string()).await
            }
        }
    }

    /// Fails and refunds the order, unless someone else settled it first.
    async fn refund(
        &self,
        order: &OrderRecord,
        reason: &str,
        outage: bool,
    ) -> Result<Settlement, OrderError> {
        match settlement::fail_and_refund(&self.0.db, order, reason).await? {
            Settled::Moved => Ok(Settlement::Refunded { outage }),
            Settled::AlreadySettled => self.as_settled(order).await,
        }
    }

    /// Leaves the order to reconciliation, unless someone else settled it first.
    async fn processing(
        &self,
        order: &OrderRecord,
        provider_order_ref: Option<&str>,
        why: &str,
    ) -> Result<Settlement, OrderError> {
        match settlement::mark_processing(&self.0.db, order, provider_order_ref, why).await? {
            Settled::Moved => Ok(Settlement::Processing),
            Settled::AlreadySettled => self.as_settled(order).await,
        }
    }

    /// The order as someone else settled it (the reconciler, of this server or another):
    /// what the database says, eSIMs included.
    async fn as_settled(&self, order: &OrderRecord) -> Result<Settlement, OrderError> {
        let receipt = history::receipt(&self.0.db, order.account(), order.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("order {} is gone", order.id))?;
        tracing::info!(order_id = %order.id, status = receipt.order.status.as_str(), "order settled by someone else first; answering what the database says");
        Ok(match receipt.order.status {
            OrderStatus::Completed => Settlement::Completed {
                esims: receipt.esims,
                answer: None,
            },
            OrderStatus::Failed => Settlement::Refunded { outage: false },
            OrderStatus::Pending | OrderStatus::Processing => Settlement::Processing,
        })
    }

    /// Gives a debited order's money back at once, calling no provider: its request was
    /// answered "nothing was deducted" (its time limit ran out) before the debit
    /// committed. Under a key, the key is forgotten, so a retry runs afresh. Whatever
    /// fails here, the order's job refunds it later (the provider never heard of it).
    async fn give_back(&self, order: &OrderRecord, keyed: Option<&Keyed<'_>>) {
        tracing::warn!(
            "the request was answered before its debit committed; refunding the order at once"
        );
        let reason = "the request had been answered before the debit committed";
        if let Err(e) = settlement::fail_and_refund(&self.0.db, order, reason).await {
            tracing::warn!(error = %cause_chain(&e), "refund of an abandoned order failed; left to reconciliation");
        }
        if let Some(k) = keyed {
            let forgotten =
                idempotency::forget(&self.0.db, order.account(), k.key, k.claim_id).await;
            if let Err(e) = forgotten {
                tracing::warn!(error = %e, "Idempotency-Key of an abandoned order not released");
            }
        }
    }
}

/// A provider call as a sandbox order's forced `outcome` makes it end: refused
/// (`upstream_error`, never sent), or made but its answer lost (`processing`:
/// reconciliation then finds what it did and settles the order, as after an upstream's
/// time-out). Without an outcome, the call as it is.
async fn forced<T>(
    outcome: Option<SandboxOutcome>,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match outcome {
        None | Some(SandboxOutcome::ServiceUnavailable) => call.await,
        Some(SandboxOutcome::UpstreamError) => Err(ProviderError::rejected(
            Refusal::Other,
            "sandbox: Sandbox-Outcome upstream_error",
        )),
        Some(SandboxOutcome::Processing) => call.await.and_then(|_| {
            Err(ProviderError::Unknown(
                "sandbox: Sandbox-Outcome processing".to_owned(),
            ))
        }),
    }
}

/// An order error and its sources, for the logs.
fn cause_chain(e: &OrderError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
