//! eSIM records: what a partner's traveller installs. Statuses, install links, and the
//! refresh from the provider's live usage, asked at most once per
//! `TAVARO_USAGE_TTL_SECS` per eSIM ([`UsageCache`]). QR codes live in [`qr`].

pub mod poller;
pub mod qr;

use chrono::{DateTime, Utc};
use moka::future::Cache;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sqlx::{PgConnection, PgPool};

use std::time::Duration;

use crate::ids::{EsimId, OrderId, PartnerId};
use crate::mode::{Account, Mode};
use crate::provider::{EsimRef, EsimUsage, ProviderError, ProvisionedEsim, Registry, SIMULATOR};
pub use crate::status::EsimStatus;
use crate::webhooks::{self, EventType, Subject};

/// What is percent-encoded in the `carddata` value of an install link: everything but
/// the unreserved characters and the `:` and `$` of the LPA string (both legal in a query
/// value, and how Apple and Google document the link). An `&`, `#`, `+`, `=`, `%`, a
/// space or any non-ASCII character is encoded, so no activation code can end the value
/// or add a parameter.
const CARDDATA: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'$');

/// `base` + `?carddata=` + the LPA string, percent-encoded.
fn install_url(base: &str, lpa: &str) -> String {
    format!("{base}?carddata={}", utf8_percent_encode(lpa, CARDDATA))
}

/// One stored eSIM.
#[derive(Clone, Debug)]
pub struct EsimRecord {
    /// Our id, given to partners.
    pub id: EsimId,
    /// The partner that bought it.
    pub partner_id: PartnerId,
    /// The order that delivered it.
    pub order_id: OrderId,
    /// The plan ordered.
    pub plan_id: String,
    /// ICCID.
    pub iccid: String,
    /// SM-DP+ address.
    pub smdp_address: String,
    /// Activation code. Never logged.
    pub activation_code: String,
    /// Allowance; `None` for unlimited.
    pub data_total_mb: Option<i32>,
    /// Used so far (as of the last refresh).
    pub data_used_mb: i64,
    /// Status (as of the last refresh).
    pub status: EsimStatus,
    /// First use.
    pub activated_at: Option<DateTime<Utc>>,
    /// End of validity.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Token of its public QR code URL.
    pub qr_token: String,
    /// The provider that issued it.
    pub provider: String,
    /// How that provider refers to it (usage is asked by it).
    pub provider_ref: EsimRef,
    /// When its usage was last read from the provider; `None` until the first read.
    pub usage_updated_at: Option<DateTime<Utc>>,
    /// Top-up orders placed on it and not failed.
    pub topups: i32,
    /// Live or sandbox.
    pub mode: Mode,
}

impl EsimRecord {
    /// The account that holds it.
    pub fn account(&self) -> Account {
        Account {
            partner: self.partner_id,
            mode: self.mode,
        }
    }

    /// The full LPA activation string, `LPA:1$<smdp>$<code>`: what the QR code encodes.
    pub fn lpa_code(&self) -> String {
        lpa_code(&self.smdp_address, &self.activation_code)
    }

    /// Public URL of the QR code PNG on this gateway.
    pub fn qr_code_url(&self, base_url: &str) -> String {
        format!("{base_url}/qr/{}.png", self.qr_token)
    }

    /// One-tap install link for iOS 17.4+, the LPA string percent-encoded.
    pub fn ios_install_url(&self) -> String {
        install_url(
            "https://esimsetup.apple.com/esim_qrcode_provisioning",
            &self.lpa_code(),
        )
    }

    /// One-tap install link for Android, the LPA string percent-encoded.
    pub fn android_install_url(&self) -> String {
        install_url(
            "https://esimsetup.android.com/esim_qrcode_provisioning",
            &self.lpa_code(),
        )
    }

    /// Data left; `None` for unlimited plans.
    pub fn data_remaining_mb(&self) -> Option<i64> {
        self.data_total_mb
            .map(|total| (i64::from(total) - self.data_used_mb).max(0))
    }
}

/// `LPA:1$<smdp>$<code>` (GSMA SGP.22 activation code format).
pub fn lpa_code(smdp_address: &str, activation_code: &str) -> String {
    format!("LPA:1${smdp_address}${activation_code}")
}

