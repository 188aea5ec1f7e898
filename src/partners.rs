//! Partner accounts: the travel platforms that hold keys and credits. Created and managed
//! by operators through the CLI.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ids::PartnerId;
use crate::money::Cents;

/// Channel notified when something servers hold about partners or keys changes (a key
/// created or revoked, a partner suspended or re-activated): every server reloads its key
/// directory and, unless only keys were added, drops its cached verifications. A lost
/// notification delays that by at most `auth::CHANGE_POLL_INTERVAL`: servers also watch
/// `api_key_changes`, which triggers keep current.
pub const KEYS_CHANNEL: &str = "tavaro_api_keys";

/// Whether a partner's keys may be used. Stored as its lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum PartnerStatus {
    /// Its keys work.
    Active,
    /// Suspended by an operator: its keys authenticate, every call answers 403.
    Suspended,
}

impl PartnerStatus {
    /// `active` or `suspended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

impl std::fmt::Display for PartnerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A partner account.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Partner {
    /// Partner id.
    pub id: PartnerId,
    /// Unique display name.
    pub name: String,
    /// Markup on net prices, in basis points (2000 = 20%).
    #[serde(skip)]
    pub markup_bps: i32,
    /// Active or suspended.
    pub status: PartnerStatus,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl Partner {
    /// The markup as a JSON number of percent (`20`, `12.5`), as the operator typed it.
    pub fn markup_percent(&self) -> serde_json::Value {
        if self.markup_bps % 100 == 0 {
            serde_json::Value::from(self.markup_bps / 100)
        } else {
            serde_json::Value::from(f64::from(self.markup_bps) / 100.0)
        }
    }
}

/// Parses a markup percentage (`20`, `12.5`, at most two decimals, 0 to 1000) into basis points.
pub fn parse_markup_percent(text: &str) -> anyhow::Result<i32> {
    let bps = Cents::parse_dollars(text)
        .map_err(|_| anyhow::anyhow!("--markup `{text}` is not a percentage like 20 or 12.5"))?
        .get();
    if bps > 100_000 {
        bail!("--markup {text} is above the 1000% maximum");
    }
    Ok(i32::try_from(bps)?)
}

/// Creates a partner with a zero balance.
pub async fn create(
    conn: &mut PgConnection,
    name: &str,
    markup_bps: i32,
) -> anyhow::Result<Partner> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        bail!("--name must be 1 to 100 characters");
    }
    if Uuid::parse_str(name).is_ok() {
        bail!("--name must not look like a partner id");
    }
    let id = PartnerId::new();
    let partner = sqlx::query_as!(
        Partner,
        r#"insert into partners (id, name, markup_bps)
           values ($1, $2, $3)
           returning id as "id: PartnerId", name, markup_bps, status as "status: PartnerStatus",
                     created_at"#,
        id as PartnerId,
        name,
        markup_bps,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            anyhow::anyhow!("a partner named `{name}` already exists")
        }
        _ => anyhow::Error::new(e).context("could not create the partner"),
    })?;
    sqlx::query!(
        "insert into balances (partner_id) values ($1)",
        id as PartnerId
    )
    .execute(&mut *conn)
    .await
    .context("could not open the partner's balance")?;
    Ok(partner)
}

/// A partner as listed for operators, with its balance and key count.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerSummary {
    /// The partner.
    #[serde(flatten)]
    pub partner: Partner,
    /// Markup in percent.
    pub markup: serde_json::Value,
    /// Current (live) balance.
    pub balance: Cents,
    /// Keys not revoked.
    pub active_keys: i64,
}

/// All partners, by name.
pub async fn list(db: &PgPool) -> anyhow::Result<Vec<PartnerSummary>> {
    let rows = sqlx::query!(
        r#"select p.id as "id: PartnerId", p.name, p.markup_bps,
                  p.status as "status: PartnerStatus", p.created_at,
                  coalesce(b.balance_cents, 0) as "balance_cents!",
                  (select count(*) from api_keys k
                    where k.partner_id = p.id and k.revoked_at is null) as "active_keys!"
           from partners p left join balances b on b.partner_id = p.id and b.mode = 'live'
           order by p.name"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let partner = Partner {
                id: r.id,
                name: r.name,
                markup_bps: r.markup_bps,
                status: r.status,
                created_at: r.created_at,
            };
            PartnerSummary {
                markup: partner.markup_percent(),
                partner,
                balance: Cents::new(r.balance_cents),
                active_keys: r.active_keys,
            }
        })
        .collect())
}

/// Finds a partner by id or by its unique name (what `--partner` accepts).
pub async fn resolve(db: &PgPool, id_or_name: &str) -> anyhow::Result<Partner> {
    let by_id = Uuid::parse_str(id_or_name).ok();
    let partner = sqlx::query_as!(
        Partner,
        r#"select id as "id: PartnerId", name, markup_bps, status as "status: PartnerStatus",
                  created_at
           from partners where id = $1 or name = $2"#,
        by_id,
        id_or_name,
    )
    .fetch_optional(db)
    .await?;
    partner.with_context(|| format!("no partner with id or name `{id_or_name}`"))
}

/// Suspends (`active = false`) or re-activates a partner. Running servers drop their key
/// cache at once (NOTIFY at commit), or within a second should the notification be lost.
pub async fn set_active(db: &PgPool, partner: PartnerId, active: bool) -> anyhow::Result<()> {
    let status = if active {
        PartnerStatus::Active
    } else {
        PartnerStatus::Suspended
    };
    let mut tx = db.begin().await?;
    sqlx::query!(
        "update partners set status = $2 where id = $1",
        partner as PartnerId,
        status.as_str()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "select pg_notify($1, $2)",
        KEYS_CHANNEL,
        partner.to_string()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the live balance below which a partner counts in the low-balance gauge of
/// `/metrics` and is sent `balance.low` (zero: never): the threshold partners set with
/// `PUT /v1/balance/alert`.
pub async fn set_low_balance_threshold(
    db: &PgPool,
    partner: PartnerId,
    threshold: Cents,
) -> anyhow::Result<()> {
    let mut conn = db.acquire().await?;
    crate::ledger::set_low_balance_threshold(
        &mut conn,
        crate::mode::Account::live(partner),
        threshold,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_read_as_percent_with_two_decimals() {
        assert_eq!(parse_markup_percent("20").unwrap(), 2000);
        assert_eq!(parse_markup_percent("12.5").unwrap(), 1250);
        assert_eq!(parse_markup_percent("0").unwrap(), 0);
        assert!(parse_markup_percent("-5").is_err());
        assert!(parse_markup_percent("1000.01").is_err());
        assert!(parse_markup_percent("abc").is_err());
    }
}
