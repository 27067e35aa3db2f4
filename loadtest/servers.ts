// Starts the servers of a load test (fake provider, bare passthrough, gateway; with --otel also an
// OTLP/HTTP receiver and gateway-otel), each in its own process on 127.0.0.1, and checks each target
// answers a real request correctly before anything is measured. With --prompt, gateway-prompt is one
// more target on the same gateway process.
import { copyFileSync, cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OTEL_TARGET, PROMPT_TARGET, type ExpectedAnswer, type Target, type TargetName } from "./bench.ts";
import { PROMPT_HEADERS, PROMPT_NAME } from "./options.ts";
import type { ReceiverStats } from "./otlp-receiver.ts";
import { announcedPort, freePort, spawnNode, waitReady, type Child } from "./processes.ts";
import { parseSpanCounters, type SpanCounters } from "./report.ts";

export interface GatewaySetup {
  /** CONFIG_DIR to use; null writes one that routes every model to the fake provider. */
  readonly configDir: string | null;
  readonly env: Readonly<Record<string, string>>;
  readonly nodeArgs: readonly string[];
  /** Extra request headers for the gateway only (gateway-prompt and gateway-otel too). */
  readonly headers: Readonly<Record<string, string>>;
  /** Also measure gateway-prompt, on the gateway's own process; a generated config then holds the repo's prompts. */
  readonly prompt: boolean;
  /** Also start the OTLP/HTTP receiver and gateway-otel, exporting spans to it. */
  readonly otel: boolean;
}

export interface OtelServers {
  /** The receiver's base URL (GET /stats). */
  readonly receiverUrl: string;
  /** gateway-otel's base URL (GET /metrics has its span counters). */
  readonly gatewayUrl: string;
}

export interface Servers {
  readonly children: readonly Child[];
  /** The targets in round-1 order: direct, bare, gateway, then gateway-prompt with --prompt, gateway-otel with --otel. */
  readonly targets: readonly Target[];
  /** The process that answers each target's requests (direct: the fake provider itself; gateway-prompt: the gateway). */
  readonly pids: Readonly<Record<TargetName, number | undefined>>;
  readonly otel: OtelServers | null;
}

/**
 * The batch span processor's settings for gateway-otel: the SDK's defaults, written out so the results
 * file records them. --gateway-env OTEL_BSP_...=N overrides them.
 */
export const OTEL_BSP_DEFAULTS: Readonly<Record<string, string>> = {
  OTEL_BSP_MAX_QUEUE_SIZE: "2048",
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "512",
  OTEL_BSP_SCHEDULE_DELAY: "5000",
  OTEL_BSP_EXPORT_TIMEOUT: "30000",
};

export interface GatewayEnvSpec {
  /** This process's environment. */
  readonly inherited: NodeJS.ProcessEnv;
  /** What the runner sets for this gateway (PORT, CONFIG_DIR...). */
  readonly own: Readonly<Record<string, string>>;
  /** --gateway-env. */
  readonly extra: Readonly<Record<string, string>>;
  /** Whether the run has --otel: then no gateway inherits OTEL_* from the shell. */
  readonly otelRun: boolean;
  /** gateway-otel: the receiver's base URL; null for the gateway. */
  readonly otlpEndpoint: string | null;
}

/**
 * A gateway's environment. Without --otel: inherited, own, then --gateway-env, as always. With --otel,
 * OTEL_* from the shell is dropped so that `gateway` never exports and gateway-otel exports only to the
 * receiver, with OTEL_BSP_DEFAULTS under --gateway-env (which parseOptions keeps off the export switches).
 */
export function gatewayEnv(spec: GatewayEnvSpec): NodeJS.ProcessEnv {
  const inherited = spec.otelRun
    ? Object.fromEntries(Object.entries(spec.inherited).filter(([k]) => !k.startsWith("OTEL_")))
    : spec.inherited;
  if (spec.otlpEndpoint === null) return { ...inherited, ...spec.own, ...spec.extra };
  return {
    ...inherited,
    ...OTEL_BSP_DEFAULTS,
    ...spec.own,
    ...spec.extra,
    OTEL_EXPORTER_OTLP_ENDPOINT: spec.otlpEndpoint,
  };
}

export const START_TIMEOUT_MS = 20_000;
const PATH = "/v1/chat/completions";

// ${LOADTEST_UPSTREAM_URL} is expanded by the gateway's config loader from its environment.
const DEFAULT_GATEWAY_YAML = `# Written by loadtest/run.ts: every model goes to the zero-delay fake provider.
providers:
  fake: { base_url: "\${LOADTEST_UPSTREAM_URL}" }
routes:
  - { match: "*", provider: fake }
`;

