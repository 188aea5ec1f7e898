from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.internal_error import InternalError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.webhook_list import WebhookList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/webhooks",
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
    | WebhookList
    | None
):
    if response.status_code == 200:
        response_200 = WebhookList.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = UnauthorizedError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = PartnerSuspendedError.from_dict(response.json())

        return response_403

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
    | WebhookList
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
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | WebhookList
]:
    """List webhook endpoints

     Your endpoints in this key's mode, oldest first. Secrets are never shown again.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookList]
    """

    kwargs = _get_kwargs(
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
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
    | WebhookList
    | None
):
    """List webhook endpoints

     Your endpoints in this key's mode, oldest first. Secrets are never shown again.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookList
    """

    return sync_detailed(
        client=client,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
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
    | WebhookList
]:
    """List webhook endpoints

     Your endpoints in this key's mode, oldest first. Secrets are never shown again.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookList]
    """

    kwargs = _get_kwargs(
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
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
    | WebhookList
    | None
):
    """List webhook endpoints

     Your endpoints in this key's mode, oldest first. Secrets are never shown again.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | MethodNotAllowedError | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | WebhookList
    """

    return (
        await asyncio_detailed(
            client=client,
            x_request_id=x_request_id,
        )
    ).parsed
