//! The simulator after the sale: top-ups of the eSIMs it issued (more data, validity
//! extended from today, as real upstreams do), cancellations of unused ones, refunded at
//! once or left for review ([`SimulatorRefunds`]), and the review's decision.
//!
//! Top-ups are the plans of the catalog in the eSIM's plan's area, of the same provider,
//! that allow top-ups: the simulator stands in for an upstream selling our own catalog.

use anyhow::{Context, bail};
use sqlx::PgPool;

use super::{SimulatorRefunds, unavailable};
use crate::provider::{
    CancelRequest, Cancelled, EsimRef, ProviderError, RefundReview, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest,
};

/// The plans that can top up the eSIM sold on `plan_id`: on sale, allowing top-ups, in
/// the same area and of the same provider. None for an eSIM that is cancelled or expired.
pub(super) async fn offers(
    db: &PgPool,
    esim: &EsimRef,
    plan_id: &str,
) -> Result<Vec<TopupOffer>, ProviderError> {
    let state = state(db, &esim.iccid).await?;
    if state.cancelled || state.expired {
        return Ok(Vec::new());
    }
    let plans = sqlx::query!(
        "select t.id, t.net_price_cents from plans t join plans p on p.id = $1
          where t.active and t.top_up and t.area_code = p.area_code and t.provider = p.provider
          order by t.days, t.net_price_cents, t.id",
        plan_id
    )
    .fetch_all(db)
    .await
    .map_err(unavailable)?;
    Ok(plans
        .into_iter()
        .map(|p| TopupOffer {
            sku: p.id,
            cost_e4: Some(p.net_price_cents * 100),
            days: None,
            data_mb: None,
        })
        .collect())
}

