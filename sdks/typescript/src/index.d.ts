// Types of the Tavaro Partner API client (./index.js); the API's own types are generated
// into ./schema.d.ts by scripts/sdks.
import type { Client, ClientOptions } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

/** Every named schema of the API: `Schemas["OrderRequest"]`, `Schemas["Esim"]`, ... */
export type Schemas = components["schemas"];

/** The body of `POST /v1/order` (and `/v1/order/quote`). */
export type OrderRequest = Schemas["OrderRequest"];

/** An error answer of any operation: `{ status: "error", error: { code, message, details? }, requestId }`. */
export type ErrorResponse = Extract<Schemas[keyof Schemas], { status: "error" }>;

/** The stable `error.code`s the API answers. */
export type ErrorCode = ErrorResponse["error"]["code"];

/** The production (and sandbox) base URL: the key picks the mode. */
export declare const PRODUCTION_URL: "https://api.tavaro.io";

/** What `createTavaroClient` takes: openapi-fetch's options, and the API key. */
export interface TavaroClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** A live (`tvr_...`) or sandbox (`tvr_test_...`) key. */
  apiKey: string;
  /** Defaults to `PRODUCTION_URL`. */
  baseUrl?: string;
}

/** A client for the Partner API, authenticated with `apiKey`. */
export declare function createTavaroClient(options: TavaroClientOptions): Client<paths>;