/// Issued eSIMs as columns, with the ids and QR tokens they will be stored under: the
/// parameters of one multi-row insert (see `orders::settlement`).
pub struct NewEsims {
    /// Our id for each.
    pub ids: Vec<uuid::Uuid>,
    /// ICCIDs.
    pub iccids: Vec<String>,
    /// SM-DP+ addresses.
    pub smdp_addresses: Vec<String>,
    /// Activation codes.
    pub activation_codes: Vec<String>,
    /// The provider's own references, where it gives them.
    pub provider_refs: Vec<Option<String>>,
    /// A fresh QR-code token for each.
    pub qr_tokens: Vec<String>,
}

impl NewEsims {
    /// The columns for `issued`, with fresh ids and tokens.
    pub fn of(issued: &[ProvisionedEsim]) -> Self {
        Self {
            ids: issued.iter().map(|_| EsimId::new().0).collect(),
            iccids: issued.iter().map(|e| e.iccid.clone()).collect(),
            smdp_addresses: issued.iter().map(|e| e.smdp_address.clone()).collect(),
            activation_codes: issued.iter().map(|e| e.activation_code.clone()).collect(),
            provider_refs: issued.iter().map(|e| e.provider_ref.clone()).collect(),
            qr_tokens: issued.iter().map(|_| qr::new_token()).collect(),
        }
    }
}

/// An account's eSIMs, all of one order or the one with a given id.
async fn select(
    conn: &mut PgConnection,
    account: Account,
    order: Option<OrderId>,
    id: Option<EsimId>,
) -> Result<Vec<EsimRecord>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.id as "id: EsimId", e.partner_id as "partner_id: PartnerId", e.order_id as "order_id: OrderId", o.plan_id,
                  e.iccid, e.smdp_address, e.activation_code, e.data_total_mb,
                  e.data_used_mb, e.status as "status: EsimStatus", e.activated_at, e.expires_at, e.created_at,
                  e.qr_token, o.provider, e.provider_ref, p.provider_sku,
                  e.usage_updated_at, e.topups, e.mode as "mode: Mode"
           from esims e
           join orders o on o.id = e.order_id and o.partner_id = e.partner_id
           join plans p on p.id = o.plan_id
           where e.partner_id = $1 and e.mode = $4
             and ($2::uuid is null or e.order_id = $2)
             and ($3::uuid is null or e.id = $3)
           order by e.created_at, e.iccid"#,
        account.partner as PartnerId,
        order as Option<OrderId>,
        id as Option<EsimId>,
        account.mode as Mode,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| EsimRecord {
            provider_ref: EsimRef {
                iccid: r.iccid.clone(),
                provider_ref: r.provider_ref,
                sku: r.provider_sku,
            },
            provider: r.provider,
            id: r.id,
            partner_id: r.partner_id,
            order_id: r.order_id,
            plan_id: r.plan_id,
            iccid: r.iccid,
            smdp_address: r.smdp_address,
            activation_code: r.activation_code,
            data_total_mb: r.data_total_mb,
            data_used_mb: r.data_used_mb,
            status: r.status,
            activated_at: r.activated_at,
            expires_at: r.expires_at,
            created_at: r.created_at,
            qr_token: r.qr_token,
            usage_updated_at: r.usage_updated_at,
            topups: r.topups,
            mode: r.mode,
        })
        .collect())
}

/// The eSIMs of one of an account's orders.
pub async fn for_order(
    conn: &mut PgConnection,
    account: Account,
    order: OrderId,
) -> Result<Vec<EsimRecord>, sqlx::Error> {
    select(conn, account, Some(order), None).await
}

/// One of an account's eSIMs, on `conn`; `None` if it does not exist or belongs to
/// another partner or mode.
pub async fn select_one(
    conn: &mut PgConnection,
    account: Account,
    id: EsimId,
) -> Result<Option<EsimRecord>, sqlx::Error> {
    Ok(select(conn, account, None, Some(id)).await?.pop())
}

/// The ids of the top-up orders placed on an eSIM, oldest first (failed ones included:
/// the order history says how each ended).
pub async fn topup_orders(db: &PgPool, record: &EsimRecord) -> Result<Vec<OrderId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id: OrderId" from orders
           where esim_id = $1 and partner_id = $2 and mode = $3
           order by created_at, id"#,
        record.id as EsimId,
        record.partner_id as PartnerId,
        record.mode as Mode,
    )
    .fetch_all(db)
    .await
}

