from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.internal_error import InternalError
from ...models.invalid_webhook_error import InvalidWebhookError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.new_webhook import NewWebhook
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.payload_too_large_error import PayloadTooLargeError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.unsupported_media_type_error import UnsupportedMediaTypeError
from ...models.webhook_with_secret_response import WebhookWithSecretResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: NewWebhook,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/webhooks",
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
    | WebhookWithSecretResponse
    | None
):
    if response.status_code == 201:
        response_201 = WebhookWithSecretResponse.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = InvalidWebhookError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = UnauthorizedError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = PartnerSuspendedError.from_dict(response.json())

        return response_403

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
    | WebhookWithSecretResponse
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
    body: NewWebhook,
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
    | WebhookWithSecretResponse
]:
    """Create a webhook endpoint

     Registers an endpoint for the events of this key's mode (a sandbox key's endpoints get
    only sandbox events). The answer holds its signing secret, shown only here. The URL
    must be `https` and its host must resolve to public addresses only (checked again at
    each delivery).

    Args:
        x_request_id (str | Unset):
        body (NewWebhook): `POST /v1/webhooks`. Example: {'description': 'Bookings backend',
            'events': ['order.completed', 'order.failed'], 'url': 'https://example.com/hooks'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookWithSecretResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: NewWebhook,
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
    | WebhookWithSecretResponse
    | None
):
    """Create a webhook endpoint

     Registers an endpoint for the events of this key's mode (a sandbox key's endpoints get
    only sandbox events). The answer holds its signing secret, shown only here. The URL
    must be `https` and its host must resolve to public addresses only (checked again at
    each delivery).

    Args:
        x_request_id (str | Unset):
        body (NewWebhook): `POST /v1/webhooks`. Example: {'description': 'Bookings backend',
            'events': ['order.completed', 'order.failed'], 'url': 'https://example.com/hooks'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookWithSecretResponse
    """

    return sync_detailed(
        client=client,
        body=body,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: NewWebhook,
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
    | WebhookWithSecretResponse
]:
    """Create a webhook endpoint

     Registers an endpoint for the events of this key's mode (a sandbox key's endpoints get
    only sandbox events). The answer holds its signing secret, shown only here. The URL
    must be `https` and its host must resolve to public addresses only (checked again at
    each delivery).

    Args:
        x_request_id (str | Unset):
        body (NewWebhook): `POST /v1/webhooks`. Example: {'description': 'Bookings backend',
            'events': ['order.completed', 'order.failed'], 'url': 'https://example.com/hooks'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookWithSecretResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: NewWebhook,
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
    | WebhookWithSecretResponse
    | None
):
    """Create a webhook endpoint

     Registers an endpoint for the events of this key's mode (a sandbox key's endpoints get
    only sandbox events). The answer holds its signing secret, shown only here. The URL
    must be `https` and its host must resolve to public addresses only (checked again at
    each delivery).

    Args:
        x_request_id (str | Unset):
        body (NewWebhook): `POST /v1/webhooks`. Example: {'description': 'Bookings backend',
            'events': ['order.completed', 'order.failed'], 'url': 'https://example.com/hooks'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | InvalidWebhookError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError | WebhookWithSecretResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_request_id=x_request_id,
        )
    ).parsed
