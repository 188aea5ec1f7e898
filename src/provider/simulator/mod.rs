//! The built-in simulator: an upstream that lives in our own Postgres (`sim_esims`), for
//! local runs, demos and tests. It issues real-looking eSIMs (ICCIDs with a Luhn check
//! digit, SM-DP+ address, activation codes), tracks usage so statuses move
//! READY → ACTIVE → DEPLETED or EXPIRED, and injects latency and refusals on demand
//! (`TAVARO_SIM_LATENCY_MS`, `TAVARO_SIM_FAILURE_RATE`). `TAVARO_SIM_MODE` makes it answer
//! late, fail after accepting, stall, or lose requests (see [`SimulatorMode`]); it keeps a
//! record of the orders it received (`sim_orders`) so it can be asked about them later.
//!
//! `tavaro sim use` and `tavaro sim expire` stand in for a traveller using data and for
//! the calendar.

use std::sync::OnceLock;

use anyhow::{Context, bail};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use sqlx::PgPool;

mod after_sale;
mod config;
mod issuer;

pub use after_sale::review_refund;

pub use config::{SimulatorConfig, SimulatorMode, SimulatorRefunds};

use issuer::{Issue, Issuer};

use super::{
    CancelRequest, Cancelled, EsimRef, EsimUsage, LookupRequest, OrderLookup, Provider,
    ProviderError, ProvisionRequest, Provisioned, ProvisionedEsim, RefundReview, Refusal, ToppedUp,
    TopupLookup, TopupLookupRequest, TopupOffer, TopupRequest, UpstreamBalance, UpstreamPackage,
};
use crate::status::EsimStatus;

/// The simulator provider.
pub struct Simulator {
    db: PgPool,
    config: SimulatorConfig,
    /// Writes the issues of concurrent orders together; started on first use.
    issuer: OnceLock<Issuer>,
}

impl Simulator {
    /// A simulator storing its state in `db`.
    pub fn new(db: PgPool, config: SimulatorConfig) -> Self {
        Self {
            db,
            config,
            issuer: OnceLock::new(),
        }
    }

    fn issuer(&self) -> &Issuer {
        self.issuer
            .get_or_init(|| Issuer::start(self.db.clone(), self.config.smdp_address.clone()))
    }
}

#[async_trait]
impl Provider for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        let latency = self.config.latency;
        match self.config.mode {
            SimulatorMode::Normal => {
                tokio::time::sleep(latency).await;
                if self.config.failure_rate > 0.0
                    && rand::rng().random_bool(self.config.failure_rate)
                {
                    return Err(ProviderError::rejected(
                        Refusal::OutOfStock,
                        "simulated refusal: package out of stock",
                    ));
                }
                self.issue(request).await
            }
            SimulatorMode::Late => {
                let issued = self.issue(request).await?;
                tokio::time::sleep(latency).await;
                Ok(issued)
            }
            SimulatorMode::AcceptThenFail | SimulatorMode::AcceptThenStall => {
                let status = if self.config.mode == SimulatorMode::AcceptThenFail {
                    "failed"
                } else {
                    "pending"
                };
                sqlx::query!(
                    "insert into sim_orders (order_ref, status, reason) values ($1, $2, $3)
                     on conflict (order_ref) do nothing",
                    request.order_ref.to_string(),
                    status,
                    "simulated: failed after accepting the order",
                )
                .execute(&self.db)
                .await
                .map_err(unavailable)?;
                tokio::time::sleep(latency).await;
                Err(ProviderError::Unknown(
                    "accepted; the outcome will follow".into(),
                ))
            }
            SimulatorMode::Lost => {
                tokio::time::sleep(latency).await;
                Err(ProviderError::Unknown(
                    "connection reset after the request was sent".into(),
                ))
            }
        }
    }

    async fn lookup(&self, request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        let reference = request.order_ref.to_string();
        let order = sqlx::query!(
            "select status, reason from sim_orders where order_ref = $1",
            reference
        )
        .fetch_optional(&self.db)
        .await
        .map_err(unavailable)?;
        let Some(order) = order else {
            return Ok(OrderLookup::NotFound);
        };
        match order.status.as_str() {
            "failed" => Ok(OrderLookup::Failed(order.reason.unwrap_or_default())),
            "pending" => Ok(OrderLookup::Pending),
            _ => Ok(OrderLookup::Issued(
                self.issued(&reference).await.map_err(unavailable)?,
            )),
        }
    }

    async fn usage(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        read_usage(&self.db, &esim.iccid)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                ProviderError::rejected(Refusal::Other, format!("unknown ICCID {}", esim.iccid))
            })
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        // The simulator sells whatever `tavaro catalog import` loaded.
        Err(ProviderError::Unsupported(
            "the simulator's plans come from `tavaro catalog import`",
        ))
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        Err(ProviderError::Unsupported("the simulator keeps no balance"))
    }

    async fn topups(
        &self,
        esim: &EsimRef,
        plan_id: &str,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        after_sale::offers(&self.db, esim, plan_id).await
    }

    async fn topup(&self, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
        tokio::time::sleep(self.config.latency).await;
        match self.config.mode {
            SimulatorMode::Normal => after_sale::topup(&self.db, request).await,
            // Applied, the answer lost on the way back.
            SimulatorMode::Late => {
                after_sale::topup(&self.db, request).await?;
                Err(ProviderError::Unknown("no answer to the top-up".into()))
            }
            SimulatorMode::AcceptThenFail
            | SimulatorMode::AcceptThenStall
            | SimulatorMode::Lost => Err(ProviderError::Unknown(
                "connection reset after the top-up was sent".into(),
            )),
        }
    }

    async fn topup_lookup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        after_sale::lookup(&self.db, request).await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<Cancelled, ProviderError> {
        after_sale::cancel(&self.db, self.config.refunds, request).await
    }

    async fn refund_status(
        &self,
        request: &CancelRequest,
        _refund_ref: Option<&str>,
    ) -> Result<RefundReview, ProviderError> {
        after_sale::refund_status(&self.db, request).await
    }
}

