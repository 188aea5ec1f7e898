//! The usage poller: keeps the usage and status of live eSIMs current without a partner
//! asking, so a status change (activated, depleted, expired) is noticed and recorded with
//! its time (`esim_status_changes`).
//!
//! Every server runs one. Each poll claims a batch of the eSIMs in use (`READY`, `ACTIVE`,
//! `DEPLETED`) whose usage was last polled longest ago and at least
//! `TAVARO_USAGE_POLL_SECS` ago, with `FOR UPDATE SKIP LOCKED`, and leases them by
//! stamping `usage_polled_at`: several servers share the work and no eSIM is read twice
//! in a round. Each read waits for its provider's read budget
//! ([`Provider::usage`](crate::provider::Provider::usage)), so polling never takes the
//! share partners' orders use. Sandbox eSIMs are not polled: their simulated usage is
//! recorded when it is simulated.
//!
//! Each round also tells `esim.expiring` for eSIMs (live and sandbox) whose validity ends
//! within 24 h ([`notify_expiring`]): a read of our own records, no provider asked.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use super::{USAGE_TIMEOUT, apply_usage, find};
use crate::ids::{EsimId, PartnerId};
use crate::mode::{Account, Mode};
use crate::provider::Registry;

/// eSIMs claimed per poll.
const BATCH: i64 = 50;
/// Longest pause between polls.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Polls until `stop` is set; does nothing when `every` is zero (the poller is off).
pub async fn run(
    db: PgPool,
    providers: std::sync::Arc<Registry>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if every.is_zero() {
        return;
    }
    let pause = every.min(MAX_PAUSE);
    while !*stop.borrow() {
        if let Err(e) = notify_expiring(&db).await {
            tracing::warn!(error = %e, "expiry notices failed");
        }
        let wait = match poll_once(&db, &providers, every).await {
            Ok(n) if n as i64 == BATCH => Duration::ZERO,
            Ok(_) => pause,
            Err(e) => {
                tracing::warn!(error = %e, "usage poll failed");
                pause
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {},
            _ = stop.changed() => {},
        }
    }
}

/// One round: claims the live eSIMs in use not polled within `every` and records what
/// their providers report. Returns how many it claimed.
pub async fn poll_once(
    db: &PgPool,
    providers: &Registry,
    every: Duration,
) -> Result<usize, sqlx::Error> {
    let due = sqlx::query!(
        r#"update esims e set usage_polled_at = now()
             from (select id from esims
                    where mode = 'live' and status in ('READY', 'ACTIVE', 'DEPLETED')
                      and coalesce(usage_polled_at, created_at) <= now() - make_interval(secs => $1)
                    order by coalesce(usage_polled_at, created_at)
                    limit $2
                    for update skip locked) due
            where e.id = due.id
        returning e.id as "id: EsimId", e.partner_id as "partner_id: PartnerId""#,
        every.as_secs_f64(),
        BATCH,
    )
    .fetch_all(db)
    .await?;
    let claimed = due.len();
    for row in due {
        let account = Account {
            partner: row.partner_id,
            mode: Mode::Live,
        };
        let Some(record) = find(db, account, row.id).await? else {
            continue;
        };
        let Some(provider) = providers.get(&record.provider) else {
            continue;
        };
        // The read budget may make this wait; the call's own time limit starts after.
        let usage = provider.usage(&record.provider_ref);
        let usage = crate::provider::timed(
            provider.name(),
            "usage_poll",
            USAGE_TIMEOUT + Duration::from_secs(55),
            usage,
        )
        .await;
        match usage {
            Ok(usage) => {
                let before = record.status;
                let after = apply_usage(db, record, usage).await?;
                if after.status != before {
                    tracing::info!(esim_id = %after.id, from = before.as_str(), to = after.status.as_str(), "eSIM status changed");
                }
            }
            Err(e) => {
                tracing::debug!(esim_id = %record.id, error = %e, "usage poll read failed; tried again next round");
            }
        }
    }
    Ok(claimed)
}

/// eSIMs told `esim.expiring` per statement.
const EXPIRING_BATCH: i64 = 500;

/// Tells `esim.expiring` for the eSIMs in use (live and sandbox) whose validity ends within
/// [`EXPIRING_WITHIN`] and that were not told for that end of validity yet
/// (`expiring_notified_at`: a top-up that extends the validity is told again), in one
/// statement per batch: the marker, each event and its deliveries commit together, and
/// `FOR UPDATE SKIP LOCKED` keeps two servers from telling one eSIM twice. Returns how
/// many it told.
pub async fn notify_expiring(db: &PgPool) -> Result<usize, sqlx::Error> {
    let mut told = 0;
    loop {
        let n = sqlx::query_scalar!(
            r#"with due as (
                   update esims e set expiring_notified_at = e.expires_at
                     from (select id from esims
                            where expires_at is not null
                              and status in ('READY', 'ACTIVE', 'DEPLETED')
                              and expires_at > now()
                              and expires_at <= now() + make_interval(secs => $1)
                              and expiring_notified_at is distinct from expires_at
                            limit $2
                            for update skip locked) d
                    where e.id = d.id
                returning e.id, e.partner_id, e.mode
               ), told as (
                   -- As `webhooks::emit` writes it, fanned out in `told_to`.
                   insert into events (id, partner_id, mode, type, subject_kind, subject_id)
                   select 'evt_' || replace(gen_random_uuid()::text, '-', ''), partner_id,
                          mode, 'esim.expiring', 'esim', id::text
                     from due
                   returning id, partner_id, mode
               ), told_to as (
                   insert into webhook_deliveries (event_id, endpoint_id)
                   select t.id, w.id
                     from told t join webhook_endpoints w
                       on w.partner_id = t.partner_id and w.mode = t.mode
                      and w.status = 'enabled'
                      and (w.events is null or 'esim.expiring' = any(w.events))
                      for key share of w
               )
               select count(*) as "told!" from due"#,
            EXPIRING_WITHIN.as_secs_f64(),
            EXPIRING_BATCH,
        )
        .fetch_one(db)
        .await?;
        told += n as usize;
        if n < EXPIRING_BATCH {
            return Ok(told);
        }
    }
}

/// How long before its end of validity an eSIM is told `esim.expiring`.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(24 * 3600);
