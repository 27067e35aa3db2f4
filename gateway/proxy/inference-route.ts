// The request path for the OpenAI-compatible inference endpoints, top to bottom: authenticate,
// parse, resolve the prompt, render it, route the model, forward, relay, read usage.
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayConfig } from "../config/gateway-config.ts";
import type { Settings } from "../config/settings.ts";
import { readJsonBody } from "../http/body.ts";
import { jsonLimitsOf, LIMIT_SETTINGS } from "../http/json-limits.ts";
import { clientGone, type AppEnv } from "../http/context.ts";
import type { OpenStreams } from "../http/open-streams.ts";
import type { ServedPrompt } from "../catalog/catalog.ts";
import { promptFor, renderRequest, userIdOf } from "../catalog/request-prompt.ts";
import type { Authenticator } from "./auth.ts";
import { forward, type ForwardDeps } from "./forward.ts";
import { relayedResponseHeaders, upstreamRequestHeaders } from "./headers.ts";
import { routeModel } from "../providers/model-route.ts";
import { providerErrorBody } from "./provider-error.ts";
import { readAll, relaySse, startStream } from "./relay.ts";
import { ENDPOINT_PATHS, OPERATION_NAMES, parseRequest, type Endpoint } from "./request-schema.ts";
import { upstreamBody } from "./upstream-body.ts";
import { upstreamFailure } from "../providers/upstream.ts";
import { costPico, costUsd, formatUsd } from "../telemetry/cost.ts";
import { StreamTranscript, inputMessages, outputMessages, outputText } from "../telemetry/message-content.ts";
import type { LiveSampler } from "../telemetry/live-samples.ts";
import type { RequestRecord } from "../telemetry/request-record.ts";
import { traceHeaders } from "../telemetry/span.ts";
import { responseMetaOf } from "../openai/response-meta.ts";
import { usageFromBody, type Usage } from "../openai/usage.ts";
import { StreamMeter } from "./stream-meter.ts";
import type { PriceTable } from "../telemetry/pricing.ts";
import type { Clock } from "../support/clock.ts";
import type { RelayScrubs } from "./relay-scrub.ts";
import type { PromptSource } from "../catalog/prompt-source.ts";
import type { RequestIds } from "../feedback/signing-keys.ts";
import { PINNED_ENV } from "../telemetry/aggregates.ts";

/** What the inference routes read: limits and model routes, the prompt catalog, prices and the time. */
export interface InferenceDeps {
  readonly config: Pick<GatewayConfig, "limits" | "routes">;
  /** Signs the request id of a request served from a prompt version (no store round trip). */
  readonly requestIds: Pick<RequestIds, "current">;
  readonly settings: Pick<Settings, "gatewayEnv" | "captureMessageContent">;
  readonly prompts: PromptSource;
  readonly prices: PriceTable;
  readonly clock: Pick<Clock, "now">;
  /** Live judging: which requests are sampled for the evaluator (a draw in memory, no store round trip). */
  readonly liveSamples: Pick<LiveSampler, "draw">;
}

export interface InferenceServices {
  readonly auth: Authenticator;
  readonly forward: ForwardDeps;
  /** The streams being relayed, which the server's drain deadline ends with a last error event. */
  readonly streams: OpenStreams;
  /** How each provider's answers are scrubbed of secrets. */
  readonly scrub: RelayScrubs;
}

