// Templates that read variables they never declare, end to end: registration (admin API, `promptgate
// push`) refuses them naming prompt, version, template and variable; a version registered before that
// rule still serves, and a render that fails is the version's 500, counted under that version in the
// metrics, the per-version aggregates and the span, while bad caller input stays the caller's 400.
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ErrorBody } from "../gateway/errors/gateway-error.ts";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { syncPromptFiles } from "../gateway/registry/startup-sync.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import type { StatsView } from "../gateway/stats/stats-ops.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { createLogger, silentLogger } from "../gateway/support/logger.ts";
import { cli } from "./support/cli.ts";
import { chatJson, startFakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const TOKEN = "adm";
const SECRET_VALUE = "value-that-must-not-leak";

/** `usr` is a typo for `who`; it is only read when `formal` is true. */
const LEGACY = `
name: greet
version: 1.0.0
variables:
  who: { type: string, required: true }
  formal: { type: boolean, default: false }
messages:
  - role: system
    content: "Private wording. Greet {{ who }}.{% if formal %} Address {{ usr.title }} formally.{% endif %}"
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gateway(logs: string[] = [], exporter?: InMemorySpanExporter): Promise<TestGateway> {
  const provider = await startFakeProvider();
  provider.handle(chatJson("hello"));
  cleanups.push(() => provider.close());
  const gw = await startTestGateway({
    providerUrl: provider.url,
    env: { ADMIN_TOKEN: TOKEN },
    logger: createLogger("debug", (line) => logs.push(line)),
    ...(exporter && {
      tracer: new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer("t"),
    }),
  });
  cleanups.push(() => gw.close());
  return gw;
}

const admin = (gw: TestGateway, path: string, yaml?: string): Promise<Response> =>
  fetch(`${gw.url}/admin${path}`, {
    method: yaml === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, ...(yaml !== undefined && { "content-type": "application/yaml" }) },
    ...(yaml !== undefined && { body: yaml }),
  });

const greet = (gw: TestGateway, vars: object): Promise<Response> =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-prompt-ref": "greet",
      "x-user-id": "u1",
      "x-prompt-vars": JSON.stringify(vars),
    },
    body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] }),
  });

describe("registering a template that reads an undeclared variable", () => {
  it("is refused by the admin API with a 400 naming prompt, version, message index and variable", async () => {
    const gw = await gateway();
    const res = await admin(gw, "/prompts", LEGACY);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe("invalid_request");
    expect(error.message).toMatch(
      /^prompt greet@1\.0\.0: messages\[0\]\.content: line 1, column \d+: "usr" is not a declared variable \(declared: who, formal\)/,
    );
    expect((await admin(gw, "/prompts/greet")).status).toBe(404);
    const fixed = LEGACY.replace("usr.title", "who");
    expect((await admin(gw, "/prompts", fixed)).status).toBe(201);
  });

  it("is refused by promptgate push, which registers the rest and exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-undeclared-"));
    for (const [name, text] of [
      ["greet", LEGACY],
      ["fine", "name: fine\nversion: 1.0.0\nmessages: [{ role: user, content: hi }]\n"],
    ] as const) {
      mkdirSync(join(dir, "prompts", name), { recursive: true });
      writeFileSync(join(dir, "prompts", name, "1.0.0.yaml"), text);
    }
    const env = { CONFIG_DIR: dir, STATE_PATH: join(dir, "state.db"), REDIS_URL: "", LOG_LEVEL: "" };
    const run = await cli(["push", "--json"], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("promptgate push: 1 of 2 versions were not registered\n");
    const { results } = JSON.parse(run.stdout) as { results: { name: string; status: string; error?: string }[] };
    expect(results.find((r) => r.name === "fine")?.status).toBe("created");
    expect(results.find((r) => r.name === "greet")?.error).toMatch(
      /^prompt greet@1\.0\.0: messages\[0\]\.content: line 1, column \d+: "usr" is not a declared variable/,
    );
  });

  it("is not registered by serve's start-up sync, which logs why and registers the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-undeclared-sync-"));
    mkdirSync(join(dir, "greet"));
    writeFileSync(join(dir, "greet", "1.0.0.yaml"), LEGACY);
    writeFileSync(join(dir, "greet", "1.0.1.yaml"), LEGACY.replace("1.0.0", "1.0.1").replace("usr.title", "who"));
    const logs: string[] = [];
    const store = createSqliteStore({ path: join(dir, "state.db"), prefix: "t:", logger: silentLogger });
    cleanups.push(() => store.close());
    const options = { register_on_start: true, bootstrap_labels: false };
    const logger = createLogger("debug", (line) => logs.push(line));
    await syncPromptFiles(dir, options, store, systemClock, logger);
    expect(await createRegistry(store, systemClock).versions("greet")).toEqual(["1.0.1"]);
    const warning = logs.map((l) => JSON.parse(l) as Record<string, string>).find((l) => l.version === "1.0.0");
    expect(warning).toMatchObject({ level: "warn", msg: "prompt version not registered at start", prompt: "greet" });
    expect(warning?.error).toMatch(
      /^prompt greet@1\.0\.0: messages\[0\]\.content: line 1, column \d+: "usr" is not a declared/,
    );
  });
});

describe("a version registered before undeclared variables were refused", () => {
  it("serves; a failed render is its 500, counted under it in metrics, aggregates and the span", async () => {
    const logs: string[] = [];
    const exporter = new InMemorySpanExporter();
    const gw = await gateway(logs, exporter);
    // Straight into the registry, as an older gateway would have registered it.
    const registry = createRegistry(gw.deps.store, systemClock);
    await registry.register(parsePromptFile(LEGACY, "greet/1.0.0.yaml"), "before");
    await registry.promote("greet", "1.0.0", "staging", { approvedBy: "t" });
    await registry.promote("greet", "1.0.0", "prod", { approvedBy: "t" });
    await vi.waitFor(async () => expect((await greet(gw, { who: "Ada" })).status).toBe(200));
    expect(logs.some((l) => l.includes("reads a variable it does not declare") && l.includes('\\"usr\\"'))).toBe(true);

    const failed = await greet(gw, { who: SECRET_VALUE, formal: true });
    expect(failed.status).toBe(500);
    expect(failed.headers.get("x-prompt-version")).toBe("1.0.0");
    const { error } = (await failed.json()) as ErrorBody;
    expect(error).toEqual({
      message:
        'prompt greet@1.0.0: messages[0].content: line 1, column 58: the template failed to render: "usr.title" is undefined or null ("usr" is not a declared variable)',
      type: "api_error",
      param: null,
      code: "template_error",
    });
    expect(JSON.stringify(error)).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(error)).not.toContain("Private wording");

    // Bad caller input stays the caller's 400, naming the variable.
    const unknown = await greet(gw, { who: "Ada", tone: "dry" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as ErrorBody).error.param).toBe("prompt_variables.tone");

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const series = (status: string): string =>
      `promptgate_requests_total{prompt="greet",version="1.0.0",variant="stable",model="gpt-test",status="${status}"}`;
    expect(metrics).toContain(`${series("5xx")} 1\n`);
    expect(metrics).toContain(`${series("4xx")} 1\n`);
    expect(metrics).not.toMatch(/promptgate_requests_total\{prompt="none"[^}]*status="5xx"\}/);

    await vi.waitFor(async () => {
      await gw.deps.aggregates.flush();
      const view = (await (await admin(gw, "/prompts/greet/stats/prod?since=5m")).json()) as StatsView;
      expect(view.versions).toEqual([
        expect.objectContaining({ version: "1.0.0", requests: 3, errors: 1, client_errors: 1 }),
      ]);
    });

    const span = exporter.getFinishedSpans().find((s) => s.attributes["http.response.status_code"] === 500);
    expect(span?.attributes).toMatchObject({
      "promptgate.prompt.name": "greet",
      "promptgate.prompt.version": "1.0.0",
      "promptgate.prompt.variant": "stable",
      "error.type": "template_error",
    });
    expect(span?.name).toBe("chat gpt-test");
  });
});

describe("a stored version that does not compile when the snapshot loads", () => {
  it("resolves, and answers the version's 500, counted under it", async () => {
    const gw = await gateway();
    const registry = createRegistry(gw.deps.store, systemClock);
    const file = LEGACY.replace("{{ who }}", "{{ who | nosuchfilter }}").replace("usr.title", "who");
    await registry.register(parsePromptFile(file, "greet/1.0.0.yaml"), "before");
    await registry.promote("greet", "1.0.0", "staging", { approvedBy: "t" });
    await registry.promote("greet", "1.0.0", "prod", { approvedBy: "t" });
    const res = await vi.waitFor(async () => {
      const r = await greet(gw, { who: "Ada" });
      expect(r.status).toBe(500);
      return r;
    });
    expect(res.headers.get("x-prompt-version")).toBe("1.0.0");
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: "template_error",
      message: "prompt greet@1.0.0: its templates do not compile; see the gateway log",
    });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain(
      'promptgate_requests_total{prompt="greet",version="1.0.0",variant="stable",model="gpt-test",status="5xx"} 1\n',
    );
  });
});