/// One of an account's eSIMs; `None` if it does not exist or belongs to another partner
/// or mode.
pub async fn find(
    db: &PgPool,
    account: Account,
    id: EsimId,
) -> Result<Option<EsimRecord>, sqlx::Error> {
    let mut conn = db.acquire().await?;
    Ok(select(&mut conn, account, None, Some(id)).await?.pop())
}

/// How long a status request waits for the provider before answering from our records.
pub const USAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Most eSIMs whose last usage read is remembered; beyond it the oldest are forgotten
/// (and may be read again before their time is up).
const USAGE_CACHE_CAPACITY: u64 = 100_000;

/// The eSIMs whose usage this process asked of their upstream within the last
/// `TAVARO_USAGE_TTL_SECS`: a status request for one of them is answered from our records
/// (which hold what that read returned) without asking again. A cache only, per process:
/// with several servers an eSIM is read at most once per TTL by each. A TTL of zero asks
/// on every request. The simulator's eSIMs are not cached: it reads our own database.
#[derive(Clone)]
pub struct UsageCache {
    recent: Option<Cache<EsimId, ()>>,
}

impl UsageCache {
    /// A cache that remembers a read for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            recent: (!ttl.is_zero()).then(|| {
                Cache::builder()
                    .max_capacity(USAGE_CACHE_CAPACITY)
                    .time_to_live(ttl)
                    .build()
            }),
        }
    }

    /// Claims the read of `id`'s usage: `true` (and the eSIM remembered as read now) when
    /// it was not read within the TTL. One claim per TTL, however many requests race.
    async fn claim(&self, id: EsimId) -> bool {
        match &self.recent {
            Some(recent) => recent.entry(id).or_insert(()).await.is_fresh(),
            None => true,
        }
    }

    /// Gives a claim back: the read never reached the provider.
    async fn release(&self, id: EsimId) {
        if let Some(recent) = &self.recent {
            recent.invalidate(&id).await;
        }
    }
}

/// The eSIM with its provider's live usage, recorded, when its usage was not read within
/// the TTL ([`UsageCache`]) and the provider answers within [`USAGE_TIMEOUT`]; our last
/// known state otherwise. The read never waits for the provider's rate budget: when no
/// token is free (the reads' share is spent) the eSIM is answered from our records, and
/// orders keep their share.
pub async fn refresh(
    db: &PgPool,
    providers: &Registry,
    cache: &UsageCache,
    record: EsimRecord,
) -> Result<EsimRecord, sqlx::Error> {
    let Some(provider) = providers.get(&record.provider) else {
        tracing::warn!(provider = %record.provider, "eSIM issued by an unconfigured provider; answering from records");
        return Ok(record);
    };
    // The simulator answers from our own database: no upstream budget to spare, and a
    // test (or sandbox) usage change must show at once.
    let cached = record.provider != SIMULATOR;
    if cached && !cache.claim(record.id).await {
        return Ok(record);
    }
    let usage = crate::provider::timed(
        provider.name(),
        "usage",
        USAGE_TIMEOUT,
        provider.usage_now(&record.provider_ref),
    )
    .await;
    match usage {
        Ok(usage) => apply_usage(db, record, usage).await,
        Err(e) => {
            if cached && matches!(e, ProviderError::RateLimited { .. }) {
                // Refused before (or by) the upstream: the next request may try again.
                cache.release(record.id).await;
            }
            tracing::warn!(error = %e, esim_id = %record.id, "usage refresh failed; answering from records");
            Ok(record)
        }
    }
}

/// The status an eSIM stored as `stored` takes from a usage report of `reported`: the
/// report's, unless either is a cancellation (ours to settle with its refund).
fn settled_status(stored: EsimStatus, reported: EsimStatus) -> EsimStatus {
    if stored.follows_usage() && reported.follows_usage() {
        reported
    } else {
        stored
    }
}

