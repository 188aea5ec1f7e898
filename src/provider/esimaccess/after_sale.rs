//! What eSIM Access does for an eSIM after the sale (reference §4.2): the top-ups one
//! profile takes (`/package/list` with `type: TOPUP`), top-ups (`/esim/topup`, our top-up
//! order's id as its `transactionId`, found again in the profile's `packageList`), and
//! cancellations (`/esim/cancel`), which the provider takes only for a profile never
//! downloaded to a device and refunds to our balance at once.

use chrono::Utc;
use serde_json::{Value, json};

use super::wire;
use super::{Ask, EsimAccess, mapping};
use crate::provider::upstream::{Call, Turn};
use crate::provider::{
    CancelRequest, Cancelled, EsimRef, ProviderError, RefundReview, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest,
};

/// How long after we placed a top-up it may still be in flight upstream, and the clock
/// skew allowed between our clock and the provider's `createTime`: until then, a top-up
/// the profile does not show yet is pending, not missing.
const TOPUP_SETTLES: chrono::Duration = chrono::Duration::minutes(15);

/// The profile's identity as a request names it: its `esimTranNo` when we hold it (ICCIDs
/// are recycled), its ICCID otherwise.
fn identity(esim: &EsimRef) -> Value {
    match &esim.provider_ref {
        Some(tran_no) => json!({"esimTranNo": tran_no}),
        None => json!({"iccid": esim.iccid}),
    }
}

impl EsimAccess {
    /// The eSIM's newest profile (read-only), taking `turn` in the budget. An eSIM the
    /// provider does not know is a refusal.
    pub(super) async fn profile(
        &self,
        esim: &EsimRef,
        turn: Turn,
    ) -> Result<wire::Profile, ProviderError> {
        let profiles = self
            .query(identity(esim), Ask::read(turn))
            .await?
            .map_err(|f| f.into_error(Call::Read))?;
        mapping::newest(profiles).ok_or_else(|| {
            ProviderError::rejected(Refusal::Other, format!("no eSIM with ICCID {}", esim.iccid))
        })
    }

    /// The top-up packages eSIM Access offers for this profile now. The ICCID is the
    /// documented filter; the `esimTranNo`, when we hold it, pins the allocation.
    pub(super) async fn topup_offers(
        &self,
        esim: &EsimRef,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        let mut filter = json!({"locationCode": "", "type": "TOPUP", "iccid": esim.iccid});
        if let Some(tran_no) = &esim.provider_ref {
            filter["esimTranNo"] = json!(tran_no);
        }
        let list: wire::PackageList = self
            .read("/package/list", &filter, Ask::read(Turn::Read))
            .await?;
        Ok(list
            .package_list
            .iter()
            .filter_map(mapping::topup_offer)
            .collect())
    }

    /// `/esim/topup` with our top-up order's id as the `transactionId` (which the
    /// provider de-duplicates) and, when the catalog sync recorded it, the price we
    /// expect to pay as the `amount`. Success means applied: the answer carries the
    /// profile's new totals and no order number of its own.
    pub(super) async fn apply_topup(
        &self,
        request: &TopupRequest,
    ) -> Result<ToppedUp, ProviderError> {
        let mut body = identity(&request.esim);
        body["packageCode"] = json!(request.sku);
        body["transactionId"] = json!(request.order_ref.to_string());
        if let Some(price) = request.unit_cost_e4 {
            body["amount"] = json!(price);
        }
        self.post("/esim/topup", &body, Ask::order())
            .await?
            .map_err(|f| f.into_error(Call::Order))?;
        Ok(ToppedUp {
            provider_order_ref: None,
        })
    }

    /// A top-up with an unknown outcome, looked for in the profile's `packageList` by its
    /// `transactionId` ([`mapping::topup_outcome`]).
    pub(super) async fn find_topup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        let profile = self.profile(&request.esim, Turn::Read).await?;
        Ok(mapping::topup_outcome(
            &profile,
            &request.order_ref.to_string(),
            &request.sku,
            request.placed_at,
            Utc::now(),
            TOPUP_SETTLES,
        ))
    }

    /// `/esim/cancel` by `esimTranNo` (looked up by ICCID when we do not hold it). A
    /// cancellation refunds the profile's cost to our balance at once. When the provider
    /// refuses, the profile says why: one it has cancelled already (our earlier
    /// cancellation) answers as that one did; any other is refused with its state.
    pub(super) async fn cancel_profile(
        &self,
        request: &CancelRequest,
    ) -> Result<Cancelled, ProviderError> {
        let esim = match &request.esim.provider_ref {
            Some(_) => request.esim.clone(),
            None => {
                let profile = self.profile(&request.esim, Turn::Order).await?;
                EsimRef {
                    provider_ref: Some(profile.esim_tran_no.ok_or_else(|| {
                        ProviderError::Unavailable("profile answered without an esimTranNo".into())
                    })?),
                    ..request.esim.clone()
                }
            }
        };
        let failure = match self
            .post("/esim/cancel", &identity(&esim), Ask::order())
            .await?
        {
            Ok(_) => return Ok(Cancelled::Refunded),
            Err(failure) => failure,
        };
        // Only a definitive refusal says nothing changed; anything else (an unsure
        // failure, credentials, the rate limit) is answered as it is.
        let words = match failure.into_error(Call::Order) {
            ProviderError::Rejected { message, .. } => message,
            other => return Err(other),
        };
        // The profile tells whether it was cancelled before (then it is refunded
        // already) or why it cannot be.
        let profile = self.profile(&esim, Turn::Order).await?;
        if mapping::cancelled(&profile) {
            return Ok(Cancelled::Refunded);
        }
        Err(ProviderError::rejected(
            Refusal::Other,
            mapping::not_cancellable(&profile, &words),
        ))
    }

    /// Where a cancellation stands, from the profile: cancelled is approved (eSIM Access
    /// refunds at once), a profile it would still cancel is pending, any other is refused
    /// with its state.
    pub(super) async fn refund_review(
        &self,
        request: &CancelRequest,
    ) -> Result<RefundReview, ProviderError> {
        let profile = self.profile(&request.esim, Turn::Read).await?;
        Ok(if mapping::cancelled(&profile) {
            RefundReview::Approved
        } else if mapping::cancellable(&profile) {
            RefundReview::Pending
        } else {
            RefundReview::Rejected(mapping::not_cancellable(&profile, ""))
        })
    }
}
