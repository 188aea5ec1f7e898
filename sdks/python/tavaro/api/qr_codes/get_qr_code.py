from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.internal_error import InternalError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.not_found_error import NotFoundError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    token: str,
    *,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/qr/{token}.png".format(
            token=quote(str(token), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError | None:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

        return response_200

    if response.status_code == 404:
        response_404 = NotFoundError.from_dict(response.json())

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
    File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    x_request_id: str | Unset = UNSET,
) -> Response[
    File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError
]:
    """Get an install QR code

     The install QR code of an eSIM: a PNG encoding exactly its `lpaCode`. Public, so a
    traveller can open `qrCodeUrl` directly; the unguessable token is the credential.
    Limited per client address, like every request without a key.

    Args:
        token (str):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError]
    """

    kwargs = _get_kwargs(
        token=token,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    x_request_id: str | Unset = UNSET,
) -> File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError | None:
    """Get an install QR code

     The install QR code of an eSIM: a PNG encoding exactly its `lpaCode`. Public, so a
    traveller can open `qrCodeUrl` directly; the unguessable token is the credential.
    Limited per client address, like every request without a key.

    Args:
        token (str):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError
    """

    return sync_detailed(
        token=token,
        client=client,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    x_request_id: str | Unset = UNSET,
) -> Response[
    File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError
]:
    """Get an install QR code

     The install QR code of an eSIM: a PNG encoding exactly its `lpaCode`. Public, so a
    traveller can open `qrCodeUrl` directly; the unguessable token is the credential.
    Limited per client address, like every request without a key.

    Args:
        token (str):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError]
    """

    kwargs = _get_kwargs(
        token=token,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    x_request_id: str | Unset = UNSET,
) -> File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError | None:
    """Get an install QR code

     The install QR code of an eSIM: a PNG encoding exactly its `lpaCode`. Public, so a
    traveller can open `qrCodeUrl` directly; the unguessable token is the credential.
    Limited per client address, like every request without a key.

    Args:
        token (str):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File | InternalError | MethodNotAllowedError | NotFoundError | RateLimitedError | ServiceUnavailableError
    """

    return (
        await asyncio_detailed(
            token=token,
            client=client,
            x_request_id=x_request_id,
        )
    ).parsed
