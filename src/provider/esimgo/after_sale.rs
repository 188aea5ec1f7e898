//! After the sale: the bundles that can top up an eSIM, applying a top-up, finding a
//! top-up again after its outcome was lost, and cancelling an unused bundle for a credit
//! to our balance.

use std::collections::BTreeSet;

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::EsimGo;
use super::mapping::{self, OrderState};
use super::wire::{self, Bundle, Compatibility, NamedAssignment, Order};
use crate::provider::normalize::{e4_from_amount, printable, timestamp};
use crate::provider::upstream::{Answer, Call, Turn};
use crate::provider::{
    CancelRequest, Cancelled, EsimRef, ProviderError, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest,
};

/// Catalogue pages read for top-up candidates (50 bundles a page).
const CANDIDATE_PAGES: u32 = 4;
/// Candidates whose compatibility with the eSIM is asked, at most (one read each).
const MAX_CANDIDATES: usize = 20;
/// How long before we asked for a top-up its assignment may be dated (clock skew).
const SKEW: TimeDelta = TimeDelta::minutes(1);
/// How long eSIM Go may take to show an assignment ("usually instant, allow up to 10
/// minutes"): until then, a top-up not on the eSIM is pending, not absent.
const PROCESSING: TimeDelta = TimeDelta::minutes(10);

/// The catalogue's bundles covering every country of the eSIM's own bundle, kept where
/// `GET /esims/{iccid}/compatible/{bundle}` says they can be applied to it.
pub(super) async fn topups(go: &EsimGo, esim: &EsimRef) -> Result<Vec<TopupOffer>, ProviderError> {
    let Some(sku) = esim.sku.as_deref() else {
        return Err(ProviderError::Unavailable(
            "the eSIM's bundle is not known; its top-ups cannot be found".into(),
        ));
    };
    let url = go.url(&["catalogue", "bundle", sku])?;
    let answer = read(go, go.http.get(url)).await?;
    let plan: Bundle = answer.json(Call::Read)?;
    let covered = countries(&plan);
    if covered.is_empty() {
        return Err(ProviderError::Unavailable(format!(
            "the catalogue names no country for bundle `{}`",
            printable(sku)
        )));
    }
    let filter = covered.iter().cloned().collect::<Vec<_>>().join(",");
    let mut candidates: Vec<Bundle> = Vec::new();
    for page in 1..=CANDIDATE_PAGES {
        let query = [
            ("page", page.to_string()),
            ("perPage", "50".to_owned()),
            ("countries", filter.clone()),
        ];
        let request = go.http.get(go.url(&["catalogue"])?).query(&query);
        let answer = read(go, request).await?;
        let (bundles, pages) = wire::catalogue_page(answer.json::<Value>(Call::Read)?)
            .map_err(|e| ProviderError::Unavailable(format!("malformed catalogue page: {e}")))?;
        let listed = bundles.len();
        for bundle in bundles {
            let name = bundle.name.clone().unwrap_or_default();
            if !name.trim().is_empty()
                && covered.is_subset(&countries(&bundle))
                && !candidates.iter().any(|c| c.name.as_deref() == Some(&name))
            {
                candidates.push(bundle);
            }
        }
        let last = pages.map_or(listed < 50, |n| i64::from(page) >= n);
        if last || listed == 0 || candidates.len() >= MAX_CANDIDATES {
            break;
        }
    }
    candidates.truncate(MAX_CANDIDATES);
    let mut offers = Vec::new();
    for bundle in candidates {
        let name = bundle.name.unwrap_or_default();
        let url = go.url(&["esims", &esim.iccid, "compatible", &name])?;
        let answer = read(go, go.http.get(url)).await?;
        let compatibility: Compatibility = answer.json(Call::Read)?;
        if compatibility.compatible {
            offers.push(TopupOffer {
                cost_e4: e4_from_amount(&bundle.price),
                days: None,
                data_mb: None,
                sku: name,
            });
        }
    }
    Ok(offers)
}

