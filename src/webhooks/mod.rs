//! Webhooks: what partners are told, and when. This module is the outbox's writing side:
//! [`emit`] appends an event, in the caller's transaction (the one that makes the change
//! it reports), and fans it out to one pending delivery per enabled endpoint of the
//! partner's mode subscribed to its type. No event without its change, no change without
//! its event: a rolled-back change (a 402, a lost race) leaves neither.
//!
//! The body's `data` (the object the API would return: an order, an eSIM, the balance) is
//! rendered by the delivery side on first dispatch, from the event's subject, and kept for
//! every attempt.
//!
//! The rest of the module is the endpoints' storage ([`endpoints`]), the URL rules and the
//! client that delivers within them ([`url`]), the Standard Webhooks signature
//! ([`signing`]) and the delivery queue ([`outbox`]). The worker that sends deliveries
//! lives in the HTTP layer, which renders bodies with the API's own views.

pub mod endpoints;
pub mod outbox;
pub mod signing;
pub mod url;

use std::time::Duration;

use sqlx::PgConnection;

use crate::mode::Account;

/// The delivery settings (`TAVARO_WEBHOOK_ALLOW_PRIVATE`, `TAVARO_WEBHOOK_RETRY_SCHEDULE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhooksConfig {
    /// Lifts the URL rules (`https` only, no loopback/private/link-local target), for
    /// local development: `make run` sets it.
    pub allow_private: bool,
    /// The pause before each retry; a delivery still failing after the last one is
    /// `failed`.
    pub retry_schedule: Vec<Duration>,
}

/// The documented schedule: retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_RETRY_SCHEDULE: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_schedule: DEFAULT_RETRY_SCHEDULE
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        }
    }
}

/// Parses `TAVARO_WEBHOOK_RETRY_SCHEDULE`: seconds, comma-separated (`5,300,1800`), at
/// least one, each at least 1.
pub fn parse_retry_schedule(raw: &str) -> Result<Vec<Duration>, String> {
    let mut schedule = Vec::new();
    for part in raw.split(',') {
        let secs: u64 = part
            .trim()
            .parse()
            .map_err(|_| format!("{part:?} is not a whole number of seconds"))?;
        if secs == 0 {
            return Err("each pause must be at least 1 second".to_owned());
        }
        schedule.push(Duration::from_secs(secs));
    }
    if schedule.len() > 50 {
        return Err("at most 50 retries".to_owned());
    }
    Ok(schedule)
}

/// Every event type partners can subscribe to (API.md "Webhooks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
pub enum EventType {
    /// An order of new eSIMs completed.
    #[serde(rename = "order.completed")]
    OrderCompleted,
    /// An order of new eSIMs failed (and was refunded).
    #[serde(rename = "order.failed")]
    OrderFailed,
    /// A top-up completed.
    #[serde(rename = "topup.completed")]
    TopupCompleted,
    /// A top-up failed (and was refunded).
    #[serde(rename = "topup.failed")]
    TopupFailed,
    /// An eSIM was used for the first time.
    #[serde(rename = "esim.activated")]
    EsimActivated,
    /// 80 % of an eSIM's allowance is used (once per allowance: again after a top-up).
    #[serde(rename = "esim.low_data")]
    EsimLowData,
    /// An eSIM's data is used up.
    #[serde(rename = "esim.depleted")]
    EsimDepleted,
    /// An eSIM expires within 24 h.
    #[serde(rename = "esim.expiring")]
    EsimExpiring,
    /// An eSIM's validity ended.
    #[serde(rename = "esim.expired")]
    EsimExpired,
    /// An eSIM was cancelled (and refunded).
    #[serde(rename = "esim.cancelled")]
    EsimCancelled,
    /// A refund was credited.
    #[serde(rename = "refund.completed")]
    RefundCompleted,
    /// A refund the provider reviewed was rejected.
    #[serde(rename = "refund.rejected")]
    RefundRejected,
    /// The balance fell below the partner's threshold (once per crossing).
    #[serde(rename = "balance.low")]
    BalanceLow,
    /// Sent on request, to check an endpoint.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    /// Every type, in API.md's order.
    pub const ALL: [Self; 14] = [
        Self::OrderCompleted,
        Self::OrderFailed,
        Self::TopupCompleted,
        Self::TopupFailed,
        Self::EsimActivated,
        Self::EsimLowData,
        Self::EsimDepleted,
        Self::EsimExpiring,
        Self::EsimExpired,
        Self::EsimCancelled,
        Self::RefundCompleted,
        Self::RefundRejected,
        Self::BalanceLow,
        Self::WebhookTest,
    ];

