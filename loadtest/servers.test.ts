import { createServer, type Server } from "node:http";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGatewayConfig } from "../gateway/config/gateway-config.ts";
import { targetNames, type Target } from "./bench.ts";
import { PROMPT_HEADERS, PROMPT_TEXT } from "./options.ts";
import {
  gatewayEnv,
  gatewayYaml,
  OTEL_BSP_DEFAULTS,
  preflight,
  promptExpectation,
  promptTargetHeaders,
  writeConfigDir,
} from "./servers.ts";

const ROOT = resolve(import.meta.dirname, "..");

describe("targetNames", () => {
  it("adds gateway-prompt, then gateway-otel, right after the gateway", () => {
    expect(targetNames({ prompt: false, otel: false })).toEqual(["direct", "bare", "gateway"]);
    expect(targetNames({ prompt: false, otel: true })).toEqual(["direct", "bare", "gateway", "gateway-otel"]);
    expect(targetNames({ prompt: true, otel: false })).toEqual(["direct", "bare", "gateway", "gateway-prompt"]);
    expect(targetNames({ prompt: true, otel: true })).toEqual([
      "direct",
      "bare",
      "gateway",
      "gateway-prompt",
      "gateway-otel",
    ]);
  });
});

describe("gatewayEnv", () => {
  const inherited = {
    PATH: "/bin",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
    OTEL_BSP_SCHEDULE_DELAY: "1",
  };
  const own = { PORT: "1234", STATE_PATH: "/tmp/s.db" };

  it("keeps the old layering without --otel: shell, runner, then --gateway-env", () => {
    expect(gatewayEnv({ inherited, own, extra: { PORT: "9" }, otelRun: false, otlpEndpoint: null })).toEqual({
      ...inherited,
      PORT: "9",
      STATE_PATH: "/tmp/s.db",
    });
  });

  it("with --otel, the gateway inherits no OTEL_* (so it never exports)", () => {
    const env = gatewayEnv({ inherited, own, extra: { GATEWAY_ENV: "staging" }, otelRun: true, otlpEndpoint: null });
    expect(env).toEqual({ PATH: "/bin", PORT: "1234", STATE_PATH: "/tmp/s.db", GATEWAY_ENV: "staging" });
  });

  it("gateway-otel exports to the receiver with the SDK's batch defaults, under --gateway-env", () => {
    const env = gatewayEnv({
      inherited,
      own,
      extra: { OTEL_BSP_SCHEDULE_DELAY: "1000" },
      otelRun: true,
      otlpEndpoint: "http://127.0.0.1:5555",
    });
    expect(env).toEqual({
      PATH: "/bin",
      ...OTEL_BSP_DEFAULTS,
      ...own,
      OTEL_BSP_SCHEDULE_DELAY: "1000",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:5555",
    });
    expect(OTEL_BSP_DEFAULTS).toMatchObject({ OTEL_BSP_MAX_QUEUE_SIZE: "2048", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "512" });
  });
});