/// `POST /orders` of one `sku` assigned to the eSIM's ICCID (`iccids`, quantity 1).
pub(super) async fn topup(go: &EsimGo, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
    let body = json!({
        "type": "transaction",
        "assign": true,
        "order": [{
            "type": "bundle",
            "quantity": 1,
            "item": request.sku,
            "iccids": [request.esim.iccid],
            "allowReassign": false,
        }],
    });
    let answer = go
        .send(
            go.http.post(go.url(&["orders"])?).json(&body),
            Call::Order,
            Turn::Order,
        )
        .await?;
    if !answer.status.is_success() {
        if answer.status == StatusCode::SERVICE_UNAVAILABLE
            && let Some(provider_order_ref) = serde_json::from_slice::<Order>(&answer.body)
                .ok()
                .and_then(|o| o.order_reference)
        {
            return Err(ProviderError::Accepted { provider_order_ref });
        }
        return Err(mapping::error(&answer, Call::Order));
    }
    let order: Order = answer.json(Call::Order)?;
    let Some(reference) = order.order_reference.clone() else {
        return Err(ProviderError::Unknown(
            "the top-up's answer carries no orderReference".into(),
        ));
    };
    match mapping::order_state(&order) {
        OrderState::Completed => Ok(ToppedUp {
            provider_order_ref: Some(reference),
        }),
        // Accepted under a reference: the lookup settles it (as for an order).
        OrderState::Open | OrderState::Failed => Err(ProviderError::Accepted {
            provider_order_ref: reference,
        }),
    }
}

/// By the top-up's `orderReference` when we have it; else by the eSIM's assignments of
/// the bundle made since we asked (eSIM Go takes no client reference).
pub(super) async fn topup_lookup(
    go: &EsimGo,
    request: &TopupLookupRequest,
) -> Result<TopupLookup, ProviderError> {
    if let Some(reference) = &request.provider_order_ref {
        let url = go.url(&["orders", reference])?;
        let answer = go.send(go.http.get(url), Call::Read, Turn::Read).await?;
        match answer.status {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => return Ok(TopupLookup::NotFound),
            StatusCode::SERVICE_UNAVAILABLE => return Ok(TopupLookup::Pending),
            _ => return Err(mapping::error(&answer, Call::Read)),
        }
        let order: Order = answer.json(Call::Read)?;
        return Ok(match mapping::order_state(&order) {
            OrderState::Completed => TopupLookup::Applied(ToppedUp {
                provider_order_ref: Some(reference.clone()),
            }),
            OrderState::Failed => TopupLookup::Failed(
                order
                    .status_message
                    .as_deref()
                    .or(order.status.as_deref())
                    .map_or_else(|| "failed".into(), printable),
            ),
            OrderState::Open => TopupLookup::Pending,
        });
    }
    let assignments = bundles_of(go, &request.esim.iccid).await?;
    let since = request.placed_at - SKEW;
    let mut undated = false;
    for named in assignments
        .iter()
        .filter(|a| a.bundle.as_deref() == Some(request.sku.as_str()))
    {
        match timestamp(&named.assignment.assignment_date_time) {
            Some(at) if at >= since => {
                return Ok(TopupLookup::Applied(ToppedUp {
                    provider_order_ref: None,
                }));
            }
            Some(_) => {}
            None => undated = true,
        }
    }
    // An assignment may take minutes to show; one without a date cannot be placed in
    // time. Neither is "not found".
    if undated || Utc::now() < request.placed_at + PROCESSING {
        return Ok(TopupLookup::Pending);
    }
    Ok(TopupLookup::NotFound)
}

