// `promptgate serve` as a real process: starts from CONFIG_DIR, answers, and drains on SIGTERM.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { chatStream, stallAfterFirstChunk, startFakeProvider, type Handler } from "./support/fake-provider.ts";
import { killAfterTest, startServe, type ServeProcess } from "./support/serve-process.ts";

/** `serve` in front of a fake provider that answers as `handler` says. */
async function serveInFrontOf(handler: Handler, env: Record<string, string> = {}): Promise<ServeProcess> {
  const provider = await startFakeProvider();
  onTestFinished(() => provider.close());
  provider.handle(handler);
  const yaml = `providers:\n  fake: { base_url: "${provider.url}" }\nroutes:\n  - { match: "*", provider: fake }\n`;
  return startServe({ yaml, env });
}

/** Resolves once the gateway relays the answer's headers: the stream is open in the gateway. */
const openStream = (url: string): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "drain me" }], stream: true }),
  });

describe("promptgate serve", () => {
  it("is ready, then on SIGTERM finishes open streams and exits 0", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const gw = await serveInFrontOf(chatStream(["held", "back"], { between: () => released }));
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    const res = await openStream(gw.url);
    gw.child.kill("SIGTERM");
    // The rest of the stream comes only once the gateway is draining.
    await vi.waitFor(() => expect(gw.stderr()).toContain('"msg":"draining"'), { timeout: 5_000, interval: 10 });
    release();
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("data: [DONE]");
    expect(await gw.exited).toBe(0);
    expect(gw.stderr()).toContain('"drained":true');
  });

  it("ends each stream still open at the drain deadline with an error event, then exits 0", async () => {
    const gw = await serveInFrontOf(stallAfterFirstChunk, { DRAIN_TIMEOUT_MS: "200" });
    const streams = await Promise.all([openStream(gw.url), openStream(gw.url)]);
    // A stream cut without its last event rejects: its error shows in the assertions below.
    const texts = streams.map((res) => res.text().catch((e: unknown) => String(e)));
    const t0 = Date.now();
    gw.child.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    for (const text of await Promise.all(texts)) {
      // The event relayed so far, then a last one in OpenAI's error shape, then a clean end.
      const events = text.split("\n\n").filter((e) => e !== "");
      expect(events[0]).toContain('"content":"first"');
      expect(JSON.parse(events.at(-1)!.replace(/^data: /, ""))).toEqual({
        error: {
          message: expect.stringContaining("shutting down") as string,
          type: "api_error",
          param: null,
          code: "unavailable",
        },
      });
    }
    expect(gw.stderr()).toMatch(/"msg":"drain deadline passed[^"]*","drain_ms":200,"streams":2/);
    expect(gw.stderr()).toContain('"drained":false');
  });

  it("registers CONFIG_DIR/prompts at start and bootstraps labels when asked", async () => {
    const yaml = 'routes:\n  - { match: "mock/*", provider: mock }\nprompts: { bootstrap_labels: true }\n';
    const gw = await startServe({ yaml, prompts: true });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-prompt-ref": "summarization",
        "x-prompt-vars": '{"text": "hello"}',
      },
      body: JSON.stringify({ model: "mock/echo" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-prompt-version")).toBe("1.1.0");
    const answer = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]!.message.content).toContain("system: Summarize in exactly 2 sentences.");
    expect(answer.choices[0]!.message.content).toContain("user: hello");
  });

  it("refuses to start on an invalid prompt file, naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-badprompt-"));
    writeFileSync(join(dir, "gateway.yaml"), 'routes:\n  - { match: "mock/*", provider: mock }\n');
    mkdirSync(join(dir, "prompts", "broken"), { recursive: true });
    writeFileSync(
      join(dir, "prompts", "broken", "1.0.0.yaml"),
      "name: broken\nversion: 1.0.0\nmessages: [{ role: user, content: 7 }]\n",
    );
    const child = spawn(process.execPath, ["gateway/main.ts", "serve"], {
      env: { ...process.env, CONFIG_DIR: dir, STATE_PATH: join(dir, "s.db"), REDIS_URL: "", PORT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    killAfterTest(child);
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    expect(await new Promise<number | null>((resolve) => child.once("exit", resolve))).toBe(1);
    expect(err).toContain("broken/1.0.0.yaml");
    expect(err).toContain("messages");
  });

  it("exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, without the caller's key", async () => {
    const bodies: Buffer[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.url === "/v1/traces") bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const { port } = receiver.address() as AddressInfo;
      const gw = await startServe({
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: "100" },
      });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-planted-otlp-secret" },
        body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "trace me" }] }),
      });
      expect(res.status).toBe(200);
      await vi.waitFor(() => expect(bodies).not.toHaveLength(0), { timeout: 5_000 });
      const exported = Buffer.concat(bodies).toString("latin1");
      expect(exported).toContain("chat mock/echo");
      expect(exported).toContain("gen_ai.usage.input_tokens");
      expect(exported).not.toContain("sk-planted-otlp-secret");
      gw.child.kill("SIGTERM");
      expect(await gw.exited).toBe(0);
    } finally {
      receiver.close();
    }
  });

  it("keeps answering while the collector never answers: the span queue stays bounded and drops are counted", async () => {
    // A collector that accepts connections and never replies.
    const held: Socket[] = [];
    const blackHole = createNetServer((socket) => void held.push(socket));
    await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", r));
    try {
      const { port } = blackHole.address() as AddressInfo;
      const gw = await startServe({
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_BSP_SCHEDULE_DELAY: "20",
          OTEL_BSP_MAX_QUEUE_SIZE: "50",
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10",
        },
      });
      const statuses: number[] = [];
      for (let round = 0; round < 10; round++) {
        const batch = Array.from({ length: 30 }, () =>
          fetch(`${gw.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "x" }] }),
          }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        );
        statuses.push(...(await Promise.all(batch)));
      }
      expect(statuses).toEqual(new Array(300).fill(200));
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      const dropped = Number(/^promptgate_spans_dropped_total (\d+)$/m.exec(metrics)?.[1]);
      const exported = Number(/^promptgate_spans_exported_total (\d+)$/m.exec(metrics)?.[1]);
      // At most one stuck batch and one full queue are held; every other span was dropped.
      expect(dropped).toBeGreaterThanOrEqual(300 - 10 - 50);
      expect(exported).toBe(0);
      gw.child.kill("SIGKILL");
    } finally {
      for (const s of held) s.destroy();
      blackHole.close();
    }
  });

  it("refuses to start on an invalid gateway.yaml, saying what to fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-bad-"));
    writeFileSync(join(dir, "gateway.yaml"), "routes: [{ match: '*', provider: nowhere }]\n");
    const child = spawn(process.execPath, ["gateway/main.ts", "serve"], {
      env: { ...process.env, CONFIG_DIR: dir, PORT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    killAfterTest(child);
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(err).toContain('routes[0].provider: unknown provider "nowhere"');
  });
});
