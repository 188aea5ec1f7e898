//! Balance reads for `GET /v1/balance`, coalesced: requests that arrive while a read is
//! in flight are answered together by the next one, one query for many partners.
//!
//! Partners poll their balance before bulk orders, often many at once. Each read used to
//! be its own query: one round trip to Postgres and a backend woken per request, which
//! bounded the endpoint at a fraction of what the HTTP layer serves. Here each request
//! hands its account (partner and mode) to a small set of readers; a reader takes every
//! request waiting and asks for all of them in one query.
//!
//! Never stale: a request is answered by a query that *starts after the request
//! arrived*, so it sees every commit that preceded it, exactly as its own query would.

use std::collections::HashMap;

use sqlx::PgPool;

use super::Balance;
use crate::coalesce::{Coalescer, Job};
use crate::db::Lane;
use crate::ids::PartnerId;
use crate::mode::{Account, Mode};
use crate::money::Cents;

/// Readers querying at once: while some query, the others gather the next requests.
const READERS: usize = 4;
/// Most partners one query asks for.
const BATCH: usize = 512;

/// Why a coalesced read failed (shared by every request of the batch).
#[derive(Clone, Debug, thiserror::Error)]
#[error("balance read failed: {message}")]
pub struct ReadError {
    /// The database could not be reached (503), rather than failing the query (500).
    unavailable: bool,
    message: String,
}

impl ReadError {
    /// Whether the database could not be reached (try again) rather than failing the
    /// query (a bug).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}

/// Hands balance reads to the readers. Cheap to share; the readers stop when it is dropped.
pub struct BalanceReader {
    readers: Coalescer<Account, Result<Option<Balance>, ReadError>>,
}

impl BalanceReader {
    /// Starts the readers on the current runtime.
    pub fn start(db: PgPool) -> Self {
        let lane = Lane::planned(db, READERS);
        let read = move |batch| read(lane.clone(), batch);
        Self {
            readers: Coalescer::start(READERS, BATCH, read),
        }
    }

    /// The account's balance as of a moment after this call; `None` without an account.
    pub async fn read(&self, account: Account) -> Result<Option<Balance>, ReadError> {
        self.readers.call(account).await.unwrap_or_else(|| {
            Err(ReadError {
                unavailable: true,
                message: "balance readers stopped".to_owned(),
            })
        })
    }
}

/// Answers a batch of reads with one query.
async fn read(lane: Lane, batch: Vec<Job<Account, Result<Option<Balance>, ReadError>>>) {
    let ids: Vec<_> = batch.iter().map(|(account, _)| account.partner.0).collect();
    let rows = lane
        .run(async |conn| {
            sqlx::query!(
                r#"select partner_id as "partner_id: PartnerId", mode as "mode: Mode",
                          balance_cents, updated_at
                   from balances where partner_id = any($1)"#,
                &ids[..]
            )
            .fetch_all(conn)
            .await
        })
        .await;
    match rows {
        Ok(rows) => {
            let found: HashMap<Account, Balance> = rows
                .into_iter()
                .map(|r| {
                    let balance = Balance {
                        amount: Cents::new(r.balance_cents),
                        updated_at: r.updated_at,
                    };
                    let account = Account {
                        partner: r.partner_id,
                        mode: r.mode,
                    };
                    (account, balance)
                })
                .collect();
            for (account, reply) in batch {
                // A caller that hung up has dropped its receiver: nothing to do.
                let _ = reply.send(Ok(found.get(&account).copied()));
            }
        }
        Err(e) => {
            let error = ReadError {
                unavailable: crate::db::is_unavailable(&e),
                message: e.to_string(),
            };
            for (_, reply) in batch {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
