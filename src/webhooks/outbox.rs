//! The delivery queue: claiming due deliveries (any number of workers on any number of
//! servers, `FOR UPDATE SKIP LOCKED` and a lease), storing an event's body on first
//! dispatch, and recording each attempt with what follows from it (success, the next
//! retry on the schedule, `failed`, an endpoint disabled after five days of failures).
//! Nothing here is held open while a partner's endpoint is called: a claim and a record
//! are each one short transaction.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::endpoints::{DeliveryStatus, Event};
use super::{EventType, Subject};
use crate::ids::PartnerId;
use crate::mode::{Account, Mode};
use crate::secret::Secret;

/// How long a claimed delivery is a worker's: beyond the 10 s request limit, so a lease
/// runs out only when its worker died (then the attempt is made again).
pub const LEASE: Duration = Duration::from_secs(60);

/// Failing this long, every attempt, disables an endpoint.
pub const DISABLE_AFTER_DAYS: i32 = 5;

/// The first bytes of an answer kept with its attempt.
pub const KEPT_RESPONSE_BYTES: usize = 1024;

/// One attempt a worker has claimed: what to send and where.
#[derive(Debug)]
pub struct Claimed {
    /// The delivery.
    pub delivery_id: Uuid,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// Its URL.
    pub url: String,
    /// The account the event belongs to.
    pub account: Account,
    /// The event.
    pub event: Event,
    /// The endpoint's valid secrets (`whsec_…`), newest first.
    pub secrets: Vec<Secret<String>>,
}

/// Claims up to `limit` due deliveries of enabled endpoints, oldest due first, skipping
/// those another worker holds; each is leased for [`LEASE`] and its attempt counted.
pub async fn claim(db: &PgPool, limit: u32) -> Result<Vec<Claimed>, sqlx::Error> {
    let leased = sqlx::query!(
        r#"with due as (
               select d.id from webhook_deliveries d
                 join webhook_endpoints w on w.id = d.endpoint_id
                where d.status = 'pending' and d.next_attempt_at <= now()
                  and (d.leased_until is null or d.leased_until < now())
                  and w.status = 'enabled'
                order by d.next_attempt_at
                limit $1
                  for update of d skip locked
           )
           update webhook_deliveries d
              set attempts = d.attempts + 1,
                  leased_until = now() + make_interval(secs => $2),
                  updated_at = now()
             from due where d.id = due.id
         returning d.id, d.attempts"#,
        i64::from(limit),
        LEASE.as_secs_f64(),
    )
    .fetch_all(db)
    .await?;
    if leased.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = leased.iter().map(|r| r.id).collect();
    let rows = sqlx::query!(
        r#"select d.id as delivery_id, d.endpoint_id, w.url, e.partner_id,
                  e.mode as "account_mode: Mode", e.id, e.type as kind, e.mode, e.created_at,
                  e.subject_kind, e.subject_id, e.payload
             from webhook_deliveries d
             join webhook_endpoints w on w.id = d.endpoint_id
             join events e on e.id = d.event_id
            where d.id = any($1)"#,
        &ids,
    )
    .fetch_all(db)
    .await?;
    let endpoints: Vec<Uuid> = rows.iter().map(|r| r.endpoint_id).collect();
    let secrets = sqlx::query!(
        "select endpoint_id, secret from webhook_secrets
          where endpoint_id = any($1) and (expires_at is null or expires_at > now())
          order by created_at desc, id desc",
        &endpoints,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let attempt = leased.iter().find(|l| l.id == r.delivery_id)?.attempts;
            Some(Claimed {
                delivery_id: r.delivery_id,
                attempt,
                endpoint_id: r.endpoint_id,
                url: r.url,
                account: Account {
                    partner: PartnerId(r.partner_id),
                    mode: r.account_mode,
                },
                secrets: secrets
                    .iter()
                    .filter(|s| s.endpoint_id == r.endpoint_id)
                    .map(|s| Secret::new(format!("{}{}", super::signing::SECRET_PREFIX, s.secret)))
                    .collect(),
                event: Event {
                    id: r.id,
                    kind: r.kind,
                    mode: r.mode,
                    created_at: r.created_at,
                    subject_kind: r.subject_kind,
                    subject_id: r.subject_id,
                    payload: r.payload,
                },
            })
        })
        .collect())
}

/// Stores `data` as the body of `event` unless one is stored already; returns the one
/// stored, which every attempt (on any server) sends.
///
/// Two statements, not one: when a delivery (or a listing) stores the body while this
/// update waits for the row, the update stores nothing, and a read in the same statement
/// would still see the row from before, without a body (that answered `GET /v1/events`
/// with a 500 under load). A statement of its own sees the body committed.
pub async fn store_payload(db: &PgPool, event: &str, data: &Value) -> Result<Value, sqlx::Error> {
    let stored: Option<Value> = sqlx::query_scalar(
        "update events set payload = $2 where id = $1 and payload is null returning payload",
    )
    .bind(event)
    .bind(data)
    .fetch_optional(db)
    .await?;
    if let Some(stored) = stored {
        return Ok(stored);
    }
    sqlx::query_scalar("select payload from events where id = $1 and payload is not null")
        .bind(event)
        .fetch_one(db)
        .await
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// The status answered, if an answer came.
    pub status: Option<u16>,
    /// From sending to the answer (or the failure).
    pub latency: Duration,
    /// The first [`KEPT_RESPONSE_BYTES`] of the answer's body.
    pub body: Option<String>,
    /// Why no acceptable answer came (time-out, refused connection, refused address).
    pub error: Option<String>,
}