export function inferenceRoute(deps: InferenceDeps, services: InferenceServices, endpoint: Endpoint) {
  const { limits, routes } = deps.config;
  const json = jsonLimitsOf(limits);
  return async (c: Context<AppEnv>): Promise<Response> => {
    const { incoming, outgoing } = c.env;
    const record = c.get("record");

    // 1. authenticate
    services.auth.check(incoming.headers.authorization);

    // 2. read the body (size- and shape-limited as it arrives) and validate it
    const raw = await readJsonBody(incoming, limits.body_bytes, json, LIMIT_SETTINGS);
    const req = parseRequest(endpoint, raw, incoming.headers["x-prompt-ref"] !== undefined);

    // 3. resolve X-Prompt-Ref to a version, from the in-memory snapshot (no store round trip); the
    //    canary split picks by the user's bucket
    const userId = userIdOf(header(incoming, "x-user-id"), req.body);
    const served = promptFor(deps.prompts, header(incoming, "x-prompt-ref"), deps.settings.gatewayEnv, userId);
    // Known before rendering, so a request whose render fails is counted under the version that failed.
    if (served) setPromptHeaders(outgoing, served);
    noteRequest(record, OPERATION_NAMES[endpoint], served?.version.model ?? req.body.model, served, userId);

    // 4. render the version's templates with the request's variables (the version's model wins)
    const vars = header(incoming, "x-prompt-vars");
    let body = req.body;
    if (served) {
      const segmentHeader = header(incoming, "x-prompt-segment");
      const rendered = renderRequest(endpoint, req.body, served, vars, segmentHeader, json);
      body = rendered.body;
      record.segment = rendered.segment;
      // Once the record knows the version and segment: the id feedback will name this request by.
      signRequestId(c, deps.requestIds, record);
    }
    const capture = deps.settings.captureMessageContent;
    if (capture) record.inputMessages = inputMessages(body);
    // Live judging: a sampled request keeps its rendered input and answer for the evaluator (not for spans).
    const sampled = served !== null && endpoint !== "embeddings" && deps.liveSamples.draw(served.version.name);
    if (sampled) record.liveSample = { input: inputMessages(body), output: null };

    // 5. route the model to its provider
    const target = routeModel(routes, body.model);
    const { provider } = target;
    record.provider = provider.name;

    // 6. forward, retrying only before anything reached the client
    const signal = clientGone(outgoing);
    const res = await forward(services.forward, {
      provider,
      method: "POST",
      path: ENDPOINT_PATHS[endpoint],
      headers: upstreamRequestHeaders(incoming.headers, provider.headers, {
        ...services.auth.upstreamAuth(provider, incoming.headers),
        ...traceHeaders(c.get("span")),
        "content-type": "application/json",
      }),
      body: upstreamBody(req, raw, body, target.upstreamModel),
      signal,
    });
    const scrub = services.scrub.of(provider);
    const headers = relayedResponseHeaders(res.headers, scrub.header);

    // 7. relay: streams event by event, everything else as one buffer (scrubbed of the provider's key)
    const contentType = String(res.headers["content-type"] ?? "");
    if (req.stream && res.status === 200 && contentType.startsWith("text/event-stream")) {
      const transcript = capture || sampled ? new StreamTranscript() : null;
      const meter = new StreamMeter(endpoint, req.clientWantsUsage, transcript, (usage) =>
        costUsd(deps.prices, body.model, usage),
      );
      startStream(outgoing, res.status, headers);
      const outcome = await relaySse(
        outgoing,
        res.body,
        meter,
        signal,
        deps.clock.now,
        (err) => upstreamFailure(err, provider, limits),
        scrub.stream(),
        services.streams,
      );
      noteUsage(record, deps.prices, body.model, meter.usage);
      record.response = meter.response;
      if (capture) record.outputMessages = transcript?.messages() ?? null;
      if (record.liveSample && transcript && !transcript.truncated)
        record.liveSample.output = transcript.texts()[0] ?? null;
      record.ttftMs = outcome.firstEventAt === null ? null : outcome.firstEventAt - record.startedAt;
      // The provider failed mid-stream: the status was 200, but the answer was cut.
      if (outcome.error) record.errorType = outcome.error.code;
      return RESPONSE_ALREADY_SENT;
    }
    let answer: Buffer;
    try {
      answer = scrub.body(await readAll(res.body, limits.response_bytes));
    } catch (err) {
      throw upstreamFailure(err, provider, limits);
    }
    if (res.status >= 400) {
      const error = providerErrorBody(res.status, answer, provider.name, services.scrub.all);
      return c.body(asBytes(error), res.status as 400, { ...headers, "content-type": "application/json" });
    }

    // 8. read usage and price it
    noteUsage(record, deps.prices, body.model, usageFromBody(answer));
    record.response = responseMetaOf(answer);
    if (capture) record.outputMessages = outputMessages(answer);
    if (record.liveSample) record.liveSample.output = outputText(answer);
    if (record.costPico !== null) headers["x-prompt-cost-usd"] = formatUsd(record.costPico);
    return c.body(asBytes(answer), res.status as 200, headers);
  };
}

/** A Buffer is a Uint8Array; Hono's types only want to know its memory is not shared. */
export const asBytes = (b: Buffer): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

const header = (incoming: IncomingMessage, name: string): string | undefined => {
  const v = incoming.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
};

function setPromptHeaders(outgoing: ServerResponse, served: ServedPrompt): void {
  outgoing.setHeader("x-prompt-name", served.version.name);
  outgoing.setHeader("x-prompt-version", served.version.version);
  outgoing.setHeader("x-prompt-variant", served.variant);
}

/**
 * Replaces the plain request id with a signed one naming the version that serves it: in the response
 * headers (before any are sent) and in the logs. Without a key yet, the plain id stays.
 */
function signRequestId(c: Context<AppEnv>, requestIds: Pick<RequestIds, "current">, record: RequestRecord): void {
  const codec = requestIds.current();
  if (codec === null || record.prompt === null || record.version === null || record.variant === null) return;
  const id = codec.issue({
    env: record.environment ?? PINNED_ENV,
    prompt: record.prompt,
    version: record.version,
    variant: record.variant,
    segment: record.segment,
    issuedAt: record.startedAt,
  });
  c.set("requestId", id);
  c.env.outgoing.setHeader("x-request-id", id);
}

/** What telemetry learns once the prompt is resolved. */
function noteRequest(
  record: RequestRecord,
  operation: string,
  model: string,
  served: ServedPrompt | null,
  userId: string | null,
): void {
  record.operation = operation;
  record.model = model;
  if (!served) return;
  record.prompt = served.version.name;
  record.version = served.version.version;
  record.variant = served.variant;
  record.bucket = served.bucket;
  record.userHash = served.userHash;
  record.splitShares = served.shares;
  record.environment = served.environment;
  record.anonymous = served.variant !== "pinned" && userId === null;
}

/** Usage as the provider reported it, priced from pricing.yaml (null cost: unpriced or no usage). */
function noteUsage(record: RequestRecord, prices: PriceTable, model: string, usage: Usage | null): void {
  record.usage = usage;
  record.costPico = usage ? costPico(prices, model, usage) : null;
}
