//! The simulator's issuing, coalesced: the eSIMs of orders provisioned at the same time
//! are written by one statement.
//!
//! Every order placed against the simulator makes it write the order and its eSIMs
//! (`sim_orders`, `sim_esims`). As its own statement, that was a third of an order's round
//! trips to Postgres, with a transaction and a backend wake-up each. Here each issue is
//! handed to one of a few writers; a writer takes every issue waiting and writes them in
//! one statement, then answers each with what was written for it.
//!
//! Nothing is answered before it is committed: an issue answered here is stored, exactly
//! as when it was its own statement, and a failed statement fails every issue of it (the
//! orders are refunded as when the simulator is unreachable).

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgPool;

use crate::coalesce::{Coalescer, Job};
use crate::db::Lane;

/// Writers at once: while one writes, the other gathers the next issues (two, as for the
/// order completions: bench/changes.md #37).
const WRITERS: usize = 2;
/// Most orders one statement issues.
const BATCH: usize = 256;

/// The eSIMs to issue for one order, with the ICCIDs and activation codes drawn for them.
pub(super) struct Issue {
    pub reference: String,
    pub iccids: Vec<String>,
    pub codes: Vec<String>,
    pub days: i32,
    pub data_mb: Option<i32>,
}

/// What writing an [`Issue`] did: `None` if the reference was issued before (nothing
/// written), else the `(iccid, activation code)` written, by ICCID. Fewer than asked when
/// an ICCID collided with an earlier eSIM's.
pub(super) type Issued = Option<Vec<(String, String)>>;

/// Hands issues to the writers. The writers stop when it is dropped.
pub(super) struct Issuer {
    writers: Coalescer<Issue, Result<Issued, String>>,
}

impl Issuer {
    /// Starts the writers on the current runtime; `smdp_address` is every eSIM's.
    pub(super) fn start(db: PgPool, smdp_address: String) -> Self {
        let smdp_address: Arc<str> = smdp_address.into();
        // A reference twice in one statement would be "fresh" for both: the second waits
        // for the next statement, which finds it issued.
        let lane = Lane::planned(db, WRITERS);
        let write = move |batch| write(lane.clone(), Arc::clone(&smdp_address), batch);
        let reference = |issue: &Issue| issue.reference.clone();
        Self {
            writers: Coalescer::start_distinct(WRITERS, BATCH, reference, write),
        }
    }

    /// Writes `issue` (with others waiting) and says what was written; `Err` if the
    /// statement failed, with the database's message.
    pub(super) async fn issue(&self, issue: Issue) -> Result<Issued, String> {
        self.writers
            .call(issue)
            .await
            .unwrap_or_else(|| Err("the simulator's writers stopped".to_owned()))
    }
}

/// Writes one statement's issues and answers them.
async fn write(lane: Lane, smdp_address: Arc<str>, batch: Vec<Job<Issue, Result<Issued, String>>>) {
    let rows: usize = batch.iter().map(|(issue, _)| issue.iccids.len()).sum();
    let mut refs = Vec::with_capacity(rows);
    let mut iccids = Vec::with_capacity(rows);
    let mut codes = Vec::with_capacity(rows);
    let mut days = Vec::with_capacity(rows);
    let mut data_mb = Vec::with_capacity(rows);
    for (issue, _) in &batch {
        for (iccid, code) in issue.iccids.iter().zip(&issue.codes) {
            refs.push(issue.reference.as_str());
            iccids.push(iccid.as_str());
            codes.push(code.as_str());
            days.push(issue.days);
            data_mb.push(issue.data_mb);
        }
    }
    // One row per fresh reference and eSIM written for it (a fresh reference whose every
    // ICCID collided still has its row, with no eSIM).
    let written = lane
        .run(async |conn| {
            sqlx::query!(
                r#"with asked as (
                   select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[])
                     as r(order_ref, iccid, code, days, data_mb)
               ), fresh as (
                   insert into sim_orders (order_ref, status)
                   select distinct order_ref, 'issued' from asked
                   on conflict (order_ref) do nothing
                   returning order_ref
               ), issued as (
                   insert into sim_esims (iccid, order_ref, smdp_address, activation_code,
                                          days, data_total_mb)
                   select a.iccid, a.order_ref, $6, a.code, a.days, a.data_mb
                     from asked a join fresh f on f.order_ref = a.order_ref
                   on conflict (iccid) do nothing
                   returning order_ref, iccid, activation_code
               )
               select f.order_ref as "order_ref!", i.iccid as "iccid?", i.activation_code as "code?"
                 from fresh f left join issued i on i.order_ref = f.order_ref"#,
                &refs as &[&str],
                &iccids as &[&str],
                &codes as &[&str],
                &days[..],
                &data_mb as &[Option<i32>],
                &*smdp_address,
            )
            .fetch_all(conn)
            .await
        })
        .await;
    match written {
        Ok(written) => {
            let mut by_ref: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for row in written {
                let esims = by_ref.entry(row.order_ref).or_default();
                if let (Some(iccid), Some(code)) = (row.iccid, row.code) {
                    esims.push((iccid, code));
                }
            }
            for (issue, reply) in batch {
                let issued = by_ref.remove(&issue.reference).map(|mut esims| {
                    esims.sort();
                    esims
                });
                // A caller that went away has dropped its receiver: nothing to do.
                let _ = reply.send(Ok(issued));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(message.clone()));
            }
        }
    }
}