// The repo's prompt files are registered at start, and bootstrap_labels puts each prompt's newest
// version on dev, staging and prod, so that a bare `X-Prompt-Ref: summarization` resolves on the
// gateway's label; without it a fresh state file has no labels and the gateway answers 404.
const PROMPTS_YAML = `# --prompt: config/prompts, registered at start, newest version on dev, staging and prod.
prompts: { register_on_start: true, bootstrap_labels: true }
`;

/** The generated gateway.yaml: the fake provider route, and with --prompt the prompt settings. */
export function gatewayYaml(prompt: boolean): string {
  return prompt ? DEFAULT_GATEWAY_YAML + PROMPTS_YAML : DEFAULT_GATEWAY_YAML;
}

/**
 * Writes the generated CONFIG_DIR into `dir` (when there is no --config-dir). With --prompt it also
 * holds copies of the repo's config/prompts/ and config/pricing.yaml, so the gateway registers the
 * prompts and loads the prices as a deployed one does.
 */
export function writeConfigDir(root: string, dir: string, prompt: boolean): void {
  writeFileSync(join(dir, "gateway.yaml"), gatewayYaml(prompt));
  if (!prompt) return;
  cpSync(join(root, "config/prompts"), join(dir, "prompts"), { recursive: true });
  copyFileSync(join(root, "config/pricing.yaml"), join(dir, "pricing.yaml"));
}

/** gateway-prompt's request headers: --header's, then the prompt's own (parseOptions keeps them apart). */
export function promptTargetHeaders(gatewayHeaders: Readonly<Record<string, string>>): Record<string, string> {
  return { ...gatewayHeaders, ...PROMPT_HEADERS };
}

/**
 * What gateway-prompt's answers must show: the gateway names the prompt it served in x-prompt-name.
 * Without it the requests took the plain path and gateway-prompt would measure nothing.
 */
export function promptExpectation(configDirGiven: boolean): ExpectedAnswer {
  const fix = configDirGiven
    ? `--config-dir must hold prompts/${PROMPT_NAME}/*.yaml with a version on the gateway's label (GATEWAY_ENV, prod by default), ` +
      "e.g. with `prompts: { register_on_start: true, bootstrap_labels: true }` in its gateway.yaml"
    : "the generated config copies config/prompts/ and puts the newest version on dev, staging and prod: check that GATEWAY_ENV is one of them";
  return {
    headers: { "x-prompt-name": PROMPT_NAME },
    hint: `gateway-prompt must be served the ${PROMPT_NAME} prompt (answers with x-prompt-name: ${PROMPT_NAME}); ${fix}`,
  };
}

/** The first expected header the answer lacks or carries another value of, as `name: value (got ...)`; null when all match. */
function missingHeader(expected: Readonly<Record<string, string>>, actual: Headers): string | null {
  for (const [name, value] of Object.entries(expected)) {
    const got = actual.get(name);
    if (got !== value) return `${name}: ${value} (got ${got === null ? "none" : `"${got}"`})`;
  }
  return null;
}

/** Starts a gateway on a port picked here (at LOG_LEVEL=warn it does not log its address) and waits for /readyz. */
/**
 * What the runner sets for one gateway: its port, the config dir, a state file of its own (two
 * processes sharing one SQLite file would contend for it), no Redis, and the fake provider's URL.
 */
export function gatewayOwnEnv(
  port: number,
  configDir: string,
  statePath: string,
  upstream: string,
): Record<string, string> {
  return {
    PORT: String(port),
    HOST: "127.0.0.1",
    CONFIG_DIR: configDir,
    STATE_PATH: statePath,
    REDIS_URL: "",
    LOG_LEVEL: "warn",
    LOADTEST_UPSTREAM_URL: `${upstream}/v1`,
  };
}

