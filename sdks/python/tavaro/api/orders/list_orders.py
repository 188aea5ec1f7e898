import datetime
from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.internal_error import InternalError
from ...models.invalid_request_error import InvalidRequestError
from ...models.method_not_allowed_error import MethodNotAllowedError
from ...models.order_kind import OrderKind
from ...models.order_status import OrderStatus
from ...models.order_summary_page import OrderSummaryPage
from ...models.partner_suspended_error import PartnerSuspendedError
from ...models.rate_limited_error import RateLimitedError
from ...models.service_unavailable_error import ServiceUnavailableError
from ...models.unauthorized_error import UnauthorizedError
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: OrderStatus | Unset = UNSET,
    reference: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    kind: OrderKind | Unset = UNSET,
    esim_id: UUID | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["reference"] = reference

    json_from_: str | Unset = UNSET
    if not isinstance(from_, Unset):
        json_from_ = from_.isoformat()
    params["from"] = json_from_

    json_to: str | Unset = UNSET
    if not isinstance(to, Unset):
        json_to = to.isoformat()
    params["to"] = json_to

    json_kind: str | Unset = UNSET
    if not isinstance(kind, Unset):
        json_kind = kind.value

    params["kind"] = json_kind

    json_esim_id: str | Unset = UNSET
    if not isinstance(esim_id, Unset):
        json_esim_id = str(esim_id)
    params["esimId"] = json_esim_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/orders",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | OrderSummaryPage
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | None
):
    if response.status_code == 200:
        response_200 = OrderSummaryPage.from_dict(response.json())

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
    | InvalidRequestError
    | MethodNotAllowedError
    | OrderSummaryPage
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
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
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: OrderStatus | Unset = UNSET,
    reference: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    kind: OrderKind | Unset = UNSET,
    esim_id: UUID | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | OrderSummaryPage
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
]:
    """List orders

     Your orders, newest first, one page at a time (`meta.nextCursor`), optionally
    filtered. The `esims` of an order are only in `GET /v1/orders/{orderId}`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (OrderStatus | Unset): Where an order stands.
        reference (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        kind (OrderKind | Unset): What an order buys.
        esim_id (UUID | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | InvalidRequestError | MethodNotAllowedError | OrderSummaryPage | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        status=status,
        reference=reference,
        from_=from_,
        to=to,
        kind=kind,
        esim_id=esim_id,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: OrderStatus | Unset = UNSET,
    reference: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    kind: OrderKind | Unset = UNSET,
    esim_id: UUID | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> (
    InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | OrderSummaryPage
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | None
):
    """List orders

     Your orders, newest first, one page at a time (`meta.nextCursor`), optionally
    filtered. The `esims` of an order are only in `GET /v1/orders/{orderId}`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (OrderStatus | Unset): Where an order stands.
        reference (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        kind (OrderKind | Unset): What an order buys.
        esim_id (UUID | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | InvalidRequestError | MethodNotAllowedError | OrderSummaryPage | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        status=status,
        reference=reference,
        from_=from_,
        to=to,
        kind=kind,
        esim_id=esim_id,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: OrderStatus | Unset = UNSET,
    reference: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    kind: OrderKind | Unset = UNSET,
    esim_id: UUID | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[
    InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | OrderSummaryPage
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
]:
    """List orders

     Your orders, newest first, one page at a time (`meta.nextCursor`), optionally
    filtered. The `esims` of an order are only in `GET /v1/orders/{orderId}`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (OrderStatus | Unset): Where an order stands.
        reference (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        kind (OrderKind | Unset): What an order buys.
        esim_id (UUID | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InternalError | InvalidRequestError | MethodNotAllowedError | OrderSummaryPage | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        status=status,
        reference=reference,
        from_=from_,
        to=to,
        kind=kind,
        esim_id=esim_id,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: OrderStatus | Unset = UNSET,
    reference: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    kind: OrderKind | Unset = UNSET,
    esim_id: UUID | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> (
    InternalError
    | InvalidRequestError
    | MethodNotAllowedError
    | OrderSummaryPage
    | PartnerSuspendedError
    | RateLimitedError
    | ServiceUnavailableError
    | UnauthorizedError
    | None
):
    """List orders

     Your orders, newest first, one page at a time (`meta.nextCursor`), optionally
    filtered. The `esims` of an order are only in `GET /v1/orders/{orderId}`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (OrderStatus | Unset): Where an order stands.
        reference (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        kind (OrderKind | Unset): What an order buys.
        esim_id (UUID | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InternalError | InvalidRequestError | MethodNotAllowedError | OrderSummaryPage | PartnerSuspendedError | RateLimitedError | ServiceUnavailableError | UnauthorizedError
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            status=status,
            reference=reference,
            from_=from_,
            to=to,
            kind=kind,
            esim_id=esim_id,
            x_request_id=x_request_id,
        )
    ).parsed
