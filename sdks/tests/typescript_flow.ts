// The quick-start flow through the TypeScript SDK, against a live gateway (scripts/sdk-flows,
// run by `make test` on the server newman uses): balance, countries, packages, quote, a
// keyed order and its replay, the eSIM, orders page by page, a 402 read through its typed
// details (a sandbox key with its balance set to 0) and a 401. Type-checked by tsc, then run
// by tsx; exits non-zero on the first broken expectation.
import { createTavaroClient, type ErrorCode, type OrderRequest } from "tavaro-partner-api";

function expect(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`typescript flow: ${what}`);
}

function env(name: string): string {
  const value = process.env[name];
  expect(value, `${name} is not set`);
  return value;
}

const baseUrl = env("TAVARO_BASE_URL");
const client = createTavaroClient({ apiKey: env("TAVARO_API_KEY"), baseUrl });
const sandbox = createTavaroClient({ apiKey: env("TAVARO_SANDBOX_KEY"), baseUrl });

const balance = await client.GET("/v1/balance");
expect(balance.data, `GET /v1/balance answered ${balance.response.status}`);
expect(balance.data.data.currency === "USD", "the balance is in USD");
expect(balance.response.headers.get("Tavaro-Mode") === "live", "a live key's answer says Tavaro-Mode: live");
expect(balance.response.headers.get("RateLimit-Policy"), "a keyed answer carries RateLimit-Policy");

const countries = await client.GET("/v1/countries", { params: { query: { geography: "local" } } });
expect(countries.data, `GET /v1/countries answered ${countries.response.status}`);
expect(countries.data.data.some((c) => c.code === "AE"), "the countries include AE");

const packages = await client.GET("/v1/packages", { params: { query: { country: "AE" } } });
expect(packages.data, `GET /v1/packages answered ${packages.response.status}`);
const plan = packages.data.data.find((p) => p.country === "AE");
expect(plan, "AE has a local plan");

// The README's order body, as written there: `quantity` left out.
const order: OrderRequest = { planId: plan.planId, reference: "SDK-TS" };
const quote = await client.POST("/v1/order/quote", { body: order });
expect(quote.data, `POST /v1/order/quote answered ${quote.response.status}`);
expect(quote.data.data.quantity === 1, "a quote without quantity is for one eSIM");
expect(quote.data.data.sufficient, "the demo partner can afford the plan");

const key = `sdk-ts-${Date.now()}-${Math.random().toString(36).slice(2)}`;
const placed = await client.POST("/v1/order", { body: order, params: { header: { "Idempotency-Key": key } } });
expect(placed.data, `POST /v1/order answered ${placed.response.status}: ${JSON.stringify(placed.error)}`);
expect(placed.response.status === 201, `the order answered ${placed.response.status}, not 201`);
const placedOrder = placed.data.data;
expect(placedOrder.status === "completed", "the order is completed");
const esim = placedOrder.esims[0];
expect(esim, "the order holds an eSIM");

const replay = await client.POST("/v1/order", { body: order, params: { header: { "Idempotency-Key": key } } });
expect(replay.data, `the replay answered ${replay.response.status}`);
expect(replay.data.data.orderId === placedOrder.orderId, "the replay answers the first order");
expect(replay.response.headers.get("Idempotent-Replayed") === "true", "the replay says Idempotent-Replayed: true");

const got = await client.GET("/v1/esim/{esimId}", { params: { path: { esimId: esim.esimId } } });
expect(got.data, `GET /v1/esim/{esimId} answered ${got.response.status}`);
expect(got.data.data.iccid === esim.iccid, "the eSIM is the one ordered");

// Two pages of one order each, following the opaque cursor (a second order makes two).
const another = await client.POST("/v1/order", { body: order });
expect(another.response.status === 201, `a second order answered ${another.response.status}`);
const first = await client.GET("/v1/orders", { params: { query: { limit: 1 } } });
expect(first.data, `GET /v1/orders answered ${first.response.status}`);
expect(first.data.data.length === 1, "a page of limit 1 holds one order");
const cursor = first.data.meta.nextCursor;
expect(cursor, "more than one order: a next cursor");
const second = await client.GET("/v1/orders", { params: { query: { limit: 1, cursor } } });
expect(second.data, `GET /v1/orders (page 2) answered ${second.response.status}`);
expect(second.data.data[0]?.orderId !== first.data.data[0]?.orderId, "page 2 holds another order");

// 402, through its typed details: the sandbox balance set to 0, then an order.
const emptied = await sandbox.POST("/v1/sandbox/balance", { body: { balance: 0 } });
expect(emptied.data, `POST /v1/sandbox/balance answered ${emptied.response.status}`);
const refused = await sandbox.POST("/v1/order", { body: order });
expect(refused.error, `an order on an empty balance answered ${refused.response.status}`);
expect(refused.response.status === 402, `an order on an empty balance answered ${refused.response.status}`);
const failure = refused.error.error;
expect(failure.code === "insufficient_credits", `the 402's code is ${failure.code}`);
const required: number = failure.details.required;
expect(required > 0 && failure.details.balance === 0, "the 402's details say what was required and the balance");
expect(failure.details.currency === "USD", "the 402's details are in USD");
const restored = await sandbox.POST("/v1/sandbox/balance", { body: { balance: 1000 } });
expect(restored.data, `restoring the sandbox balance answered ${restored.response.status}`);

// 401: a key the gateway does not know.
const stranger = createTavaroClient({ apiKey: "tvr_not-a-key-of-this-gateway", baseUrl });
const denied = await stranger.GET("/v1/balance");
expect(denied.error, `an unknown key answered ${denied.response.status}`);
const code: ErrorCode = denied.error.error.code;
expect(denied.response.status === 401 && code === "unauthorized", `an unknown key answered ${denied.response.status} ${code}`);

console.log(`typescript flow: ok (order ${placedOrder.orderId}, 402 required ${required} USD, 401 ${code})`);
