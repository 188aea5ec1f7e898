//! Prepaid credits: one balance per partner and mode ([`Account`]) and an append-only
//! ledger of signed entries. A partner's sandbox account is its own ledger, opened with
//! [`SANDBOX_OPENING_CREDITS`] when its first sandbox key is created ([`open_sandbox`]),
//! and never mixed with live credits (the database's keys carry the mode).
//!
//! Invariant: an account's balance equals the sum of its entries and is never negative.
//! Every change goes through [`post`], which updates the balance with one conditional
//! `UPDATE` (row-locked, re-checked under READ COMMITTED, so concurrent debits can never
//! overdraw) and appends the entry, in the caller's transaction. The one exception is the
//! order debit (`orders::debit`), the hottest write we have: it makes the same `UPDATE`
//! and the same entry inside the single statement that places the order. The table refuses
//! UPDATE and DELETE (a trigger), and a unique index allows one debit and one refund per
//! order. [`verify`] checks all of this from the outside.

mod reader;
mod verify;

pub use reader::{BalanceReader, ReadError};
pub use verify::{Finding, Report, verify};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{EsimId, OrderId, PartnerId};
use crate::mode::{Account, Mode};
use crate::money::Cents;

/// What a partner's sandbox account opens with: 1000.00 USD of test credits.
pub const SANDBOX_OPENING_CREDITS: Cents = Cents::new(100_000);

// Stored as its snake_case name.
/// Why an entry was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[schema(as = TransactionKind, rename_all = "snake_case")]
pub enum EntryKind {
    /// Credits bought by the partner (positive).
    Topup,
    /// An order's cost (negative).
    OrderDebit,
    /// An order's cost given back (positive).
    Refund,
    /// An operator correction (either sign).
    Adjustment,
}

impl EntryKind {
    /// The name stored in the database and shown to partners.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Topup => "topup",
            Self::OrderDebit => "order_debit",
            Self::Refund => "refund",
            Self::Adjustment => "adjustment",
        }
    }
}

/// A committed (once the caller commits) ledger entry.
#[derive(Clone, Copy, Debug)]
pub struct Posting {
    /// The entry's id.
    pub entry_id: i64,
    /// The balance right after this entry.
    pub balance_after: Cents,
}

/// Why an entry could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A debit larger than the balance. Nothing was written.
    #[error("insufficient credits: balance {balance}, required {required}")]
    InsufficientCredits {
        /// The balance at the time of the attempt.
        balance: Cents,
        /// The amount asked for.
        required: Cents,
    },
    /// The account has no balance row (no such partner, or no sandbox opened).
    #[error("no credit account for this partner and mode")]
    NoAccount,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A new entry to post.
#[derive(Clone, Copy, Debug)]
pub struct NewEntry<'a> {
    /// The account whose balance moves.
    pub account: Account,
    /// Why.
    pub kind: EntryKind,
    /// Signed amount: negative debits, positive credits. Never zero.
    pub amount: Cents,
    /// The order a debit or refund belongs to.
    pub order: Option<OrderId>,
    /// The cancelled eSIM a refund is for (a refund of a whole failed order names none).
    pub esim: Option<EsimId>,
    /// Free text for operators.
    pub note: Option<&'a str>,
}