impl Simulator {
    /// Issues the eSIMs of an order, once: a repeated request with the same reference gets
    /// the same eSIMs (the dedupe real upstreams offer through a client reference).
    /// Written together with the other orders being issued (see [`Issuer`]): the order and
    /// its eSIMs, returned as written.
    async fn issue(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        let reference = request.order_ref.to_string();
        let quantity = request.quantity as usize;
        let issue = Issue {
            reference: reference.clone(),
            iccids: (0..quantity).map(|_| new_iccid()).collect(),
            codes: (0..quantity).map(|_| new_activation_code()).collect(),
            days: request.days,
            data_mb: request.data_mb,
        };
        let written = self
            .issuer()
            .issue(issue)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("simulator store: {e}")))?;
        let Some(written) = written else {
            // Asked before: the same eSIMs again.
            return self.issued(&reference).await.map_err(unavailable);
        };
        if written.len() == quantity {
            return Ok(Provisioned {
                provider_order_ref: Some(format!("SIM-{reference}")),
                esims: written
                    .into_iter()
                    .map(|(iccid, activation_code)| ProvisionedEsim {
                        iccid,
                        smdp_address: self.config.smdp_address.clone(),
                        activation_code,
                        provider_ref: None,
                    })
                    .collect(),
            });
        }
        // An ICCID collided with an earlier one (1 in 10^14): draw the missing ones again.
        let mut issued = written.len();
        while issued < quantity {
            issued += sqlx::query!(
                "insert into sim_esims (iccid, order_ref, smdp_address, activation_code, days, data_total_mb)
                 values ($1, $2, $3, $4, $5, $6)
                 on conflict (iccid) do nothing",
                new_iccid(),
                reference,
                self.config.smdp_address,
                new_activation_code(),
                request.days,
                request.data_mb,
            )
            .execute(&self.db)
            .await
            .map_err(unavailable)?
            .rows_affected() as usize;
        }
        self.issued(&reference).await.map_err(unavailable)
    }

    /// The eSIMs issued for an order reference.
    async fn issued(&self, reference: &str) -> Result<Provisioned, sqlx::Error> {
        let esims = sqlx::query!(
            "select iccid, smdp_address, activation_code from sim_esims
             where order_ref = $1 order by iccid",
            reference
        )
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|r| ProvisionedEsim {
            iccid: r.iccid,
            smdp_address: r.smdp_address,
            activation_code: r.activation_code,
            provider_ref: None,
        })
        .collect();
        Ok(Provisioned {
            provider_order_ref: Some(format!("SIM-{reference}")),
            esims,
        })
    }
}

/// The simulator's view of one eSIM, `None` if it never issued it.
async fn read_usage(db: &PgPool, iccid: &str) -> Result<Option<EsimUsage>, sqlx::Error> {
    let row = sqlx::query!(
        "select data_total_mb, data_used_mb, activated_at, expires_at from sim_esims where iccid = $1",
        iccid
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| EsimUsage {
        data_total_mb: row.data_total_mb.map(i64::from),
        status: status_of(
            row.data_total_mb,
            row.data_used_mb,
            row.activated_at,
            row.expires_at,
            Utc::now(),
        ),
        data_used_mb: row.data_used_mb,
        activated_at: row.activated_at,
        expires_at: row.expires_at,
    }))
}

