// Pass-through (/v1/* beyond the inference routes) over real sockets: with the gateway's own provider
// key only what gateway.yaml allows passes; with the caller's key everything does; and the provider
// always gets the normalised path the gateway checked, never a raw request target.
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { json, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { metricSum, scrapeMetrics } from "./support/metrics.ts";

let provider: FakeProvider | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await provider?.close();
  gw = undefined;
  provider = undefined;
});

const KEYED = `
providers:
  openai: { base_url: "\${PROVIDER_URL}", api_key_env: OPENAI_KEY }
routes:
  - { match: "*", provider: openai }
gateway_keys_env: APP_KEYS
`;

async function setup(yaml: string, env: Record<string, string> = {}): Promise<{ gw: TestGateway; p: FakeProvider }> {
  provider = await startFakeProvider();
  provider.handle(json(200, { ok: true }));
  gw = await startTestGateway({ providerUrl: provider.url, yaml, env: { OPENAI_KEY: "sk-gateway", ...env } });
  return { gw, p: provider };
}

interface Answer {
  status: number;
  body: { error?: { message: string; type: string; code: string } };
}

/** Sends `target` as the request line has it (node:http does not normalise it, unlike fetch). */
function send(base: string, method: string, target: string, body?: string, key = "app-1"): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname,
        port,
        method,
        path: target,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString()) as Answer["body"] }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("pass-through with the gateway's provider key", () => {
  it("passes GET /v1/models/{id} by default and refuses files, fine-tuning and deletes with a 403", async () => {
    const { gw, p } = await setup(KEYED, { APP_KEYS: "app-1" });
    expect((await send(gw.url, "GET", "/v1/models/gpt-4o")).status).toBe(200);
    expect(p.received.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([
      ["GET", "/v1/models/gpt-4o", "Bearer sk-gateway"],
    ]);
    for (const [method, target, body] of [
      ["GET", "/v1/files", undefined],
      ["POST", "/v1/files", '{"purpose":"batch"}'],
      ["POST", "/v1/fine_tuning/jobs", '{"model":"gpt-4o-mini","training_file":"file-1"}'],
      ["DELETE", "/v1/models/ft:gpt-4o-mini:acme::abc", undefined],
      ["GET", "/v1/chat/completions", undefined],
    ] as const) {
      const r = await send(gw.url, method, target, body);
      expect(r.status, `${method} ${target}`).toBe(403);
      expect(r.body.error).toMatchObject({ type: "invalid_request_error", code: "permission_denied" });
      expect(r.body.error?.message).toContain("passthrough.allow");
    }
    expect(p.received).toHaveLength(1);
    const m = await scrapeMetrics(gw.url);
    expect(metricSum(m, "promptgate_requests_total", { status: "4xx" })).toBe(5);
    expect(metricSum(m, "promptgate_requests_total", { status: "2xx" })).toBe(1);
  });

  it("passes what passthrough.allow lists, and nothing else", async () => {
    const yaml = `${KEYED}passthrough:\n  allow:\n    - { methods: [GET, POST], path: /v1/files }\n    - { methods: [GET], path: "/v1/files/*/content" }\n`;
    const { gw, p } = await setup(yaml, { APP_KEYS: "app-1" });
    expect((await send(gw.url, "POST", "/v1/files", '{"purpose":"batch"}')).status).toBe(200);
    expect((await send(gw.url, "GET", "/v1/files/file-1/content?x=1")).status).toBe(200);
    expect((await send(gw.url, "DELETE", "/v1/files/file-1")).status).toBe(403);
    expect((await send(gw.url, "GET", "/v1/models/gpt-4o")).status).toBe(403);
    expect(p.received.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /v1/files",
      "GET /v1/files/file-1/content?x=1",
    ]);
  });

  it("checks the normalised path, and the provider gets that path: no way around the allowlist", async () => {
    const { gw, p } = await setup(KEYED, { APP_KEYS: "app-1" });
    // `//` collapses before the check: this is GET /v1/files, refused.
    expect((await send(gw.url, "GET", "/v1/models//../files")).status).toBe(400);
    expect((await send(gw.url, "GET", "/v1/models/%2e%2e/files")).status).toBe(400);
    expect((await send(gw.url, "GET", "/v1/models/gpt-4o%2f..%2f..%2ffiles")).status).toBe(400);
    expect((await send(gw.url, "GET", "http://evil.example/v1/models/gpt-4o")).status).toBe(400);
    expect((await send(gw.url, "GET", "/v1//models//gpt-4o?x=%2e%2e")).status).toBe(200);
    expect(p.received.map((r) => r.url)).toEqual(["/v1/models/gpt-4o?x=%2e%2e"]);
  });
});

describe("pass-through with the caller's own provider key", () => {
  const CALLERS = `
providers:
  openai: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "*", provider: openai }
`;

  it("passes every /v1 call, with the caller's key, on the normalised path", async () => {
    const { gw, p } = await setup(CALLERS);
    expect((await send(gw.url, "DELETE", "/v1/files/file-1", undefined, "sk-caller")).status).toBe(200);
    expect((await send(gw.url, "POST", "/v1//fine_tuning/jobs", "{}", "sk-caller")).status).toBe(200);
    expect(p.received.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([
      ["DELETE", "/v1/files/file-1", "Bearer sk-caller"],
      ["POST", "/v1/fine_tuning/jobs", "Bearer sk-caller"],
    ]);
  });

  it("still refuses raw targets: absolute-form and dot segments never reach the provider", async () => {
    const { gw, p } = await setup(CALLERS);
    for (const target of ["http://evil.example/v1/files", "/v1/files/../batches", "/v1/files/%2E%2E/x"]) {
      const r = await send(gw.url, "GET", target, undefined, "sk-caller");
      expect(r.status, target).toBe(400);
      expect(r.body.error).toMatchObject({ code: "invalid_request" });
    }
    expect(p.received).toHaveLength(0);
  });
});
