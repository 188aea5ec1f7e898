from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.internal_error import InternalError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.webhook_delivery_response import WebhookDeliveryResponse
from ...models.webhook_not_found_error import WebhookNotFoundError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    webhook_id: UUID,
    delivery_id: UUID,
    *,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry".format(
            webhook_id=quote(str(webhook_id), safe=""),
            delivery_id=quote(str(delivery_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookDeliveryResponse
    | WebhookNotFoundError
    | None
):
    if response.status_code == 202:
        response_202 = WebhookDeliveryResponse.from_dict(response.json())

        return response_202

    if response.status_code == 401:
        response_401 = UnauthorizedError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = PartnerSuspendedError.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = WebhookNotFoundError.from_dict(response.json())

        return response_404

    if response.status_code == 405:
        response_405 = MethodNotAllowedError.from_dict(response.json())

        return response_405

    if response.status_code == 429:
        response_429 = RateLimitedError.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = InternalError.from_dict(response.json())

        return response_500

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
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookDeliveryResponse
    | WebhookNotFoundError
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    webhook_id: UUID,
    delivery_id: UUID,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookDeliveryResponse
    | WebhookNotFoundError
]:
    """Retry a delivery

     Makes the delivery due now: a `failed` delivery gets one more attempt, a `pending`
    one is sent without waiting for its next retry, a `succeeded` one is sent again (same
    `webhook-id`: dedupe on it).

    Args:
        webhook_id (UUID):
        delivery_id (UUID):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookDeliveryResponse | WebhookNotFoundError]
    """

    kwargs = _get_kwargs(
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    webhook_id: UUID,
    delivery_id: UUID,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
) -> (
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookDeliveryResponse
    | WebhookNotFoundError
    | None
):
    """Retry a delivery

     Makes the delivery due now: a `failed` delivery gets one more attempt, a `pending`
    one is sent without waiting for its next retry, a `succeeded` one is sent again (same
    `webhook-id`: dedupe on it).

    Args:
        webhook_id (UUID):
        delivery_id (UUID):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookDeliveryResponse | WebhookNotFoundError
    """

    return sync_detailed(
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        client=client,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    webhook_id: UUID,
    delivery_id: UUID,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookDeliveryResponse
    | WebhookNotFoundError
]:
    """Retry a delivery

     Makes the delivery due now: a `failed` delivery gets one more attempt, a `pending`
    one is sent without waiting for its next retry, a `succeeded` one is sent again (same
    `webhook-id`: dedupe on it).

    Args:
        webhook_id (UUID):
        delivery_id (UUID):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookDeliveryResponse | WebhookNotFoundError]
    """

    kwargs = _get_kwargs(
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    webhook_id: UUID,
    delivery_id: UUID,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
) -> (
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookDeliveryResponse
    | WebhookNotFoundError
    | None
):
    """Retry a delivery

     Makes the delivery due now: a `failed` delivery gets one more attempt, a `pending`
    one is sent without waiting for its next retry, a `succeeded` one is sent again (same
    `webhook-id`: dedupe on it).

    Args:
        webhook_id (UUID):
        delivery_id (UUID):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookDeliveryResponse | WebhookNotFoundError
    """

    return (
        await asyncio_detailed(
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            client=client,
            x_request_id=x_request_id,
        )
    ).parsed
