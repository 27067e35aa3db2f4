// Command-line options of `npm run loadtest`, parsed and validated once, with messages that say what
// to fix.
import { parseArgs } from "node:util";

export const SCENARIOS = ["nonstream", "stream"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  readonly rounds: number;
  /** Seconds of each measured throughput run. */
  readonly duration: number;
  /** Seconds of the unmeasured run before each measured one (same target, same concurrency). */
  readonly warmup: number;
  readonly connections: number;
  /** Seconds of each concurrency-1 latency run. */
  readonly latencyDuration: number;
  readonly scenarios: readonly ScenarioName[];
  readonly json: boolean;
  /** Exit 2 when a target is missed (errors always exit 1). */
  readonly check: boolean;
  /** Extra request headers sent to the gateway only (e.g. X-Prompt-Ref). */
  readonly gatewayHeaders: Readonly<Record<string, string>>;
  readonly bodyFile: string | null;
  readonly configDir: string | null;
  readonly gatewayEnv: Readonly<Record<string, string>>;
  readonly gatewayNodeArgs: readonly string[];
  /** Also measure `gateway-prompt`: the same gateway, asked for the summarization prompt (PROMPT_HEADERS). */
  readonly prompt: boolean;
  /** Also measure `gateway-otel`: a second gateway exporting spans to a local OTLP/HTTP receiver. */
  readonly otel: boolean;
  readonly outDir: string;
  readonly help: boolean;
}

export const HELP = `npm run loadtest -- [options]

Benchmarks the gateway against a bare node:http + undici passthrough and against the fake provider
directly, in interleaved rounds of one run, and checks the targets (throughput >= 0.8x bare, added
p50 latency at concurrency 1 <= 1.3x bare's). With --prompt, also checks that the throughput target
holds within 10% with a prompt on every request (gateway-prompt throughput >= 0.72x bare's), and
shows gateway-prompt / gateway (prompt on / off) as info; with --otel, the cost of span export
(gateway-otel throughput >= 0.9x the gateway's).

  --rounds N             interleaved rounds per scenario (3)
  --duration S           seconds per measured throughput run (5)
  --warmup S             seconds of warm-up before each measured run (1)
  --connections N        connections of the throughput runs (50)
  --latency-duration S   seconds per concurrency-1 latency run (3)
  --scenario NAME        nonstream | stream | all (all)
  --header "Name: value" extra request header for the gateway (and gateway-prompt, gateway-otel) only;
                         repeatable
  --body-file FILE       JSON object used as the request body (the scenario sets "stream")
  --config-dir DIR       the gateway's CONFIG_DIR; its gateway.yaml can use \${LOADTEST_UPSTREAM_URL}
  --gateway-env K=V      extra environment variable for the gateway; repeatable
  --gateway-node-arg A   extra node flag for the gateway, e.g. --gateway-node-arg=--cpu-prof; repeatable
  --prompt               add a target gateway-prompt: the same gateway process, with X-Prompt-Ref:
                         summarization, X-User-Id and X-Prompt-Vars (a ~600-character text) on every
                         request, checked against bare and shown against the gateway (info); without
                         --config-dir the generated config holds the repo's config/prompts and
                         pricing.yaml
  --otel                 add a target gateway-otel: a second gateway exporting OpenTelemetry spans to a
                         local OTLP/HTTP receiver (OTEL_BSP_* defaults; --gateway-env may set them),
                         measured against the gateway with export off
  --out-dir DIR          where the JSON results go (loadtest/results)
  --json                 print the results as JSON instead of markdown
  --check                exit 2 when a target is missed
  --help`;

/** The prompt gateway-prompt asks for; the preflight checks the answer's x-prompt-name names it. */
export const PROMPT_NAME = "summarization";

/**
 * The `text` variable of gateway-prompt's requests: a realistic paragraph of about 600 characters, so
 * that validating, rendering and re-serialising it costs what a real request does. ASCII on one line:
 * it travels in a header.
 */
export const PROMPT_TEXT =
  "Northwind Logistics reported third-quarter revenue of $48.2 million, up 12% from a year earlier, " +
  "driven by new warehouse contracts in Germany and a recovery in cross-border freight. Operating margin " +
  "narrowed to 9.1% as the company hired 140 drivers and raised spending on its route-planning software. " +
  "The chief financial officer warned that higher fuel prices and a slowdown among small retail customers " +
  "could weigh on the fourth quarter, and that a renewal with its largest client, due in November, has not " +
  "been signed yet. Management kept its full-year guidance and plans to update it in January.";

/**
 * gateway-prompt's own request headers (lower-case, as parseHeader gives them), sent on top of --header's:
 * the prompt, its variables, and a user id as real callers send (the canary split hashes it).
 */
