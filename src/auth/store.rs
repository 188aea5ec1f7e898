//! Creating, listing and revoking keys: operator actions, run from the CLI.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::key;
use crate::ids::{ApiKeyId, PartnerId};
use crate::ledger;
use crate::mode::Mode;
use crate::partners::KEYS_CHANNEL;
use crate::secret::Secret;

/// A key just created. `token` is the only copy of the secret that will ever exist.
#[derive(Debug)]
pub struct CreatedKey {
    /// Key id (used to revoke it).
    pub id: ApiKeyId,
    /// Owning partner.
    pub partner_id: PartnerId,
    /// Operator's label.
    pub label: String,
    /// Live or sandbox.
    pub mode: Mode,
    /// The full key, to hand to the partner once.
    pub token: Secret<String>,
}

/// A key as operators see it later: never the secret.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Key id.
    pub id: ApiKeyId,
    /// Owning partner.
    pub partner_id: PartnerId,
    /// Operator's label (`Production`, `Staging`).
    pub label: String,
    /// Live or sandbox.
    pub mode: Mode,
    /// The non-secret beginning of the key, to recognise it: `tvr_<lookup id>_…`
    /// (`tvr_test_<lookup id>_…` for a sandbox key).
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful verification (updated at most once per cache TTL).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An `api_keys` row as listed: everything but the hash.
struct KeyRow {
    id: ApiKeyId,
    partner_id: PartnerId,
    label: String,
    mode: Mode,
    lookup_id: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for KeyInfo {
    fn from(r: KeyRow) -> Self {
        Self {
            id: r.id,
            partner_id: r.partner_id,
            label: r.label,
            mode: r.mode,
            prefix: format!("{}{}_…", key::prefix_of(r.mode), r.lookup_id),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// Creates a live key for a partner (argon2 runs here, on the blocking pool) and tells
/// every running server (NOTIFY, delivered at commit), so the key works everywhere at once.
pub async fn create_key(
    db: &PgPool,
    partner: PartnerId,
    label: &str,
) -> anyhow::Result<CreatedKey> {
    create_key_in(db, partner, label, Mode::Live).await
}

/// [`create_key`] for a key of `mode`. The partner's first sandbox key opens its sandbox
/// account, with its opening credits, in the same transaction.
pub async fn create_key_in(
    db: &PgPool,
    partner: PartnerId,
    label: &str,
    mode: Mode,
) -> anyhow::Result<CreatedKey> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        anyhow::bail!("--label must be 1 to 100 characters");
    }
    let generated = tokio::task::spawn_blocking(move || key::generate_in(mode)).await?;
    let id = ApiKeyId::new();
    let mut tx = db.begin().await?;
    sqlx::query!(
        "insert into api_keys (id, partner_id, label, lookup_id, secret_hash, fast_verifier, mode)
         values ($1, $2, $3, $4, $5, $6, $7)",
        id as ApiKeyId,
        partner as PartnerId,
        label,
        generated.lookup_id,
        generated.secret_hash,
        &generated.fast_verifier[..],
        mode as Mode,
    )
    .execute(&mut *tx)
    .await
    .context("could not store the key")?;
    if mode == Mode::Sandbox {
        ledger::open_sandbox(&mut tx, partner)
            .await
            .context("could not open the sandbox account")?;
    }
    notify_servers(&mut tx, id).await?;
    tx.commit().await.context("could not store the key")?;
    Ok(CreatedKey {
        id,
        partner_id: partner,
        label: label.to_owned(),
        mode,
        token: generated.token,
    })
}

/// A partner's keys, newest first.
pub async fn list_keys(db: &PgPool, partner: PartnerId) -> anyhow::Result<Vec<KeyInfo>> {
    let rows = sqlx::query_as!(
        KeyRow,
        r#"select id as "id: ApiKeyId", partner_id as "partner_id: PartnerId", label,
                  mode as "mode: Mode", lookup_id, created_at, last_used_at, revoked_at
           from api_keys where partner_id = $1
           order by created_at desc, id"#,
        partner as PartnerId
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(KeyInfo::from).collect())
}

/// Revokes a key, by id, by the lookup id shown in its prefix, or by the whole key (a
/// leaked key pasted as found), and tells every running server (NOTIFY, delivered at
/// commit) to drop its cached verifications. Revoking a revoked key is an error, so the
/// operator notices a typo. Errors never repeat a reference that may hold a secret.
pub async fn revoke_key(db: &PgPool, key_ref: &str) -> anyhow::Result<KeyInfo> {
    let key_ref = key_ref.trim();
    let by_id = Uuid::parse_str(key_ref).ok();
    let lookup = match key::parse(key_ref) {
        Some(parsed) => parsed.lookup_id,
        None => lookup_part(key_ref),
    };
    let mut tx = db.begin().await?;
    let row = sqlx::query!(
        r#"select id as "id: ApiKeyId", revoked_at from api_keys
           where id = $1 or lookup_id = $2 for update"#,
        by_id,
        lookup,
    )
    .fetch_optional(&mut *tx)
    .await?
    .with_context(|| format!("no API key matches {}", printable_ref(key_ref)))?;
    if row.revoked_at.is_some() {
        anyhow::bail!("API key {} is already revoked", row.id);
    }
    let revoked = sqlx::query_as!(
        KeyRow,
        r#"update api_keys set revoked_at = now() where id = $1
           returning id as "id: ApiKeyId", partner_id as "partner_id: PartnerId", label,
                     mode as "mode: Mode", lookup_id, created_at, last_used_at, revoked_at"#,
        row.id as ApiKeyId
    )
    .fetch_one(&mut *tx)
    .await?;
    notify_servers(&mut tx, revoked.id).await?;
    tx.commit().await?;
    Ok(revoked.into())
}

/// Tells every running server, at commit, that a key changed: they reload their key
/// directory and, for a revocation, drop their cached verifications. Should the
/// notification be lost, their once-a-second check of `api_key_changes` sees the change.
async fn notify_servers(conn: &mut PgConnection, key: ApiKeyId) -> anyhow::Result<()> {
    sqlx::query!("select pg_notify($1, $2)", KEYS_CHANNEL, key.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The lookup id in a key reference shown by `key list` (`tvr_<lookup id>_…`,
/// `tvr_test_<lookup id>_…`) or given bare.
fn lookup_part(key_ref: &str) -> &str {
    key_ref
        .strip_prefix(key::SANDBOX_PREFIX)
        .or_else(|| key_ref.strip_prefix(key::PREFIX))
        .unwrap_or(key_ref)
        .trim_end_matches('…')
        .trim_end_matches('_')
}

/// How an error names what the operator passed to `key revoke`: a key id or a lookup id
/// (`tvr_<lookup id>_…`) as given, anything else (a pasted key, a typo of one, a stray
/// argument that may be a secret) by its length alone.
fn printable_ref(key_ref: &str) -> String {
    let lookup_id = lookup_part(key_ref);
    let looks_like_lookup_id = (1..=key::LOOKUP_LEN).contains(&lookup_id.len())
        && lookup_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if Uuid::parse_str(key_ref).is_ok() || looks_like_lookup_id {
        format!("`{key_ref}`")
    } else {
        format!(
            "the {}-character argument (not shown: it may be a secret key)",
            key_ref.chars().count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_and_lookup_ids_are_printed_back() {
        let key = key::generate();
        let token = key.token.expose();
        for shown in [
            "0b9a3f0e-7d43-4c1f-9a4e-2f4f4a1e8b7c",
            "AbC123xyz789",
            "tvr_AbC123xyz789_…",
            "tvr_AbC123xyz789_",
            "tvr_test_AbC123xyz789_…",
        ] {
            assert_eq!(printable_ref(shown), format!("`{shown}`"));
        }
        let typo = format!("{}x", &token[..token.len() - 1]);
        for hidden in [token.as_str(), &typo, &token[4..], "sk_live_0123456789"] {
            let printed = printable_ref(hidden);
            assert!(!printed.contains(&hidden[hidden.len() / 2..]), "{printed}");
        }
    }
}
