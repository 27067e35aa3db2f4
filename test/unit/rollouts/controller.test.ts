// The reconcile runner against a real Redis and the embedded store, with an injected clock: hour-long rollouts
// run in well under a second, traffic written through the real aggregate writer at the clock's time.
import { afterEach, describe, expect, it } from "vitest";
import type { AlertEvent } from "../../../gateway/alerts/alert-event.ts";
import { readHistory } from "../../../gateway/registry/audit.ts";
import { createRegistry, type Registry } from "../../../gateway/registry/registry.ts";
import {
  createRolloutController,
  type ControllerOptions,
  type RolloutController,
} from "../../../gateway/rollouts/controller.ts";
import { REGRESSION_WATCH_DEFAULTS } from "../../../gateway/stats/regression-watch.ts";
import { DEFAULT_EVALUATIONS_KEPT, parseRollout, type RolloutRecord } from "../../../gateway/rollouts/record.ts";
import { readEvaluations } from "../../../gateway/rollouts/rollout-records.ts";
import { createRolloutService, type StartRollout } from "../../../gateway/rollouts/rollout-service.ts";
import { CONTROLLER_LEASE, rolloutKey, weightsKey } from "../../../gateway/store/keys.ts";
import type { Store } from "../../../gateway/store/store.ts";
import type { Clock } from "../../../gateway/support/clock.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { createAggregateWriter, MINUTE_MS, type AggregateWriter } from "../../../gateway/telemetry/aggregates.ts";
import { newRecord } from "../../../gateway/telemetry/request-record.ts";
import { backends, evalRun, promptVersion, type Backend } from "../../support/registry-fixtures.ts";

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const NAME = "summ";
const STABLE = "1.0.0";
const CANARY = "1.1.0";
const KEY = (env: string): string => rolloutKey(env, NAME);

/** A clock moved by hand; `sleep` runs `onSleep` (the traffic of that interval), then moves time forward. */
function manualClock(): Clock & { t: number; onSleep: (ms: number) => Promise<void> } {
  const clock = {
    t: T0,
    onSleep: async (_ms: number): Promise<void> => undefined,
    now: () => clock.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      await clock.onSleep(ms);
      signal?.throwIfAborted();
      clock.t += ms;
    },
  };
  return clock;
}

