// The rollout service on a real Redis and on the embedded store: what a start checks, one active rollout per prompt
// and environment (also under concurrent starts), the commands each state allows, the audit history, and the history
// of finished rollouts kept when a new one replaces them.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readHistory } from "../../../gateway/registry/audit.ts";
import { createRegistry, type Registry } from "../../../gateway/registry/registry.ts";
import { reconcile, type RolloutCommand } from "../../../gateway/rollouts/machine.ts";
import type { RolloutRecord } from "../../../gateway/rollouts/record.ts";
import { readEvaluations, readRollout, updateRollout } from "../../../gateway/rollouts/rollout-records.ts";
import {
  createRolloutService,
  type RolloutService,
  type StartRollout,
} from "../../../gateway/rollouts/rollout-service.ts";
import { rolloutHistoryKey, rolloutKey, weightsKey } from "../../../gateway/store/keys.ts";
import type { Store } from "../../../gateway/store/store.ts";
import type { Clock } from "../../../gateway/support/clock.ts";
import {
  backends,
  evalRun,
  promptVersion,
  rejection,
  steppingClock,
  type Backend,
} from "../../support/registry-fixtures.ts";

const START: StartRollout = { name: "summ", version: "1.1.0", env: "prod", by: "alice" };

describe.each(backends)("rollout service on $name", ({ make }) => {
  let backend: Backend;
  let store: Store;
  let registry: Registry;
  let clock: Clock;
  let service: RolloutService;
  let ids: number;

  beforeEach(async () => {
    backend = make();
    store = await backend.open();
    clock = steppingClock();
    registry = createRegistry(store, clock);
    ids = 0;
    service = createRolloutService({ store, registry, clock, newId: () => `r${++ids}` });
    for (const name of ["summ", "other"]) {
      for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await registry.register(promptVersion(name, v), "test");
      await registry.promote(name, "1.0.0", "staging", { approvedBy: "test" });
      await registry.promote(name, "1.0.0", "prod", { approvedBy: "test" });
      // The canaries have been on staging (the registry remembers it), as prod's promotion requires; staging's
      // label is back on 1.0.0 so the tests can roll them out there too.
      for (const v of ["1.1.0", "1.2.0"]) {
        await registry.promote(name, v, "staging", { approvedBy: "test" });
        await registry.rollback(name, "staging", { actor: "test" });
      }
    }
  });
  afterEach(async () => {
    await backend.cleanup();
  });

  const rolloutAudit = async (name = "summ") =>
    (await readHistory(store, name)).filter((e) => e.action.startsWith("rollout"));

  /** What the controller does once the rollback's weights are read back: the rollout ends. */
  const finishRollback = async (name = "summ", env = "prod"): Promise<RolloutRecord> => {
    const stored = await readRollout(store, env, name);
    const r = stored!.record!;
    const weights = Object.fromEntries(Object.entries(r.written_weights ?? {}).map(([v, w]) => [v, String(w)]));
    const next = reconcile(r, { label: r.stable_version, weights, step: null }, clock.now()).record;
    expect(await updateRollout(store, stored!.raw, next)).toBe(true);
    return next;
  };

  it("starts a pending rollout from the label's version, with the defaults, indexed and audited", async () => {
    const r = await service.start(START);
    expect(r).toMatchObject({
      id: "r1",
      prompt: "summ",
      env: "prod",
      stable_version: "1.0.0",
      canary_version: "1.1.0",
      steps: [5, 25, 50, 100],
      hold_ms: 30 * 60_000,
      min_users: 100,
      max_duration_ms: 24 * 3_600_000,
      state: "pending",
      created_by: "alice",
    });
    expect(await service.get("summ", "prod")).toEqual(r);
    expect(await service.get("summ", "staging")).toBeNull();
    expect(await service.list()).toEqual([r]);
    expect(await store.hgetall("rollouts-index")).toEqual({ "prod:summ": "r1" });
    expect(await rolloutAudit()).toEqual([
      {
        at: expect.any(String),
        actor: "alice",
        action: "rollout_started",
        name: "summ",
        env: "prod",
        from: "1.0.0",
        to: "1.1.0",
        version: "1.1.0",
        rolloutId: "r1",
        reason: "steps 5,25,50,100, hold 30m, min users 100, max duration 1d; 3 compared steps",
      },
    ]);

    const custom = await service.start({
      ...START,
      env: "staging",
      version: "1.2.0",
      steps: [10, 100],
      holdMs: 90_000,
      minUsers: 5,
      maxDurationMs: 7_200_000,
      guardrails: { error_rate: { margin: 0.02 }, quality: { enabled: false }, hard_limits: { error_rate: null } },
    });
    expect(custom).toMatchObject({ steps: [10, 100], hold_ms: 90_000, min_users: 5, max_duration_ms: 7_200_000 });
    expect(custom.guardrails.error_rate).toEqual({ enabled: true, margin: 0.02 });
    expect(custom.guardrails.quality.enabled).toBe(false);
    expect(custom.guardrails.hard_limits.error_rate).toBeNull();
  });

  it("refuses a start that cannot run, naming the field, and writes nothing", async () => {
    const refused = async (input: Partial<StartRollout>): Promise<[string, string | null, string]> => {
      const err = await rejection(service.start({ ...START, ...input }));
      return [err.kind, err.field, err.message];
    };
    expect(await refused({ env: "qa" })).toEqual(["invalid", "env", expect.stringMatching(/dev, staging, prod/)]);
    expect(await refused({ by: " " })).toEqual(["invalid", "by", expect.any(String)]);
    expect(await refused({ name: "ghost" })).toEqual(["not_found", "name", 'unknown prompt "ghost": push it first']);
    expect(await refused({ version: "9.9.9" })).toEqual(["not_found", "version", expect.stringMatching(/9\.9\.9/)]);
    expect(await refused({ env: "dev" })).toEqual(["conflict", "env", expect.stringMatching(/no dev label/)]);
    expect(await refused({ version: "1.0.0" })).toEqual([
      "conflict",
      "version",
      "summ@1.0.0 is already the prod label's version: nothing to roll out",
    ]);
    for (const steps of [[], [0, 50], [5, 5], [50, 25], [5, 101], [2.5]]) {
      expect(await refused({ steps })).toEqual(["invalid", "steps", expect.stringMatching(/increase strictly/)]);
    }
    expect((await refused({ holdMs: -1 })).slice(0, 2)).toEqual(["invalid", "hold"]);
    expect((await refused({ holdMs: 1.5 })).slice(0, 2)).toEqual(["invalid", "hold"]);
    expect((await refused({ minUsers: -3 })).slice(0, 2)).toEqual(["invalid", "min_users"]);
    expect((await refused({ maxDurationMs: 0 })).slice(0, 2)).toEqual(["invalid", "max_duration"]);
    expect(await refused({ holdMs: 3_600_000, maxDurationMs: 7_200_000 })).toEqual([
      "invalid",
      "max_duration",
      "max_duration 2h is shorter than the hold 1h of each of the 3 steps below 100%: " +
        "the rollout would run out of time before it could finish",
    ]);
    expect(await refused({ guardrails: { alpha: 2 } })).toEqual([
      "invalid",
      "guardrails.alpha",
      expect.stringMatching(/^guardrails\.alpha: /),
    ]);

    expect(await store.get(rolloutKey("prod", "summ"))).toBeNull();
    expect(await store.hgetall("rollouts-index")).toEqual({});
    expect(await rolloutAudit()).toEqual([]);
    // A step at 100% only is the promotion itself: no compared step, any hold fits.
    expect((await service.start({ ...START, steps: [100], holdMs: 10 * 3_600_000 })).steps).toEqual([100]);
  });

  it("refuses a rollout whose final promotion the registry would refuse now, and writes nothing", async () => {
    await registry.register(promptVersion("summ", "1.3.0"), "test");
    const never = await rejection(service.start({ ...START, version: "1.3.0" }));
    expect([never.kind, never.field, never.message]).toEqual([
      "conflict",
      "version",
      "a rollout of summ@1.3.0 would end in a promotion to prod that is refused: " +
        "summ@1.3.0 has never been on staging: promote it to staging first, or force the promotion",
    ]);
    // Dev has no promotion rules: the same version rolls out there.
    await registry.promote("summ", "1.0.0", "dev", { approvedBy: "test" });
    expect((await service.start({ ...START, version: "1.3.0", env: "dev" })).canary_version).toBe("1.3.0");

    // A suite (the first eval recorded makes it the prompt's): 1.1.0 has no passing run of it, on staging nor prod.
    await registry.recordEval(evalRun("summ", "1.0.0", true));
    for (const env of ["staging", "prod"]) {
      const noEval = await rejection(service.start({ ...START, env }));
      expect([noEval.kind, noEval.field]).toEqual(["conflict", "version"]);
      expect(noEval.message).toBe(
        `a rollout of summ@1.1.0 would end in a promotion to ${env} that is refused: ` +
          "summ@1.1.0 has no eval record for its content (hash sha256-summ-1.1.0) on the current suite " +
          "(hash suite-1): run `promptgate eval summ@1.1.0`, or force the promotion",
      );
    }
    // Both rules refusing: both named.
    const both = await rejection(service.start({ ...START, version: "1.3.0" }));
    expect(both.message).toMatch(
      /refused: summ@1\.3\.0 has never been on staging: .*; summ@1\.3\.0 has no eval record/,
    );
    // A failing run refuses too, naming the run.
    const failing = await registry.recordEval(evalRun("summ", "1.1.0", false));
    expect((await rejection(service.start(START))).message).toContain(
      `failed its latest evaluation on the current suite (eval ${failing.id}`,
    );

    expect(await store.get(rolloutKey("prod", "summ"))).toBeNull();
    expect(await store.get(rolloutKey("staging", "summ"))).toBeNull();
    expect(await store.hgetall("rollouts-index")).toEqual({ "dev:summ": "r1" });
    expect((await rolloutAudit()).map((e) => e.env)).toEqual(["dev"]);
  });

  it("starts on prod once the version has been on staging and has passed its eval", async () => {
    await registry.register(promptVersion("summ", "1.3.0"), "test");
    await registry.recordEval(evalRun("summ", "1.3.0", true));
    expect((await rejection(service.start({ ...START, version: "1.3.0" }))).message).toMatch(/never been on staging/);
    await registry.promote("summ", "1.3.0", "staging", { approvedBy: "test" });
    await registry.rollback("summ", "staging", { actor: "test" });
    const r = await service.start({ ...START, version: "1.3.0" });
    expect(r).toMatchObject({ state: "pending", stable_version: "1.0.0", canary_version: "1.3.0" });
  });

  it("allows one active rollout per prompt and environment, naming the active one", async () => {
    await service.start(START);
    const again = await rejection(service.start({ ...START, version: "1.2.0", by: "bob" }));
    expect([again.kind, again.message]).toEqual([
      "conflict",
      "summ already has an active rollout on prod: 1.1.0 against 1.0.0, pending (id r1, started by alice); " +
        "abort or promote it before starting another",
    ]);
    // The active rollout is what stops a start first, even of a version whose promotion would be refused.
    await registry.register(promptVersion("summ", "1.3.0"), "test");
    expect((await rejection(service.start({ ...START, version: "1.3.0" }))).message).toMatch(
      /^summ already has an active rollout on prod/,
    );
    await service.command("summ", "prod", "abort", "alice");
    // Rolling back is still active: the controller has not read its weights back yet.
    expect((await rejection(service.start(START))).message).toMatch(/rolling_back/);
    // Other environments and prompts are independent.
    expect((await service.start({ ...START, env: "staging" })).id).toBe("r2");
    expect((await service.start({ ...START, name: "other" })).id).toBe("r3");
    expect((await service.list({ active: true })).map((r) => r.id)).toEqual(["r3", "r2", "r1"]);
  });

  it("lets exactly one of concurrent starts win, from two store instances", async () => {
    const second = await backend.open();
    const services = [service, createRolloutService({ store: second, registry: createRegistry(second, clock), clock })];
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => services[i % 2]!.start({ ...START, by: `op-${i}` })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(String(r.reason)).toMatch(/already has an active rollout on prod/);
    }
    const winner = (won[0] as PromiseFulfilledResult<RolloutRecord>).value;
    expect(await service.get("summ", "prod")).toEqual(winner);
    expect(await store.hgetall("rollouts-index")).toEqual({ "prod:summ": winner.id });
    expect(await store.range(rolloutHistoryKey("prod", "summ"), 0, -1)).toEqual([]);
    expect((await rolloutAudit()).map((e) => [e.action, e.actor, e.rolloutId])).toEqual([
      ["rollout_started", winner.created_by, winner.id],
    ]);
  });

  it("applies each command in the states that allow it, 409 with the state otherwise, and audits each", async () => {
    const conflict = async (command: RolloutCommand): Promise<string> => {
      const err = await rejection(service.command("summ", "prod", command, "bob"));
      expect(err.kind).toBe("conflict");
      return err.message;
    };
    expect((await rejection(service.command("summ", "prod", "pause", "bob"))).kind).toBe("not_found");
    await service.start(START);
    expect(await conflict("resume")).toMatch(/^cannot resume a rollout that is pending/);

    const paused = await service.command("summ", "prod", "pause", "bob");
    expect(paused).toMatchObject({ state: "paused", reason: expect.stringMatching(/^paused by bob/) });
    expect(paused.transitions.at(-1)).toMatchObject({ from: "pending", to: "paused", by: "bob" });
    expect(await conflict("pause")).toMatch(/^cannot pause a rollout that is paused/);

    const resumed = await service.command("summ", "prod", "resume", "carol");
    expect(resumed).toMatchObject({ state: "step", step_index: 0, written_weights: { "1.0.0": 95, "1.1.0": 5 } });
    // The weights are the controller's to write (fenced): the command only records them.
    expect(await store.hgetall(weightsKey("prod", "summ"))).toEqual({});

    const aborted = await service.command("summ", "prod", "abort", "dave");
    expect(aborted).toMatchObject({ state: "rolling_back", ending: "aborted" });
    for (const command of ["pause", "resume", "abort", "promote"] as const) {
      expect(await conflict(command)).toMatch(new RegExp(`^cannot ${command} a rollout that is rolling_back`));
    }
    await finishRollback();
    for (const command of ["pause", "resume", "abort", "promote"] as const) {
      expect(await conflict(command)).toMatch(new RegExp(`^cannot ${command} a rollout that is aborted`));
    }

    await service.start({ ...START, version: "1.2.0" });
    expect(await service.command("summ", "prod", "promote", "erin")).toMatchObject({
      state: "promoting",
      written_weights: {},
    });

    expect((await rolloutAudit()).map((e) => [e.action, e.actor, e.from, e.to, e.rolloutId, e.stepIndex])).toEqual([
      ["rollout_started", "alice", "1.0.0", "1.1.0", "r1", undefined],
      ["rollout_paused", "bob", "pending", "paused", "r1", 0],
      ["rollout_resumed", "carol", "paused", "step", "r1", 0],
      ["rollout_aborted", "dave", "step", "rolling_back", "r1", 0],
      ["rollout_started", "alice", "1.0.0", "1.2.0", "r2", undefined],
      ["rollout_promoted", "erin", "pending", "promoting", "r2", 0],
    ]);
    expect((await rolloutAudit()).every((e) => typeof e.reason === "string" && e.reason !== "")).toBe(true);
    expect((await rejection(service.command("summ", "prod", "stop" as RolloutCommand, "x"))).field).toBe("command");
    expect((await rejection(service.command("summ", "qa", "pause", "x"))).field).toBe("env");
  });

  it("answers the current-or-last rollout's full evaluation log, operators' pauses included", async () => {
    expect(await rejection(service.evaluations("summ", "prod"))).toMatchObject({ kind: "not_found" });
    expect((await rejection(service.evaluations("summ", "qa"))).field).toBe("env");
    await service.start(START);
    expect(await service.evaluations("summ", "prod")).toMatchObject({ rollout: { id: "r1" }, evaluations: [] });
    const paused = await service.command("summ", "prod", "pause", "bob");
    const log = await service.evaluations("summ", "prod");
    expect(log.evaluations).toEqual(paused.evaluations);
    expect(log.evaluations).toMatchObject([{ decision: "pause", reason: expect.stringMatching(/^paused by bob/) }]);
    // A command that adds no evaluation adds nothing to the log.
    await service.command("summ", "prod", "resume", "bob");
    expect(await readEvaluations(store, "r1")).toHaveLength(1);
  });

  it("lets one of two concurrent commands win; the other re-reads and is refused by the new state", async () => {
    await service.start(START);
    const results = await Promise.allSettled([
      service.command("summ", "prod", "pause", "a"),
      service.command("summ", "prod", "pause", "b"),
      service.command("summ", "prod", "pause", "c"),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(String(r.reason)).toMatch(/cannot pause a rollout that is paused/);
    }
    expect((await rolloutAudit()).filter((e) => e.action === "rollout_paused")).toHaveLength(1);
  });

  it("retries a command whose compare-and-set lost to the controller, over the controller's record", async () => {
    await service.start(START);
    let raced = false;
    // The controller writes its first look (pending -> step) between the command's read and its write.
    const racing: Store = {
      ...store,
      async compareAndSet(key, expected, value) {
        if (!raced) {
          raced = true;
          const stored = await readRollout(store, "prod", "summ");
          const looked = reconcile(stored!.record!, { label: "1.0.0", weights: {}, step: null }, clock.now());
          await updateRollout(store, stored!.raw, looked.record);
        }
        return store.compareAndSet(key, expected, value);
      },
    };
    const racingService = createRolloutService({ store: racing, registry, clock });
    const paused = await racingService.command("summ", "prod", "pause", "bob");
    expect(raced).toBe(true);
    expect(paused.transitions.map((t) => `${t.from}->${t.to}:${t.by}`)).toEqual([
      "pending->step:controller",
      "step->paused:bob",
    ]);
  });

  it("keeps finished rollouts in the history when a new one replaces them, newest first", async () => {
    await service.start(START);
    await service.command("summ", "prod", "abort", "alice");
    const first = await finishRollback();
    expect(first.state).toBe("aborted");
    const second = await service.start({ ...START, version: "1.2.0" });
    await service.command("summ", "prod", "abort", "alice");
    const secondDone = await finishRollback();
    const third = await service.start(START);
    const staging = await service.start({ ...START, env: "staging" });

    expect((await service.history("summ", "prod")).map((r) => [r.id, r.state])).toEqual([
      [third.id, "pending"],
      [secondDone.id, "aborted"],
      [first.id, "aborted"],
    ]);
    expect(second.id).toBe(secondDone.id);
    expect((await service.history("summ")).map((r) => r.id)).toEqual([staging.id, third.id, second.id, first.id]);
    expect(await service.history("other", "prod")).toEqual([]);
    expect((await service.list()).map((r) => r.id)).toEqual([staging.id, third.id]);
    expect((await service.list({ env: "staging" })).map((r) => r.id)).toEqual([staging.id]);
    expect((await rejection(service.list({ env: "qa" }))).field).toBe("env");
  });

  it("says so when a record was edited into something unreadable, and refuses to start over it", async () => {
    await store.set(rolloutKey("prod", "summ"), '{"state": "step"}');
    await store.hset("rollouts-index", { "prod:summ": "r0" });
    expect((await rejection(service.get("summ", "prod"))).message).toMatch(/rollout:prod:summ\) is not readable/);
    expect((await rejection(service.start(START))).message).toMatch(/rollout:prod:summ\) is not readable/);
    expect(await service.list()).toEqual([]);
    expect(await service.history("summ", "prod")).toEqual([]);
    expect((await rejection(service.command("summ", "prod", "abort", "x"))).kind).toBe("conflict");
  });
});
