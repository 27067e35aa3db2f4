// The admin API's read views (the console's, usable by anyone): the overview of every prompt, the audit history
// across prompts, the aggregates per step, and the dry runs of a promotion, a rollback and a new split, each
// answering what the write would do and writing nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditLog } from "../gateway/registry/audit-log.ts";
import type { PromotionCheck } from "../gateway/registry/registry.ts";
import type { RollbackPreview } from "../gateway/registry/rollback-preview.ts";
import type { WeightsView } from "../gateway/registry/weights-ops.ts";
import type { Overview } from "../gateway/stats/prompt-overview.ts";
import type { StatsSeries } from "../gateway/stats/series.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const TOKEN = "views-token";
const version = (v: string, system: string): string => `name: greeter
version: ${v}
description: Greets
model: mock/echo
messages:
  - role: system
    content: ${system}
`;

describe("admin read views", () => {
  let gw: TestGateway;
  const call = async <T>(
    path: string,
    init: { method?: string; body?: unknown; yaml?: string; actor?: string } = {},
  ) => {
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "x-actor": init.actor ?? "tester" };
    let body: string | undefined;
    if (init.yaml !== undefined) [headers["content-type"], body] = ["application/yaml", init.yaml];
    else if (init.body !== undefined) [headers["content-type"], body] = ["application/json", JSON.stringify(init.body)];
    const res = await fetch(`${gw.url}/admin${path}`, {
      method: init.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.status, json: (await res.json()) as T & { error?: { message: string; param?: string } } };
  };
  const chat = (user: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-prompt-ref": "greeter", "x-user-id": user },
      body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }] }),
    }).then(async (r) => {
      await r.arrayBuffer();
      return r.headers.get("x-prompt-version");
    });

  beforeAll(async () => {
    gw = await startTestGateway({
      env: { ADMIN_TOKEN: TOKEN },
      pricing: 'models:\n  "mock/echo": { input: 1, output: 1 }\n',
    });
    for (const [v, s] of [
      ["1.0.0", "Say hello."],
      ["1.1.0", "Say hello warmly."],
    ])
      expect((await call("/prompts", { yaml: version(v!, s!), actor: "alice" })).status).toBe(201);
    await call("/prompts/greeter/promote", { body: { version: "1.0.0", env: "dev", approved_by: "alice" } });
    await call("/prompts/greeter/promote", { body: { version: "1.0.0", env: "staging", approved_by: "alice" } });
    await call("/prompts/greeter/promote", { body: { version: "1.0.0", env: "prod", approved_by: "bob" } });
  });
  afterAll(async () => {
    await gw.close();
  });

  it("checks a promotion as promote decides it, and writes nothing", async () => {
    const refused = await call<PromotionCheck>("/prompts/greeter/promote?version=1.1.0&env=prod");
    expect(refused.status).toBe(200);
    expect(refused.json).toMatchObject({ from: "1.0.0", changes: true, allowed: false, needsForce: true });
    expect(refused.json.gates.find((g) => g.gate === "staging")).toMatchObject({ status: "refused" });
    const promote = await call("/prompts/greeter/promote", {
      body: { version: "1.1.0", env: "prod", approved_by: "x" },
    });
    expect(promote.status).toBe(409);
    expect(promote.json.error?.message).toBe(refused.json.gates.find((g) => g.status === "refused")?.message);

    const allowed = await call<PromotionCheck>("/prompts/greeter/promote?version=1.1.0&env=staging");
    expect(allowed.json).toMatchObject({ allowed: true, needsForce: false, changes: true });
    expect(allowed.json.gates.map((g) => g.status)).toEqual(["not_required", "not_required"]);
    const same = await call<PromotionCheck>("/prompts/greeter/promote?version=1.0.0&env=prod");
    expect(same.json).toMatchObject({ changes: false, allowed: true });

    expect((await call("/prompts/greeter/promote?version=9.9.9&env=prod")).status).toBe(404);
    expect((await call("/prompts/greeter/promote?env=prod")).json.error?.param).toBe("version");
    expect((await call("/prompts/greeter/promote?version=1.1.0&env=qa")).status).toBe(400);
    const labels = await call<{ labels: Record<string, { version: string }> }>("/prompts/greeter");
    expect(labels.json.labels.prod?.version).toBe("1.0.0");
    expect(labels.json.labels.staging?.version).toBe("1.0.0");
  });

  it("previews a rollback: where it would go, or why it would refuse", async () => {
    const none = await call<RollbackPreview>("/prompts/greeter/rollback?env=prod");
    expect(none.json).toMatchObject({ from: "1.0.0", to: null, allowed: false });
    await call("/prompts/greeter/promote", { body: { version: "1.1.0", env: "dev", approved_by: "alice" } });
    const back = await call<RollbackPreview>("/prompts/greeter/rollback?env=dev");
    expect(back.json).toMatchObject({ from: "1.1.0", to: "1.0.0", allowed: true });
    const done = await call<{ to: string }>("/prompts/greeter/rollback", { body: { env: "dev" } });
    expect(done.json.to).toBe(back.json.to);
    expect((await call("/prompts/nope/rollback?env=dev")).status).toBe(404);
  });

  it("checks a split with setWeights' rules and writes nothing", async () => {
    const ok = await call<WeightsView>("/prompts/greeter/weights/prod/check", {
      body: { weights: { "1.0.0": 75, "1.1.0": 25 } },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.shares.map((s) => [s.version, s.percent])).toEqual([
      ["1.0.0", 75],
      ["1.1.0", 25],
    ]);
    const bad = await call("/prompts/greeter/weights/prod/check", { body: { weights: { "1.0.0": 50, "7.0.0": 50 } } });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toContain("7.0.0");
    const same = await call("/prompts/greeter/weights/prod", {
      method: "PUT",
      body: { weights: { "1.0.0": 50, "7.0.0": 50 } },
    });
    expect(same.json.error?.message).toBe(bad.json.error?.message);
    const stored = await call<WeightsView>("/prompts/greeter/weights/prod");
    expect(stored.json.raw).toEqual({});
    const history = await call<AuditLog>("/audit?action=weights");
    expect(history.json.entries).toEqual([]);
  });

  it("lists the audit history across prompts, newest first, filtered", async () => {
    const all = await call<AuditLog>("/audit");
    expect(all.json.entries.length).toBe(all.json.matched);
    const times = all.json.entries.map((e) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(all.json.actors).toEqual(expect.arrayContaining(["alice", "bob", "tester"]));
    const bobs = await call<AuditLog>("/audit?actor=BO&action=promote");
    expect(bobs.json.entries.map((e) => [e.actor, e.action, e.env])).toEqual([["bob", "promote", "prod"]]);
    const limited = await call<AuditLog>("/audit?limit=2");
    expect(limited.json.entries).toHaveLength(2);
    expect(limited.json.matched).toBe(all.json.matched);
    expect((await call("/audit?limit=0")).status).toBe(400);
    expect((await call("/audit?prompt=nope")).status).toBe(404);
  });

  it("gives the overview and the aggregates per step of what was served", async () => {
    await call("/prompts/greeter/weights/prod", { method: "PUT", body: { weights: { "1.0.0": 50, "1.1.0": 50 } } });
    const served = new Set<string | null>();
    for (let i = 0; i < 40; i++) served.add(await chat(`u${i}`));
    await gw.deps.aggregates.flush();
    const overview = await call<Overview>("/overview?since=1h");
    const prod = overview.json.prompts[0]?.environments.find((e) => e.env === "prod");
    expect(prod).toMatchObject({ version: "1.0.0", requests: 40, errors: 0, priced_requests: 40 });
    expect(Number(prod?.cost_usd)).toBeGreaterThan(0);
    expect(prod?.shares.map((s) => s.percent)).toEqual([50, 50]);

    const series = await call<StatsSeries>("/prompts/greeter/series?env=prod&since=30m&step=5m");
    expect(series.status).toBe(200);
    expect(series.json.step_ms).toBe(300_000);
    expect(series.json.versions.map((v) => v.version)).toEqual(["1.1.0", "1.0.0"]);
    for (const v of series.json.versions) expect(v.points).toHaveLength(6);
    const total = series.json.versions.flatMap((v) => v.points).reduce((n, p) => n + p.requests, 0);
    expect(total).toBe(40);
    const users = series.json.versions.flatMap((v) => v.points).reduce((n, p) => n + p.users, 0);
    expect(users).toBe(40);
    const last = series.json.versions.map((v) => v.points.at(-1)!);
    expect(last.every((p) => p.error_rate === 0 && p.cost_per_request_usd! > 0)).toBe(true);
    expect((await call("/prompts/greeter/series?since=1h")).json.error?.param).toBe("env");
    expect((await call("/prompts/greeter/series?env=prod&since=7d&step=1m")).status).toBe(400);
  });
});
