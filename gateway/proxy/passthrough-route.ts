// Any other /v1/* call (files, batches, moderations, ...) goes to the provider: routed by the body's
// model when it has one, else to the catch-all route's provider. Its target is normalised first; a
// provider the gateway calls with its own key gets only the calls gateway.yaml's passthrough.allow lists.
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import { readBody } from "../http/body.ts";
import { clientGone, type AppEnv } from "../http/context.ts";
import { boundedJson, jsonLimitsOf, LIMIT_SETTINGS, type JsonLimits } from "../http/json-limits.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { forward } from "./forward.ts";
import { relayedResponseHeaders, upstreamRequestHeaders } from "./headers.ts";
import type { GatewayConfig } from "../config/gateway-config.ts";
import { asBytes, type InferenceServices } from "./inference-route.ts";
import { routeModel } from "../providers/model-route.ts";
import { defaultProvider } from "./model-route.ts";
import { checkPassthrough, passthroughTarget } from "./passthrough-target.ts";
import { readAll, relayRaw, startStream } from "./relay.ts";
import { upstreamFailure } from "../providers/upstream.ts";

function modelOf(body: Buffer, contentType: string | undefined, json: JsonLimits): string | null {
  if (body.length === 0 || !contentType?.includes("json")) return null;
  const text = boundedJson(body, json, "The request body", LIMIT_SETTINGS);
  try {
    const v = JSON.parse(text.toString("utf8")) as unknown;
    return v !== null && typeof v === "object" && "model" in v && typeof v.model === "string" ? v.model : null;
  } catch {
    return null;
  }
}

export interface PassthroughDeps {
  readonly config: Pick<GatewayConfig, "limits" | "routes" | "passthrough" | "gatewayKeys">;
}

export function passthroughRoute(deps: PassthroughDeps, services: InferenceServices) {
  const { limits, routes } = deps.config;
  const json = jsonLimitsOf(limits);
  return async (c: Context<AppEnv>): Promise<Response> => {
    const { incoming, outgoing } = c.env;
    services.auth.check(incoming.headers.authorization);
    const method = incoming.method ?? "GET";
    // The raw target, not Hono's parsed path: it is what would go upstream.
    const target = passthroughTarget(incoming.url ?? "/");
    const raw = method === "GET" || method === "HEAD" ? Buffer.alloc(0) : await readBody(incoming, limits.body_bytes);

    const model = modelOf(raw, incoming.headers["content-type"], json);
    const provider = model !== null ? routeModel(routes, model).provider : defaultProvider(routes);
    if (!provider)
      throw new GatewayError(
        "not_found",
        `No provider serves ${method} ${target.path}: add a catch-all route ({ match: "*", provider: ... })`,
      );
    checkPassthrough(deps.config, provider, method, target.path);

    const signal = clientGone(outgoing);
    const res = await forward(services.forward, {
      provider,
      method,
      path: target.upstreamPath,
      headers: upstreamRequestHeaders(
        incoming.headers,
        provider.headers,
        services.auth.upstreamAuth(provider, incoming.headers),
      ),
      body: raw.length > 0 ? raw : null,
      signal,
    });
    const scrub = services.scrub.of(provider);
    const headers = relayedResponseHeaders(res.headers, scrub.header);
    if (String(res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
      startStream(outgoing, res.status, headers);
      outgoing.flushHeaders();
      await relayRaw(outgoing, res.body, scrub.stream());
      return RESPONSE_ALREADY_SENT;
    }
    try {
      const answer = scrub.body(await readAll(res.body, limits.response_bytes));
      // An error answer may echo the request: every configured secret is scrubbed from it.
      const relayed = res.status >= 400 ? services.scrub.all.bytes(answer, "response") : answer;
      return c.body(asBytes(relayed), res.status as 200, headers);
    } catch (err) {
      throw upstreamFailure(err, provider, limits);
    }
  };
}
