//! A partner's webhook endpoints (per mode), their signing secrets, their deliveries and
//! the partner's events: what the endpoints API reads and writes. Every query filters by
//! the account (partner and mode): another partner's endpoint, or one of the other mode,
//! is simply not found.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::signing::{SECRET_PREFIX, new_secret};
use super::{EventType, Subject, new_event_id};
use crate::mode::Account;
use crate::secret::Secret;

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_HOURS: i32 = 24;

/// How far back `GET /v1/events` reaches.
pub const EVENT_RETENTION_DAYS: i32 = 30;

/// Whether an endpoint receives deliveries.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum EndpointStatus {
    /// Deliveries are sent.
    Enabled,
    /// No delivery is sent (by the partner's choice, or after five days of failures);
    /// pending ones wait until it is enabled again.
    Disabled,
}

/// A webhook endpoint as stored.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Its id (`webhookId`).
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types it receives; `None`: all.
    pub events: Option<Vec<String>>,
    /// The partner's note.
    pub description: Option<String>,
    /// Enabled or disabled.
    pub status: EndpointStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The state of one delivery of an event to an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet answered with a 2xx; an attempt is due at `nextAttemptAt`.
    Pending,
    /// An attempt was answered with a 2xx.
    Succeeded,
    /// Every attempt of the schedule failed.
    Failed,
}

/// One delivery as stored.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Its id (`deliveryId`).
    pub id: Uuid,
    /// The event delivered.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// The status the last attempt was answered with, if any answer came.
    pub last_response_status: Option<i32>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: DateTime<Utc>,
    /// When the event was fanned out to the endpoint.
    pub created_at: DateTime<Utc>,
}

/// One event as stored.
#[derive(Clone, Debug)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// Its type (`order.completed`).
    pub kind: String,
    /// Live or sandbox (`live`, `sandbox`).
    pub mode: String,
    /// When the change it reports was committed.
    pub created_at: DateTime<Utc>,
    /// What it is about, as stored.
    pub subject_kind: String,
    /// The subject's id, as stored.
    pub subject_id: Option<String>,
    /// The body's `data`, once rendered.
    pub payload: Option<Value>,
}

impl Event {
    /// What the event is about.
    pub fn subject(&self) -> Option<Subject> {
        Subject::from_stored(&self.subject_kind, self.subject_id.as_deref())
    }
}

/// Where a page of a list starts: after this item (newest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The last item's creation time.
    pub created_at: DateTime<Utc>,
    /// The last item's id.
    pub id: String,
}

/// A change to an endpoint (`PATCH`): `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    /// A new URL (already checked).
    pub url: Option<String>,
    /// New event types (`Some(None)`: all).
    pub events: Option<Option<Vec<String>>>,
    /// A new note (`Some(None)`: none).
    pub description: Option<Option<String>>,
    /// Enable or disable.
    pub status: Option<EndpointStatus>,
}

/// Creates an endpoint with its first secret; returns it and the secret (shown once).
pub async fn create(
    db: &PgPool,
    account: Account,
    url: &str,
    events: Option<&[String]>,
    description: Option<&str>,
) -> Result<(Endpoint, Secret<String>), sqlx::Error> {
    let mut tx = db.begin().await?;
    let endpoint = sqlx::query_as!(
        Endpoint,
        r#"insert into webhook_endpoints (id, partner_id, mode, url, events, description)
           values ($1, $2, $3, $4, $5, $6)
           returning id, url, events, description, status as "status: EndpointStatus", created_at"#,
        Uuid::new_v4(),
        account.partner.0,
        account.mode.as_str(),
        url,
        events as Option<&[String]>,
        description,
    )
    .fetch_one(&mut *tx)
    .await?;
    let secret = add_secret(&mut tx, account, endpoint.id).await?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

/// Stores a new current secret for `endpoint`.
async fn add_secret(
    conn: &mut PgConnection,
    account: Account,
    endpoint: Uuid,
) -> Result<Secret<String>, sqlx::Error> {
    let secret = new_secret();
    let encoded = secret
        .expose()
        .strip_prefix(SECRET_PREFIX)
        .expect("new secrets carry the prefix");
    sqlx::query!(
        "insert into webhook_secrets (partner_id, endpoint_id, secret) values ($1, $2, $3)",
        account.partner.0,
        endpoint,
        encoded,
    )
    .execute(&mut *conn)
    .await?;
    Ok(secret)
}

/// The account's endpoints, oldest first.
pub async fn list(db: &PgPool, account: Account) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as!(
        Endpoint,
        r#"select id, url, events, description, status as "status: EndpointStatus", created_at
             from webhook_endpoints where partner_id = $1 and mode = $2
            order by created_at, id"#,
        account.partner.0,
        account.mode.as_str(),
    )
    .fetch_all(db)
    .await
}

