// gateway.yaml: providers, model routes, gateway keys and limits, validated once at start with errors
// that name the file, the field and what to fix.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { expandEnv } from "./expand-env.ts";
import { compileGlob } from "./glob.ts";
import { compilePassthrough, passthroughSchema, type PassthroughPolicy } from "./passthrough.ts";

const providerSchema = z.strictObject({
  base_url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://api.openai.com/v1" }),
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name").optional(),
  /** How the provider's key is sent: OpenAI-style bearer, or Azure's `api-key` header. */
  auth: z.enum(["bearer", "api-key"]).default("bearer"),
  headers: z.record(z.string(), z.string()).default({}),
  /** Sent as OpenAI-Organization / OpenAI-Project: which account the provider's key bills (callers cannot choose). */
  organization: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
});

const routeSchema = z.strictObject({
  match: z.string().min(1),
  provider: z.string().min(1),
  strip_prefix: z.boolean().default(false),
  /** Model names advertised by GET /v1/models for this route (a route without wildcards lists itself). */
  models: z.array(z.string().min(1)).default([]),
});

const limitsSchema = z.strictObject({
  body_bytes: z.number().int().positive().default(10 * 1024 * 1024),
  /** Arrays and objects nested in a JSON body or X-Prompt-Vars, counted by a byte scan before parsing. */
  json_depth: z.number().int().min(8).max(1_000).default(128),
  /** `"name": value` pairs in all the objects of a JSON body, counted by the same scan. */
  json_members: z.number().int().positive().default(100_000),
  /** Arrays and objects in all of a JSON body, counted by the same scan. */
  json_containers: z.number().int().positive().default(100_000),
  /** After an answer sent before the whole body arrived (a 413, a JSON limit), the rest is read and thrown
   * away for this long (or this many bytes) before the connection closes, so a client still sending reads
   * the answer instead of a reset. */
  linger_ms: z.number().int().min(0).default(5_000),
  linger_bytes: z.number().int().min(0).default(64 * 1024 * 1024),
  header_bytes: z.number().int().positive().default(32 * 1024),
  response_bytes: z.number().int().positive().default(64 * 1024 * 1024),
  connect_timeout_ms: z.number().int().positive().default(5_000),
  first_byte_timeout_ms: z.number().int().positive().default(60_000),
  stream_idle_timeout_ms: z.number().int().positive().default(120_000),
  max_retries: z.number().int().min(0).max(5).default(2),
  retry_budget_ratio: z.number().min(0).max(1).default(0.2),
  max_retry_after_ms: z.number().int().min(0).default(5_000),
});

const promptsSchema = z.strictObject({
  /** Register every file under CONFIG_DIR/prompts at start (idempotent: versions are immutable). */
  register_on_start: z.boolean().default(true),
  /** A prompt with no version on an environment label gets its newest version there (for demos). */
  bootstrap_labels: z.boolean().default(false),
});

const aggregatesSchema = z.strictObject({
  /** How often per-version aggregates are written to the store (one atomic batch per flush). */
  flush_interval_ms: z.number().int().min(100).default(1_000),
  /** How long a minute's aggregates are kept (renewed while the version keeps serving). */
  retention_days: z.number().positive().max(400).default(14),
  /** Distinct (version, minute) keys held while the store is unreachable; beyond it, counts are dropped and counted. */
  max_pending_keys: z.number().int().positive().default(10_000),
});

const liveJudgingSchema = z.strictObject({
  /** Sampled pairs held in the gateway's memory between two pushes to the store; beyond it they are dropped and counted. */
  memory_queue: z.number().int().min(1).max(100_000).default(1_000),
  /** The store's queue: its longest length (the oldest beyond it are dropped and counted). */
  store_queue: z.number().int().min(1).max(1_000_000).default(10_000),
  /** How long a sampled pair may wait to be judged before it is dropped (user data: kept only this long). */
  retention_hours: z.number().positive().max(168).default(24),
  /** How often the gateway pushes its sampled pairs to the store. */
  flush_interval_ms: z.number().int().min(100).default(1_000),
});

/** What a feedback metric may be called: a bounded name that cannot collide with another stats field. */
export const FEEDBACK_METRIC_PATTERN = "[a-z][a-z0-9_]{0,31}";
/** The most metrics `feedback.metrics` may list: each adds up to five fields to every stats hash. */
export const MAX_FEEDBACK_METRICS = 20;

const feedbackSchema = z.strictObject({
  /** The metric names POST /v1/feedback accepts (the first is the default); others are refused with a 400. */
  metrics: z
    .array(z.string().regex(new RegExp(`^${FEEDBACK_METRIC_PATTERN}$`), "metric names are a-z, 0-9 and _, starting with a letter, at most 32"))
    .min(1)
    .max(MAX_FEEDBACK_METRICS)
    .refine((m) => new Set(m).size === m.length, "metric names must be distinct")
    .default(["quality"]),
  /** How long a request id accepts feedback after the request (at least 7 days is the promise). */
  max_age_days: z.number().positive().max(90).default(7),
  /** The longest comment accepted, in characters. */
  comment_max_chars: z.number().int().min(0).max(100_000).default(2_000),
});

const fileSchema = z.strictObject({
  providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, "provider names are letters, digits, - and _"), providerSchema).default({}),
  routes: z.array(routeSchema).min(1, "declare at least one route, e.g. { match: \"*\", provider: openai }"),
  gateway_keys_env: z.string().optional(),
  limits: limitsSchema.default(limitsSchema.parse({})),
  prompts: promptsSchema.default(promptsSchema.parse({})),
  aggregates: aggregatesSchema.default(aggregatesSchema.parse({})),
  feedback: feedbackSchema.default(feedbackSchema.parse({})),
  passthrough: passthroughSchema.default(passthroughSchema.parse({})),
  live_judging: liveJudgingSchema.default(liveJudgingSchema.parse({})),
});