/// Records the provider's latest usage report on an eSIM and returns the updated record:
/// its figures, and the time they were read. A cancellation (pending or done) is not a
/// usage read's to undo: such an eSIM keeps its status, and takes the figures only.
///
/// In the same transaction, the events the change tells the partner of: `esim.activated`
/// (first use), `esim.depleted`, `esim.expired` (each as the status becomes it) and
/// `esim.low_data` (80 % of the allowance used, once per allowance).
pub async fn apply_usage(
    db: &PgPool,
    mut record: EsimRecord,
    mut usage: EsimUsage,
) -> Result<EsimRecord, sqlx::Error> {
    // Some upstreams report dates only sometimes: a missing date never erases a known one.
    usage.activated_at = usage.activated_at.or(record.activated_at);
    usage.expires_at = usage.expires_at.or(record.expires_at);
    // Cancellation is settled by us with its refund, never by a usage read: a provider
    // reporting a cancelled eSIM leaves the status to the cancellation's settlement. The
    // status to store is decided again on the locked row below; `record` may be stale (a
    // cancellation settled since it was read), and its status must not be written back.
    let reported = usage.status;
    usage.status = settled_status(record.status, reported);
    // The upstream's allowance counts every top-up; ours only when it does not say.
    let total = match (usage.data_total_mb, record.data_total_mb) {
        (Some(total), Some(_)) => i32::try_from(total).ok().or(record.data_total_mb),
        (_, ours) => ours,
    };
    let unchanged = (
        record.status,
        record.data_used_mb,
        record.activated_at,
        record.expires_at,
        record.data_total_mb,
    ) == (
        usage.status,
        usage.data_used_mb,
        usage.activated_at,
        usage.expires_at,
        total,
    );
    // The same figures read again within a second (the simulator is read on every
    // request) are not worth a write.
    let fresh = record
        .usage_updated_at
        .is_some_and(|at| Utc::now() - at < chrono::TimeDelta::seconds(1));
    if unchanged && fresh {
        return Ok(record);
    }
    let mut tx = db.begin().await?;
    // Locked and read again: the events below compare with what is stored, and two reads
    // of one eSIM at once tell each change once (the second finds it made).
    let Some(before) = sqlx::query!(
        r#"select status as "status: EsimStatus", data_used_mb, activated_at,
                  low_data_notified_total_mb, mode as "mode: Mode"
             from esims where id = $1 and partner_id = $2 for update"#,
        record.id as EsimId,
        record.partner_id as PartnerId,
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(record);
    };
    let status = settled_status(before.status, reported);
    let was = Reading {
        status: before.status,
        used_mb: before.data_used_mb,
        activated: before.activated_at.is_some(),
    };
    let now = Reading {
        status,
        used_mb: usage.data_used_mb,
        activated: usage.activated_at.is_some(),
    };
    let low_data = low_data(
        status,
        usage.data_used_mb,
        total,
        before.low_data_notified_total_mb,
    );
    let row = sqlx::query!(
        r#"update esims set status = $2, data_used_mb = $3, activated_at = $4, expires_at = $5,
                            data_total_mb = $7,
                            low_data_notified_total_mb = case when $8 then $7
                                                              else low_data_notified_total_mb end,
                            usage_updated_at = now(), updated_at = now()
           where id = $1 and partner_id = $6
           returning status as "status: EsimStatus", usage_updated_at"#,
        record.id as EsimId,
        status.as_str(),
        usage.data_used_mb,
        usage.activated_at,
        usage.expires_at,
        record.partner_id as PartnerId,
        total,
        low_data,
    )
    .fetch_one(&mut *tx)
    .await?;
    let account = Account {
        partner: record.partner_id,
        mode: before.mode,
    };
    let mut events = changes(was, now);
    if low_data {
        events.push(EventType::EsimLowData);
    }
    for event in events {
        webhooks::emit(&mut tx, account, event, Subject::Esim(record.id)).await?;
    }
    tx.commit().await?;
    record.status = row.status;
    record.usage_updated_at = row.usage_updated_at;
    record.data_used_mb = usage.data_used_mb;
    record.activated_at = usage.activated_at;
    record.expires_at = usage.expires_at;
    record.data_total_mb = total;
    Ok(record)
}

/// What an eSIM's record says of its use, before or after a usage read.
#[derive(Clone, Copy, Debug)]
struct Reading {
    status: EsimStatus,
    used_mb: i64,
    activated: bool,
}