/// One of the account's endpoints.
pub async fn find(
    db: &PgPool,
    account: Account,
    id: Uuid,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as!(
        Endpoint,
        r#"select id, url, events, description, status as "status: EndpointStatus", created_at
             from webhook_endpoints where id = $1 and partner_id = $2 and mode = $3"#,
        id,
        account.partner.0,
        account.mode.as_str(),
    )
    .fetch_optional(db)
    .await
}

/// Applies `patch` to one of the account's endpoints; `None` if it has no such endpoint.
/// Enabling an endpoint forgets its failures (the five days start again).
pub async fn update(
    db: &PgPool,
    account: Account,
    id: Uuid,
    patch: &EndpointPatch,
) -> Result<Option<Endpoint>, sqlx::Error> {
    let (set_events, events) = match &patch.events {
        Some(events) => (true, events.clone()),
        None => (false, None),
    };
    let (set_description, description) = match &patch.description {
        Some(description) => (true, description.clone()),
        None => (false, None),
    };
    sqlx::query_as!(
        Endpoint,
        r#"update webhook_endpoints set
               url = coalesce($4, url),
               events = case when $5 then $6 else events end,
               description = case when $7 then $8 else description end,
               status = coalesce($9, status),
               failing_since = case when $9 = 'enabled' then null else failing_since end,
               updated_at = now()
             where id = $1 and partner_id = $2 and mode = $3
         returning id, url, events, description, status as "status: EndpointStatus", created_at"#,
        id,
        account.partner.0,
        account.mode.as_str(),
        patch.url,
        set_events,
        events as Option<Vec<String>>,
        set_description,
        description,
        patch.status.map(|s| match s {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }),
    )
    .fetch_optional(db)
    .await
}

