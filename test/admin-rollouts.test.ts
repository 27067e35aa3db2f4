// The rollouts of the admin API over real HTTP: start (201), read, list, history, commands (200), and the refusals in
// OpenAI's error shape (400 bad body, 404 nothing there, 409 not in this state), behind the admin token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "../gateway/errors/gateway-error.ts";
import type { AuditEntry } from "../gateway/registry/records.ts";
import { reconcile } from "../gateway/rollouts/machine.ts";
import type { RolloutView } from "../gateway/rollouts/machine.ts";
import type { Evaluation } from "../gateway/rollouts/record.ts";
import { readRollout, updateRollout } from "../gateway/rollouts/rollout-records.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { DESIGN_EXAMPLE, EARLIER_EXAMPLE } from "./support/prompt-fixtures.ts";

const TOKEN = "admin-s3cret";
const P = "summarization";
const BASE = `/admin/prompts/${P}/rollouts`;

interface Call {
  body?: unknown;
  method?: string;
  token?: string | null;
  actor?: string;
}

type Json = ErrorBody & RolloutView & { rollouts: RolloutView[] };

async function call(gw: TestGateway, path: string, opts: Call = {}): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.actor) headers["x-actor"] = opts.actor;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${gw.url}${path}`, {
    method: opts.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

/** The error's status, param and message, after checking it has OpenAI's shape. */
function refusal(r: { status: number; json: Json }): [number, string | null, string] {
  expect(Object.keys(r.json)).toEqual(["error"]);
  expect(Object.keys(r.json.error).sort()).toEqual(["code", "message", "param", "type"]);
  return [r.status, r.json.error.param, r.json.error.message];
}

describe("admin API: rollouts", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { ADMIN_TOKEN: TOKEN } });
    const v120 = DESIGN_EXAMPLE.replace("version: 1.1.0", "version: 1.2.0");
    const v130 = DESIGN_EXAMPLE.replace("version: 1.1.0", "version: 1.3.0");
    for (const yaml of [EARLIER_EXAMPLE, DESIGN_EXAMPLE, v120, v130]) {
      const res = await fetch(`${gw.url}/admin/prompts`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/yaml" },
        body: yaml,
      });
      expect(res.status).toBe(201);
    }
    for (const env of ["staging", "prod"]) {
      const r = await call(gw, `/admin/prompts/${P}/promote`, { body: { version: "1.0.0", env, approved_by: "lead" } });
      expect(r.status).toBe(200);
    }
    // The canaries have been on staging, as prod's promotion requires (1.3.0 never has); staging is back on 1.0.0.
    for (const version of ["1.1.0", "1.2.0"]) {
      const up = await call(gw, `/admin/prompts/${P}/promote`, {
        body: { version, env: "staging", approved_by: "lead" },
      });
      expect(up.status).toBe(200);
      expect((await call(gw, `/admin/prompts/${P}/rollback`, { body: { env: "staging" } })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await gw.close();
  });

  /** What the controller does once the rollback's weights are read back: the rollout ends. */
  async function controllerFinishesRollback(env: string): Promise<void> {
    const stored = (await readRollout(gw.deps.store, env, P))!;
    const r = stored.record!;
    const weights = Object.fromEntries(Object.entries(r.written_weights ?? {}).map(([v, w]) => [v, String(w)]));
    const next = reconcile(r, { label: r.stable_version, weights, step: null }, Date.now()).record;
    expect(await updateRollout(gw.deps.store, stored.raw, next)).toBe(true);
  }

  it("requires the admin token on every rollout route", async () => {
    for (const [path, body] of [
      ["/admin/rollouts", undefined],
      [BASE, undefined],
      [BASE, { version: "1.1.0", env: "prod" }],
      [`${BASE}/prod`, undefined],
      [`${BASE}/prod/pause`, {}],
      [`${BASE}/prod/evaluations`, undefined],
    ] as const) {
      for (const token of [null, "wrong"]) {
        const r = await call(gw, path, { body, token });
        expect([path, r.status, r.json.error.type]).toEqual([path, 401, "authentication_error"]);
      }
    }
  });

  it("refuses bad start bodies with 400 naming the field, and what cannot start with 404 or 409", async () => {
    const start = (body: unknown) => call(gw, BASE, { body });
    const cases: [unknown, number, string | null, RegExp][] = [
      [{ env: "prod" }, 400, "version", /^version: /],
      [{ version: "1.1.0", env: "qa" }, 400, "env", /^env: /],
      [{ version: "1.1.0", env: "prod", hold: "ten minutes" }, 400, "hold", /must be a duration such as 90s/],
      [{ version: "1.1.0", env: "prod", hold: -5 }, 400, "hold", /^hold: /],
      [{ version: "1.1.0", env: "prod", max_duration: "1.5h" }, 400, "max_duration", /must be a duration/],
      [{ version: "1.1.0", env: "prod", min_users: -1 }, 400, "min_users", /^min_users: /],
      [{ version: "1.1.0", env: "prod", steps: [50, 25] }, 400, "steps", /increase strictly/],
      [{ version: "1.1.0", env: "prod", steps: [5.5] }, 400, "steps.0", /^steps\.0: /],
      [{ version: "1.1.0", env: "prod", hold: "2h", max_duration: "3h" }, 400, "max_duration", /shorter than/],
      [{ version: "1.1.0", env: "prod", guardrails: { alpha: 2 } }, 400, "guardrails.alpha", /^guardrails\.alpha: /],
      [{ version: "1.1.0", env: "prod", guardrails: { speed: {} } }, 400, "guardrails", /^guardrails: .*speed/],
      [{ version: "1.1.0", env: "prod", by: "" }, 400, "by", /must not be empty/],
      [{ version: "1.1.0", env: "prod", extra: 1 }, 400, null, /extra/],
      [{ version: "9.9.9", env: "prod" }, 404, "version", /has no registered version 9\.9\.9/],
      [{ version: "1.1.0", env: "dev" }, 409, "env", /has no dev label/],
      [{ version: "1.0.0", env: "prod" }, 409, "version", /already the prod label's version/],
      [
        { version: "1.3.0", env: "prod" },
        409,
        "version",
        /^a rollout of summarization@1\.3\.0 would end in a promotion to prod that is refused: summarization@1\.3\.0 has never been on staging: promote it to staging first/,
      ],
    ];
    for (const [body, status, param, message] of cases) {
      const [s, p, m] = refusal(await start(body));
      expect([body, s, p]).toEqual([body, status, param]);
      expect(m).toMatch(message);
    }
    expect(
      refusal(await call(gw, "/admin/prompts/ghost/rollouts", { body: { version: "1.0.0", env: "prod" } })),
    ).toEqual([404, "name", 'unknown prompt "ghost": push it first']);
    const badJson = await start("{nope");
    expect([badJson.status, badJson.json.error.code]).toEqual([400, "invalid_json"]);
    expect((await call(gw, "/admin/rollouts")).json).toEqual({ rollouts: [] });
  });

  it("starts (201), reads back the stored record, and answers 409 to a second active rollout", async () => {
    const started = await call(gw, BASE, {
      body: {
        version: "1.1.0",
        env: "prod",
        steps: [10, 50, 100],
        hold: "90s",
        min_users: 20,
        max_duration: 7_200_000,
        guardrails: { error_rate: { margin: 0.02 }, hard_limits: { p95_latency: { max_ms: 5000, min_requests: 50 } } },
      },
      actor: "sre-alice",
    });
    expect(started.status).toBe(201);
    const r = started.json;
    expect(r).toMatchObject({
      schema: 1,
      prompt: P,
      env: "prod",
      stable_version: "1.0.0",
      canary_version: "1.1.0",
      steps: [10, 50, 100],
      hold_ms: 90_000,
      min_users: 20,
      max_duration_ms: 7_200_000,
      state: "pending",
      step_index: 0,
      written_weights: null,
      evaluations: [],
      transitions: [],
      created_by: "sre-alice",
    });
    expect(r.guardrails.error_rate.margin).toBe(0.02);
    expect(r.guardrails.hard_limits.p95_latency).toEqual({ max_ms: 5000, min_requests: 50 });
    // The stored record, snake_case and all, and the commands its state allows.
    expect({
      ...JSON.parse((await gw.deps.store.get(`rollout:prod:${P}`))!),
      allowed_commands: ["pause", "abort", "promote"],
    }).toEqual(r);
    expect((await call(gw, `${BASE}/prod`)).json).toEqual(r);
    expect(refusal(await call(gw, `${BASE}/staging`))).toEqual([404, "env", `${P} has no rollout on staging`]);

    const second = refusal(await call(gw, BASE, { body: { version: "1.2.0", env: "prod", by: "bob" } }));
    expect(second[0]).toBe(409);
    expect(second[2]).toMatch(
      new RegExp(`already has an active rollout on prod: 1\\.1\\.0 against 1\\.0\\.0, pending \\(id ${r.id}`),
    );
  });

  it("applies commands (200) in the states that allow them, 409 with the state otherwise, and audits them", async () => {
    const command = (cmd: string, body?: unknown, actor?: string) =>
      call(gw, `${BASE}/prod/${cmd}`, {
        method: "POST",
        ...(body === undefined ? {} : { body }),
        ...(actor ? { actor } : {}),
      });

    const resume = refusal(await command("resume"));
    expect([resume[0], resume[2]]).toEqual([409, expect.stringMatching(/^cannot resume a rollout that is pending/)]);

    const paused = await command("pause", undefined, "sre-bob"); // no body at all
    expect([paused.status, paused.json.state, paused.json.transitions.at(-1)?.by]).toEqual([200, "paused", "sre-bob"]);
    // Every answer names what may be done next, so clients need not know the state machine.
    expect(paused.json.allowed_commands).toEqual(["resume", "abort", "promote"]);
    expect((await call(gw, `${BASE}/prod`)).json.allowed_commands).toEqual(["resume", "abort", "promote"]);
    const again = refusal(await command("pause", {}));
    expect([again[0], again[2]]).toEqual([409, expect.stringMatching(/^cannot pause a rollout that is paused/)]);

    const resumed = await command("resume", { by: "sre-carol" }, "ignored-header");
    expect([resumed.status, resumed.json.state, resumed.json.transitions.at(-1)?.by]).toEqual([
      200,
      "step",
      "sre-carol",
    ]);
    expect(resumed.json.written_weights).toEqual({ "1.0.0": 90, "1.1.0": 10 });

    expect(refusal(await command("abort", { by: "" }))[0]).toBe(400);
    expect(refusal(await command("abort", { who: "x" }))[0]).toBe(400);
    expect(refusal(await command("abort", "{nope"))[0]).toBe(400);
    expect((await command("stop", {})).status).toBe(404);
    expect(refusal(await call(gw, `/admin/prompts/${P}/rollouts/dev/abort`, { body: {} }))[0]).toBe(404);
    expect(refusal(await call(gw, `/admin/prompts/${P}/rollouts/qa/abort`, { body: {} }))).toEqual([
      400,
      "env",
      'env must be one of dev, staging, prod, got "qa"',
    ]);

    const aborted = await command("abort", { by: "sre-dave" });
    expect([aborted.status, aborted.json.state, aborted.json.ending]).toEqual([200, "rolling_back", "aborted"]);
    const promote = refusal(await command("promote", {}));
    expect([promote[0], promote[2]]).toEqual([
      409,
      expect.stringMatching(/^cannot promote a rollout that is rolling_back/),
    ]);

    const history = await call(gw, `/admin/prompts/${P}/history`);
    const entries = (history.json as unknown as { entries: AuditEntry[] }).entries;
    expect(entries.filter((e) => e.action.startsWith("rollout")).map((e) => [e.action, e.actor, e.from, e.to])).toEqual(
      [
        ["rollout_started", "sre-alice", "1.0.0", "1.1.0"],
        ["rollout_paused", "sre-bob", "pending", "paused"],
        ["rollout_resumed", "sre-carol", "paused", "step"],
        ["rollout_aborted", "sre-dave", "step", "rolling_back"],
      ],
    );
  });

  it("answers the rollout's full evaluation log, 404 where there is no rollout", async () => {
    const r = await call(gw, `${BASE}/prod/evaluations`);
    const json = r.json as unknown as { rollout: string; evaluations: Evaluation[] };
    expect([r.status, Object.keys(json).sort()]).toEqual([200, ["evaluations", "rollout"]]);
    const record = (await call(gw, `${BASE}/prod`)).json;
    expect(json.rollout).toBe(record.id);
    // The operator's pause recorded an evaluation; the log has it (and all that followed), as the record does.
    expect(json.evaluations[0]).toMatchObject({
      decision: "pause",
      reason: expect.stringMatching(/^paused by sre-bob/),
    });
    expect(json.evaluations).toEqual(record.evaluations);
    expect(refusal(await call(gw, `${BASE}/dev/evaluations`))).toEqual([404, "name", `${P} has no rollout on dev`]);
    expect(refusal(await call(gw, `${BASE}/qa/evaluations`))[0]).toBe(400);
  });

  it("lists rollouts and each prompt's history, newest first, with filters", async () => {
    await controllerFinishesRollback("prod");
    const next = await call(gw, BASE, { body: { version: "1.2.0", env: "prod" }, actor: "sre-erin" });
    expect(next.status).toBe(201);
    const staging = await call(gw, BASE, { body: { version: "1.1.0", env: "staging", by: "sre-fay" } });
    expect(staging.status).toBe(201);
    const promoted = await call(gw, `${BASE}/staging/promote`, { body: {} });
    expect([promoted.status, promoted.json.state]).toEqual([200, "promoting"]);

    const ids = (r: { json: Json }) => r.json.rollouts.map((x) => `${x.env}:${x.canary_version}:${x.state}`);
    expect(ids(await call(gw, "/admin/rollouts"))).toEqual(["staging:1.1.0:promoting", "prod:1.2.0:pending"]);
    expect(ids(await call(gw, "/admin/rollouts?active=true&env=prod"))).toEqual(["prod:1.2.0:pending"]);
    expect(ids(await call(gw, "/admin/rollouts?env=dev"))).toEqual([]);
    expect(refusal(await call(gw, "/admin/rollouts?active=maybe"))[1]).toBe("active");
    expect(refusal(await call(gw, "/admin/rollouts?env=qa"))[1]).toBe("env");

    expect(ids(await call(gw, BASE))).toEqual(["staging:1.1.0:promoting", "prod:1.2.0:pending", "prod:1.1.0:aborted"]);
    expect(ids(await call(gw, `${BASE}?env=prod`))).toEqual(["prod:1.2.0:pending", "prod:1.1.0:aborted"]);
    expect(refusal(await call(gw, "/admin/prompts/ghost/rollouts"))).toEqual([404, "name", 'unknown prompt "ghost"']);
    expect((await call(gw, "/admin/prompts/ghost/rollouts/prod")).status).toBe(404);
  });
});
