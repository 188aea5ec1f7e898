from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.idempotency_in_progress_error import IdempotencyInProgressError
from ...models.idempotency_key_reused_error import IdempotencyKeyReusedError
from ...models.insufficient_credits_error import InsufficientCreditsError
from ...models.internal_error import InternalError
from ...models.invalid_request_error import InvalidRequestError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.order_request import OrderRequest
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.payload_too_large_error import PayloadTooLargeError
from ...models.placed_order_response import PlacedOrderResponse
from ...models.plan_not_found_error import PlanNotFoundError
from ...models.rate_limited_error import RateLimitedError
from ...models.sandbox_outcome import SandboxOutcome
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.unsupported_media_type_error import UnsupportedMediaTypeError
from ...models.upstream_error import UpstreamError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: OrderRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(sandbox_outcome, Unset):
        headers["Sandbox-Outcome"] = str(sandbox_outcome)

    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/order",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    IdempotencyInProgressError
    | IdempotencyKeyReusedError
    | InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | PlanNotFoundError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
    | None
):
    if response.status_code == 201:
        response_201 = PlacedOrderResponse.from_dict(response.json())

        return response_201

    if response.status_code == 202:
        response_202 = PlacedOrderResponse.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = InvalidRequestError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = UnauthorizedError.from_dict(response.json())

        return response_401

    if response.status_code == 402:
        response_402 = InsufficientCreditsError.from_dict(response.json())

        return response_402

    if response.status_code == 403:
        response_403 = PartnerSuspendedError.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = PlanNotFoundError.from_dict(response.json())

        return response_404

    if response.status_code == 405:
        response_405 = MethodNotAllowedError.from_dict(response.json())

        return response_405

    if response.status_code == 409:
        response_409 = IdempotencyInProgressError.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = PayloadTooLargeError.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = UnsupportedMediaTypeError.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = IdempotencyKeyReusedError.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = RateLimitedError.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = InternalError.from_dict(response.json())

        return response_500

    if response.status_code == 502:
        response_502 = UpstreamError.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = ServiceUnavailableError.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[
    IdempotencyInProgressError
    | IdempotencyKeyReusedError
    | InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | PlanNotFoundError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[
    IdempotencyInProgressError
    | IdempotencyKeyReusedError
    | InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | PlanNotFoundError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
]:
    """Place an order

     Buys `quantity` eSIMs of a plan. Your credits are debited the plan's **net** price ×
    `quantity` (your markup is not deducted), atomically: short of funds, nothing is
    deducted and no order exists (402). If the provider refuses or cannot take the order,
    the debit is refunded (502, `refunded: true`). If its answer is unknown (time-out), or
    anything else keeps the outcome open once you are debited, the order is `processing`
    (202) and is settled by reconciliation: watch it with `GET /v1/orders/{orderId}`. A
    503 always means nothing was deducted.

    Safe to retry with an `Idempotency-Key`: the same key with the same body within 24 h
    returns the first response again (same `orderId`, no second debit) with
    `Idempotent-Replayed: true`; with a different body, 422.

    With a sandbox key (`tvr_test_…`) the order debits your sandbox balance and is
    fulfilled by the simulator, never by an upstream. `Sandbox-Outcome` makes it answer
    one of the outcomes to handle: `upstream_error` (502, refunded), `processing` (202,
    then completed by reconciliation within 10 s) or `service_unavailable` (503, nothing
    debited). A live key sending `Sandbox-Outcome` gets 400.

    Args:
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (OrderRequest): An order: which plan, how many eSIMs, and optionally the traveller's
            address and your booking reference. Unknown fields are refused (400). Example:
            {'customerEmail': 'traveller@example.com', 'planId': 'ae-5gb-7d', 'quantity': 1,
            'reference': 'BK-12345'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[IdempotencyInProgressError | IdempotencyKeyReusedError | InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | PlanNotFoundError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        sandbox_outcome=sandbox_outcome,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> (
    IdempotencyInProgressError
    | IdempotencyKeyReusedError
    | InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | PlanNotFoundError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
    | None
):
    """Place an order

     Buys `quantity` eSIMs of a plan. Your credits are debited the plan's **net** price ×
    `quantity` (your markup is not deducted), atomically: short of funds, nothing is
    deducted and no order exists (402). If the provider refuses or cannot take the order,
    the debit is refunded (502, `refunded: true`). If its answer is unknown (time-out), or
    anything else keeps the outcome open once you are debited, the order is `processing`
    (202) and is settled by reconciliation: watch it with `GET /v1/orders/{orderId}`. A
    503 always means nothing was deducted.

    Safe to retry with an `Idempotency-Key`: the same key with the same body within 24 h
    returns the first response again (same `orderId`, no second debit) with
    `Idempotent-Replayed: true`; with a different body, 422.

    With a sandbox key (`tvr_test_…`) the order debits your sandbox balance and is
    fulfilled by the simulator, never by an upstream. `Sandbox-Outcome` makes it answer
    one of the outcomes to handle: `upstream_error` (502, refunded), `processing` (202,
    then completed by reconciliation within 10 s) or `service_unavailable` (503, nothing
    debited). A live key sending `Sandbox-Outcome` gets 400.

    Args:
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (OrderRequest): An order: which plan, how many eSIMs, and optionally the traveller's
            address and your booking reference. Unknown fields are refused (400). Example:
            {'customerEmail': 'traveller@example.com', 'planId': 'ae-5gb-7d', 'quantity': 1,
            'reference': 'BK-12345'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        IdempotencyInProgressError | IdempotencyKeyReusedError | InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | PlanNotFoundError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
        sandbox_outcome=sandbox_outcome,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[
    IdempotencyInProgressError
    | IdempotencyKeyReusedError
    | InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | PlanNotFoundError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
]:
    """Place an order

     Buys `quantity` eSIMs of a plan. Your credits are debited the plan's **net** price ×
    `quantity` (your markup is not deducted), atomically: short of funds, nothing is
    deducted and no order exists (402). If the provider refuses or cannot take the order,
    the debit is refunded (502, `refunded: true`). If its answer is unknown (time-out), or
    anything else keeps the outcome open once you are debited, the order is `processing`
    (202) and is settled by reconciliation: watch it with `GET /v1/orders/{orderId}`. A
    503 always means nothing was deducted.

    Safe to retry with an `Idempotency-Key`: the same key with the same body within 24 h
    returns the first response again (same `orderId`, no second debit) with
    `Idempotent-Replayed: true`; with a different body, 422.

    With a sandbox key (`tvr_test_…`) the order debits your sandbox balance and is
    fulfilled by the simulator, never by an upstream. `Sandbox-Outcome` makes it answer
    one of the outcomes to handle: `upstream_error` (502, refunded), `processing` (202,
    then completed by reconciliation within 10 s) or `service_unavailable` (503, nothing
    debited). A live key sending `Sandbox-Outcome` gets 400.

    Args:
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (OrderRequest): An order: which plan, how many eSIMs, and optionally the traveller's
            address and your booking reference. Unknown fields are refused (400). Example:
            {'customerEmail': 'traveller@example.com', 'planId': 'ae-5gb-7d', 'quantity': 1,
            'reference': 'BK-12345'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[IdempotencyInProgressError | IdempotencyKeyReusedError | InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | PlanNotFoundError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        sandbox_outcome=sandbox_outcome,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> (
    IdempotencyInProgressError
    | IdempotencyKeyReusedError
    | InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | PlanNotFoundError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
    | None
):
    """Place an order

     Buys `quantity` eSIMs of a plan. Your credits are debited the plan's **net** price ×
    `quantity` (your markup is not deducted), atomically: short of funds, nothing is
    deducted and no order exists (402). If the provider refuses or cannot take the order,
    the debit is refunded (502, `refunded: true`). If its answer is unknown (time-out), or
    anything else keeps the outcome open once you are debited, the order is `processing`
    (202) and is settled by reconciliation: watch it with `GET /v1/orders/{orderId}`. A
    503 always means nothing was deducted.

    Safe to retry with an `Idempotency-Key`: the same key with the same body within 24 h
    returns the first response again (same `orderId`, no second debit) with
    `Idempotent-Replayed: true`; with a different body, 422.

    With a sandbox key (`tvr_test_…`) the order debits your sandbox balance and is
    fulfilled by the simulator, never by an upstream. `Sandbox-Outcome` makes it answer
    one of the outcomes to handle: `upstream_error` (502, refunded), `processing` (202,
    then completed by reconciliation within 10 s) or `service_unavailable` (503, nothing
    debited). A live key sending `Sandbox-Outcome` gets 400.

    Args:
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (OrderRequest): An order: which plan, how many eSIMs, and optionally the traveller's
            address and your booking reference. Unknown fields are refused (400). Example:
            {'customerEmail': 'traveller@example.com', 'planId': 'ae-5gb-7d', 'quantity': 1,
            'reference': 'BK-12345'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        IdempotencyInProgressError | IdempotencyKeyReusedError | InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | PlanNotFoundError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
            sandbox_outcome=sandbox_outcome,
            x_request_id=x_request_id,
        )
    ).parsed