/// Revokes the eSIM's bundle with a credit to our balance (`DELETE
/// /esims/{iccid}/bundles/{name}?refundToBalance=true`), only once its assignments show
/// that nothing on the eSIM has started or been used: a started bundle that is revoked is
/// lost without a credit, so it is refused here without asking eSIM Go to revoke it.
pub(super) async fn cancel(
    go: &EsimGo,
    request: &CancelRequest,
) -> Result<Cancelled, ProviderError> {
    let Some(sku) = request.esim.sku.as_deref() else {
        return Err(ProviderError::rejected(
            Refusal::Other,
            "the eSIM's bundle is not known; it cannot be revoked",
        ));
    };
    let assignments = match bundles_of(go, &request.esim.iccid).await {
        // Revoking an eSIM's last bundle can return an uninstalled eSIM to eSIM Go, which
        // takes it off our account: an earlier cancel may have done just that.
        Err(ProviderError::Unavailable(m)) if m.contains("HTTP 404") => {
            return Err(ProviderError::Unknown(format!(
                "the eSIM is not on our account (it may have been revoked and returned): {m}"
            )));
        }
        other => other?,
    };
    let data: Vec<&NamedAssignment> = assignments
        .iter()
        .filter(|a| {
            a.assignment
                .call_type_group
                .as_deref()
                .is_none_or(|g| g.eq_ignore_ascii_case("data"))
        })
        .collect();
    for named in &data {
        if let Some(why) = started(named) {
            return Err(ProviderError::rejected(Refusal::Other, why));
        }
    }
    let ours: Vec<&&NamedAssignment> = data
        .iter()
        .filter(|a| a.bundle.as_deref() == Some(sku))
        .collect();
    let open = ours
        .iter()
        .filter(|a| state(a) != "revoked")
        .max_by_key(|a| timestamp(&a.assignment.assignment_date_time));
    let Some(open) = open else {
        if ours.is_empty() {
            return Err(ProviderError::rejected(
                Refusal::Other,
                format!("the eSIM carries no bundle `{}`", printable(sku)),
            ));
        }
        // Revoked already (a repeated cancel): answered as the first one was.
        return Ok(Cancelled::Refunded);
    };
    let url = go.url(&["esims", &request.esim.iccid, "bundles", sku])?;
    let mut query = vec![("refundToBalance", "true"), ("type", "transaction")];
    if let Some(id) = open.assignment.id.as_deref() {
        query.push(("offerId", id));
    }
    let answer = go
        .send(go.http.delete(url).query(&query), Call::Order, Turn::Order)
        .await?;
    if !answer.status.is_success() {
        return Err(cancel_error(&answer));
    }
    let said = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| {
            ["status", "message"]
                .iter()
                .find_map(|k| v.get(k)?.as_str().map(str::to_owned))
        })
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(said.contains("balance") || said.contains("credit")) {
        // Revoked either way (the partner's eSIM is gone), but eSIM Go may not have
        // credited us (refunds are off until the account manager enables them).
        tracing::warn!(
            answer = %printable(&said),
            "eSIM Go revoked the bundle without saying it credited our balance; check the account"
        );
    }
    Ok(Cancelled::Refunded)
}

/// Why an assignment rules out a refund: started, used or over (`None` when it is
/// unstarted and unused, or revoked).
fn started(named: &NamedAssignment) -> Option<String> {
    let a = &named.assignment;
    let name = printable(named.bundle.as_deref().unwrap_or("a bundle"));
    let state = state(named);
    let used = matches!(
        (a.initial_quantity, a.remaining_quantity),
        (Some(initial), Some(remaining)) if remaining < initial
    );
    match state.as_str() {
        "revoked" => None,
        "processing" | "queued" if !used => None,
        "processing" | "queued" => Some(format!("bundle {name} on the eSIM has used data")),
        "" => Some(format!(
            "bundle {name} on the eSIM states no bundleState; not revoked"
        )),
        other => Some(format!(
            "bundle {name} on the eSIM has started ({other}); eSIM Go credits only unstarted, unused bundles"
        )),
    }
}

fn state(named: &NamedAssignment) -> String {
    named
        .assignment
        .bundle_state
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A refused revoke is a refusal in eSIM Go's words; rate limits and credentials as
/// usual; a server error is unsure (the revoke may have happened).
fn cancel_error(answer: &Answer) -> ProviderError {
    if let Some(common) = answer.common_error(Call::Order) {
        return common;
    }
    let message = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .as_ref()
        .and_then(wire::message)
        .map(|m| printable(&m))
        .unwrap_or_else(|| answer.snippet());
    if answer.status.is_client_error() {
        ProviderError::rejected(
            Refusal::Other,
            format!("HTTP {}: {message}", answer.status.as_u16()),
        )
    } else {
        ProviderError::Unknown(format!("HTTP {}: {message}", answer.status.as_u16()))
    }
}

/// Every assignment on the eSIM, used and expired included.
async fn bundles_of(go: &EsimGo, iccid: &str) -> Result<Vec<NamedAssignment>, ProviderError> {
    let url = go.url(&["esims", iccid, "bundles"])?;
    let request = go.http.get(url).query(&[("includeUsed", "true")]);
    let answer = read(go, request).await?;
    wire::assignments(answer.json::<Value>(Call::Read)?)
        .map_err(|e| ProviderError::Unavailable(format!("malformed eSIM bundles: {e}")))
}

/// A read that waits for the reads' share; an unsuccessful answer is its error.
async fn read(go: &EsimGo, request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let answer = go.send(request, Call::Read, Turn::Read).await?;
    if answer.status.is_success() {
        Ok(answer)
    } else {
        Err(mapping::error(&answer, Call::Read))
    }
}

/// The ISO codes a bundle covers, upper case.
fn countries(bundle: &Bundle) -> BTreeSet<String> {
    bundle
        .countries
        .iter()
        .flatten()
        .filter_map(|c| c.iso.as_deref())
        .map(|iso| iso.trim().to_ascii_uppercase())
        .filter(|iso| !iso.is_empty())
        .collect()
}