describe("the generated config dir", () => {
  const dirs: string[] = [];
  const scratch = (): string => {
    const d = mkdtempSync(join(tmpdir(), "loadtest-config-test-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const env = { LOADTEST_UPSTREAM_URL: "http://127.0.0.1:9/v1" };
  const files = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();

  it("without --prompt: only gateway.yaml, every model to the fake provider, the gateway's prompt defaults", () => {
    const dir = scratch();
    writeConfigDir(ROOT, dir, false);
    expect(files(dir)).toEqual(["gateway.yaml"]);
    const config = parseGatewayConfig(readFileSync(join(dir, "gateway.yaml"), "utf8"), env);
    expect(config.routes.map((r) => [r.match, r.provider.name])).toEqual([["*", "fake"]]);
    expect(config.providers.get("fake")?.origin).toBe("http://127.0.0.1:9");
    expect(config.prompts.bootstrap_labels).toBe(false);
  });

  it("with --prompt: the repo's prompts and pricing, registered at start with every label bootstrapped", () => {
    const dir = scratch();
    writeConfigDir(ROOT, dir, true);
    // Every prompt file, recursively, byte for byte; and the price table.
    const promptFiles = files(join(ROOT, "config/prompts"));
    expect(promptFiles).toContain(join("summarization", "1.1.0.yaml"));
    expect(files(join(dir, "prompts"))).toEqual(promptFiles);
    for (const f of promptFiles.filter((p) => p.endsWith(".yaml"))) {
      expect(readFileSync(join(dir, "prompts", f), "utf8")).toBe(readFileSync(join(ROOT, "config/prompts", f), "utf8"));
    }
    expect(readFileSync(join(dir, "pricing.yaml"), "utf8")).toBe(
      readFileSync(join(ROOT, "config/pricing.yaml"), "utf8"),
    );
    // Read back by the gateway's own parser: the same route, and the prompt settings.
    const config = parseGatewayConfig(readFileSync(join(dir, "gateway.yaml"), "utf8"), env);
    expect(config.routes.map((r) => [r.match, r.provider.name])).toEqual([["*", "fake"]]);
    expect(config.prompts).toEqual({ register_on_start: true, bootstrap_labels: true });
    expect(gatewayYaml(true).startsWith(gatewayYaml(false))).toBe(true);
  });
});

describe("gateway-prompt's requests", () => {
  it("carry --header's headers and the prompt's own", () => {
    const h = promptTargetHeaders({ "x-tenant": "t1" });
    expect(h).toEqual({ "x-tenant": "t1", ...PROMPT_HEADERS });
    expect(h["x-prompt-ref"]).toBe("summarization");
    expect(h["x-user-id"]).toBe("loadtest-user");
    expect(JSON.parse(h["x-prompt-vars"]!)).toEqual({ text: PROMPT_TEXT, focus_points: ["revenue", "risks"] });
  });

  it("send a realistic text that can travel in a header", () => {
    expect(PROMPT_TEXT.length).toBeGreaterThanOrEqual(550);
    expect(PROMPT_TEXT.length).toBeLessThanOrEqual(650);
    // Printable ASCII only: no line breaks or non-Latin-1 characters, which a header cannot carry.
    expect(PROMPT_TEXT).toMatch(/^[\x20-\x7e]+$/);
    expect(PROMPT_TEXT.split(" ").length).toBeGreaterThan(80);
  });
});

describe("preflight", () => {
  // A stand-in gateway: a whole chat.completion, with x-prompt-name only when asked for a prompt.
  let server: Server;
  let url = "";
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const ref = req.headers["x-prompt-ref"];
        if (typeof ref === "string") res.setHeader("x-prompt-name", ref);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "chat.completion", choices: [] }));
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });
  const body = JSON.stringify({ model: "m", messages: [] });

  it("passes a whole answer, and gateway-prompt's only when the gateway names the prompt", async () => {
    await expect(preflight({ name: "gateway", url, headers: {} }, body, false)).resolves.toBeUndefined();
    const prompt: Target = {
      name: "gateway-prompt",
      url,
      headers: promptTargetHeaders({}),
      expect: promptExpectation(false),
    };
    await expect(preflight(prompt, body, false)).resolves.toBeUndefined();
  });

  it("fails gateway-prompt when the answer does not name the summarization prompt, and says what to fix", async () => {
    const unprompted: Target = { name: "gateway-prompt", url, headers: {}, expect: promptExpectation(true) };
    await expect(preflight(unprompted, body, false)).rejects.toThrow(
      /gateway-prompt answered without x-prompt-name: summarization \(got none\).*--config-dir must hold prompts\/summarization/,
    );
    const other: Target = {
      name: "gateway-prompt",
      url,
      headers: { "x-prompt-ref": "entity-extraction" },
      expect: promptExpectation(false),
    };
    await expect(preflight(other, body, false)).rejects.toThrow(
      /x-prompt-name: summarization \(got "entity-extraction"\)/,
    );
  });
});
