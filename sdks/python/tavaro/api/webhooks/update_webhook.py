from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.internal_error import InternalError
from ...models.invalid_webhook_error import InvalidWebhookError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.payload_too_large_error import PayloadTooLargeError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.unsupported_media_type_error import UnsupportedMediaTypeError
from ...models.webhook_not_found_error import WebhookNotFoundError
from ...models.webhook_response import WebhookResponse
from ...models.webhook_update import WebhookUpdate
from ...types import UNSET, Response, Unset


def _get_kwargs(
    webhook_id: UUID,
    *,
    body: WebhookUpdate,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/v1/webhooks/{webhook_id}".format(
            webhook_id=quote(str(webhook_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    InternalError
    | InvalidWebhookError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | WebhookNotFoundError
    | WebhookResponse
    | None
):
    if response.status_code == 200:
        response_200 = WebhookResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = InvalidWebhookError.from_dict(response.json())

        return response_400

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

    if response.status_code == 413:
        response_413 = PayloadTooLargeError.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = UnsupportedMediaTypeError.from_dict(response.json())

        return response_415

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
    | InvalidWebhookError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | WebhookNotFoundError
    | WebhookResponse
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    webhook_id: UUID,
    *,
    client: AuthenticatedClient,
    body: WebhookUpdate,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | InvalidWebhookError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | WebhookNotFoundError
    | WebhookResponse
]:
    """Update a webhook endpoint

     Changes its URL (checked as at creation), event types, description, or status
    (`disabled` stops deliveries; `enabled` resumes them and forgets past failures).

    Args:
        webhook_id (UUID):
        x_request_id (str | Unset):
        body (WebhookUpdate): `PATCH /v1/webhooks/{webhookId}`: the fields to change; absent
            fields stay. Example: {'events': ['order.completed'], 'status': 'enabled'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookNotFoundError | WebhookResponse]
    """

    kwargs = _get_kwargs(
        webhook_id=webhook_id,
        body=body,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    webhook_id: UUID,
    *,
    client: AuthenticatedClient,
    body: WebhookUpdate,
    x_request_id: str | Unset = UNSET,
) -> (
    InternalError
    | InvalidWebhookError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | WebhookNotFoundError
    | WebhookResponse
    | None
):
    """Update a webhook endpoint

     Changes its URL (checked as at creation), event types, description, or status
    (`disabled` stops deliveries; `enabled` resumes them and forgets past failures).

    Args:
        webhook_id (UUID):
        x_request_id (str | Unset):
        body (WebhookUpdate): `PATCH /v1/webhooks/{webhookId}`: the fields to change; absent
            fields stay. Example: {'events': ['order.completed'], 'status': 'enabled'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookNotFoundError | WebhookResponse
    """

    return sync_detailed(
        webhook_id=webhook_id,
        client=client,
        body=body,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    webhook_id: UUID,
    *,
    client: AuthenticatedClient,
    body: WebhookUpdate,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | InvalidWebhookError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | WebhookNotFoundError
    | WebhookResponse
]:
    """Update a webhook endpoint

     Changes its URL (checked as at creation), event types, description, or status
    (`disabled` stops deliveries; `enabled` resumes them and forgets past failures).

    Args:
        webhook_id (UUID):
        x_request_id (str | Unset):
        body (WebhookUpdate): `PATCH /v1/webhooks/{webhookId}`: the fields to change; absent
            fields stay. Example: {'events': ['order.completed'], 'status': 'enabled'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookNotFoundError | WebhookResponse]
    """

    kwargs = _get_kwargs(
        webhook_id=webhook_id,
        body=body,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    webhook_id: UUID,
    *,
    client: AuthenticatedClient,
    body: WebhookUpdate,
    x_request_id: str | Unset = UNSET,
) -> (
    InternalError
    | InvalidWebhookError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | WebhookNotFoundError
    | WebhookResponse
    | None
):
    """Update a webhook endpoint

     Changes its URL (checked as at creation), event types, description, or status
    (`disabled` stops deliveries; `enabled` resumes them and forgets past failures).

    Args:
        webhook_id (UUID):
        x_request_id (str | Unset):
        body (WebhookUpdate): `PATCH /v1/webhooks/{webhookId}`: the fields to change; absent
            fields stay. Example: {'events': ['order.completed'], 'status': 'enabled'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookNotFoundError | WebhookResponse
    """

    return (
        await asyncio_detailed(
            webhook_id=webhook_id,
            client=client,
            body=body,
            x_request_id=x_request_id,
        )
    ).parsed
