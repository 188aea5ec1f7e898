from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.esim_not_found_error import EsimNotFoundError
from ...models.esim_response import EsimResponse
from ...models.internal_error import InternalError
from ...models.invalid_request_error import InvalidRequestError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.payload_too_large_error import PayloadTooLargeError
from ...models.rate_limited_error import RateLimitedError
from ...models.sandbox_only_error import SandboxOnlyError
from ...models.sandbox_usage import SandboxUsage
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.unsupported_media_type_error import UnsupportedMediaTypeError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    esim_id: UUID,
    *,
    body: SandboxUsage,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/sandbox/esims/{esim_id}/usage".format(
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
    EsimNotFoundError
    | EsimResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PayloadTooLargeError
    | RateLimitedError
    | SandboxOnlyError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | None
):
    if response.status_code == 200:
        response_200 = EsimResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = InvalidRequestError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = UnauthorizedError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = SandboxOnlyError.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = EsimNotFoundError.from_dict(response.json())

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
    EsimNotFoundError
    | EsimResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PayloadTooLargeError
    | RateLimitedError
    | SandboxOnlyError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
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
    body: SandboxUsage,
    x_request_id: str | Unset = UNSET,
) -> Response[
    EsimNotFoundError
    | EsimResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PayloadTooLargeError
    | RateLimitedError
    | SandboxOnlyError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
]:
    """Simulate data use

     Sandbox keys only. Records `mb` of data used on one of your sandbox eSIMs, as if its
    traveller used it: the first use activates it (`READY` → `ACTIVE`, validity starts),
    use up to its allowance depletes it (`DEPLETED`). Use on an `EXPIRED` eSIM changes
    nothing. Answers the eSIM as `GET /v1/esim/{esimId}` does.

    Args:
        esim_id (UUID):
        x_request_id (str | Unset):
        body (SandboxUsage): Data the traveller used. Example: {'mb': 500}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EsimNotFoundError | EsimResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PayloadTooLargeError | RateLimitedError | SandboxOnlyError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError]
    """

    kwargs = _get_kwargs(
        esim_id=esim_id,
        body=body,
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
    body: SandboxUsage,
    x_request_id: str | Unset = UNSET,
) -> (
    EsimNotFoundError
    | EsimResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PayloadTooLargeError
    | RateLimitedError
    | SandboxOnlyError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | None
):
    """Simulate data use

     Sandbox keys only. Records `mb` of data used on one of your sandbox eSIMs, as if its
    traveller used it: the first use activates it (`READY` → `ACTIVE`, validity starts),
    use up to its allowance depletes it (`DEPLETED`). Use on an `EXPIRED` eSIM changes
    nothing. Answers the eSIM as `GET /v1/esim/{esimId}` does.

    Args:
        esim_id (UUID):
        x_request_id (str | Unset):
        body (SandboxUsage): Data the traveller used. Example: {'mb': 500}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EsimNotFoundError | EsimResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PayloadTooLargeError | RateLimitedError | SandboxOnlyError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError
    """

    return sync_detailed(
        esim_id=esim_id,
        client=client,
        body=body,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    esim_id: UUID,
    *,
    client: AuthenticatedClient,
    body: SandboxUsage,
    x_request_id: str | Unset = UNSET,
) -> Response[
    EsimNotFoundError
    | EsimResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PayloadTooLargeError
    | RateLimitedError
    | SandboxOnlyError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
]:
    """Simulate data use

     Sandbox keys only. Records `mb` of data used on one of your sandbox eSIMs, as if its
    traveller used it: the first use activates it (`READY` → `ACTIVE`, validity starts),
    use up to its allowance depletes it (`DEPLETED`). Use on an `EXPIRED` eSIM changes
    nothing. Answers the eSIM as `GET /v1/esim/{esimId}` does.

    Args:
        esim_id (UUID):
        x_request_id (str | Unset):
        body (SandboxUsage): Data the traveller used. Example: {'mb': 500}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EsimNotFoundError | EsimResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PayloadTooLargeError | RateLimitedError | SandboxOnlyError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError]
    """

    kwargs = _get_kwargs(
        esim_id=esim_id,
        body=body,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    esim_id: UUID,
    *,
    client: AuthenticatedClient,
    body: SandboxUsage,
    x_request_id: str | Unset = UNSET,
) -> (
    EsimNotFoundError
    | EsimResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PayloadTooLargeError
    | RateLimitedError
    | SandboxOnlyError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | None
):
    """Simulate data use

     Sandbox keys only. Records `mb` of data used on one of your sandbox eSIMs, as if its
    traveller used it: the first use activates it (`READY` → `ACTIVE`, validity starts),
    use up to its allowance depletes it (`DEPLETED`). Use on an `EXPIRED` eSIM changes
    nothing. Answers the eSIM as `GET /v1/esim/{esimId}` does.

    Args:
        esim_id (UUID):
        x_request_id (str | Unset):
        body (SandboxUsage): Data the traveller used. Example: {'mb': 500}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EsimNotFoundError | EsimResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PayloadTooLargeError | RateLimitedError | SandboxOnlyError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError
    """

    return (
        await asyncio_detailed(
            esim_id=esim_id,
            client=client,
            body=body,
            x_request_id=x_request_id,
        )
    ).parsed
