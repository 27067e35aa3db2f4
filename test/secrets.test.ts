// No configured secret leaves the gateway. Distinctive secrets are planted (a provider key, a gateway
// key, the admin token, a Redis password); a provider that echoes its Authorization header in error
// bodies, answers, streams and response headers is the attacker; callers and admins put secrets where
// the gateway quotes them back. Then every output channel is searched: responses (bodies and headers,
// streaming and not, errors, passthrough), the log at debug level, exported spans, /metrics, the audit
// history, and everything stored (Redis under the test's prefix, the snapshot file on disk). Eval
// records do not exist yet; when they do, they belong in this list.
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { Redis } from "ioredis";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseGatewayConfig } from "../gateway/config/gateway-config.ts";
import { configuredSecrets } from "../gateway/config/secrets.ts";
import { loadSettings } from "../gateway/config/settings.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { createLogger } from "../gateway/support/logger.ts";
import { REDACTED, Scrubber } from "../gateway/support/scrubber.ts";
import { startFakeProvider, type FakeProvider, type Handler } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { startRedisServer, uniquePrefix, type RedisServer } from "./support/redis.ts";

// Every planted secret carries the marker, so that a secret cut in half is still found.
const MARKER = "PLANTED";
const PROVIDER_KEY = `sk-${MARKER}-provider-4f1c9a7e2b`;
const GATEWAY_KEY = `gk-${MARKER}-gateway-8d3e5f1a0c`;
const ADMIN_TOKEN = `adm-${MARKER}-token-6b2d4c8e1f`;
const REDIS_PASSWORD = `rp-${MARKER}-redis-3a7f9b5d2e`;
const SECRETS = [PROVIDER_KEY, GATEWAY_KEY, ADMIN_TOKEN, REDIS_PASSWORD];

const YAML = `
providers:
  attacker: { base_url: "\${PROVIDER_URL}", api_key_env: PROVIDER_KEY }
routes:
  - { match: "mock/*", provider: mock }
  - { match: "*", provider: attacker }
gateway_keys_env: GATEWAY_KEYS
aggregates: { flush_interval_ms: 100 }
`;

/** Releases the second half of the streamed echo once the client has seen the first event. */
let releaseStream: () => void = () => undefined;

/**
 * The attacker: echoes the Authorization header it receives (the gateway's key for it) in every
 * answer, chosen by the `scenario:` word in the request.
 */
const attacker: Handler = async (req, res) => {
  const auth = String(req.headers.authorization);
  const echoHeaders = {
    "x-echo-authorization": auth,
    "x-request-id": `req-${auth}`,
    "x-ratelimit-limit-requests": auth,
    "openai-organization": auth,
    "set-cookie": `session=${auth}`,
  };
  if (req.url === "/v1/models/sse") {
    // A passthrough stream, relayed byte for byte: the key split across two writes.
    res.writeHead(200, { "content-type": "text/event-stream", ...echoHeaders });
    res.write(`data: {"echo":"${auth.slice(0, 12)}`);
    res.end(`${auth.slice(12)}"}\n\n`);
    return;
  }
  if (req.url === "/v1/models/ok") {
    res.writeHead(200, { "content-type": "application/json", ...echoHeaders });
    res.end(JSON.stringify({ id: "ok", object: "model", owned_by: auth }));
    return;
  }
  const scenario = req.url.startsWith("/v1/models/") ? "passthrough" : (/scenario:([a-z-]+)/.exec(req.body)?.[1] ?? "");
  switch (scenario) {
    case "json-error":
    case "passthrough":
      res.writeHead(scenario === "passthrough" ? 404 : 401, { "content-type": "application/json", ...echoHeaders });
      res.end(
        JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${auth}`,
            type: "invalid_request_error",
            code: "invalid_api_key",
          },
          // As OpenAI's 404 names the model asked for: here, a path that carries a secret.
          received: { url: req.url, headers: req.headers },
        }),
      );
      return;
    case "html-error":
      {
        // Quotes the request (a secret a caller sent) across the 200th character, where the gateway cuts
        // its excerpt: cut before scrubbing, the start of the secret would be left.
        const quoted = (req.json()["messages"] as { content: string }[])[0]!.content;
        const lead = "<html><body>";
        const pad = "x".repeat(190 - lead.length - quoted.indexOf(MARKER) - 1);
        res.writeHead(500, { "content-type": "text/html", ...echoHeaders });
        res.end(`${lead}${pad} ${quoted} ${auth}</body></html>`);
        return;
      }
      return;
    case "stream": {
      res.writeHead(200, { "content-type": "text/event-stream", ...echoHeaders });
      const content = (text: string): string => JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] });
      const second = `data: ${content(`your key is ${auth}`)}\n\n`;
      const cut = second.indexOf(MARKER) + 2; // inside the key
      const released = new Promise<void>((resolve) => (releaseStream = resolve));
      res.write(`data: ${content("first")}\n\n${second.slice(0, cut)}`);
      await released;
      res.write(second.slice(cut));
      res.write(
        `data: ${JSON.stringify({ error: { message: `upstream failed for ${auth}`, type: "server_error" } })}\n\n`,
      );
      res.end("data: [DONE]\n\n");
      return;
    }
    default:
      res.writeHead(200, { "content-type": "application/json", ...echoHeaders });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${auth}`,
          object: "chat.completion",
          created: 1,
          model: "gpt-test",
          choices: [{ index: 0, message: { role: "assistant", content: `you sent ${auth}` }, finish_reason: "stop" }],
          usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        }),
      );
  }
};