/// Moves the balance by `entry.amount` and appends the entry, in the caller's transaction.
/// A debit that would take the balance below zero writes nothing and fails with
/// [`LedgerError::InsufficientCredits`].
pub async fn post(conn: &mut PgConnection, entry: NewEntry<'_>) -> Result<Posting, LedgerError> {
    debug_assert_ne!(entry.amount, Cents::ZERO, "a ledger entry moves money");
    // One statement decides and applies: the row lock makes concurrent debits queue, and
    // READ COMMITTED re-evaluates the WHERE clause on the latest row version.
    let moved = sqlx::query!(
        r#"update balances
              set balance_cents = balance_cents + $2, updated_at = now()
            where partner_id = $1 and mode = $3 and balance_cents + $2 >= 0
        returning balance_cents, low_balance_threshold_cents"#,
        entry.account.partner as PartnerId,
        entry.amount.get(),
        entry.account.mode as Mode,
    )
    .fetch_optional(&mut *conn)
    .await?;

    let Some(moved) = moved else {
        let balance = sqlx::query_scalar!(
            "select balance_cents from balances where partner_id = $1 and mode = $2",
            entry.account.partner as PartnerId,
            entry.account.mode as Mode,
        )
        .fetch_optional(&mut *conn)
        .await?;
        return Err(match balance {
            Some(balance) => LedgerError::InsufficientCredits {
                balance: Cents::new(balance),
                required: Cents::new(-entry.amount.get()),
            },
            None => LedgerError::NoAccount,
        });
    };

    let balance_after = moved.balance_cents;
    if crosses_threshold(
        moved.low_balance_threshold_cents,
        balance_after - entry.amount.get(),
        balance_after,
    ) {
        crate::webhooks::emit(
            conn,
            entry.account,
            crate::webhooks::EventType::BalanceLow,
            crate::webhooks::Subject::Balance,
        )
        .await?;
    }

    let entry_id = sqlx::query_scalar!(
        r#"insert into ledger_entries
               (partner_id, kind, amount_cents, balance_after_cents, order_id, note, mode,
                esim_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           returning id"#,
        entry.account.partner as PartnerId,
        entry.kind.as_str(),
        entry.amount.get(),
        balance_after,
        entry.order as Option<OrderId>,
        entry.note,
        entry.account.mode as Mode,
        entry.esim as Option<EsimId>,
    )
    .fetch_one(&mut *conn)
    .await?;

    Ok(Posting {
        entry_id,
        balance_after: Cents::new(balance_after),
    })
}

/// Whether a move from `before` to `after` takes a balance below a low-balance
/// `threshold` (zero: none): the one move per crossing that sends `balance.low`. The
/// order debit's statement (`orders::debit`) tests the same in SQL.
fn crosses_threshold(threshold: i64, before: i64, after: i64) -> bool {
    threshold > 0 && before >= threshold && after < threshold
}

/// An account's low-balance threshold: below it, a debit sends `balance.low` (zero: never).
pub async fn low_balance_threshold(
    conn: &mut PgConnection,
    account: Account,
) -> Result<Cents, LedgerError> {
    let threshold = sqlx::query_scalar!(
        "select low_balance_threshold_cents from balances where partner_id = $1 and mode = $2",
        account.partner as PartnerId,
        account.mode as Mode,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(LedgerError::NoAccount)?;
    Ok(Cents::new(threshold))
}

/// Sets an account's low-balance threshold (zero turns `balance.low` off). Setting it
/// sends nothing, even when the balance is below it already: `balance.low` reports a
/// debit that crosses it.
pub async fn set_low_balance_threshold(
    conn: &mut PgConnection,
    account: Account,
    threshold: Cents,
) -> Result<(), LedgerError> {
    let set = sqlx::query!(
        "update balances set low_balance_threshold_cents = $3
          where partner_id = $1 and mode = $2",
        account.partner as PartnerId,
        account.mode as Mode,
        threshold.get(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if set == 0 {
        return Err(LedgerError::NoAccount);
    }
    Ok(())
}

/// Opens the partner's sandbox account with [`SANDBOX_OPENING_CREDITS`] (a `topup`
/// entry), in the caller's transaction; does nothing if it is open already. Returns
/// whether it opened it.
pub async fn open_sandbox(
    conn: &mut PgConnection,
    partner: PartnerId,
) -> Result<bool, LedgerError> {
    let opened = sqlx::query!(
        "insert into balances (partner_id, mode) values ($1, 'sandbox')
         on conflict (partner_id, mode) do nothing",
        partner as PartnerId
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if opened == 0 {
        return Ok(false);
    }
    post(
        conn,
        NewEntry {
            account: Account::sandbox(partner),
            kind: EntryKind::Topup,
            amount: SANDBOX_OPENING_CREDITS,
            order: None,
            esim: None,
            note: Some("sandbox opening credits"),
        },
    )
    .await?;
    Ok(true)
}

/// Sets an account's balance to `target` by one `adjustment` entry of the difference (no
/// entry when it is there already), in the caller's transaction; returns the balance.
/// For the sandbox (`POST /v1/sandbox/balance`): live credits move by top-ups.
pub async fn set_balance(
    conn: &mut PgConnection,
    account: Account,
    target: Cents,
    note: &str,
) -> Result<Balance, LedgerError> {
    let current = sqlx::query_scalar!(
        "select balance_cents from balances where partner_id = $1 and mode = $2 for update",
        account.partner as PartnerId,
        account.mode as Mode,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(LedgerError::NoAccount)?;
    let difference = target.get() - current;
    if difference != 0 {
        post(
            conn,
            NewEntry {
                account,
                kind: EntryKind::Adjustment,
                amount: Cents::new(difference),
                order: None,
                esim: None,
                note: Some(note),
            },
        )
        .await?;
    }
    balance(conn, account).await
}

/// A partner's balance and when it last changed.
#[derive(Clone, Copy, Debug)]
pub struct Balance {
    /// Current balance.
    pub amount: Cents,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Reads an account's balance.
pub async fn balance(conn: &mut PgConnection, account: Account) -> Result<Balance, LedgerError> {
    let row = sqlx::query!(
        "select balance_cents, updated_at from balances where partner_id = $1 and mode = $2",
        account.partner as PartnerId,
        account.mode as Mode,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(LedgerError::NoAccount)?;
    Ok(Balance {
        amount: Cents::new(row.balance_cents),
        updated_at: row.updated_at,
    })
}

/// One ledger entry as partners see it in their transaction history.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Entry id (increasing).
    pub id: i64,
    /// Why it was written.
    pub kind: EntryKind,
    /// Signed amount.
    pub amount: Cents,
    /// Balance right after it.
    pub balance_after: Cents,
    /// The order it belongs to.
    pub order: Option<OrderId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// An account's entries, newest first, after the entry `before` (exclusive), plus whether
/// more follow.
pub async fn entries(
    conn: &mut PgConnection,
    account: Account,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<Entry>, bool), sqlx::Error> {
    let mut rows: Vec<Entry> = sqlx::query!(
        r#"select id, kind as "kind: EntryKind", amount_cents, balance_after_cents, order_id as "order_id: OrderId", created_at
           from ledger_entries
           where partner_id = $1 and mode = $4 and ($2::bigint is null or id < $2)
           order by id desc
           limit $3"#,
        account.partner as PartnerId,
        before,
        i64::from(limit) + 1,
        account.mode as Mode,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Entry {
        id: r.id,
        kind: r.kind,
        amount: Cents::new(r.amount_cents),
        balance_after: Cents::new(r.balance_after_cents),
        order: r.order_id,
        created_at: r.created_at,
    })
    .collect();
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// The balance the debit of one of an account's orders left (what its order response
/// shows as `balance`).
pub async fn balance_after_debit(
    conn: &mut PgConnection,
    account: Account,
    order: OrderId,
) -> Result<Cents, sqlx::Error> {
    let balance = sqlx::query_scalar!(
        "select balance_after_cents from ledger_entries
         where partner_id = $1 and mode = $3 and order_id = $2 and kind = 'order_debit'",
        account.partner as PartnerId,
        order as OrderId,
        account.mode as Mode,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Cents::new(balance))
}
