from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.balance_alert_response import BalanceAlertResponse
from ...models.balance_alert_update import BalanceAlertUpdate
from ...models.internal_error import InternalError
from ...models.invalid_request_error import InvalidRequestError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.payload_too_large_error import PayloadTooLargeError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...models.unsupported_media_type_error import UnsupportedMediaTypeError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: BalanceAlertUpdate,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/balance/alert",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    BalanceAlertResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | None
):
    if response.status_code == 200:
        response_200 = BalanceAlertResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = InvalidRequestError.from_dict(response.json())

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
    BalanceAlertResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
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
    *,
    client: AuthenticatedClient,
    body: BalanceAlertUpdate,
    x_request_id: str | Unset = UNSET,
) -> Response[
    BalanceAlertResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
]:
    """Set your low-balance alert

     Sets the balance below which a debit sends you `balance.low` (0 turns it off). Setting
    it sends nothing, even when your balance is below it already: the event reports the
    debit that crosses it. Each mode has its own: a sandbox key sets the sandbox's.

    Args:
        x_request_id (str | Unset):
        body (BalanceAlertUpdate): The low-balance alert to set. Example: {'threshold': 100}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BalanceAlertResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError]
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
    body: BalanceAlertUpdate,
    x_request_id: str | Unset = UNSET,
) -> (
    BalanceAlertResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | None
):
    """Set your low-balance alert

     Sets the balance below which a debit sends you `balance.low` (0 turns it off). Setting
    it sends nothing, even when your balance is below it already: the event reports the
    debit that crosses it. Each mode has its own: a sandbox key sets the sandbox's.

    Args:
        x_request_id (str | Unset):
        body (BalanceAlertUpdate): The low-balance alert to set. Example: {'threshold': 100}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BalanceAlertResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError
    """

    return sync_detailed(
        client=client,
        body=body,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: BalanceAlertUpdate,
    x_request_id: str | Unset = UNSET,
) -> Response[
    BalanceAlertResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
]:
    """Set your low-balance alert

     Sets the balance below which a debit sends you `balance.low` (0 turns it off). Setting
    it sends nothing, even when your balance is below it already: the event reports the
    debit that crosses it. Each mode has its own: a sandbox key sets the sandbox's.

    Args:
        x_request_id (str | Unset):
        body (BalanceAlertUpdate): The low-balance alert to set. Example: {'threshold': 100}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BalanceAlertResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError]
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
    body: BalanceAlertUpdate,
    x_request_id: str | Unset = UNSET,
) -> (
    BalanceAlertResponse
    | InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | PartnerSuspendedError
    | PayloadTooLargeError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | UnsupportedMediaTypeError
    | None
):
    """Set your low-balance alert

     Sets the balance below which a debit sends you `balance.low` (0 turns it off). Setting
    it sends nothing, even when your balance is below it already: the event reports the
    debit that crosses it. Each mode has its own: a sandbox key sets the sandbox's.

    Args:
        x_request_id (str | Unset):
        body (BalanceAlertUpdate): The low-balance alert to set. Example: {'threshold': 100}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BalanceAlertResponse | InternalError | InvalidRequestError | MethodNotAllowedError | PartnerSuspendedError | PayloadTooLargeError | RateLimitedError | ServiceUnavailableError | UnauthorizedError | UnsupportedMediaTypeError
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_request_id=x_request_id,
        )
    ).parsed
