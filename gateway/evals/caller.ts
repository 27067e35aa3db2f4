// The in-process caller: calls a registered prompt version with variables in the CLI's own process,
// through the gateway's own machinery: gateway.yaml's routes and providers, the pooled upstream client
// (the built-in mock included), the prompt compiler and variable rules, pricing.yaml, and a CLIENT span
// named like the gateway's. No running gateway is needed. Every call has a deadline.
import { SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { Readable } from "node:stream";
import { loadGatewayConfig, type GatewayConfig, type Limits, type RouteConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { readUsage, type Usage } from "../openai/usage.ts";
import { compilePrompt, type CompiledPrompt } from "../prompts/compile.ts";
import { PromptFileError } from "../prompts/prompt-file-error.ts";
import { parsePromptRef } from "../prompts/ref.ts";
import { applyPrompt, type PromptEndpoint } from "../prompts/render-request.ts";
import type { PromptVersion } from "../prompts/types.ts";
import { resolveVariables } from "../prompts/variables.ts";
import { createMockProvider } from "../providers/mock.ts";
import { routeModel } from "../providers/model-route.ts";
import { createUpstream, upstreamFailure, type Upstream } from "../providers/upstream.ts";
import { showRef } from "../registry/prompt-ops.ts";
import type { Registry } from "../registry/registry.ts";
import { costPico, formatUsd } from "../telemetry/cost.ts";
import { loadPricing, type PriceTable } from "../telemetry/pricing.ts";
import { ATTR } from "../telemetry/semconv.ts";
import type { CallResult } from "./types.ts";

/** A prompt version resolved once (a run keeps calling the same version even if a label moves). */
export interface ResolvedPrompt {
  readonly version: PromptVersion;
  readonly compiled: CompiledPrompt;
  /** The label the ref went through; null when it named a version. */
  readonly via: string | null;
}

/** Resolves `name`, `name@label` or `name@1.2.0` to a version. */
export type PromptResolver = (ref: string) => Promise<ResolvedPrompt>;

/** What one call produced, beyond CallResult: which version and model answered, and the usage. */
export interface CallDetail extends CallResult {
  readonly prompt: { readonly name: string; readonly version: string; readonly hash: string };
  /** The model asked for (the version's pinned model, else the caller's). */
  readonly model: string;
  readonly usage: Usage | null;
  /** Exact cost in pico-dollars; null when unpriced or without usage. */
  readonly costPico: number | null;
}

export interface CallOptions {
  /** The model for a version that pins none (a pinned model always wins, as on the request path). */
  readonly model?: string;
  /** Overrides the caller's deadline for this call. */
  readonly timeoutMs?: number;
  /** Cancels the call (a run stopped by its budget, Ctrl-C). */
  readonly signal?: AbortSignal;
}

export interface PromptCaller {
  resolve(ref: string): Promise<ResolvedPrompt>;
  /** Renders `vars` into the version, calls its model and reads the answer; throws GatewayError on failure. */
  call(
    target: string | ResolvedPrompt,
    vars: Readonly<Record<string, unknown>>,
    opts?: CallOptions,
  ): Promise<CallDetail>;
}

export interface CallerDeps {
  readonly routes: readonly RouteConfig[];
  /** gateway.yaml's limits: the answer's size bound, and what upstream failures name. */
  readonly limits: Limits;
  readonly prices: PriceTable;
  readonly upstream: Upstream;
  readonly resolve: PromptResolver;
  /** Milliseconds, for latency (default performance.now). */
  readonly now?: () => number;
  /** Default: the global tracer, a no-op unless the process set up OpenTelemetry. */
  readonly tracer?: Tracer;
  /** The deadline of each call, connection to last byte (default 60 s). */
  readonly timeoutMs?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

const PATHS: Record<Exclude<PromptEndpoint, "embeddings">, string> = {
  chat: "/chat/completions",
  completions: "/completions",
  responses: "/responses",
};

/** The endpoint a version is called on: chat when it has messages, else completions, else responses. */
export function endpointOf(v: PromptVersion): Exclude<PromptEndpoint, "embeddings"> {
  if (v.messages.length > 0) return "chat";
  if (v.prompt !== null) return "completions";
  return "responses";
}

function compiled(v: PromptVersion): CompiledPrompt {
  try {
    return compilePrompt(v);
  } catch (err) {
    if (err instanceof PromptFileError) throw new GatewayError("internal_error", err.message, { cause: err });
    throw err;
  }
}

/** Resolves refs through the registry (labels as `promptgate show` reads them), compiling each version once. */
export function registryResolver(registry: Registry, defaultLabel: string): PromptResolver {
  const byHash = new Map<string, CompiledPrompt>();
  return async (ref) => {
    const shown = await showRef(registry, ref, defaultLabel);
    const v = shown.version;
    let c = byHash.get(v.hash);
    if (!c) byHash.set(v.hash, (c = compiled(v)));
    return { version: v, compiled: c, via: shown.via };
  };
}

/**
 * Resolves refs among the given versions (prompt files not pushed yet, tests): `name@1.2.0` as named,
 * a bare `name` to its newest version; labels need the registry.
 */
export function versionsResolver(versions: readonly PromptVersion[]): PromptResolver {
  const byRef = new Map(versions.map((v) => [`${v.name}@${v.version}`, v]));
  return (ref) => {
    const parsed = parsePromptRef(ref, "");
    let v: PromptVersion | undefined;
    if (parsed.kind === "version") v = byRef.get(`${parsed.name}@${parsed.version}`);
    else if (parsed.label === "") v = versions.filter((x) => x.name === parsed.name).at(-1);
    if (!v) return Promise.reject(new GatewayError("not_found", `Unknown prompt version "${ref}"`, { param: "ref" }));
    return Promise.resolve({ version: v, compiled: compiled(v), via: null });
  };
}

async function readBounded(body: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > max) {
      body.destroy();
      throw new GatewayError("upstream_error", `the provider's answer is larger than ${max} bytes`);
    }
    parts.push(b);
  }
  return Buffer.concat(parts);
}

const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** The answer's text: chat `message.content`, completions `text`, responses' output_text parts. */
export function answerText(endpoint: Exclude<PromptEndpoint, "embeddings">, answer: unknown): string | null {
  const a = obj(answer);
  if (!a) return null;
  if (endpoint === "responses") {
    const output = Array.isArray(a["output"]) ? (a["output"] as unknown[]) : [];
    const texts = output
      .flatMap((item) => {
        const content = obj(item)?.["content"];
        return Array.isArray(content) ? (content as unknown[]) : [];
      })
      .map((part) => obj(part))
      .filter((p) => p?.["type"] === "output_text" && typeof p["text"] === "string")
      .map((p) => p!["text"] as string);
    return texts.length > 0 ? texts.join("") : null;
  }
  const choice = obj(Array.isArray(a["choices"]) ? (a["choices"] as unknown[])[0] : undefined);
  if (!choice) return null;
  const text = endpoint === "chat" ? obj(choice["message"])?.["content"] : choice["text"];
  return typeof text === "string" ? text : null;
}

/** The provider's own error message from an OpenAI-shaped error body, cut short. */
function providerMessage(body: Buffer): string {
  try {
    const m = obj(obj(JSON.parse(body.toString("utf8")))?.["error"])?.["message"];
    if (typeof m === "string") return m.slice(0, 300);
  } catch {
    // not JSON: the status says enough
  }
  return "no error message";
}

export function createPromptCaller(deps: CallerDeps): PromptCaller {
  const now = deps.now ?? (() => performance.now());
  const tracer = deps.tracer ?? trace.getTracer("promptgate");
  return {
    resolve: deps.resolve,
    async call(target, vars, opts = {}) {
      const resolved = typeof target === "string" ? await deps.resolve(target) : target;
      const { version } = resolved;
      const id = `${version.name}@${version.version}`;
      const model = version.model ?? opts.model;
      if (model === undefined || model === "") {
        throw new GatewayError(
          "invalid_request",
          `prompt ${id} pins no model: name the model to call it with (the suite's providers, or --model)`,
          { param: "model" },
        );
      }
      const endpoint = endpointOf(version);
      const rendered = resolved.compiled.render(resolveVariables(version.variables, vars));
      const body = applyPrompt(endpoint, { model }, version, rendered);
      body["stream"] = false;
      const { provider, upstreamModel } = routeModel(deps.routes, model);
      body["model"] = upstreamModel;

      const timeoutMs = opts.timeoutMs ?? deps.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
      const span = tracer.startSpan(`${endpoint} ${model}`, { kind: SpanKind.CLIENT });
      span.setAttributes({
        [ATTR.operationName]: endpoint === "completions" ? "text_completion" : endpoint,
        [ATTR.providerName]: provider.name,
        [ATTR.requestModel]: model,
        [ATTR.promptName]: version.name,
        [ATTR.promptVersion]: version.version,
        [ATTR.promptVariant]: "pinned",
      });
      const started = now();
      try {
        const auth: Record<string, string> =
          provider.apiKey === null
            ? {}
            : provider.auth === "api-key"
              ? { "api-key": provider.apiKey }
              : { authorization: `Bearer ${provider.apiKey}` };
        let answer: Buffer;
        let status: number;
        try {
          const res = await deps.upstream.send({
            provider,
            method: "POST",
            path: PATHS[endpoint],
            headers: {
              ...provider.headers,
              ...auth,
              "content-type": "application/json",
              "accept-encoding": "identity",
            },
            body: Buffer.from(JSON.stringify(body)),
            signal,
          });
          status = res.status;
          answer = await readBounded(res.body, deps.limits.response_bytes);
        } catch (err) {
          if (deadline.aborted) {
            throw new GatewayError("upstream_timeout", `calling ${id} on ${model} timed out after ${timeoutMs} ms`, {
              cause: err,
            });
          }
          if (opts.signal?.aborted) throw new GatewayError("client_closed", `the call of ${id} was cancelled`);
          if (err instanceof GatewayError) throw err;
          throw upstreamFailure(err, provider, deps.limits);
        }
        const latencyMs = now() - started;
        span.setAttribute(ATTR.httpStatus, status);
        if (status >= 400) {
          throw new GatewayError(
            "upstream_error",
            `calling ${id}: provider "${provider.name}" answered ${status} (${providerMessage(answer)})`,
            { status: status >= 500 ? 502 : status },
          );
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(answer.toString("utf8"));
        } catch {
          throw new GatewayError(
            "upstream_error",
            `calling ${id}: provider "${provider.name}" answered with invalid JSON`,
          );
        }
        const output = answerText(endpoint, parsed);
        if (output === null) {
          throw new GatewayError("upstream_error", `calling ${id}: the provider's answer has no text`);
        }
        const usage = readUsage(obj(parsed)?.["usage"]);
        const pico = usage ? costPico(deps.prices, model, usage) : null;
        const costUsd = pico === null || !Number.isSafeInteger(pico) ? null : Number(formatUsd(pico));
        if (usage) {
          span.setAttribute(ATTR.inputTokens, usage.inputTokens);
          span.setAttribute(ATTR.outputTokens, usage.outputTokens);
        }
        if (costUsd !== null) span.setAttribute(ATTR.costUsd, costUsd);
        return {
          output,
          latencyMs,
          costUsd,
          prompt: { name: version.name, version: version.version, hash: version.hash },
          model,
          usage,
          costPico: pico,
        };
      } catch (err) {
        span.setAttribute(ATTR.errorType, err instanceof GatewayError ? err.code : "error");
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },
  };
}

export interface OpenedCaller {
  readonly caller: PromptCaller;
  readonly config: GatewayConfig;
  close(): Promise<void>;
}

/**
 * A caller on CONFIG_DIR's gateway.yaml and pricing.yaml, with its own upstream pool (closed by
 * `close`), as `promptgate eval` and the evaluator use it.
 */
export async function openPromptCaller(opts: {
  readonly configDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly resolve: PromptResolver;
  readonly timeoutMs?: number;
  readonly tracer?: Tracer;
}): Promise<OpenedCaller> {
  const [config, prices] = await Promise.all([
    loadGatewayConfig(opts.configDir, opts.env),
    loadPricing(opts.configDir),
  ]);
  const upstream = createUpstream(config.limits, createMockProvider(Math.random));
  const caller = createPromptCaller({
    routes: config.routes,
    limits: config.limits,
    prices,
    upstream,
    resolve: opts.resolve,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.tracer === undefined ? {} : { tracer: opts.tracer }),
  });
  return { caller, config, close: () => upstream.close() };
}