fn unavailable(e: sqlx::Error) -> ProviderError {
    ProviderError::Unavailable(format!("simulator store: {e}"))
}

/// Lifecycle status from usage and validity.
pub fn status_of(
    total_mb: Option<i32>,
    used_mb: i64,
    activated_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> EsimStatus {
    if expires_at.is_some_and(|t| t <= now) {
        EsimStatus::Expired
    } else if total_mb.is_some_and(|total| used_mb >= i64::from(total)) {
        EsimStatus::Depleted
    } else if activated_at.is_some() {
        EsimStatus::Active
    } else {
        EsimStatus::Ready
    }
}

/// Records `mb` of data used on an eSIM. The first use activates it and starts its
/// validity (`first-use` activation). Usage stops at the allowance.
pub async fn record_usage(db: &PgPool, iccid: &str, mb: i64) -> anyhow::Result<EsimUsage> {
    if mb <= 0 {
        bail!("--mb must be a positive number of megabytes");
    }
    let before = read_usage(db, iccid)
        .await?
        .with_context(|| format!("the simulator has no eSIM with ICCID {iccid}"))?;
    if before.status == EsimStatus::Expired {
        bail!("this eSIM has expired: no more data can be used");
    }
    sqlx::query!(
        "update sim_esims set
            data_used_mb = case when data_total_mb is null then data_used_mb + $2
                                else least(data_used_mb + $2, data_total_mb) end,
            activated_at = coalesce(activated_at, now()),
            expires_at = coalesce(expires_at, now() + make_interval(days => days))
         where iccid = $1",
        iccid,
        mb
    )
    .execute(db)
    .await?;
    read_usage(db, iccid)
        .await?
        .context("eSIM vanished from the simulator")
}

/// Ends an eSIM's validity now.
pub async fn expire(db: &PgPool, iccid: &str) -> anyhow::Result<EsimUsage> {
    let updated = sqlx::query!(
        "update sim_esims set expires_at = least(coalesce(expires_at, now()), now() - interval '1 second')
         where iccid = $1",
        iccid
    )
    .execute(db)
    .await?
    .rows_affected();
    if updated == 0 {
        bail!("the simulator has no eSIM with ICCID {iccid}");
    }
    read_usage(db, iccid)
        .await?
        .context("eSIM vanished from the simulator")
}

/// A 19-digit ICCID: `89` (telecom), `01` (country code), 14 random digits, Luhn digit.
pub fn new_iccid() -> String {
    let mut rng = rand::rng();
    let mut digits = String::from("8901");
    for _ in 0..14 {
        digits.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = luhn_check_digit(&digits);
    digits.push(char::from(b'0' + check));
    digits
}

pub use crate::provider::normalize::{luhn_check_digit, luhn_valid};

/// An activation code in the common `XXXXX-XXXXX-XXXXX-XXXXX` shape.
fn new_activation_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn iccids_have_19_digits_start_with_89_and_pass_luhn() {
        for _ in 0..1000 {
            let iccid = new_iccid();
            assert_eq!(iccid.len(), 19);
            assert!(iccid.starts_with("89"));
            assert!(luhn_valid(&iccid), "{iccid}");
        }
        // A known-good number from the Luhn literature, and a corrupted copy.
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
    }

    #[test]
    fn status_follows_usage_and_validity() {
        let now = Utc::now();
        let later = Some(now + Duration::days(3));
        assert_eq!(status_of(Some(1024), 0, None, None, now), EsimStatus::Ready);
        assert_eq!(
            status_of(Some(1024), 10, Some(now), later, now),
            EsimStatus::Active
        );
        assert_eq!(
            status_of(Some(1024), 1024, Some(now), later, now),
            EsimStatus::Depleted
        );
        assert_eq!(
            status_of(None, 99_999, Some(now), later, now),
            EsimStatus::Active
        );
        assert_eq!(
            status_of(
                Some(1024),
                1024,
                Some(now),
                Some(now - Duration::seconds(1)),
                now
            ),
            EsimStatus::Expired
        );
    }

    #[test]
    fn activation_codes_look_like_matching_ids() {
        let code = new_activation_code();
        assert_eq!(code.len(), 23);
        assert_eq!(code.matches('-').count(), 3);
    }
}
