"""The quick-start flow through the Python SDK, against a live gateway (scripts/sdk-flows, run
by `make test` on the server newman uses): balance, countries, packages, quote, a keyed order
and its replay, the eSIM, orders page by page, a 402 read through its typed details (a
sandbox key with its balance set to 0), a 401, and webhooks: a sandbox endpoint on a local
receiver gets `webhook.test` and `order.completed`, each verified with the `standardwebhooks`
library and read as its typed event (`WebhookTestEvent`, `OrderEvent`). Exits non-zero on
the first broken expectation.

    TAVARO_BASE_URL=... TAVARO_API_KEY=tvr_... TAVARO_SANDBOX_KEY=tvr_test_... python python_flow.py
"""

import json
import os
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

from tavaro import AuthenticatedClient
from tavaro.api.balance import get_balance
from tavaro.api.catalog import list_countries, list_packages
from tavaro.api.esims import get_esim
from tavaro.api.orders import list_orders, place_order, quote_order
from tavaro.api.sandbox import set_sandbox_balance
from tavaro.api.webhooks import create_webhook, delete_webhook, test_webhook
from tavaro.errors import ErrorResponse
from tavaro.models import (
    BalanceResponse,
    CountryList,
    EsimResponse,
    Geography,
    InsufficientCreditsError,
    NewWebhook,
    OrderEvent,
    OrderRequest,
    OrderSummaryPage,
    PackageList,
    PlacedOrderResponse,
    QuoteResponse,
    SandboxBalance,
    UnauthorizedError,
    WebhookTestEvent,
    WebhookWithSecretResponse,
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

    received = webhooks(sandbox, order)

    print(
        f"python flow: ok (order {placed_order.order_id}, 402 required {details.required} USD, "
        f"401 {denied.parsed.error.code.value}, webhooks {' '.join(sorted(received))})"
    )


class Receiver(BaseHTTPRequestHandler):
    """A partner's endpoint: keeps each delivery's body and headers, answers 204."""

    deliveries: "queue.Queue[tuple[bytes, dict[str, str]]]" = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.deliveries.put((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhooks(sandbox, order):
    """A sandbox endpoint on a local receiver: a test event, then a sandbox order's completion."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/tavaro"
    created = create_webhook.sync(client=sandbox, body=NewWebhook(url=url, description="SDK flow"))
    expect(isinstance(created, WebhookWithSecretResponse), f"POST /v1/webhooks answered {created!r}")
    endpoint = created.data
    expect(endpoint.secret.startswith("whsec_"), "the new endpoint's secret is shown")
    try:
        tested = test_webhook.sync_detailed(endpoint.webhook_id, client=sandbox)
        expect(tested.status_code == 202, f"POST /v1/webhooks/{{id}}/test answered {tested.status_code}")
        placed = place_order.sync(client=sandbox, body=order)
        expect(isinstance(placed, PlacedOrderResponse), f"a sandbox order answered {placed!r}")

        verifier = Webhook(endpoint.secret)
        received = {}
        deadline = time.monotonic() + 30
        while set(received) != {"webhook.test", "order.completed"} and time.monotonic() < deadline:
            try:
                body, headers = Receiver.deliveries.get(timeout=1)
            except queue.Empty:
                continue
            payload = verifier.verify(body, headers)  # raises on a bad signature
            expect(payload == json.loads(body), "the verified payload is the body")
            expect(headers["webhook-id"] == payload["id"], "webhook-id is the event's id")
            received[payload["type"]] = payload
        expect("webhook.test" in received, f"no webhook.test delivered within 30 s: {sorted(received)}")
        expect("order.completed" in received, f"no order.completed delivered within 30 s: {sorted(received)}")

        test_event = WebhookTestEvent.from_dict(received["webhook.test"])
        expect(test_event.mode.value == "sandbox", "a sandbox endpoint's event is in sandbox mode")
        expect(test_event.data.webhook_id == endpoint.webhook_id, "webhook.test carries the endpoint")
        completed = OrderEvent.from_dict(received["order.completed"])
        expect(completed.data.order_id == placed.data.order_id, "order.completed carries the order")
        expect(len(completed.data.esims) == 1, "order.completed carries the order's eSIMs")
        expect(
            completed.data.esims[0].iccid == placed.data.esims[0].iccid,
            "the event's eSIM is the one the order answered",
        )
        return received
    finally:
        deleted = delete_webhook.sync_detailed(endpoint.webhook_id, client=sandbox)
        expect(deleted.status_code == 200, f"DELETE /v1/webhooks/{{id}} answered {deleted.status_code}")
        server.shutdown()


base_url = os.environ["TAVARO_BASE_URL"]
with (
    AuthenticatedClient(base_url=base_url, token=os.environ["TAVARO_API_KEY"]) as client,
    AuthenticatedClient(base_url=base_url, token=os.environ["TAVARO_SANDBOX_KEY"]) as sandbox,
    AuthenticatedClient(base_url=base_url, token="tvr_not-a-key-of-this-gateway") as stranger,
):
    flow(client, sandbox, stranger)