interface Seen {
  readonly what: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

let redis: RedisServer;
let provider: FakeProvider;
let store: Store;
let gw: TestGateway;
let scrubber: Scrubber;
let exporter: InMemorySpanExporter;
let prefix: string;
let snapshotPath: string;
const logs: string[] = [];
const seen: Seen[] = [];

async function send(
  what: string,
  path: string,
  init: RequestInit & { headers?: Record<string, string> },
): Promise<Seen> {
  const res = await fetch(`${gw.url}${path}`, init);
  const s = { what, status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  seen.push(s);
  return s;
}

const asCaller = (extra: Record<string, string> = {}): Record<string, string> => ({
  authorization: `Bearer ${GATEWAY_KEY}`,
  "content-type": "application/json",
  ...extra,
});

const chat = (scenario: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: `scenario:${scenario}` }], ...extra });

const asAdmin = (actor: string): Record<string, string> => ({
  authorization: `Bearer ${ADMIN_TOKEN}`,
  "content-type": "application/json",
  "x-actor": actor,
});

beforeAll(async () => {
  redis = await startRedisServer(undefined, { password: REDIS_PASSWORD });
  provider = await startFakeProvider();
  provider.handle(attacker);
  const env = {
    PROVIDER_URL: provider.url,
    PROVIDER_KEY,
    GATEWAY_KEYS: `other-key-0123456789,${GATEWAY_KEY}`,
    ADMIN_TOKEN,
    REDIS_URL: redis.url,
    GATEWAY_ENV: "staging",
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true",
  };
  // Built as compose.ts builds it, so that the logger writes through the gateway's own scrubber.
  scrubber = new Scrubber(configuredSecrets(loadSettings(env), parseGatewayConfig(YAML, env)));
  const logger = createLogger(
    "debug",
    (line) => logs.push(line),
    Date.now,
    (line) => scrubber.text(line, "log"),
  );
  prefix = uniquePrefix("secrets");
  store = await createRedisStore({ url: redis.url, prefix, logger });
  exporter = new InMemorySpanExporter();
  snapshotPath = join(mkdtempSync(join(tmpdir(), "pg-secrets-")), "snapshot.json");
  gw = await startTestGateway({
    yaml: YAML,
    providerUrl: provider.url,
    env,
    store,
    logger,
    scrubber,
    snapshotPath,
    tracer: new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer("test"),
  });
});

afterAll(async () => {
  await gw.close();
  await store.close();
  await provider.close();
  await redis.stop();
});

