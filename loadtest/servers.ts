// Starts the three servers of a load test (fake provider, bare passthrough, gateway), each in its own
// process on 127.0.0.1, and checks each answers a real request correctly before anything is measured.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Target, TargetName } from "./bench.ts";
import { announcedPort, freePort, spawnNode, waitReady, type Child } from "./processes.ts";

export interface GatewaySetup {
  /** CONFIG_DIR to use; null writes one that routes every model to the fake provider. */
  readonly configDir: string | null;
  readonly env: Readonly<Record<string, string>>;
  readonly nodeArgs: readonly string[];
  /** Extra request headers for the gateway only. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface Servers {
  readonly children: readonly Child[];
  readonly targets: Readonly<Record<TargetName, Target>>;
  /** The process that answers each target's requests (direct: the fake provider itself). */
  readonly pids: Readonly<Record<TargetName, number | undefined>>;
}

const START_TIMEOUT_MS = 20_000;
const PATH = "/v1/chat/completions";

// ${LOADTEST_UPSTREAM_URL} is expanded by the gateway's config loader from its environment.
const DEFAULT_GATEWAY_YAML = `# Written by loadtest/run.ts: every model goes to the zero-delay fake provider.
providers:
  fake: { base_url: "\${LOADTEST_UPSTREAM_URL}" }
routes:
  - { match: "*", provider: fake }
`;

/** Starts everything; `root` is the repository, `tmp` a scratch folder for config and state. */
export async function startServers(root: string, tmp: string, gw: GatewaySetup): Promise<Servers> {
  const env = { ...process.env, PORT: "0" };
  const fake = spawnNode("fake upstream", { script: join(root, "loadtest/fake-upstream.ts"), env, cwd: root });
  const fakePort = await announcedPort(fake, START_TIMEOUT_MS);
  const upstream = `http://127.0.0.1:${fakePort}`;

  const bare = spawnNode("bare proxy", { script: join(root, "loadtest/bare-proxy.ts"), env: { ...env, UPSTREAM_URL: upstream }, cwd: root });
  const barePort = await announcedPort(bare, START_TIMEOUT_MS);

  let configDir = gw.configDir;
  if (configDir === null) {
    configDir = tmp;
    writeFileSync(join(tmp, "gateway.yaml"), DEFAULT_GATEWAY_YAML);
  }
  // At LOG_LEVEL=warn the gateway does not log its address, so it gets a port picked here.
  const gwPort = await freePort();
  const gateway = spawnNode("gateway", {
    script: join(root, "gateway/main.ts"),
    args: ["serve"],
    nodeArgs: gw.nodeArgs,
    cwd: root,
    env: {
      ...process.env,
      PORT: String(gwPort),
      HOST: "127.0.0.1",
      CONFIG_DIR: configDir,
      STATE_PATH: join(tmp, "state.db"),
      REDIS_URL: "",
      LOG_LEVEL: "warn",
      LOADTEST_UPSTREAM_URL: `${upstream}/v1`,
      ...gw.env,
    },
  });
  const gatewayUrl = `http://127.0.0.1:${gwPort}`;
  await waitReady(gateway, `${gatewayUrl}/readyz`, START_TIMEOUT_MS);

  return {
    children: [fake, bare, gateway],
    pids: { direct: fake.proc.pid, bare: bare.proc.pid, gateway: gateway.proc.pid },
    targets: {
      direct: { name: "direct", url: upstream + PATH, headers: {} },
      bare: { name: "bare", url: `http://127.0.0.1:${barePort}${PATH}`, headers: {} },
      gateway: { name: "gateway", url: gatewayUrl + PATH, headers: gw.headers },
    },
  };
}

/**
 * One request per target before measuring: a 200 with a whole answer (a chat.completion, or a stream
 * that ends in [DONE] without an error event). A benchmark of error pages would be fast and worthless.
 */
export async function preflight(target: Target, body: string, stream: boolean): Promise<void> {
  const res = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const problem = (what: string): Error => new Error(`preflight: ${target.name} ${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
  if (res.status !== 200) throw problem("did not answer 200");
  if (stream) {
    if (!text.trimEnd().endsWith("data: [DONE]") || text.includes('"error"')) throw problem("sent an incomplete or failed stream");
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