impl AttemptOutcome {
    /// 2xx: delivered.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What recording an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The delivery's state now.
    pub status: DeliveryStatus,
    /// Whether the endpoint was disabled for failing five days.
    pub endpoint_disabled: bool,
}

/// Records one attempt and what follows: `succeeded`; or the next retry after
/// `schedule[attempt - 1]`; or `failed` past the end of the schedule. The endpoint's
/// failure streak is kept; an endpoint failing every attempt for [`DISABLE_AFTER_DAYS`]
/// is disabled and the partner told by a `webhook.test` event (about the disabled
/// endpoint: its `data` shows `status: disabled`) on its other endpoints. `None`: the
/// endpoint was deleted while the attempt was out, and its deliveries with it.
pub async fn record(
    db: &PgPool,
    claimed: &Claimed,
    outcome: &AttemptOutcome,
    schedule: &[Duration],
) -> Result<Option<Recorded>, sqlx::Error> {
    let succeeded = outcome.succeeded();
    let retry_after = schedule.get(claimed.attempt as usize - 1).copied();
    let status = match (succeeded, retry_after) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let mut tx = db.begin().await?;
    // The endpoint is locked first. A DELETE of the endpoint takes the endpoint, then its
    // deliveries (the cascade); taking the delivery first here, then the endpoint, made
    // the two wait on each other and Postgres abort one (the partner's DELETE answered 500).
    // The lock is also what orders a concurrent PATCH or record of the same endpoint.
    let Some(due) = sqlx::query_scalar!(
        r#"select coalesce(status = 'enabled'
                           and failing_since <= now() - make_interval(days => $2), false) as "due!"
             from webhook_endpoints where id = $1 for no key update"#,
        claimed.endpoint_id,
        DISABLE_AFTER_DAYS,
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        // Deleted while the attempt was out, its deliveries with it: nothing to record.
        return Ok(None);
    };
    sqlx::query!(
        "insert into webhook_attempts
             (partner_id, delivery_id, attempt, response_status, latency_ms, response_body, error)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (delivery_id, attempt) do nothing",
        claimed.account.partner.0,
        claimed.delivery_id,
        claimed.attempt,
        outcome.status.map(i32::from),
        i32::try_from(outcome.latency.as_millis()).unwrap_or(i32::MAX),
        outcome.body,
        outcome.error,
    )
    .execute(&mut *tx)
    .await?;
    // Only the attempt this worker claimed is settled here: had its lease run out and
    // another worker claimed the delivery again (a higher attempt count), this late
    // outcome is recorded above but decides nothing.
    sqlx::query!(
        "update webhook_deliveries set
             status = $3,
             next_attempt_at = case when $3 = 'pending'
                                    then now() + make_interval(secs => $4) else next_attempt_at end,
             leased_until = null,
             last_response_status = $5,
             last_error = $6,
             updated_at = now()
         where id = $1 and attempts = $2",
        claimed.delivery_id,
        claimed.attempt,
        match status {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        },
        retry_after.unwrap_or_default().as_secs_f64(),
        outcome.status.map(i32::from),
        outcome.error,
    )
    .execute(&mut *tx)
    .await?;
    let disabled = if succeeded {
        sqlx::query!(
            "update webhook_endpoints set failing_since = null
              where id = $1 and failing_since is not null",
            claimed.endpoint_id
        )
        .execute(&mut *tx)
        .await?;
        false
    } else {
        sqlx::query!(
            "update webhook_endpoints set
                 failing_since = coalesce(failing_since, now()),
                 status = case when $2 then 'disabled' else status end,
                 updated_at = case when $2 then now() else updated_at end
              where id = $1",
            claimed.endpoint_id,
            due,
        )
        .execute(&mut *tx)
        .await?;
        due
    };
    if disabled {
        tracing::warn!(endpoint = %claimed.endpoint_id, "webhook endpoint disabled after failing every attempt for 5 days");
        super::emit(
            &mut tx,
            claimed.account,
            EventType::WebhookTest,
            Subject::Webhook(claimed.endpoint_id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(Recorded {
        status,
        endpoint_disabled: disabled,
    }))
}

/// Pending deliveries of enabled endpoints, and the age of the oldest in seconds (0 when
/// none), for the metrics.
pub async fn backlog(db: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    let row = sqlx::query!(
        r#"select count(*) as "pending!",
                  coalesce(extract(epoch from now() - min(d.created_at))::float8, 0) as "oldest!"
             from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id
            where d.status = 'pending' and w.status = 'enabled'"#
    )
    .fetch_one(db)
    .await?;
    Ok((row.pending, row.oldest))
}
