// The promotion gate through its two doors: the CLI (a suite file on disk gates the prompt; --force gets past,
// and `history` shows it beside the recorded eval runs) and the admin API (`GET /admin/prompts/:name/evals`,
// promote refused with 409 and forced). Eval runs are recorded the way the eval runner records them.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NewEvalRecord } from "../gateway/registry/eval-records.ts";
import { loadSettings } from "../gateway/config/settings.ts";
import { loadSuite } from "../gateway/evals/suite.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { cli, cliWorkspace } from "./support/cli.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { DESIGN_EXAMPLE, EARLIER_EXAMPLE } from "./support/prompt-fixtures.ts";

const run = (version: string, contentHash: string, passed: boolean, suiteHash = "suite-a"): NewEvalRecord => ({
  prompt: "summarization",
  version,
  content_hash: contentHash,
  suite: "config/evals/summarization.yaml",
  suite_hash: suiteHash,
  judges: ["judge-rubric@1.0.0"],
  baseline: null,
  started_at: "2030-01-01T00:00:00.000Z",
  finished_at: "2030-01-01T00:02:00.000Z",
  passed,
  cases: 12,
  grader_errors: 0,
  cost_usd: null,
  metrics: { quality: { n: 12, mean: passed ? 0.9 : 0.4, std: 0.1, min: 0.2, max: 1, pass_rate: passed ? 1 : 0.5 } },
  gate: null,
  by: "ci",
});

describe("promotion gate from the CLI", () => {
  const { dir, env } = cliWorkspace({
    "config/prompts/summarization/1.0.0.yaml": EARLIER_EXAMPLE,
    "config/prompts/summarization/1.1.0.yaml": DESIGN_EXAMPLE,
    "config/evals/summarization.yaml":
      "tests:\n  - vars: { text: hello }\n    assert: [{ type: contains, value: hello }]\n",
  });
  beforeAll(async () => {
    expect((await cli(["push"], env)).code).toBe(0);
  });

  it("refuses a prompt whose suite never ran, forces past it audited, and shows eval runs in history", async () => {
    const refused = await cli(["promote", "summarization", "1.0.0", "--to", "staging", "--approved-by", "alice"], env);
    expect(refused.code).toBe(1);
    // The CLI passes the suite file's hash: no record exists for it.
    expect(refused.stderr).toMatch(
      /summarization@1\.0\.0 has no eval record for its content .* on the current suite .*promptgate eval summarization@1\.0\.0/,
    );

    const forced = await cli(
      ["promote", "summarization", "1.0.0", "--to", "staging", "--approved-by", "bob", "--force"],
      env,
    );
    expect([forced.code, forced.stderr]).toEqual([0, ""]);
    expect(forced.stdout).toMatch(/staging \(none\) -> 1\.0\.0, approved by bob, forced past the eval gate/);

    // The eval runner records runs through the registry, on the same store.
    const { redisPrefix } = loadSettings(env);
    const store = createSqliteStore({ path: join(dir, "state.db"), prefix: redisPrefix, logger: silentLogger });
    try {
      const registry = createRegistry(store, systemClock);
      const v110 = await registry.get("summarization", "1.1.0");
      // Against the suite file as it is: promote checks that hash.
      const suiteHash = loadSuite(join(dir, "config", "evals", "summarization.yaml")).hash;
      await registry.recordEval(run("1.1.0", v110!.hash, false, suiteHash));
    } finally {
      await store.close();
    }
    const failed = await cli(["promote", "summarization", "1.1.0", "--to", "staging", "--approved-by", "alice"], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/summarization@1\.1\.0 failed its latest evaluation on the current suite/);

    const [table, json] = await Promise.all([
      cli(["history", "summarization"], env),
      cli(["history", "summarization", "--json"], env),
    ]);
    expect(table.stdout).toMatch(/bob\s+promote \(forced: eval\)\s+staging\s+-\s+1\.0\.0/);
    expect(table.stdout).toMatch(/ci\s+eval \(failed\)\s+-\s+-\s+1\.1\.0/);
    const entries = (JSON.parse(json.stdout) as { entries: Record<string, unknown>[] }).entries;
    expect(entries.filter((e) => e["action"] !== "register")).toEqual([
      expect.objectContaining({ action: "promote", actor: "bob", forced: true, forcedPast: ["eval"], to: "1.0.0" }),
      expect.objectContaining({
        action: "eval",
        actor: "ci",
        version: "1.1.0",
        passed: false,
        evalId: expect.any(String),
      }),
    ]);
  });
});

describe("promotion gate over the admin API", () => {
  const TOKEN = "admin-token";
  let gw: TestGateway;
  const call = async (path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${gw.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    gw = await startTestGateway({ env: { ADMIN_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await gw.close();
  });

  it("lists eval records, refuses promotion without a pass (409), and promotes with one or with force", async () => {
    const registry = createRegistry(gw.deps.store, gw.deps.clock);
    for (const text of [EARLIER_EXAMPLE, DESIGN_EXAMPLE]) {
      const res = await fetch(`${gw.url}/admin/prompts`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/yaml" },
        body: text,
      });
      expect(res.status).toBe(201);
    }
    const hash = async (v: string): Promise<string> => (await registry.get("summarization", v))!.hash;
    const passing = await registry.recordEval(run("1.0.0", await hash("1.0.0"), true));
    await registry.recordEval(run("1.1.0", await hash("1.1.0"), false));

    const listed = await call("/admin/prompts/summarization/evals");
    expect(listed.status).toBe(200);
    expect(listed.json).toMatchObject({ name: "summarization", suite: { hash: "suite-a" } });
    expect((listed.json["evals"] as { version: string; passed: boolean }[]).map((e) => [e.version, e.passed])).toEqual([
      ["1.0.0", true],
      ["1.1.0", false],
    ]);
    const one = await call("/admin/prompts/summarization/evals?version=1.0.0");
    expect(one.json["evals"]).toEqual([passing]);
    const unknown = await call("/admin/prompts/nope/evals");
    expect([unknown.status, (unknown.json["error"] as { code: unknown }).code]).toEqual([404, "not_found"]);

    const ok = await call("/admin/prompts/summarization/promote", {
      version: "1.0.0",
      env: "staging",
      approved_by: "a",
    });
    expect(ok.json).toMatchObject({ changed: true, forced: false, evalId: passing.id });
    const refused = await call("/admin/prompts/summarization/promote", {
      version: "1.1.0",
      env: "staging",
      approved_by: "a",
    });
    expect(refused.status).toBe(409);
    expect((refused.json["error"] as { message: string }).message).toMatch(/failed its latest evaluation/);
    const forced = await call("/admin/prompts/summarization/promote", {
      version: "1.1.0",
      env: "staging",
      approved_by: "b",
      force: true,
    });
    expect(forced.json).toMatchObject({ changed: true, forced: true, forcedPast: ["eval"] });
  });
});