describe("no configured secret leaves the gateway", () => {
  it("scrubs what an echoing provider, careless callers and admins send back out, on every channel", async () => {
    // Admins record a secret as who they are: the audit history keeps it forever.
    const greeter = {
      name: "greeter",
      version: "1.0.0",
      messages: [{ role: "system", content: "Greet warmly." }],
    };
    const registered = await send("register", "/admin/prompts", {
      method: "POST",
      headers: asAdmin(`ops ${ADMIN_TOKEN}`),
      body: JSON.stringify(greeter),
    });
    expect(registered.status).toBe(201);
    const promoted = await send("promote", "/admin/prompts/greeter/promote", {
      method: "POST",
      headers: asAdmin("ops"),
      body: JSON.stringify({ version: "1.0.0", env: "staging", approved_by: `${ADMIN_TOKEN} ${REDIS_PASSWORD}` }),
    });
    expect(promoted.status).toBe(200);
    // A prompt request, once the snapshot has the label: counted in the per-version aggregates.
    await vi.waitFor(
      async () => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: "POST",
          headers: asCaller({ "x-prompt-ref": "greeter" }),
          body: chat("echo"),
        });
        expect(res.status).toBe(200);
        seen.push({
          what: "prompt",
          status: res.status,
          headers: Object.fromEntries(res.headers),
          body: await res.text(),
        });
      },
      { timeout: 5_000, interval: 50 },
    );

    // The provider echoes its key: in a 200 answer, a JSON error, an HTML error, a passthrough error.
    const echo = await send("echo", "/v1/chat/completions", {
      method: "POST",
      headers: asCaller(),
      body: chat("echo"),
    });
    expect(echo.status).toBe(200);
    expect(JSON.parse(echo.body)).toMatchObject({ id: `chatcmpl-Bearer ${REDACTED}` });
    const jsonError = await send("json error", "/v1/chat/completions", {
      method: "POST",
      headers: asCaller(),
      body: chat("json-error"),
    });
    expect(jsonError.status).toBe(401);
    expect(JSON.parse(jsonError.body)).toMatchObject({
      error: { message: `Incorrect API key provided: Bearer ${REDACTED}`, code: "invalid_api_key" },
    });
    const htmlError = await send("html error", "/v1/chat/completions", {
      method: "POST",
      headers: asCaller(),
      body: chat(`html-error ${ADMIN_TOKEN}`),
    });
    expect(htmlError.status).toBe(500);
    expect(JSON.parse(htmlError.body).error.message).toMatch(/x scenario:html-error \[redacted\] Bea$/);
    const passthrough = await send("passthrough", `/v1/models/${ADMIN_TOKEN}`, { headers: asCaller() });
    expect(passthrough.status).toBe(404);
    expect(passthrough.body).toContain(REDACTED);
    const passthroughOk = await send("passthrough 200", "/v1/models/ok", { headers: asCaller() });
    expect(JSON.parse(passthroughOk.body)).toEqual({ id: "ok", object: "model", owned_by: `Bearer ${REDACTED}` });
    const passthroughStream = await send("passthrough stream", "/v1/models/sse", { headers: asCaller() });
    expect(passthroughStream.body).toBe(`data: {"echo":"Bearer ${REDACTED}"}\n\n`);

    // ... and in a stream, the key cut in two by a pause, then in an error event.
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: asCaller(),
      body: chat("stream", { stream: true }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let streamed = "";
    while (!streamed.includes('"first"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended early");
      streamed += decoder.decode(value, { stream: true });
    }
    releaseStream();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      streamed += decoder.decode(value, { stream: true });
    }
    seen.push({ what: "stream", status: res.status, headers: Object.fromEntries(res.headers), body: streamed });
    expect(streamed).toContain(`your key is Bearer ${REDACTED}`);
    expect(streamed).toContain(`upstream failed for Bearer ${REDACTED}`);
    expect(streamed.trimEnd().endsWith("data: [DONE]")).toBe(true);

    // Callers put secrets where the gateway quotes them: an invalid prompt ref (a 400, logged at
    // debug), a model name (a metric label, the span's name, the mock provider's 404).
    const all = SECRETS.join("-");
    const badRef = await send("bad ref", "/v1/chat/completions", {
      method: "POST",
      headers: asCaller({ "x-prompt-ref": `bad ref ${all}` }),
      body: chat("echo"),
    });
    expect(badRef.status).toBe(400);
    expect(badRef.body).toContain(REDACTED);
    const badRoute = await send("bad route", `/v2/${all}`, { headers: asCaller() });
    expect(badRoute.status).toBe(404);
    expect(badRoute.body).toContain(REDACTED);
    const badModel = await send("bad model", "/v1/chat/completions", {
      method: "POST",
      headers: asCaller(),
      body: JSON.stringify({ model: `mock/${all}`, messages: [{ role: "user", content: "x" }] }),
    });
    expect(badModel.status).toBe(404);

    // Every answer's headers came from the allowlist: the echoing ones never reached the caller.
    for (const s of seen) {
      for (const name of ["x-echo-authorization", "set-cookie", "openai-organization"])
        expect(s.headers[name], `${s.what}: ${name}`).toBeUndefined();
    }
    expect(echo.headers["x-upstream-request-id"]).toBe(`req-Bearer ${REDACTED}`);

    // Let the spans finish, the aggregates and the snapshot file be written.
    await vi.waitFor(() => expect(exporter.getFinishedSpans().length).toBeGreaterThanOrEqual(8), { timeout: 5_000 });
    const client = new Redis(redis.url);
    try {
      await vi.waitFor(async () => expect(await client.keys(`${prefix}stats:*`)).not.toHaveLength(0), {
        timeout: 5_000,
      });
      await vi.waitFor(() => expect(readFileSync(snapshotPath, "utf8")).toContain("greeter"), { timeout: 5_000 });

      const history = await send("history", "/admin/prompts/greeter/history", { headers: asAdmin("ops") });
      expect(history.status).toBe(200);
      expect(history.body).toContain(`ops ${REDACTED}`);
      expect(history.body).toContain(`"${REDACTED} ${REDACTED}"`);
      const metrics = await send("metrics", "/metrics", {});

      const channels: Record<string, string> = {
        responses: JSON.stringify(seen),
        logs: logs.join("\n"),
        spans: JSON.stringify(
          exporter.getFinishedSpans().map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status })),
        ),
        metrics: metrics.body,
        stored: JSON.stringify(await dump(client, prefix)),
        "snapshot file": readFileSync(snapshotPath, "utf8"),
      };
      for (const [channel, text] of Object.entries(channels)) {
        expect(text.length, channel).toBeGreaterThan(0);
        expect(text, channel).not.toContain(MARKER);
      }
      // The channels were not empty of what matters: the secrets were there, and were replaced.
      expect(channels["logs"]).toContain(REDACTED);
      expect(channels["spans"]).toContain(REDACTED);
      expect(channels["metrics"]).toContain(`model="mock/${REDACTED}`);
      expect(channels["stored"]).toContain(`ops ${REDACTED}`);
    } finally {
      client.disconnect();
    }

    // The gateway counts what it scrubbed, by channel: a provider echoing its key shows here.
    const counted = await (await fetch(`${gw.url}/metrics`)).text();
    for (const channel of ["response", "stream", "log", "span", "metrics", "admin"])
      expect(counted, channel).toMatch(new RegExp(`promptgate_secrets_redacted_total\\{channel="${channel}"\\} [1-9]`));
  });
});

/** Every key under `prefix` with its value, whatever its type. */
async function dump(client: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await client.keys(`${prefix}*`)) {
    const type = await client.type(key);
    if (type === "string") out[key] = await client.get(key);
    else if (type === "hash") out[key] = await client.hgetall(key);
    else if (type === "list") out[key] = await client.lrange(key, 0, -1);
    else if (type === "set") out[key] = await client.smembers(key);
    else if (type === "zset") out[key] = await client.zrange(key, "0", "-1", "WITHSCORES");
    else out[key] = `(${type})`;
  }
  return out;
}
