// The upstream client: pooled keep-alive connections through one undici Agent (never the global
// fetch), phase timeouts, provider failures mapped to 502/504, and which of those may be sent again.
import type { Readable } from "node:stream";
import { Agent } from "undici";
import type { Limits, ProviderConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";

export type HeaderValue = string | string[] | undefined;

export interface UpstreamRequest {
  readonly provider: ProviderConfig;
  readonly method: string;
  /** The path below the provider's base URL, query included: `/chat/completions`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | null;
  readonly signal: AbortSignal;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, HeaderValue>>;
  readonly body: Readable;
}

export interface Upstream {
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** Sends to the built-in mock provider; everything else goes over HTTP. */
export type LocalProvider = (req: UpstreamRequest) => Promise<UpstreamResponse>;

/** Failures raised before a connection existed: the request was never written. */
const neverSent = new WeakSet<GatewayError>();

export function createUpstream(limits: Limits, mock: LocalProvider): Upstream {
  const agent = new Agent({
    connect: { timeout: limits.connect_timeout_ms },
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: limits.first_byte_timeout_ms,
    bodyTimeout: limits.stream_idle_timeout_ms,
  });
  // undici fails the requests waiting for a connection with the very error it reports here: the
  // connection was never made (refused, DNS, connect timeout, TLS handshake), so nothing was written.
  // https://github.com/nodejs/undici/blob/main/docs/docs/api/Agent.md#event-connectionerror
  const connectFailures = new WeakSet<Error>();
  agent.on("connectionError", (_origin, _targets, err) => connectFailures.add(err));
  return {
    async send(req) {
      if (req.provider.builtin === "mock") return mock(req);
      try {
        const res = await agent.request({
          origin: req.provider.origin,
          path: req.provider.basePath + req.path,
          method: req.method,
          headers: req.headers,
          body: req.body,
          signal: req.signal,
        });
        return { status: res.statusCode, headers: res.headers, body: res.body };
      } catch (err) {
        const failure = upstreamFailure(err, req.provider, limits);
        if (err instanceof Error && connectFailures.has(err)) neverSent.add(failure);
        throw failure;
      }
    },
    close: () => agent.close(),
  };
}

const errorCode = (err: unknown): string =>
  err !== null && typeof err === "object" && "code" in err && typeof err.code === "string" ? err.code : "";

/** Provider-side failures as gateway errors; the message names the provider, never its URL's secrets. */
export function upstreamFailure(err: unknown, provider: ProviderConfig, limits: Limits): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = errorCode(err);
  const who = `provider "${provider.name}"`;
  switch (code) {
    case "UND_ERR_ABORTED":
    case "ABORT_ERR":
      return new GatewayError("client_closed", "the client closed the request", { cause: err });
    case "UND_ERR_CONNECT_TIMEOUT":
      return new GatewayError(
        "upstream_timeout",
        `connecting to ${who} timed out after ${limits.connect_timeout_ms} ms`,
        { cause: err },
      );
    case "UND_ERR_HEADERS_TIMEOUT":
      return new GatewayError("upstream_timeout", `${who} sent no response within ${limits.first_byte_timeout_ms} ms`, {
        cause: err,
      });
    case "UND_ERR_BODY_TIMEOUT":
      return new GatewayError("upstream_timeout", `${who} sent nothing for ${limits.stream_idle_timeout_ms} ms`, {
        cause: err,
      });
    default:
      return new GatewayError("upstream_unreachable", `connection to ${who} failed${code ? ` (${code})` : ""}`, {
        cause: err,
      });
  }
}

/** A reused keep-alive connection the provider closed as the request went out, or a reset before any answer. */
const BROKEN_CONNECTION = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/** Methods that change nothing at the provider (RFC 9110 §9.2.1), so sending them twice is harmless. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Whether a failed call may be sent again. Only when it provably never reached the provider (the
 * connection was never made), or when it changes nothing there (GET, HEAD) and the connection broke
 * before any answer came. A POST whose connection broke after it was written may be generating, and
 * billed, at the provider already: it is never sent twice (RFC 9110 §9.2.2, RFC 9112 §9.3.1).
 */
export function isRetryableFailure(err: GatewayError, method: string): boolean {
  if (neverSent.has(err)) return true;
  return SAFE_METHODS.has(method) && BROKEN_CONNECTION.has(errorCode(err.cause));
}
