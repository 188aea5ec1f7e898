from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.insufficient_credits_error import InsufficientCreditsError
from ...models.internal_error import InternalError
from ...models.invalid_request_error import InvalidRequestError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.payload_too_large_error import PayloadTooLargeError
from ...models.placed_order_response import PlacedOrderResponse
from ...models.rate_limited_error import RateLimitedError
from ...models.sandbox_outcome import SandboxOutcome
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.topup_conflict_error import TopupConflictError
from ...models.topup_not_found_error import TopupNotFoundError
from ...models.topup_request import TopupRequest
from ...models.topup_unprocessable_error import TopupUnprocessableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.unsupported_media_type_error import UnsupportedMediaTypeError
from ...models.upstream_error import UpstreamError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    esim_id: UUID,
    *,
    body: TopupRequest,
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
        "url": "/v1/esim/{esim_id}/topup".format(
            esim_id=quote(str(esim_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | RateLimitedError
    | ServiceUnavailableError
    | TopupConflictError
    | TopupNotFoundError
    | TopupUnprocessableError
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
        response_404 = TopupNotFoundError.from_dict(response.json())

        return response_404

    if response.status_code == 405:
        response_405 = MethodNotAllowedError.from_dict(response.json())

        return response_405

    if response.status_code == 409:
        response_409 = TopupConflictError.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = PayloadTooLargeError.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = UnsupportedMediaTypeError.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = TopupUnprocessableError.from_dict(response.json())

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
    InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | RateLimitedError
    | ServiceUnavailableError
    | TopupConflictError
    | TopupNotFoundError
    | TopupUnprocessableError
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
    esim_id: UUID,
    *,
    client: AuthenticatedClient,
    body: TopupRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | RateLimitedError
    | ServiceUnavailableError
    | TopupConflictError
    | TopupNotFoundError
    | TopupUnprocessableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
]:
    """Top up an eSIM

     Adds a plan's data (and validity, from today) to an eSIM you hold: an order of kind
    `topup`, debited and settled exactly like `POST /v1/order` (net price, 402 with
    nothing deducted, 502 refunded, 202 `processing` settled by reconciliation,
    `Idempotency-Key` semantics). The answer's `esims` holds the topped-up eSIM; a
    `DEPLETED` eSIM is `ACTIVE` again. The plan must be one of
    `GET /v1/esim/{esimId}/topups` (422 `plan_not_compatible` otherwise); an expired or
    cancelled eSIM, or one whose plan forbids top-ups, gets 409 `topup_not_allowed`.
    Sandbox keys may force an outcome with `Sandbox-Outcome`, as for orders.

    Args:
        esim_id (UUID):
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (TopupRequest): A top-up: which plan, and optionally your booking reference. Unknown
            fields are
            refused (400). Example: {'planId': 'ae-1gb-7d', 'reference': 'BK-12345-topup-1'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | RateLimitedError | ServiceUnavailableError | TopupConflictError | TopupNotFoundError | TopupUnprocessableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError]
    """

    kwargs = _get_kwargs(
        esim_id=esim_id,
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
    esim_id: UUID,
    *,
    client: AuthenticatedClient,
    body: TopupRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> (
    InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | RateLimitedError
    | ServiceUnavailableError
    | TopupConflictError
    | TopupNotFoundError
    | TopupUnprocessableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
    | None
):
    """Top up an eSIM

     Adds a plan's data (and validity, from today) to an eSIM you hold: an order of kind
    `topup`, debited and settled exactly like `POST /v1/order` (net price, 402 with
    nothing deducted, 502 refunded, 202 `processing` settled by reconciliation,
    `Idempotency-Key` semantics). The answer's `esims` holds the topped-up eSIM; a
    `DEPLETED` eSIM is `ACTIVE` again. The plan must be one of
    `GET /v1/esim/{esimId}/topups` (422 `plan_not_compatible` otherwise); an expired or
    cancelled eSIM, or one whose plan forbids top-ups, gets 409 `topup_not_allowed`.
    Sandbox keys may force an outcome with `Sandbox-Outcome`, as for orders.

    Args:
        esim_id (UUID):
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (TopupRequest): A top-up: which plan, and optionally your booking reference. Unknown
            fields are
            refused (400). Example: {'planId': 'ae-1gb-7d', 'reference': 'BK-12345-topup-1'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | RateLimitedError | ServiceUnavailableError | TopupConflictError | TopupNotFoundError | TopupUnprocessableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError
    """

    return sync_detailed(
        esim_id=esim_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
        sandbox_outcome=sandbox_outcome,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    esim_id: UUID,
    *,
    client: AuthenticatedClient,
    body: TopupRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | RateLimitedError
    | ServiceUnavailableError
    | TopupConflictError
    | TopupNotFoundError
    | TopupUnprocessableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
]:
    """Top up an eSIM

     Adds a plan's data (and validity, from today) to an eSIM you hold: an order of kind
    `topup`, debited and settled exactly like `POST /v1/order` (net price, 402 with
    nothing deducted, 502 refunded, 202 `processing` settled by reconciliation,
    `Idempotency-Key` semantics). The answer's `esims` holds the topped-up eSIM; a
    `DEPLETED` eSIM is `ACTIVE` again. The plan must be one of
    `GET /v1/esim/{esimId}/topups` (422 `plan_not_compatible` otherwise); an expired or
    cancelled eSIM, or one whose plan forbids top-ups, gets 409 `topup_not_allowed`.
    Sandbox keys may force an outcome with `Sandbox-Outcome`, as for orders.

    Args:
        esim_id (UUID):
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (TopupRequest): A top-up: which plan, and optionally your booking reference. Unknown
            fields are
            refused (400). Example: {'planId': 'ae-1gb-7d', 'reference': 'BK-12345-topup-1'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | RateLimitedError | ServiceUnavailableError | TopupConflictError | TopupNotFoundError | TopupUnprocessableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError]
    """

    kwargs = _get_kwargs(
        esim_id=esim_id,
        body=body,
        idempotency_key=idempotency_key,
        sandbox_outcome=sandbox_outcome,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    esim_id: UUID,
    *,
    client: AuthenticatedClient,
    body: TopupRequest,
    idempotency_key: str | Unset = UNSET,
    sandbox_outcome: SandboxOutcome | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> (
    InsufficientCreditsError
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | PlacedOrderResponse
    | RateLimitedError
    | ServiceUnavailableError
    | TopupConflictError
    | TopupNotFoundError
    | TopupUnprocessableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | UpstreamError
    | None
):
    """Top up an eSIM

     Adds a plan's data (and validity, from today) to an eSIM you hold: an order of kind
    `topup`, debited and settled exactly like `POST /v1/order` (net price, 402 with
    nothing deducted, 502 refunded, 202 `processing` settled by reconciliation,
    `Idempotency-Key` semantics). The answer's `esims` holds the topped-up eSIM; a
    `DEPLETED` eSIM is `ACTIVE` again. The plan must be one of
    `GET /v1/esim/{esimId}/topups` (422 `plan_not_compatible` otherwise); an expired or
    cancelled eSIM, or one whose plan forbids top-ups, gets 409 `topup_not_allowed`.
    Sandbox keys may force an outcome with `Sandbox-Outcome`, as for orders.

    Args:
        esim_id (UUID):
        idempotency_key (str | Unset):
        sandbox_outcome (SandboxOutcome | Unset): An outcome a sandbox order is made to have
            (`Sandbox-Outcome`), so partners can test
            how they handle each.
        x_request_id (str | Unset):
        body (TopupRequest): A top-up: which plan, and optionally your booking reference. Unknown
            fields are
            refused (400). Example: {'planId': 'ae-1gb-7d', 'reference': 'BK-12345-topup-1'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InsufficientCreditsError | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | PlacedOrderResponse | RateLimitedError | ServiceUnavailableError | TopupConflictError | TopupNotFoundError | TopupUnprocessableError | UnauthorizedError | UnsupportedMediaTypeError | UpstreamError
    """

    return (
        await asyncio_detailed(
            esim_id=esim_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
            sandbox_outcome=sandbox_outcome,
            x_request_id=x_request_id,
        )
    ).parsed