/// Deletes one of the account's endpoints with its secrets and deliveries (its events
/// stay); whether it existed.
pub async fn delete(db: &PgPool, account: Account, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query!(
        "delete from webhook_endpoints where id = $1 and partner_id = $2 and mode = $3",
        id,
        account.partner.0,
        account.mode.as_str(),
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(deleted == 1)
}

/// Gives an endpoint a new secret; the current one keeps signing beside it for
/// [`ROTATION_OVERLAP_HOURS`]. Secrets past their time are dropped. `None` if the account
/// has no such endpoint.
pub async fn rotate_secret(
    db: &PgPool,
    account: Account,
    id: Uuid,
) -> Result<Option<(Endpoint, Secret<String>)>, sqlx::Error> {
    let mut tx = db.begin().await?;
    // The row lock orders concurrent rotations of one endpoint.
    let Some(endpoint) = sqlx::query_as!(
        Endpoint,
        r#"select id, url, events, description, status as "status: EndpointStatus", created_at
             from webhook_endpoints where id = $1 and partner_id = $2 and mode = $3
              for update"#,
        id,
        account.partner.0,
        account.mode.as_str(),
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    sqlx::query!(
        "delete from webhook_secrets where endpoint_id = $1 and expires_at <= now()",
        id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update webhook_secrets set expires_at = now() + make_interval(hours => $2)
          where endpoint_id = $1 and expires_at is null",
        id,
        ROTATION_OVERLAP_HOURS,
    )
    .execute(&mut *tx)
    .await?;
    let secret = add_secret(&mut tx, account, id).await?;
    tx.commit().await?;
    Ok(Some((endpoint, secret)))
}

/// Appends a `webhook.test` event about one of the account's endpoints and one delivery
/// of it, to that endpoint only; `None` if the account has no such endpoint (or it is
/// deleted meanwhile: the lock waits for the delete, then finds nothing).
pub async fn send_test(
    db: &PgPool,
    account: Account,
    id: Uuid,
) -> Result<Option<Delivery>, sqlx::Error> {
    let event = new_event_id();
    let subject = Subject::Webhook(id);
    sqlx::query_as!(
        Delivery,
        r#"with endpoint as (
               select id from webhook_endpoints where id = $1 and partner_id = $2 and mode = $3
                  for key share
           ), event as (
               insert into events (id, partner_id, mode, type, subject_kind, subject_id)
               select $4, $2, $3, $5, $6, $7 from endpoint
               returning id, type
           )
           insert into webhook_deliveries (event_id, endpoint_id)
           select event.id, endpoint.id from event, endpoint
           returning id, event_id, $5 as "event_type!", status as "status: DeliveryStatus",
                     attempts, last_response_status, next_attempt_at, created_at"#,
        id,
        account.partner.0,
        account.mode.as_str(),
        event,
        EventType::WebhookTest.as_str(),
        subject.kind(),
        subject.id(),
    )
    .fetch_optional(db)
    .await
}

/// A page of an endpoint's deliveries, newest first, after `after`; and whether more
/// follow.
pub async fn deliveries(
    db: &PgPool,
    account: Account,
    endpoint: Uuid,
    after: Option<&Cursor>,
    limit: u32,
) -> Result<(Vec<Delivery>, bool), sqlx::Error> {
    let (after_at, after_id) = match after {
        Some(c) => (Some(c.created_at), Uuid::parse_str(&c.id).ok()),
        None => (None, None),
    };
    let mut rows = sqlx::query_as!(
        Delivery,
        r#"select d.id, d.event_id, e.type as event_type, d.status as "status: DeliveryStatus",
                  d.attempts, d.last_response_status, d.next_attempt_at, d.created_at
             from webhook_deliveries d
             join webhook_endpoints w on w.id = d.endpoint_id
             join events e on e.id = d.event_id
            where d.endpoint_id = $1 and w.partner_id = $2 and w.mode = $3
              and ($4::timestamptz is null or (d.created_at, d.id) < ($4, $5))
            order by d.created_at desc, d.id desc
            limit $6"#,
        endpoint,
        account.partner.0,
        account.mode.as_str(),
        after_at,
        after_id,
        i64::from(limit) + 1,
    )
    .fetch_all(db)
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// Makes one of an endpoint's deliveries due now, whatever its state (a `failed` one gets
/// one more attempt; a `succeeded` one is sent again); `None` if there is no such
/// delivery for the account.
pub async fn retry(
    db: &PgPool,
    account: Account,
    endpoint: Uuid,
    delivery: Uuid,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as!(
        Delivery,
        r#"update webhook_deliveries d
              set status = 'pending', next_attempt_at = now(), updated_at = now()
             from webhook_endpoints w, events e
            where d.id = $1 and d.endpoint_id = $2 and w.id = d.endpoint_id
              and w.partner_id = $3 and w.mode = $4 and e.id = d.event_id
        returning d.id, d.event_id, e.type as event_type, d.status as "status: DeliveryStatus",
                  d.attempts, d.last_response_status, d.next_attempt_at, d.created_at"#,
        delivery,
        endpoint,
        account.partner.0,
        account.mode.as_str(),
    )
    .fetch_optional(db)
    .await
}

/// A page of the account's events of the last [`EVENT_RETENTION_DAYS`], newest first,
/// optionally of one type, after `after`; and whether more follow.
pub async fn events(
    db: &PgPool,
    account: Account,
    kind: Option<EventType>,
    after: Option<&Cursor>,
    limit: u32,
) -> Result<(Vec<Event>, bool), sqlx::Error> {
    let (after_at, after_id) = match after {
        Some(c) => (Some(c.created_at), Some(c.id.clone())),
        None => (None, None),
    };
    let mut rows = sqlx::query_as!(
        Event,
        r#"select id, type as kind, mode, created_at, subject_kind, subject_id, payload
             from events
            where partner_id = $1 and mode = $2
              and created_at > now() - make_interval(days => $3)
              and ($4::text is null or type = $4)
              and ($5::timestamptz is null or (created_at, id) < ($5, $6))
            order by created_at desc, id desc
            limit $7"#,
        account.partner.0,
        account.mode.as_str(),
        EVENT_RETENTION_DAYS,
        kind.map(EventType::as_str),
        after_at,
        after_id,
        i64::from(limit) + 1,
    )
    .fetch_all(db)
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