interface World {
  readonly store: Store;
  readonly clock: ReturnType<typeof manualClock>;
  readonly registry: Registry;
  readonly alerts: AlertEvent[];
  readonly writer: AggregateWriter;
  controller(owner?: string, store?: Store, regressions?: ControllerOptions["regressions"]): RolloutController;
  start(env: string, overrides?: Partial<StartRollout>): Promise<RolloutRecord>;
  record(env: string): Promise<RolloutRecord>;
  /** `users` new users, one request each, split by the weights in the store; `canaryFails` of canary calls fail. */
  traffic(env: string, users: number, canaryFails?: number, stableFails?: number): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(backend: Backend): Promise<World> {
  cleanups.push(() => backend.cleanup());
  const store = await backend.open();
  const clock = manualClock();
  const registry = createRegistry(store, clock);
  for (const v of [STABLE, CANARY]) await registry.register(promptVersion(NAME, v), "test");
  await registry.promote(NAME, STABLE, "staging", { approvedBy: "test" });
  await registry.promote(NAME, STABLE, "prod", { approvedBy: "test" });
  const alerts: AlertEvent[] = [];
  const writer = createAggregateWriter({
    store,
    logger: silentLogger,
    options: { flush_interval_ms: 60_000, retention_days: 1, max_pending_keys: 100_000 },
  });
  cleanups.push(() => writer.stop());
  let nextUser = 0;
  return {
    store,
    clock,
    registry,
    alerts,
    writer,
    controller: (owner = "c1", on = store, regressions = null) =>
      createRolloutController({
        store: on,
        registry: createRegistry(on, clock),
        clock,
        logger: silentLogger,
        alerts: { send: (e) => alerts.push(e) > 0 },
        owner,
        leaseMs: 60_000,
        regressions,
      }),
    async start(env, overrides = {}) {
      const service = createRolloutService({ store, registry, clock, newId: () => `r-${env}` });
      return service.start({
        name: NAME,
        version: CANARY,
        env,
        holdMs: 10 * MINUTE_MS,
        minUsers: 20,
        by: "alice",
        ...overrides,
      });
    },
    async record(env) {
      const r = parseRollout((await store.get(KEY(env))) ?? "");
      if (r === null) throw new Error("no rollout record");
      return r;
    },
    async traffic(env, users, canaryFails = 0, stableFails = 0) {
      const weights = await store.hgetall(weightsKey(env, NAME));
      const share = Number(weights[CANARY] ?? 0);
      for (let i = 0; i < users; i++) {
        const u = nextUser++;
        const canary = u % 100 < share;
        const failed = (u % 1000) / 1000 < (canary ? canaryFails : stableFails);
        const at = clock.now();
        writer.record(
          {
            ...newRecord(at - 50),
            prompt: NAME,
            version: canary ? CANARY : STABLE,
            variant: canary ? "canary" : "stable",
            environment: env,
            userHash: u.toString(16).padStart(16, "0"),
          },
          failed ? 500 : 200,
          at,
        );
      }
      await writer.flush();
    },
  };
}

describe.each(backends)("rollout controller on $name", ({ make }) => {
  it("walks a healthy canary 5 -> 25 -> 50 -> 100 in an hour of injected time: label moved, weights cleared", async () => {
    const w = await world(make());
    await w.start("staging");
    const controller = w.controller();
    const stop = new AbortController();
    const seen: string[] = [];
    // Each interval of the loop: a minute of traffic (100 users), then the clock moves on a minute.
    w.clock.onSleep = async () => {
      await w.traffic("staging", 100);
      const r = await w.record("staging");
      seen.push(`${r.state}:${r.steps[r.step_index]}`);
      if (!r.state.match(/pending|step|promoting/) || w.clock.t > T0 + 3 * 60 * MINUTE_MS) stop.abort();
    };
    await controller.run(MINUTE_MS, stop.signal);

    const r = await w.record("staging");
    expect(r.state).toBe("succeeded");
    expect(r.transitions.map((t) => `${t.to}@${r.steps[t.step_index]}`)).toEqual([
      "step@5",
      "step@25",
      "step@50",
      "promoting@50",
      "succeeded@50",
    ]);
    // Each step held its 10 minutes at least, so the walk took between 30 minutes and an hour.
    const took = Date.parse(r.finished_at!) - T0;
    expect(took).toBeGreaterThanOrEqual(30 * MINUTE_MS);
    expect(took).toBeLessThanOrEqual(60 * MINUTE_MS);
    expect(seen.filter((s) => s === "step:25").length).toBeGreaterThanOrEqual(10);
    expect((await w.registry.label(NAME, "staging"))?.version).toBe(CANARY);
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({});
    expect(r.fencing_token).toBe(1);
    expect(w.alerts.map((a) => a.type)).toEqual(["started", "advanced", "advanced", "succeeded"]);
    expect(w.alerts[1]).toMatchObject({ versions: { stable: STABLE, canary: CANARY }, verdict: "info" });
    const audit = (await readHistory(w.store, NAME)).filter((e) => e.action === "rollout");
    expect(audit.map((e) => e.to)).toEqual(["step", "step", "step", "promoting", "succeeded"]);
    expect(audit[0]).toMatchObject({ actor: "controller", env: "staging", version: CANARY, rolloutId: "r-staging" });
    const promoted = (await readHistory(w.store, NAME)).find((e) => e.action === "promote" && e.to === CANARY);
    expect(promoted).toMatchObject({ actor: "controller", env: "staging", from: STABLE });
    // The lease was given up when the loop stopped.
    expect(await w.store.get(CONTROLLER_LEASE.key)).toBeNull();
  });

  it("logs every evaluation in rollout-evaluations:{id}, beyond the holds the record keeps", async () => {
    const w = await world(make());
    // 20-minute holds looked at every minute: well over 50 holds before the rollout succeeds.
    await w.start("staging", { holdMs: 20 * MINUTE_MS });
    const c = w.controller();
    // The looks that recorded an evaluation (all but those that only finish a promotion or a rollback).
    let recorded = 0;
    for (let i = 0; i < 200 && (await w.record("staging")).state.match(/pending|step|promoting/); i++) {
      const before = JSON.stringify((await w.record("staging")).evaluations.at(-1));
      await c.tick();
      if (JSON.stringify((await w.record("staging")).evaluations.at(-1)) !== before) recorded++;
      await w.traffic("staging", 100);
      w.clock.t += MINUTE_MS;
    }
    const r = await w.record("staging");
    expect(r.state).toBe("succeeded");
    const log = await readEvaluations(w.store, r.id);
    // One entry per look the record recorded, more than the record keeps, in order.
    expect(log).toHaveLength(recorded);
    expect(log.filter((e) => e.decision === "hold").length).toBeGreaterThan(DEFAULT_EVALUATIONS_KEPT);
    expect(r.evaluations.filter((e) => e.decision === "hold")).toHaveLength(DEFAULT_EVALUATIONS_KEPT);
    expect(log.length).toBeGreaterThan(r.evaluations.length);
    expect(log[0]).toMatchObject({ decision: "start", step_index: 0 });
    expect(log.at(-1)).toEqual(r.evaluations.at(-1));
    expect(log.map((e) => e.at)).toEqual(log.map((e) => e.at).sort());
    expect(new Set(log.map((e) => e.at)).size).toBe(log.length);
    // The record's list is the log less its oldest holds.
    const holds = log.filter((e) => !e.transition).length;
    let drop = holds - DEFAULT_EVALUATIONS_KEPT;
    expect(log.filter((e) => e.transition || drop-- <= 0)).toEqual(r.evaluations);
  });

  it("a deposed leader appends nothing to the evaluation log", async () => {
    const w = await world(make());
    await w.start("staging");
    // `a` believes it still holds the lease (its renewal answers yes): only the fenced write can stop it.
    const a = w.controller("a", { ...w.store, renewLease: async () => true });
    const b = w.controller("b");
    await a.tick();
    expect(await readEvaluations(w.store, "r-staging")).toHaveLength(1);
    await w.store.del(CONTROLLER_LEASE.key);
    await w.traffic("staging", 100);
    w.clock.t += MINUTE_MS;
    expect((await b.tick()).looks.map((l) => l.outcome)).toEqual(["written"]);
    const logged = await readEvaluations(w.store, "r-staging");
    expect(logged).toHaveLength(2);
    w.clock.t += MINUTE_MS;
    expect((await a.tick()).looks.map((l) => l.outcome)).toEqual(["lease_lost"]);
    expect(await readEvaluations(w.store, "r-staging")).toEqual(logged);
  });

  it("rolls back a canary failing 30% of calls: weights to stable, label untouched, audit and alert say why", async () => {
    const w = await world(make());
    await w.start("staging");
    const c = w.controller();
    await c.tick();
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({ [STABLE]: "95", [CANARY]: "5" });
    for (let i = 0; i < 120 && (await w.record("staging")).state === "step"; i++) {
      await w.traffic("staging", 100, 0.3);
      w.clock.t += MINUTE_MS;
      await c.tick();
    }
    let r = await w.record("staging");
    expect(r.state).toBe("rolling_back");
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({ [STABLE]: "100", [CANARY]: "0" });
    await c.tick();
    r = await w.record("staging");
    expect(r.state).toBe("failed");
    expect(r.reason).toMatch(/guardrail failed at step 1 of 4 \(5%\): .*error rate/);
    expect((await w.registry.label(NAME, "staging"))?.version).toBe(STABLE);
    const rolledBack = w.alerts.find((a) => a.type === "rolled_back");
    expect(rolledBack).toMatchObject({ metric: "error_rate", verdict: "worse", versions: { canary: CANARY } });
    expect(rolledBack!.numbers.canary).toBeGreaterThan(0.1);
    expect(rolledBack!.links.stats).toMatch(/^promptgate stats summ --env staging --since \d+m$/);
    const audit = (await readHistory(w.store, NAME)).filter((e) => e.action === "rollout");
    expect(audit.map((e) => e.to)).toEqual(["step", "rolling_back", "failed"]);
    expect(audit[1]!.reason).toMatch(/error rate/);
  });

  it("never overwrites an operator: a lost compare leaves the operator's record, decided again next tick", async () => {
    const w = await world(make());
    await w.start("staging");
    // Between the controller's read and its write, an operator pauses the rollout with a plain compare-and-set.
    let interfere = true;
    const racing: Store = {
      ...w.store,
      fencedCompareAndSet: async (lease, key, expected, value) => {
        if (interfere && expected !== null) {
          interfere = false;
          const r = parseRollout(expected)!;
          const paused = { ...r, state: "paused" as const, reason: "paused by bob" };
          expect(await w.store.compareAndSet(key, expected, JSON.stringify(paused))).toBe(true);
        }
        return w.store.fencedCompareAndSet(lease, key, expected, value);
      },
    };
    const c = w.controller("c1", racing);
    expect((await c.tick()).looks.map((l) => l.outcome)).toEqual(["conflict"]);
    expect(await w.record("staging")).toMatchObject({ state: "paused", reason: "paused by bob" });
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({});
    expect((await c.tick()).looks.map((l) => l.outcome)).toEqual(["unchanged"]);
    expect(w.alerts).toEqual([]);
  });

  it("alerts an operator's pause, resume and abort once, as the leader that sees them", async () => {
    const w = await world(make());
    await w.start("staging");
    const service = createRolloutService({ store: w.store, registry: w.registry, clock: w.clock });
    const c = w.controller();
    await c.tick();
    await service.command(NAME, "staging", "pause", "bob");
    await c.tick();
    await service.command(NAME, "staging", "resume", "bob");
    await c.tick();
    await c.tick();
    await service.command(NAME, "staging", "abort", "bob");
    await c.tick(); // writes the rollback's weights
    await c.tick(); // reads them back: aborted
    expect((await w.record("staging")).state).toBe("aborted");
    expect(w.alerts.map((a) => `${a.type}:${a.verdict}`)).toEqual([
      "started:info",
      "paused:operator",
      "resumed:operator",
      "aborted:operator",
    ]);
    expect(w.alerts[1]!.reason).toMatch(/^paused by bob at step 1 of 4/);
    // A new leader takes the rollout as it stands: nothing is alerted twice.
    await c.release();
    await w.controller("c2").tick();
    expect(w.alerts).toHaveLength(4);
  });

  it("a leader back after another led does not alert again what the other one alerted", async () => {
    const w = await world(make());
    await w.start("staging");
    const service = createRolloutService({ store: w.store, registry: w.registry, clock: w.clock });
    const a = w.controller("a");
    const b = w.controller("b");
    await a.tick();
    await w.store.del(CONTROLLER_LEASE.key); // a stalls past its lease
    await b.tick();
    await service.command(NAME, "staging", "pause", "bob");
    await b.tick();
    await b.release();
    await a.tick();
    expect(a.status().leader).toBe(true);
    expect(w.alerts.map((e) => e.type)).toEqual(["started", "paused"]);
  });

  it("pauses on a hand edit of the weights, naming it, and leaves them as found", async () => {
    const w = await world(make());
    await w.start("staging");
    const c = w.controller();
    await c.tick();
    await w.store.hset(weightsKey("staging", NAME), { [STABLE]: "50", [CANARY]: "50" });
    w.clock.t += MINUTE_MS;
    await c.tick();
    const r = await w.record("staging");
    expect(r.state).toBe("paused");
    expect(r.reason).toContain("expected 1.0.0=95, 1.1.0=5, found 1.0.0=50, 1.1.0=50");
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({ [STABLE]: "50", [CANARY]: "50" });
    expect(w.alerts.at(-1)).toMatchObject({ type: "paused", verdict: "operator" });
    // A weights key of another type reads as unreadable weights: paused too, never a crash.
    await w.registry.promote(NAME, STABLE, "dev", { approvedBy: "test" });
    await w.start("dev");
    await c.tick();
    await w.store.del(weightsKey("dev", NAME));
    await w.store.set(weightsKey("dev", NAME), "not a hash");
    await c.tick();
    expect(await w.record("dev")).toMatchObject({ state: "paused" });
    expect((await w.record("dev")).reason).toContain("found unreadable weights");
  });

  it("pauses when the registry refuses the promotion, saying why", async () => {
    const w = await world(make());
    // A start is refused when the promotion would be refused then; a refusal that arises during the rollout
    // (a failing evaluation recorded after the start) still reaches the controller's promotion.
    await w.registry.promote(NAME, CANARY, "staging", { approvedBy: "test" });
    await w.registry.rollback(NAME, "staging", { actor: "test" });
    await w.start("prod", { steps: [100] });
    const failing = await w.registry.recordEval(evalRun(NAME, CANARY, false));
    const c = w.controller();
    await c.tick(); // pending -> promoting; the promotion is refused
    expect((await w.record("prod")).state).toBe("promoting");
    await c.tick();
    const r = await w.record("prod");
    expect(r.state).toBe("paused");
    expect(r.reason).toMatch(/promotion of 1\.1\.0 to prod failed: .*failed its latest evaluation/);
    expect(r.reason).toContain(`eval ${failing.id}`);
    expect(w.alerts.at(-1)).toMatchObject({ type: "paused", verdict: "fail" });
    expect((await w.registry.label(NAME, "prod"))?.version).toBe(STABLE);
  });

  it("one leader at a time; a replaced leader's writes are refused and it stops acting", async () => {
    const w = await world(make());
    await w.start("staging");
    const a = w.controller("a");
    const b = w.controller("b");
    expect((await a.tick()).leader).toBe(true);
    const other = await b.tick();
    expect(other).toEqual({ leader: false, looks: [] });
    expect(b.status().rollouts.map((r) => r.state)).toEqual(["step"]);
    // a stalls; its lease goes (as on expiry) and b takes over with a larger token.
    await w.store.del(CONTROLLER_LEASE.key);
    expect((await b.tick()).leader).toBe(true);
    expect(b.status().fence).toBeGreaterThan(1);
    const before = await w.store.get(KEY("staging"));
    const stale = await a.tick();
    expect(stale.leader).toBe(false);
    expect(stale.looks).toEqual([]);
    expect(await w.store.get(KEY("staging"))).toBe(before);
    // The new leader continues from the recorded step.
    await w.traffic("staging", 100);
    w.clock.t += MINUTE_MS;
    await b.tick();
    const r = await w.record("staging");
    expect(r).toMatchObject({ state: "step", step_index: 0, fencing_token: b.status().fence });
  });

  it("as leader, checks live versions against their baseline every few minutes and alerts a regression once", async () => {
    const w = await world(make());
    // The staging label moved to 1.0.0 at T0; the baseline is its first hour (1% errors), checked every 5 minutes.
    const settings = { ...REGRESSION_WATCH_DEFAULTS, baselineMs: 60 * MINUTE_MS, windowMs: 10 * MINUTE_MS };
    const c = w.controller("c1", w.store, { everyMs: 5 * MINUTE_MS, settings });
    const standby = w.controller("c2", w.store, { everyMs: 5 * MINUTE_MS, settings });
    for (let m = 0; m < 60; m++, w.clock.t += MINUTE_MS) await w.traffic("staging", 20, 0, 0.01);
    // Then 30% of calls fail, for 9 minutes of the current 10-minute window.
    for (let m = 0; m < 9; m++, w.clock.t += MINUTE_MS) await w.traffic("staging", 40, 0, 0.3);
    await c.tick();
    await standby.tick();
    const regressions = (): AlertEvent[] => w.alerts.filter((a) => a.type === "production_regression");
    expect(regressions()).toHaveLength(1);
    expect(regressions()[0]).toMatchObject({ prompt: NAME, env: "staging", metric: "error_rate", verdict: "worse" });
    // Open regressions are kept in the store: later checks, by this leader or a new one, do not alert again.
    w.clock.t += 5 * MINUTE_MS;
    await c.tick();
    await c.release();
    await standby.tick();
    expect(regressions()).toHaveLength(1);
  });

  it("a leader that died between writing the record and the weights: its successor writes them again", async () => {
    const w = await world(make());
    await w.start("staging");
    const failing: Store = {
      ...w.store,
      fencedReplaceHash: async () => {
        throw new Error("connection reset");
      },
    };
    const dying = w.controller("dying", failing);
    expect((await dying.tick()).looks.map((l) => l.outcome)).toEqual(["error"]);
    expect((await w.record("staging")).state).toBe("step");
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({});
    await dying.release();
    const next = w.controller("next");
    w.clock.t += MINUTE_MS;
    await next.tick();
    expect(await w.store.hgetall(weightsKey("staging", NAME))).toEqual({ [STABLE]: "95", [CANARY]: "5" });
    const r = await w.record("staging");
    expect(r.evaluations.at(-1)).toMatchObject({ decision: "rewrite_weights" });
    expect(r.step_started_at).toBe(new Date(w.clock.t).toISOString());
  });
});