export const PROMPT_HEADERS: Readonly<Record<string, string>> = {
  "x-prompt-ref": PROMPT_NAME,
  "x-user-id": "loadtest-user",
  "x-prompt-vars": JSON.stringify({ text: PROMPT_TEXT, focus_points: ["revenue", "risks"] }),
};

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables that decide whether and where the gateway exports spans: --otel sets them itself. */
const OTEL_SWITCHES: readonly string[] = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_TRACES_EXPORTER",
  "OTEL_SDK_DISABLED",
];

/** A numeric option's value within [min, max] (an integer when asked), or `fallback` when absent. */
export function num(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${raw}"`);
  }
  return v;
}

export function parseHeader(raw: string): [string, string] {
  const colon = raw.indexOf(":");
  const name = colon === -1 ? "" : raw.slice(0, colon).trim();
  if (!HEADER_NAME.test(name)) throw new Error(`--header must look like "Name: value", got "${raw}"`);
  return [name.toLowerCase(), raw.slice(colon + 1).trim()];
}

function parseEnvPair(raw: string): [string, string] {
  const eq = raw.indexOf("=");
  const name = eq === -1 ? "" : raw.slice(0, eq);
  if (!ENV_NAME.test(name)) throw new Error(`--gateway-env must look like NAME=value, got "${raw}"`);
  return [name, raw.slice(eq + 1)];
}

export function parseOptions(argv: readonly string[]): Options {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      "latency-duration": { type: "string" },
      scenario: { type: "string" },
      header: { type: "string", multiple: true },
      "body-file": { type: "string" },
      "config-dir": { type: "string" },
      "gateway-env": { type: "string", multiple: true },
      "gateway-node-arg": { type: "string", multiple: true },
      "out-dir": { type: "string" },
      prompt: { type: "boolean" },
      otel: { type: "boolean" },
      json: { type: "boolean" },
      check: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}" (see --help)`);
  const scenario = values.scenario ?? "all";
  if (scenario !== "all" && !(SCENARIOS as readonly string[]).includes(scenario)) {
    throw new Error(`--scenario must be nonstream, stream or all, got "${scenario}"`);
  }
  const gatewayEnv = Object.fromEntries((values["gateway-env"] ?? []).map(parseEnvPair));
  const otel = values.otel ?? false;
  if (otel) {
    const clash = Object.keys(gatewayEnv).find((k) => OTEL_SWITCHES.includes(k));
    if (clash !== undefined) {
      throw new Error(
        `--gateway-env ${clash} cannot be used with --otel, which turns span export off for gateway and on, to its own receiver, for gateway-otel`,
      );
    }
  }
  const gatewayHeaders = Object.fromEntries((values.header ?? []).map(parseHeader));
  const prompt = values.prompt ?? false;
  if (prompt) {
    // On `gateway` these would turn the baseline into a prompted request too; on gateway-prompt they
    // would be overridden without a word. Either way the comparison would not be what it says.
    const clash = Object.keys(gatewayHeaders).find((k) => k in PROMPT_HEADERS);
    if (clash !== undefined) {
      throw new Error(
        `--header ${clash} cannot be used with --prompt, which sends its own X-Prompt-Ref, X-Prompt-Vars and X-User-Id to gateway-prompt only and none to gateway`,
      );
    }
  }
  return {
    rounds: num("rounds", values.rounds, 3, 1, 50, true),
    duration: num("duration", values.duration, 5, 0.5, 600, false),
    warmup: num("warmup", values.warmup, 1, 0, 60, false),
    connections: num("connections", values.connections, 50, 1, 1000, true),
    latencyDuration: num("latency-duration", values["latency-duration"], 3, 0.5, 120, false),
    scenarios: scenario === "all" ? SCENARIOS : [scenario as ScenarioName],
    json: values.json ?? false,
    check: values.check ?? false,
    gatewayHeaders,
    bodyFile: values["body-file"] ?? null,
    configDir: values["config-dir"] ?? null,
    gatewayEnv,
    gatewayNodeArgs: values["gateway-node-arg"] ?? [],
    prompt,
    otel,
    outDir: values["out-dir"] ?? "loadtest/results",
    help: values.help ?? false,
  };
}

const DEFAULT_BODY: Readonly<Record<string, unknown>> = {
  model: "gpt-test",
  messages: [{ role: "user", content: "hi" }],
};

/**
 * The request body of a scenario: the base body (default, or --body-file's object) with `stream` set.
 * Non-streaming drops `stream_options`, which OpenAI only accepts on streams. Streaming keeps what the
 * base says about `stream_options`; by default it asks for no usage, so the gateway adds
 * `include_usage` upstream and strips the usage chunk, as it does for most real clients.
 */
export function scenarioBody(scenario: ScenarioName, base: Readonly<Record<string, unknown>> = DEFAULT_BODY): string {
  const body: Record<string, unknown> = { ...base };
  if (scenario === "stream") {
    body["stream"] = true;
  } else {
    delete body["stream"];
    delete body["stream_options"];
  }
  return JSON.stringify(body);
}

export function parseBaseBody(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`--body-file ${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`--body-file ${file} must hold a JSON object (a chat completion request)`);
  }
  return parsed as Record<string, unknown>;
}