export type Limits = z.infer<typeof limitsSchema>;
export type PromptsOptions = z.infer<typeof promptsSchema>;
export type AggregatesOptions = z.infer<typeof aggregatesSchema>;
export type FeedbackOptions = z.infer<typeof feedbackSchema>;
export type LiveJudgingOptions = z.infer<typeof liveJudgingSchema>;

export interface ProviderConfig {
  readonly name: string;
  /** Origin and base path, e.g. https://api.openai.com and /v1. The mock provider has none. */
  readonly origin: string;
  readonly basePath: string;
  readonly builtin: "mock" | null;
  /** The provider's own key from its api_key_env; null means callers' Authorization is forwarded. */
  readonly apiKey: string | null;
  readonly apiKeyEnv: string | null;
  readonly auth: "bearer" | "api-key";
  readonly headers: Readonly<Record<string, string>>;
}

export interface RouteConfig {
  readonly match: string;
  readonly test: (model: string) => boolean;
  readonly provider: ProviderConfig;
  /** Literal text stripped from the model before forwarding (`local/` for `local/*`), or "". */
  readonly stripPrefix: string;
  readonly models: readonly string[];
}

export interface GatewayConfig {
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly routes: readonly RouteConfig[];
  /** Keys callers must present; empty when the gateway admits anyone. */
  readonly gatewayKeys: readonly string[];
  readonly gatewayKeysEnv: string | null;
  readonly limits: Limits;
  readonly prompts: PromptsOptions;
  readonly aggregates: AggregatesOptions;
  /** POST /v1/feedback: the metrics it accepts, how long ids stay valid, comment length. */
  readonly feedback: FeedbackOptions;
  /** Other /v1 calls allowed through to a provider the gateway calls with its own key. */
  readonly passthrough: PassthroughPolicy;
  /** The queue of sampled (request, answer) pairs for `promptgate evaluator`. */
  readonly liveJudging: LiveJudgingOptions;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export const MOCK_PROVIDER: ProviderConfig = {
  name: "mock", origin: "", basePath: "", builtin: "mock", apiKey: null, apiKeyEnv: null, auth: "bearer", headers: {},
};

/** A provider's fixed headers, names lowercased, with its organization and project. */
function providerHeaders(p: z.infer<typeof providerSchema>, where: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(p.headers)) headers[name.toLowerCase()] = value;
  for (const [field, header] of [["organization", "openai-organization"], ["project", "openai-project"]] as const) {
    const value = p[field];
    if (value === undefined) continue;
    if (header in headers) throw new ConfigError(`${where}: set ${field} or headers.${header}, not both`);
    headers[header] = value;
  }
  return headers;
}

export async function loadGatewayConfig(configDir: string, env: NodeJS.ProcessEnv): Promise<GatewayConfig> {
  const file = join(configDir, "gateway.yaml");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"}); set CONFIG_DIR to the folder holding gateway.yaml`);
  }
  return parseGatewayConfig(text, env, file);
}

export function parseGatewayConfig(text: string, env: NodeJS.ProcessEnv, file = "gateway.yaml"): GatewayConfig {
  let doc: unknown;
  try {
    doc = expandEnv(parseYaml(text) ?? {}, env);
  } catch (err) {
    throw new ConfigError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`${file} is invalid:\n${lines.join("\n")}`);
  }
  const raw = parsed.data;

  const providers = new Map<string, ProviderConfig>([["mock", MOCK_PROVIDER]]);
  for (const [name, p] of Object.entries(raw.providers)) {
    if (name === "mock") throw new ConfigError(`${file}: providers.mock: "mock" is the built-in provider; choose another name`);
    const url = new URL(p.base_url);
    const key = p.api_key_env ? env[p.api_key_env] : undefined;
    providers.set(name, {
      name,
      origin: url.origin,
      basePath: url.pathname.replace(/\/+$/, ""),
      builtin: null,
      apiKey: key !== undefined && key !== "" ? key : null,
      apiKeyEnv: p.api_key_env ?? null,
      auth: p.auth,
      headers: providerHeaders(p, `${file}: providers.${name}`),
    });
  }

  const routes = raw.routes.map((r, i): RouteConfig => {
    const provider = providers.get(r.provider);
    if (!provider) {
      const known = [...providers.keys()].join(", ");
      throw new ConfigError(`${file}: routes[${i}].provider: unknown provider "${r.provider}" (declared: ${known})`);
    }
    const star = r.match.search(/[*?]/);
    return {
      match: r.match,
      test: compileGlob(r.match),
      provider,
      stripPrefix: r.strip_prefix ? (star === -1 ? r.match : r.match.slice(0, star)) : "",
      models: star === -1 ? [r.match, ...r.models] : r.models,
    };
  });

  let gatewayKeys: string[] = [];
  if (raw.gateway_keys_env !== undefined) {
    const v = env[raw.gateway_keys_env] ?? "";
    gatewayKeys = v.split(",").map((k) => k.trim()).filter((k) => k.length > 0);
    if (gatewayKeys.length === 0) {
      throw new ConfigError(`${file}: gateway_keys_env names ${raw.gateway_keys_env}, which is empty; set it to comma-separated keys or remove gateway_keys_env`);
    }
  }

  const passthrough = compilePassthrough(raw.passthrough);
  return { providers, routes, gatewayKeys, gatewayKeysEnv: raw.gateway_keys_env ?? null, limits: raw.limits, prompts: raw.prompts, aggregates: raw.aggregates, feedback: raw.feedback, passthrough, liveJudging: raw.live_judging };
}