/// Applies a top-up once per reference: more data (unlimited stays unlimited), and an
/// activated eSIM's validity runs to at least `days` from now.
pub(super) async fn topup(db: &PgPool, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
    let state = state(db, &request.esim.iccid).await?;
    if state.cancelled {
        return Err(ProviderError::rejected(
            Refusal::Other,
            "the eSIM is cancelled",
        ));
    }
    if state.expired {
        return Err(ProviderError::rejected(
            Refusal::Other,
            "the eSIM has expired",
        ));
    }
    let reference = request.order_ref.to_string();
    let mut tx = db.begin().await.map_err(unavailable)?;
    let applied = sqlx::query!(
        "insert into sim_topups (order_ref, iccid, plan_id) values ($1, $2, $3)
         on conflict (order_ref) do nothing",
        reference,
        request.esim.iccid,
        request.plan_id,
    )
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    if applied == 1 {
        sqlx::query!(
            "update sim_esims set
                data_total_mb = case when $2::int is null then null else data_total_mb + $2 end,
                expires_at = case when expires_at is null then null
                                  else greatest(expires_at, now() + make_interval(days => $3)) end
             where iccid = $1",
            request.esim.iccid,
            request.data_mb,
            request.days,
        )
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(ToppedUp {
        provider_order_ref: Some(format!("SIMTU-{reference}")),
    })
}

/// Whether a top-up with our reference was applied.
pub(super) async fn lookup(
    db: &PgPool,
    request: &TopupLookupRequest,
) -> Result<TopupLookup, ProviderError> {
    let reference = request.order_ref.to_string();
    let found = sqlx::query_scalar!(
        r#"select exists(select 1 from sim_topups where order_ref = $1) as "found!""#,
        reference
    )
    .fetch_one(db)
    .await
    .map_err(unavailable)?;
    Ok(if found {
        TopupLookup::Applied(ToppedUp {
            provider_order_ref: Some(format!("SIMTU-{reference}")),
        })
    } else {
        TopupLookup::NotFound
    })
}

/// Cancels an eSIM never used and never topped up. Repeating it answers as the first
/// time did.
pub(super) async fn cancel(
    db: &PgPool,
    refunds: SimulatorRefunds,
    request: &CancelRequest,
) -> Result<Cancelled, ProviderError> {
    let state = state(db, &request.esim.iccid).await?;
    if !state.cancelled {
        if state.used {
            return Err(ProviderError::rejected(
                Refusal::Other,
                "the eSIM has been used",
            ));
        }
        if state.topped_up {
            return Err(ProviderError::rejected(
                Refusal::Other,
                "the eSIM has been topped up",
            ));
        }
        if state.expired {
            return Err(ProviderError::rejected(
                Refusal::Other,
                "the eSIM has expired",
            ));
        }
    }
    let first = match refunds {
        SimulatorRefunds::Instant => "approved",
        SimulatorRefunds::Reviewed => "pending",
    };
    let status = sqlx::query_scalar!(
        r#"update sim_esims set cancelled_at = coalesce(cancelled_at, now()),
                                refund_status = coalesce(refund_status, $2)
           where iccid = $1 and coalesce(refund_status, '') <> 'rejected'
           returning refund_status as "status!""#,
        request.esim.iccid,
        first,
    )
    .fetch_optional(db)
    .await
    .map_err(unavailable)?
    .unwrap_or_else(|| "rejected".to_owned());
    match status.as_str() {
        "approved" => Ok(Cancelled::Refunded),
        "rejected" => Err(ProviderError::rejected(
            Refusal::Other,
            "the refund of this eSIM was rejected",
        )),
        _ => Ok(Cancelled::UnderReview {
            refund_ref: Some(refund_ref(&request.esim.iccid)),
        }),
    }
}

/// Where the refund of a cancelled eSIM stands.
pub(super) async fn refund_status(
    db: &PgPool,
    request: &CancelRequest,
) -> Result<RefundReview, ProviderError> {
    let status = sqlx::query_scalar!(
        "select refund_status from sim_esims where iccid = $1",
        request.esim.iccid
    )
    .fetch_optional(db)
    .await
    .map_err(unavailable)?
    .flatten();
    Ok(match status.as_deref() {
        Some("approved") => RefundReview::Approved,
        Some("rejected") => RefundReview::Rejected("the provider rejected the refund".to_owned()),
        _ => RefundReview::Pending,
    })
}

/// Decides a refund under review (`tavaro sim refund`): approved, or rejected (the eSIM
/// is the traveller's again). Returns the decision.
pub async fn review_refund(
    db: &PgPool,
    iccid: &str,
    approve: bool,
) -> anyhow::Result<&'static str> {
    let decision = if approve { "approved" } else { "rejected" };
    let updated = sqlx::query!(
        "update sim_esims set refund_status = $2,
                              cancelled_at = case when $2 = 'approved' then cancelled_at end
          where iccid = $1 and refund_status = 'pending'",
        iccid,
        decision,
    )
    .execute(db)
    .await
    .context("simulator store")?
    .rows_affected();
    if updated == 0 {
        bail!("the simulator has no refund under review for ICCID {iccid}");
    }
    Ok(decision)
}

/// The simulator's reference of a refund request.
fn refund_ref(iccid: &str) -> String {
    format!("SIMRF-{iccid}")
}

/// What the simulator knows of one eSIM, as cancellation and top-ups need it.
struct State {
    cancelled: bool,
    expired: bool,
    used: bool,
    topped_up: bool,
}

async fn state(db: &PgPool, iccid: &str) -> Result<State, ProviderError> {
    let row = sqlx::query!(
        r#"select cancelled_at is not null and coalesce(refund_status, '') <> 'rejected' as "cancelled!",
                  coalesce(expires_at <= now(), false) as "expired!",
                  data_used_mb > 0 or activated_at is not null as "used!",
                  exists(select 1 from sim_topups t where t.iccid = e.iccid) as "topped_up!"
           from sim_esims e where iccid = $1"#,
        iccid
    )
    .fetch_optional(db)
    .await
    .map_err(unavailable)?
    .ok_or_else(|| ProviderError::rejected(Refusal::Other, format!("unknown ICCID {iccid}")))?;
    Ok(State {
        cancelled: row.cancelled,
        expired: row.expired,
        used: row.used,
        topped_up: row.topped_up,
    })
}
