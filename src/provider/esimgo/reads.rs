//! The read-only calls: the catalogue, an eSIM's usage, and our balance.

use serde_json::Value;

use super::EsimGo;
use super::mapping;
use super::wire::{self, EsimDetails, Organisation};
use crate::provider::normalize::timestamp;
use crate::provider::upstream::{Answer, Call, Turn};
use crate::provider::{EsimRef, EsimUsage, ProviderError, UpstreamBalance, UpstreamPackage};

/// Bundles asked for per catalogue page (the spec's example).
const BUNDLES_PER_PAGE: usize = 50;
/// A bound on the pages of one catalogue read, against a server that never says "last".
const MAX_CATALOGUE_PAGES: u32 = 1_000;

/// Every bundle of the catalogue, page by page.
pub(super) async fn packages(go: &EsimGo) -> Result<Vec<UpstreamPackage>, ProviderError> {
    let per_page = BUNDLES_PER_PAGE.to_string();
    let mut packages = Vec::new();
    for page in 1..=MAX_CATALOGUE_PAGES {
        let query = [("page", page.to_string()), ("perPage", per_page.clone())];
        let request = go.http.get(go.url(&["catalogue"])?).query(&query);
        let limit = go.config.body_limits.catalog;
        let answer = ok(go
            .send_capped(request, Call::Read, Turn::Read, limit)
            .await?)?;
        let (bundles, pages) =
            wire::catalogue_page(answer.json::<Value>(Call::Read)?).map_err(|e| {
                ProviderError::Unavailable(format!("malformed catalogue page {page}: {e}"))
            })?;
        let listed = bundles.len();
        packages.extend(bundles.into_iter().filter_map(mapping::package));
        let last = match pages {
            Some(pages) => i64::from(page) >= pages,
            None => listed < BUNDLES_PER_PAGE,
        };
        if last || listed == 0 {
            return Ok(packages);
        }
    }
    Err(ProviderError::Unavailable(format!(
        "the catalogue did not end within {MAX_CATALOGUE_PAGES} pages"
    )))
}

/// The status and data use of an eSIM, from its bundle assignments; each call takes
/// `turn` in the budget.
pub(super) async fn usage(
    go: &EsimGo,
    esim: &EsimRef,
    turn: Turn,
) -> Result<EsimUsage, ProviderError> {
    let url = go.url(&["esims", &esim.iccid, "bundles"])?;
    let request = go.http.get(url).query(&[("includeUsed", "true")]);
    let answer = ok(go.send(request, Call::Read, turn).await?)?;
    let assignments = wire::assignments(answer.json::<Value>(Call::Read)?)
        .map_err(|e| ProviderError::Unavailable(format!("malformed eSIM bundles: {e}")))?;
    let chosen = mapping::pick_assignment(assignments.clone(), esim.sku.as_deref())
        .ok_or_else(|| ProviderError::Unavailable("no data bundle on the eSIM".into()))?
        .assignment;
    let state = chosen.bundle_state.as_deref().unwrap_or_default();
    let status = mapping::bundle_status(state)
        .ok_or_else(|| ProviderError::Unavailable(format!("unknown bundleState `{state}`")))?;
    let (data_used_mb, data_total_mb) = mapping::allowance(&assignments, &chosen);
    let mut activated_at = timestamp(&chosen.start_time);
    if activated_at.is_none() && status != crate::status::EsimStatus::Ready {
        let url = go.url(&["esims", &esim.iccid])?;
        let answer = ok(go.send(go.http.get(url), Call::Read, turn).await?)?;
        let details: EsimDetails = answer.json(Call::Read)?;
        activated_at = timestamp(&details.first_installed_date_time);
    }
    Ok(EsimUsage {
        data_total_mb,
        status,
        data_used_mb,
        activated_at,
        expires_at: timestamp(&chosen.end_time),
    })
}

/// Our organisation's balance.
pub(super) async fn balance(go: &EsimGo) -> Result<UpstreamBalance, ProviderError> {
    let answer = ok(go
        .send(
            go.http.get(go.url(&["organisation"])?),
            Call::Read,
            Turn::Read,
        )
        .await?)?;
    let organisation: Organisation = answer.json(Call::Read)?;
    let amount_e4 = mapping::balance_e4(&organisation.balance).ok_or_else(|| {
        ProviderError::Unavailable("the organisation's balance is not a number".into())
    })?;
    Ok(UpstreamBalance {
        amount_e4,
        currency: organisation
            .currency
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "USD".to_owned()),
    })
}

/// The answer if it is a success, else its error (as a read).
fn ok(answer: Answer) -> Result<Answer, ProviderError> {
    if answer.status.is_success() {
        Ok(answer)
    } else {
        Err(mapping::error(&answer, Call::Read))
    }
}
