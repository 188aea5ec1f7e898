//! Events: every state change a partner can be told of writes its event (and one
//! delivery per subscribed endpoint of its mode) in the change's own transaction, in live
//! and sandbox mode; a change that does not happen (a 402, a second cancel, a late
//! settlement) writes none. Asserted on the `events` table, whatever delivers them.

mod balance;
mod callbacks;
mod cancel;
mod esims;
mod orders;

use sqlx::PgPool;
use tavaro::ids::PartnerId;
use tavaro::mode::Mode;

use crate::helpers::{TestApp, TestPartner};

/// One event row as the assertions read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Told {
    /// `order.completed`, ...
    pub kind: String,
    /// `live` or `sandbox`.
    pub mode: String,
    /// The order's or eSIM's id; `None` for the balance.
    pub subject: Option<String>,
}

/// `Told` of type `kind`, in `mode`, about `subject`.
pub fn told(kind: &str, mode: &str, subject: Option<&str>) -> Told {
    Told {
        kind: kind.to_owned(),
        mode: mode.to_owned(),
        subject: subject.map(str::to_owned),
    }
}

/// Every event of the partner, oldest first (ties in one statement by type, then subject).
pub async fn events(db: &PgPool, partner: PartnerId) -> Vec<Told> {
    let rows: Vec<(String, String, Option<String>, String, uuid::Uuid)> = sqlx::query_as(
        "select type, mode, subject_id, subject_kind, partner_id from events
          where partner_id = $1 order by created_at, type, subject_id",
    )
    .bind(partner.0)
    .fetch_all(db)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(kind, mode, subject, subject_kind, owner)| {
            assert_eq!(owner, partner.0);
            let expected_kind = match kind.split('.').next().unwrap() {
                "order" | "topup" => "order",
                "esim" | "refund" => "esim",
                "balance" => "balance",
                other => panic!("unexpected event type {other}"),
            };
            assert_eq!(subject_kind, expected_kind, "{kind}");
            Told {
                kind,
                mode,
                subject,
            }
        })
        .collect()
}

/// The partner's events of type `kind`.
pub async fn events_of(db: &PgPool, partner: PartnerId, kind: &str) -> Vec<Told> {
    events(db, partner)
        .await
        .into_iter()
        .filter(|t| t.kind == kind)
        .collect()
}

/// A partner's sandbox key, which the server knows when this returns.
pub async fn sandbox_key(app: &TestApp, partner: &TestPartner) -> String {
    let key = tavaro::auth::create_key_in(&app.db, partner.id, "Sandbox", Mode::Sandbox)
        .await
        .unwrap();
    app.sync_keys().await;
    key.token.expose().clone()
}

/// An enabled endpoint of the partner in `mode`, subscribed to `events` (`None`: all),
/// written straight to its table: the endpoints API is not what these tests are about.
pub async fn endpoint(
    db: &PgPool,
    partner: PartnerId,
    mode: &str,
    events: Option<&[&str]>,
) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "insert into webhook_endpoints (id, partner_id, mode, url, events)
         values ($1, $2, $3, 'https://hooks.example.com/tavaro', $4)",
    )
    .bind(id)
    .bind(partner.0)
    .bind(mode)
    .bind(events.map(|e| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()))
    .execute(db)
    .await
    .unwrap();
    id
}

/// The types of the events with a delivery to `endpoint`, sorted.
pub async fn delivered_to(db: &PgPool, endpoint: uuid::Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "select e.type from webhook_deliveries d join events e on e.id = d.event_id
          where d.endpoint_id = $1 and d.status = 'pending' order by e.type",
    )
    .bind(endpoint)
    .fetch_all(db)
    .await
    .unwrap()
}