    /// The type's name (`order.completed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCompleted => "order.completed",
            Self::OrderFailed => "order.failed",
            Self::TopupCompleted => "topup.completed",
            Self::TopupFailed => "topup.failed",
            Self::EsimActivated => "esim.activated",
            Self::EsimLowData => "esim.low_data",
            Self::EsimDepleted => "esim.depleted",
            Self::EsimExpiring => "esim.expiring",
            Self::EsimExpired => "esim.expired",
            Self::EsimCancelled => "esim.cancelled",
            Self::RefundCompleted => "refund.completed",
            Self::RefundRejected => "refund.rejected",
            Self::BalanceLow => "balance.low",
            Self::WebhookTest => "webhook.test",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What an event is about: its body's `data` is this object as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// An order (or top-up), by id.
    Order(crate::ids::OrderId),
    /// An eSIM, by id.
    Esim(crate::ids::EsimId),
    /// The account's balance.
    Balance,
    /// One of the partner's endpoints (`webhook.test`, an endpoint disabled).
    Webhook(uuid::Uuid),
}

impl Subject {
    /// How the subject is stored (`subject_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Order(_) => "order",
            Self::Esim(_) => "esim",
            Self::Balance => "balance",
            Self::Webhook(_) => "webhook",
        }
    }

    /// The subject's id as stored (`subject_id`); none for the balance.
    pub fn id(&self) -> Option<String> {
        match self {
            Self::Order(id) => Some(id.to_string()),
            Self::Esim(id) => Some(id.to_string()),
            Self::Balance => None,
            Self::Webhook(id) => Some(id.to_string()),
        }
    }
}

impl Subject {
    /// The subject stored as `kind` and `id`; `None` when they name none (a row written
    /// by hand).
    pub fn from_stored(kind: &str, id: Option<&str>) -> Option<Self> {
        let uuid = || id.and_then(|id| uuid::Uuid::parse_str(id).ok());
        match kind {
            "order" => uuid().map(|u| Self::Order(crate::ids::OrderId(u))),
            "esim" => uuid().map(|u| Self::Esim(crate::ids::EsimId(u))),
            "balance" => Some(Self::Balance),
            "webhook" => uuid().map(Self::Webhook),
            _ => None,
        }
    }
}

/// A new event id: `evt_` and 32 hex digits.
pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// Appends an event to the outbox in the caller's transaction and fans it out to the
/// account's enabled endpoints subscribed to `kind`, in one statement. Returns its id.
///
/// The endpoints are read with the lock the deliveries' foreign key takes anyway: an
/// endpoint the partner is deleting meanwhile is waited for and, once gone, left out.
/// Read without it, the insert failed on the foreign key, and with it the caller's
/// transaction (an order's completion).
pub async fn emit(
    conn: &mut PgConnection,
    account: Account,
    kind: EventType,
    subject: Subject,
) -> Result<String, sqlx::Error> {
    let id = new_event_id();
    sqlx::query!(
        "with event as (
             insert into events (id, partner_id, mode, type, subject_kind, subject_id)
             values ($1, $2, $3, $4, $5, $6)
             returning id
         )
         insert into webhook_deliveries (event_id, endpoint_id)
         select (select id from event), w.id from webhook_endpoints w
          where w.partner_id = $2 and w.mode = $3 and w.status = 'enabled'
            and (w.events is null or $4 = any(w.events))
            for key share of w",
        id,
        account.partner.0,
        account.mode.as_str(),
        kind.as_str(),
        subject.kind(),
        subject.id(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
