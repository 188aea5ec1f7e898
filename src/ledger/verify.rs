//! `tavaro ledger verify`: checks the money invariants from the outside, over the whole
//! database, live and sandbox alike: each finding names the mode of its offender. Tests run it after every scenario; operators can run it any time (it only
//! reads).

use serde::Serialize;
use sqlx::PgPool;

use crate::ids::{OrderId, PartnerId};
use crate::mode::Mode;

/// One broken invariant, naming the offender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The partner concerned.
    pub partner_id: Option<PartnerId>,
    /// The mode of the account or order concerned (also named in `problem`).
    pub mode: Option<Mode>,
    /// The order concerned.
    pub order_id: Option<OrderId>,
    /// What is wrong.
    pub problem: String,
}

/// What was checked.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Balances checked.
    pub partners: i64,
    /// Ledger entries checked.
    pub entries: i64,
    /// Orders checked.
    pub orders: i64,
    /// Problems found (empty when the ledger is sound).
    pub findings: Vec<Finding>,
}

/// Checks, in one consistent snapshot, for every account (a partner's live and sandbox
/// balances apart): every balance equals the sum of its entries and is
/// not negative; every entry's `balance_after` equals the running sum; every order has
/// exactly one debit of its total; completed and unsettled orders have no refund of the
/// whole order; failed orders have exactly one refund of their total (and no eSIM
/// refund); an order's refunds never exceed its debit, and each refund of a cancelled
/// eSIM is its order's unit cost; every cancelled eSIM has exactly one refund, and no
/// other eSIM has any; completed orders of new eSIMs hold their eSIMs; no
/// ICCID of a provider is held by two live eSIMs (the database refuses new ones; this
/// names any stored before it did).
pub async fn verify(db: &PgPool) -> Result<Report, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let mut report = Report::default();
    let counts = sqlx::query!(
        r#"select (select count(*) from balances) as "partners!",
                  (select count(*) from ledger_entries) as "entries!",
                  (select count(*) from orders) as "orders!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    report.partners = counts.partners;
    report.entries = counts.entries;
    report.orders = counts.orders;
    let findings = &mut report.findings;

    for r in sqlx::query!(
        r#"select b.partner_id as "partner_id!: PartnerId", b.mode as "mode!: Mode",
                  b.balance_cents, coalesce(sum(l.amount_cents), 0)::bigint as "entries_sum!"
           from balances b
           left join ledger_entries l on l.partner_id = b.partner_id and l.mode = b.mode
           group by b.partner_id, b.mode, b.balance_cents
           having b.balance_cents <> coalesce(sum(l.amount_cents), 0) or b.balance_cents < 0"#
    )
    .fetch_all(&mut *tx)
    .await?
    {
        findings.push(Finding {
            partner_id: Some(r.partner_id),
            mode: Some(r.mode),
            order_id: None,
            problem: format!(
                "{} balance is {} cents but its ledger entries sum to {} cents",
                r.mode, r.balance_cents, r.entries_sum
            ),
        });
    }

    for r in sqlx::query!(
        r#"select partner_id as "partner_id!: PartnerId", mode as "mode!: Mode", id as "id!", balance_after_cents as "after!", running as "running!"
           from (select partner_id, mode, id, balance_after_cents,
                        (sum(amount_cents) over (partition by partner_id, mode order by id))::bigint as running
                 from ledger_entries) e
           where balance_after_cents <> running or balance_after_cents < 0"#
    )
    .fetch_all(&mut *tx)
    .await?
    {
        findings.push(Finding {
            partner_id: Some(r.partner_id),
            mode: Some(r.mode),
            order_id: None,
            problem: format!(
                "{} ledger entry {} says the balance became {} cents, the entries before it sum to {}",
                r.mode, r.id, r.after, r.running
            ),
        });
    }

    for r in sqlx::query!(
        r#"select o.id as "id: OrderId", o.partner_id as "partner_id: PartnerId",
                  o.mode as "mode: Mode", o.status,
                  o.total_cost_cents, o.quantity,
                  count(l.id) filter (where l.kind = 'order_debit') as "debits!",
                  coalesce(sum(l.amount_cents) filter (where l.kind = 'order_debit'), 0)::bigint as "debited!",
                  o.kind, o.unit_cost_cents,
                  count(l.id) filter (where l.kind = 'refund' and l.esim_id is null) as "refunds!",
                  coalesce(sum(l.amount_cents) filter (where l.kind = 'refund' and l.esim_id is null), 0)::bigint as "refunded!",
                  count(l.id) filter (where l.kind = 'refund' and l.esim_id is not null) as "esim_refunds!",
                  coalesce(sum(l.amount_cents) filter (where l.kind = 'refund' and l.esim_id is not null), 0)::bigint as "esim_refunded!",
                  count(l.id) filter (where l.kind = 'refund' and l.esim_id is not null
                                        and l.amount_cents <> o.unit_cost_cents) as "odd_esim_refunds!",
                  count(l.id) filter (where l.partner_id <> o.partner_id or l.mode <> o.mode) as "foreign!",
                  (select count(*) from esims e where e.order_id = o.id) as "esims!",
                  (select count(*) from esims e where e.order_id = o.id
                     and (e.partner_id <> o.partner_id or e.mode <> o.mode)) as "foreign_esims!"
           from orders o left join ledger_entries l on l.order_id = o.id
           group by o.id"#
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let total = r.total_cost_cents;
        let mut problems = Vec::new();
        if r.debits != 1 || r.debited != -total {
            problems.push(format!(
                "has {} debit(s) summing to {} cents; expected exactly one of -{total}",
                r.debits, r.debited
            ));
        }
        match r.status.as_str() {
            "failed" if r.refunds != 1 || r.refunded != total => problems.push(format!(
                "is failed with {} refund(s) summing to {} cents; expected exactly one of {total}",
                r.refunds, r.refunded
            )),
            "completed" | "pending" | "processing" if r.refunds != 0 => {
                problems.push(format!("is {} but has {} refund(s)", r.status, r.refunds));
            }
            _ => {}
        }
        if r.esim_refunds > 0 && r.status != "completed" {
            problems.push(format!("is {} but has {} eSIM refund(s)", r.status, r.esim_refunds));
        }
        if r.refunded + r.esim_refunded > total {
            problems.push(format!(
                "has refunds of {} cents, more than its debit of {total}",
                r.refunded + r.esim_refunded
            ));
        }
        if r.odd_esim_refunds > 0 {
            problems.push(format!(
                "has {} eSIM refund(s) other than its unit cost of {} cents",
                r.odd_esim_refunds, r.unit_cost_cents
            ));
        }
        let issues_esims = r.kind == "esim";
        if r.status == "completed" && issues_esims && r.esims != i64::from(r.quantity) {
            problems.push(format!("is completed with {} eSIM(s) for a quantity of {}", r.esims, r.quantity));
        }
        if r.foreign > 0 {
            problems.push("has ledger entries of another partner or mode".to_owned());
        }
        if r.foreign_esims > 0 {
            problems.push("has eSIMs of another partner or mode".to_owned());
        }
        findings.extend(problems.into_iter().map(|problem| Finding {
            partner_id: Some(r.partner_id),
            mode: Some(r.mode),
            order_id: Some(r.id),
            problem: format!("{} order {}", r.mode, problem),
        }));
    }
    // One join, not a sub-query per eSIM: no index covers every entry's `esim_id` (only
    // refunds'), so an `exists (...)` per eSIM scanned the whole ledger once for each and
    // took hours on a ledger of a few hundred thousand orders. In a file of its own so
    // that a test can check its plan (`ledger_verify_reads_the_esims_refunds_in_one_pass`).
    for r in sqlx::query_file!("src/ledger/esim_refunds.sql")
        .fetch_all(&mut *tx)
        .await?
    {
        let problem = match (r.status.as_str(), r.refunds) {
            ("CANCELLED", 1) => continue,
            ("CANCELLED", n) => format!("is cancelled with {n} refund(s); expected exactly one"),
            (status, n) => format!("is {status} but has {n} refund(s) of a cancellation"),
        };
        findings.push(Finding {
            partner_id: Some(r.partner_id),
            mode: Some(r.mode),
            order_id: Some(r.order_id),
            problem: format!("{} eSIM {} {problem}", r.mode, r.id),
        });
    }
    for r in sqlx::query!(
        r#"select provider, iccid, array_agg(order_id order by created_at, id) as "orders!"
           from esims where status not in ('EXPIRED', 'CANCELLED')
           group by provider, iccid having count(*) > 1"#
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let orders: Vec<String> = r.orders.iter().map(ToString::to_string).collect();
        findings.push(Finding {
            partner_id: None,
            mode: None,
            order_id: r.orders.first().copied().map(OrderId),
            problem: format!(
                "ICCID {} of {} is held by {} live eSIMs, of orders {}",
                r.iccid,
                r.provider,
                orders.len(),
                orders.join(", ")
            ),
        });
    }
    tx.commit().await?;
    Ok(report)
}
