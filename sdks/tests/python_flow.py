"""The quick-start flow through the Python SDK, against a live gateway (scripts/sdk-flows, run
by `make test` on the server newman uses): balance, countries, packages, quote, a keyed order
and its replay, the eSIM, orders page by page, a 402 read through its typed details (a
sandbox key with its balance set to 0) and a 401. Exits non-zero on the first broken
expectation.

    TAVARO_BASE_URL=... TAVARO_API_KEY=tvr_... TAVARO_SANDBOX_KEY=tvr_test_... python python_flow.py
"""

import os
import uuid

from tavaro import AuthenticatedClient
from tavaro.api.balance import get_balance
from tavaro.api.catalog import list_countries, list_packages
from tavaro.api.esims import get_esim
from tavaro.api.orders import list_orders, place_order, quote_order
from tavaro.api.sandbox import set_sandbox_balance
from tavaro.errors import ErrorResponse
from tavaro.models import (
    BalanceResponse,
    CountryList,
    EsimResponse,
    Geography,
    InsufficientCreditsError,
    OrderRequest,
    OrderSummaryPage,
    PackageList,
    PlacedOrderResponse,
    QuoteResponse,
    SandboxBalance,
    UnauthorizedError,
)


def expect(condition, what):
    if not condition:
        raise SystemExit(f"python flow: {what}")


def flow(client, sandbox, stranger):
    balance = get_balance.sync_detailed(client=client)
    expect(isinstance(balance.parsed, BalanceResponse), f"GET /v1/balance answered {balance.status_code}")
    expect(balance.parsed.data.currency.value == "USD", "the balance is in USD")
    expect(balance.headers.get("Tavaro-Mode") == "live", "a live key's answer says Tavaro-Mode: live")
    expect(balance.headers.get("RateLimit-Policy"), "a keyed answer carries RateLimit-Policy")

    countries = list_countries.sync(client=client, geography=Geography.LOCAL)
    expect(isinstance(countries, CountryList), f"GET /v1/countries answered {countries!r}")
    expect(any(c.code == "AE" for c in countries.data), "the countries include AE")

    packages = list_packages.sync(client=client, country="AE")
    expect(isinstance(packages, PackageList), f"GET /v1/packages answered {packages!r}")
    plan = next(p for p in packages.data if p.country == "AE")

    order = OrderRequest(plan_id=plan.plan_id, reference="SDK-PY")
    quote = quote_order.sync(client=client, body=order)
    expect(isinstance(quote, QuoteResponse), f"POST /v1/order/quote answered {quote!r}")
    expect(quote.data.quantity == 1, "a quote without quantity is for one eSIM")
    expect(quote.data.sufficient, "the demo partner can afford the plan")

    key = f"sdk-py-{uuid.uuid4()}"
    placed = place_order.sync_detailed(client=client, body=order, idempotency_key=key)
    expect(placed.status_code == 201, f"POST /v1/order answered {placed.status_code}: {placed.content!r}")
    expect(isinstance(placed.parsed, PlacedOrderResponse), "the order parses as PlacedOrderResponse")
    placed_order = placed.parsed.data
    expect(placed_order.status.value == "completed", "the order is completed")
    esim = placed_order.esims[0]

    replay = place_order.sync_detailed(client=client, body=order, idempotency_key=key)
    expect(isinstance(replay.parsed, PlacedOrderResponse), f"the replay answered {replay.status_code}")
    expect(replay.parsed.data.order_id == placed_order.order_id, "the replay answers the first order")
    expect(replay.headers.get("Idempotent-Replayed") == "true", "the replay says Idempotent-Replayed: true")

    got = get_esim.sync(esim.esim_id, client=client)
    expect(isinstance(got, EsimResponse), f"GET /v1/esim/{{esimId}} answered {got!r}")
    expect(got.data.iccid == esim.iccid, "the eSIM is the one ordered")

    # Two pages of one order each, following the opaque cursor (a second order makes two).
    another = place_order.sync_detailed(client=client, body=order)
    expect(another.status_code == 201, f"a second order answered {another.status_code}")
    first = list_orders.sync(client=client, limit=1)
    expect(isinstance(first, OrderSummaryPage), f"GET /v1/orders answered {first!r}")
    expect(len(first.data) == 1, "a page of limit 1 holds one order")
    cursor = first.meta.next_cursor
    expect(isinstance(cursor, str), "more than one order: a next cursor")
    second = list_orders.sync(client=client, limit=1, cursor=cursor)
    expect(isinstance(second, OrderSummaryPage), f"GET /v1/orders (page 2) answered {second!r}")
    expect(second.data[0].order_id != first.data[0].order_id, "page 2 holds another order")

    # 402, through its typed details: the sandbox balance set to 0, then an order.
    emptied = set_sandbox_balance.sync_detailed(client=sandbox, body=SandboxBalance(balance=0))
    expect(emptied.status_code == 200, f"POST /v1/sandbox/balance answered {emptied.status_code}")
    refused = place_order.sync_detailed(client=sandbox, body=order)
    expect(refused.status_code == 402, f"an order on an empty balance answered {refused.status_code}")
    failure = refused.parsed
    expect(isinstance(failure, InsufficientCreditsError), "the 402 parses as InsufficientCreditsError")
    expect(isinstance(failure, ErrorResponse), "InsufficientCreditsError is an ErrorResponse")
    expect(failure.error.code.value == "insufficient_credits", f"the 402's code is {failure.error.code}")
    details = failure.error.details
    expect(details.required > 0 and details.balance == 0, "the 402's details say what was required and the balance")
    expect(details.currency.value == "USD", "the 402's details are in USD")
    restored = set_sandbox_balance.sync_detailed(client=sandbox, body=SandboxBalance(balance=1000))
    expect(restored.status_code == 200, f"restoring the sandbox balance answered {restored.status_code}")

    # 401: a key the gateway does not know.
    denied = get_balance.sync_detailed(client=stranger)
    expect(denied.status_code == 401, f"an unknown key answered {denied.status_code}")
    expect(isinstance(denied.parsed, UnauthorizedError), "the 401 parses as UnauthorizedError")
    expect(isinstance(denied.parsed, ErrorResponse), "UnauthorizedError is an ErrorResponse")
    expect(denied.parsed.error.code.value == "unauthorized", f"the 401's code is {denied.parsed.error.code}")

    print(
        f"python flow: ok (order {placed_order.order_id}, 402 required {details.required} USD, "
        f"401 {denied.parsed.error.code.value})"
    )


base_url = os.environ["TAVARO_BASE_URL"]
with (
    AuthenticatedClient(base_url=base_url, token=os.environ["TAVARO_API_KEY"]) as client,
    AuthenticatedClient(base_url=base_url, token=os.environ["TAVARO_SANDBOX_KEY"]) as sandbox,
    AuthenticatedClient(base_url=base_url, token="tvr_not-a-key-of-this-gateway") as stranger,
):
    flow(client, sandbox, stranger)