impl Reading {
    /// Whether the eSIM has been used: it is active or depleted, data was used, or the
    /// provider gave a first-use date.
    fn used(self) -> bool {
        matches!(self.status, EsimStatus::Active | EsimStatus::Depleted)
            || self.used_mb > 0
            || self.activated
    }
}

/// The events a usage read that moved an eSIM from `was` to `now` tells: its first use
/// (`esim.activated`, once: after it the eSIM counts as used), and its becoming depleted
/// or expired.
fn changes(was: Reading, now: Reading) -> Vec<EventType> {
    let mut events = Vec::new();
    if !was.used() && now.used() && now.status.follows_usage() {
        events.push(EventType::EsimActivated);
    }
    if was.status != now.status {
        match now.status {
            EsimStatus::Depleted => events.push(EventType::EsimDepleted),
            EsimStatus::Expired => events.push(EventType::EsimExpired),
            _ => {}
        }
    }
    events
}

/// Whether a read leaving an eSIM in `status` with `used_mb` of `total_mb` tells
/// `esim.low_data`: 80 % of the allowance used, on an eSIM in use, not told yet for this
/// allowance (`notified_total_mb`: the allowance it was told for; a top-up raises the
/// allowance, and 80 % of the new one is told again).
fn low_data(
    status: EsimStatus,
    used_mb: i64,
    total_mb: Option<i32>,
    notified_total_mb: Option<i32>,
) -> bool {
    let Some(total) = total_mb.filter(|t| *t > 0) else {
        return false;
    };
    matches!(status, EsimStatus::Active | EsimStatus::Depleted)
        && used_mb * 5 >= i64::from(total) * 4
        && notified_total_mb.is_none_or(|told| told < total)
}

/// Why a sandbox simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The simulator refused (an eSIM it never issued).
    #[error(transparent)]
    Simulator(#[from] anyhow::Error),
}

/// What a sandbox simulation does to an eSIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simulation {
    /// The traveller used this many MB (the first use activates the eSIM; use stops at
    /// its allowance: `DEPLETED`).
    Usage(i64),
    /// Its validity ends now: `EXPIRED`.
    Expiry,
}

/// Moves a sandbox eSIM on as if its traveller used data or its validity ended, through
/// the simulator that issued it (every sandbox eSIM is the simulator's), and records the
/// result on the eSIM. Data used on an expired eSIM changes nothing, as on a real one.
pub async fn simulate(
    db: &PgPool,
    record: EsimRecord,
    simulation: Simulation,
) -> Result<EsimRecord, SimulationError> {
    debug_assert_eq!(
        record.provider, SIMULATOR,
        "only the simulator's eSIMs are simulated"
    );
    let iccid = record.iccid.clone();
    let usage = match simulation {
        Simulation::Usage(_) if record.status == EsimStatus::Expired => return Ok(record),
        Simulation::Usage(mb) => crate::provider::simulator::record_usage(db, &iccid, mb).await?,
        Simulation::Expiry => crate::provider::simulator::expire(db, &iccid).await?,
    };
    Ok(apply_usage(db, record, usage).await?)
}

/// Finds an eSIM's ICCID from our id or from the ICCID itself (for operator commands).
pub async fn resolve_iccid(db: &PgPool, id_or_iccid: &str) -> anyhow::Result<String> {
    if let Ok(id) = uuid::Uuid::parse_str(id_or_iccid) {
        let iccid = sqlx::query_scalar!("select iccid from esims where id = $1", id)
            .fetch_optional(db)
            .await?;
        return iccid.ok_or_else(|| anyhow::anyhow!("no eSIM with id {id_or_iccid}"));
    }
    if crate::provider::normalize::iccid_is_valid(
        id_or_iccid,
        crate::provider::normalize::CheckDigit::Absent,
    ) {
        return Ok(id_or_iccid.to_owned());
    }
    anyhow::bail!("--esim `{id_or_iccid}` is neither an eSIM id nor an ICCID")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_links_percent_encode_what_would_change_the_link() {
        let base = "https://esimsetup.apple.com/esim_qrcode_provisioning";
        assert_eq!(
            install_url(base, "LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9"),
            format!("{base}?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9")
        );
        assert_eq!(
            install_url(base, "LPA:1$smdp.example$A&x=1#B C+D%"),
            format!("{base}?carddata=LPA:1$smdp.example$A%26x%3D1%23B%20C%2BD%25")
        );
    }
}