/** Starts `node gateway/main.ts serve` on a free port and waits until it is ready. */
export async function startGateway(
  name: string,
  root: string,
  nodeArgs: readonly string[],
  env: (port: number) => NodeJS.ProcessEnv,
): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = spawnNode(name, {
    script: join(root, "gateway/main.ts"),
    args: ["serve"],
    nodeArgs,
    cwd: root,
    env: env(port),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(child, `${url}/readyz`, START_TIMEOUT_MS);
  return { child, url };
}

/** Starts everything; `root` is the repository, `tmp` a scratch folder for config and state. */
export async function startServers(root: string, tmp: string, gw: GatewaySetup): Promise<Servers> {
  const env = { ...process.env, PORT: "0" };
  const fake = spawnNode("fake upstream", { script: join(root, "loadtest/fake-upstream.ts"), env, cwd: root });
  const fakePort = await announcedPort(fake, START_TIMEOUT_MS);
  const upstream = `http://127.0.0.1:${fakePort}`;

  const bare = spawnNode("bare proxy", {
    script: join(root, "loadtest/bare-proxy.ts"),
    env: { ...env, UPSTREAM_URL: upstream },
    cwd: root,
  });
  const barePort = await announcedPort(bare, START_TIMEOUT_MS);

  let configDir = gw.configDir;
  if (configDir === null) {
    configDir = tmp;
    writeConfigDir(root, tmp, gw.prompt);
  }
  const dir = configDir;
  const envOf = (port: number, state: string, otlpEndpoint: string | null): NodeJS.ProcessEnv =>
    gatewayEnv({
      inherited: process.env,
      own: gatewayOwnEnv(port, dir, join(tmp, state), upstream),
      extra: gw.env,
      otelRun: gw.otel,
      otlpEndpoint,
    });

  const gateway = await startGateway("gateway", root, gw.nodeArgs, (port) => envOf(port, "state.db", null));
  const children: Child[] = [fake, bare, gateway.child];
  const targets: Target[] = [
    { name: "direct", url: upstream + PATH, headers: {} },
    { name: "bare", url: `http://127.0.0.1:${barePort}${PATH}`, headers: {} },
    { name: "gateway", url: gateway.url + PATH, headers: gw.headers },
  ];
  // Same process and URL as `gateway`: only the headers differ, so the two compare the prompt path
  // with the plain one on identical state, and CPU per request is read from the same pid.
  if (gw.prompt) {
    targets.push({
      name: PROMPT_TARGET,
      url: gateway.url + PATH,
      headers: promptTargetHeaders(gw.headers),
      expect: promptExpectation(gw.configDir !== null),
    });
  }
  let otelPid: number | undefined;
  let otel: OtelServers | null = null;
  if (gw.otel) {
    const receiver = spawnNode("otlp receiver", { script: join(root, "loadtest/otlp-receiver.ts"), env, cwd: root });
    children.push(receiver);
    const receiverUrl = `http://127.0.0.1:${await announcedPort(receiver, START_TIMEOUT_MS)}`;
    const gatewayOtel = await startGateway(OTEL_TARGET, root, gw.nodeArgs, (port) =>
      envOf(port, "state-otel.db", receiverUrl),
    );
    children.push(gatewayOtel.child);
    targets.push({ name: OTEL_TARGET, url: gatewayOtel.url + PATH, headers: gw.headers });
    otelPid = gatewayOtel.child.proc.pid;
    otel = { receiverUrl, gatewayUrl: gatewayOtel.url };
  }

  return {
    children,
    pids: {
      direct: fake.proc.pid,
      bare: bare.proc.pid,
      gateway: gateway.child.proc.pid,
      [PROMPT_TARGET]: gw.prompt ? gateway.child.proc.pid : undefined,
      [OTEL_TARGET]: otelPid,
    },
    targets,
    otel,
  };
}

/** The receiver's counters (GET /stats); null when it cannot be read. */
export async function receiverStats(otel: OtelServers): Promise<ReceiverStats | null> {
  try {
    const res = await fetch(`${otel.receiverUrl}/stats`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as Partial<Record<keyof ReceiverStats, unknown>>;
    const { requests, bytes, spans } = body;
    if (res.status !== 200 || typeof requests !== "number" || typeof bytes !== "number" || typeof spans !== "number")
      return null;
    return { requests, bytes, spans };
  } catch {
    return null;
  }
}

/** gateway-otel's own span counters, from its /metrics; null when they cannot be read. */
export async function gatewaySpanCounters(otel: OtelServers): Promise<SpanCounters | null> {
  try {
    const res = await fetch(`${otel.gatewayUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return res.status === 200 ? parseSpanCounters(text) : null;
  } catch {
    return null;
  }
}

/**
 * One request per target before measuring: a 200 with a whole answer (a chat.completion, or a stream
 * that ends in [DONE] without an error event), and the target's expected headers. A benchmark of error
 * pages, or of a prompt request the gateway did not treat as one, would be fast and worthless.
 */
export async function preflight(target: Target, body: string, stream: boolean): Promise<void> {
  const res = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const hint = target.expect === undefined ? "" : ` -- ${target.expect.hint}`;
  const problem = (what: string): Error =>
    new Error(`preflight: ${target.name} ${what}: HTTP ${res.status} ${text.slice(0, 500)}${hint}`);
  if (res.status !== 200) throw problem("did not answer 200");
  const missing = missingHeader(target.expect?.headers ?? {}, res.headers);
  if (missing !== null) throw problem(`answered without ${missing}`);
  if (stream) {
    if (!text.trimEnd().endsWith("data: [DONE]") || text.includes('"error"'))
      throw problem("sent an incomplete or failed stream");
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw problem("sent a body that is not JSON");
  }
  if (parsed === null || typeof parsed !== "object" || !("choices" in parsed)) throw problem("sent no chat completion");
}
