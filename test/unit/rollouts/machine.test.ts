import { describe, expect, it } from "vitest";
import type { ArmObservation, StepObservation } from "../../../gateway/rollouts/guardrails.ts";
import {
  allowedCommands,
  applyCommand,
  reconcile,
  sameWeights,
  type RolloutAction,
  type RolloutObservation,
} from "../../../gateway/rollouts/machine.ts";
import { newRollout, parseRollout, type RolloutRecord, type Weights } from "../../../gateway/rollouts/record.ts";
import { RegistryError } from "../../../gateway/registry/registry-error.ts";

const MIN = 60_000;
const T0 = Date.parse("2025-01-01T00:00:00Z");

const start = (overrides: Partial<Parameters<typeof newRollout>[0]> = {}): RolloutRecord =>
  newRollout(
    {
      id: "r1",
      prompt: "summarization",
      env: "prod",
      stable_version: "1.0.0",
      canary_version: "1.1.0",
      hold_ms: 30 * MIN,
      min_users: 100,
      created_by: "alice",
      ...overrides,
    },
    T0,
  );

const arm = (users: number, errors = 0): ArmObservation => ({
  users,
  requests: users,
  errors,
  latency: null,
  cost: null,
  quality: { n: 0, sum: 0, sumSq: 0 },
});
const step = (stable: number, canary: number, canaryErrors = 0): StepObservation => ({
  stable: arm(stable, Math.round(stable * 0.01)),
  canary: arm(canary, canaryErrors),
});
const asHash = (w: Weights): Record<string, string> =>
  Object.fromEntries(Object.entries(w).map(([k, v]) => [k, String(v)]));

/** What the store would show after the controller carried out `actions` on `weights` and `label`. */
function apply(actions: readonly RolloutAction[], store: { label: string; weights: Record<string, string> }): void {
  for (const a of actions) {
    if (a.kind === "set_weights") store.weights = asHash(a.weights);
    if (a.kind === "clear_weights") store.weights = {};
    if (a.kind === "promote_label") store.label = a.version;
  }
}

const kinds = (actions: readonly RolloutAction[]): string[] =>
  actions.map((a) => (a.kind === "alert" ? `alert:${a.alert.type}` : a.kind));

/** Drives a rollout through looks every minute with `traffic(minuteInStep)` per step. */
function drive(r: RolloutRecord, looks: number, traffic: (r: RolloutRecord, now: number) => StepObservation | null) {
  const store = { label: "1.0.0", weights: {} as Record<string, string> };
  const all: RolloutAction[] = [];
  let now = T0;
  for (let i = 0; i < looks && !["succeeded", "failed", "aborted", "paused"].includes(r.state); i++) {
    now += MIN;
    const o: RolloutObservation = { label: store.label, weights: store.weights, step: traffic(r, now) };
    const out = reconcile(r, o, now);
    apply(out.actions, store);
    all.push(...out.actions);
    r = out.record;
  }
  return { record: r, store, actions: all, now };
}

/** Users since the step started at `perMinute` users a minute, split by the step's weight. */
const steady =
  (perMinute: number, canaryErrorRate = 0) =>
  (r: RolloutRecord, now: number): StepObservation | null => {
    if (r.step_started_at === null) return null;
    const minutes = Math.floor((now - Date.parse(r.step_started_at)) / MIN);
    const total = minutes * perMinute;
    const canary = Math.round((total * r.steps[r.step_index]!) / 100);
    return step(total - canary, canary, Math.round(canary * canaryErrorRate));
  };

describe("rollout record", () => {
  it("fills the defaults and round-trips through JSON", () => {
    const r = start();
    expect(r).toMatchObject({ state: "pending", steps: [5, 25, 50, 100], step_index: 0, max_extensions: 2 });
    expect(parseRollout(JSON.stringify(r))).toEqual(r);
    expect(parseRollout("{}")).toBeNull();
    expect(parseRollout("not json")).toBeNull();
  });

  it("refuses settings no rollout can run with, naming the field", () => {
    expect(() => start({ steps: [25, 5] })).toThrow(/steps: steps must increase strictly/);
    expect(() => start({ canary_version: "1.0.0" })).toThrow(RegistryError);
    const e: unknown = (() => {
      try {
        start({ guardrails: { alpha: 2 } });
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(e).toBeInstanceOf(RegistryError);
    expect((e as RegistryError).field).toBe("guardrails.alpha");
  });
});

describe("reconcile", () => {
  it("walks 5 -> 25 -> 50 -> promoting -> succeeded on a healthy canary, clearing the weights", () => {
    const { record, store, actions } = drive(start(), 400, steady(100));
    expect(record.state).toBe("succeeded");
    expect(store).toEqual({ label: "1.1.0", weights: {} });
    expect(kinds(actions).filter((k) => k.startsWith("alert"))).toEqual([
      "alert:started",
      "alert:advanced",
      "alert:advanced",
      "alert:succeeded",
    ]);
    const weights = actions.flatMap((a) => (a.kind === "set_weights" ? [a.weights[record.canary_version]] : []));
    expect(weights).toEqual([5, 25, 50]);
    expect(record.transitions.map((t) => t.to)).toEqual(["step", "step", "step", "promoting", "succeeded"]);
    expect(actions.filter((a) => a.kind === "audit")).toHaveLength(5);
  });

  it("holds at least --hold and until both sides have --min-users", () => {
    // 20 users a minute: at 5% the canary reaches 100 users after 100 minutes, well past the 30 minute hold.
    let r = start({ max_extensions: 5 });
    const { record } = drive(r, 99, steady(20));
    expect(record.state).toBe("step");
    expect(record.step_index).toBe(0);
    r = drive(start({ max_extensions: 5 }), 102, steady(20)).record;
    expect(r.step_index).toBe(1);
    // Plenty of users, but the hold is not over.
    const early = drive(start(), 29, steady(1000)).record;
    expect(early.step_index).toBe(0);
  });

  it("says how long a step has held in words people read: seconds, minutes and seconds", () => {
    const { record: r, store } = drive(start(), 1, steady(1000));
    const started = Date.parse(r.step_started_at!);
    const at = (ms: number): string =>
      reconcile(r, { label: store.label, weights: store.weights, step: step(950, 50) }, started + ms).record.reason;
    expect(at(57_400)).toBe(
      "step 1 of 4 (5%): holding 57s of 30m; stable 950, canary 50 users of 100 needed on each side",
    );
    expect(at(12 * MIN + 5_000)).toMatch(/^step 1 of 4 \(5%\): holding 12m 5s of 30m;/);
    expect(at(2 * MIN + 300)).toMatch(/^step 1 of 4 \(5%\): holding 2m of 30m;/);
  });

  it("extends a step that lacks users when its time is up, then pauses saying so", () => {
    const { record } = drive(start(), 400, steady(10)); // 0.5 canary users a minute
    expect(record.state).toBe("paused");
    expect(record.reason).toMatch(
      /not enough data after 90m and 2 extensions .*canary 45 users of 100 needed.*no data is not a pass/,
    );
    expect(record.evaluations.filter((e) => e.decision === "extend")).toHaveLength(2);
  });

  it("rolls back on a guardrail failure: canary weight 0, label untouched, then failed", () => {
    const { record, store, actions } = drive(start(), 400, steady(200, 1));
    expect(record.state).toBe("failed");
    expect(store.label).toBe("1.0.0");
    expect(store.weights).toEqual({ "1.0.0": "100", "1.1.0": "0" });
    const alert = actions.find((a) => a.kind === "alert" && a.alert.type === "rolled_back");
    expect(alert).toMatchObject({ alert: { metric: "error_rate", verdict: "worse" } });
    expect(record.reason).toMatch(/guardrail failed at step 1 of 4 \(5%\): error rate/);
    expect(record.transitions.map((t) => t.to)).toEqual(["step", "rolling_back", "failed"]);
  });

  it("pauses on a hand edit of the weights, naming it, and never overwrites it", () => {
    let r = start();
    r = reconcile(r, { label: "1.0.0", weights: {}, step: null }, T0 + MIN).record;
    const edited = { "1.0.0": "50", "1.1.0": "50" };
    const out = reconcile(r, { label: "1.0.0", weights: edited, step: step(10, 1) }, T0 + 2 * MIN);
    expect(out.record.state).toBe("paused");
    expect(out.record.reason).toMatch(
      /weights changed by hand .*expected 1\.0\.0=95, 1\.1\.0=5, found 1\.0\.0=50, 1\.1\.0=50/,
    );
    expect(out.actions.some((a) => a.kind === "set_weights" || a.kind === "clear_weights")).toBe(false);
    // Later looks do nothing while paused.
    expect(reconcile(out.record, { label: "1.0.0", weights: edited, step: null }, T0 + 3 * MIN).actions).toEqual([]);
  });

  it("writes its weights again when its own write never landed (a controller stopped in between)", () => {
    let r = start();
    r = reconcile(r, { label: "1.0.0", weights: {}, step: null }, T0 + MIN).record;
    const again = reconcile(r, { label: "1.0.0", weights: {}, step: null }, T0 + 2 * MIN);
    expect(again.record.state).toBe("step");
    expect(again.actions).toEqual([{ kind: "set_weights", weights: { "1.0.0": 95, "1.1.0": 5 } }]);
    expect(again.record.step_started_at).toBe(new Date(T0 + 2 * MIN).toISOString());
  });

  it("pauses when the label moves under it", () => {
    const r = reconcile(start(), { label: "1.0.0", weights: {}, step: null }, T0 + MIN).record;
    const out = reconcile(r, { label: "0.9.0", weights: { "1.0.0": "95", "1.1.0": "5" }, step: null }, T0 + 2 * MIN);
    expect(out.record.state).toBe("paused");
    expect(out.record.reason).toMatch(/prod label moved to 0\.9\.0/);
  });

  it("bounds the whole rollout with --max-duration", () => {
    const { record, store } = drive(start({ max_duration_ms: 60 * MIN, max_extensions: 10 }), 400, steady(10));
    expect(record.state).toBe("failed");
    expect(record.reason).toMatch(/maximum duration 1h reached at step 1 of 4 \(5%\)/);
    expect(store.weights).toEqual({ "1.0.0": "100", "1.1.0": "0" });
  });

  it("keeps re-issuing the promotion until the store shows it, and pauses when it is refused", () => {
    const r = applyCommand(start(), "promote", { weights: {} }, T0, "bob").record;
    expect(r.state).toBe("promoting");
    const half = reconcile(r, { label: "1.1.0", weights: { "1.1.0": "5", "1.0.0": "95" }, step: null }, T0 + MIN);
    expect(half.actions).toEqual([{ kind: "clear_weights" }]);
    const refused = reconcile(
      r,
      { label: "1.0.0", weights: {}, step: null, action_error: "no passing eval" },
      T0 + MIN,
    );
    expect(refused.record.state).toBe("paused");
    expect(refused.record.reason).toMatch(/promotion of 1\.1\.0 to prod failed: no passing eval/);
  });
});

describe("applyCommand", () => {
  const running = (): RolloutRecord => reconcile(start(), { label: "1.0.0", weights: {}, step: null }, T0 + MIN).record;
  const ours = { weights: { "1.0.0": "95", "1.1.0": "5" } };

  it("pauses and resumes, restarting the step with its weights", () => {
    const paused = applyCommand(running(), "pause", ours, T0 + 5 * MIN, "bob");
    expect(paused.record.state).toBe("paused");
    expect(paused.actions.map((a) => a.kind)).toEqual(["audit", "alert"]);
    const resumed = applyCommand(paused.record, "resume", ours, T0 + 9 * MIN, "bob");
    expect(resumed.record).toMatchObject({
      state: "step",
      step_index: 0,
      step_started_at: new Date(T0 + 9 * MIN).toISOString(),
    });
    expect(kinds(resumed.actions)).toEqual(["set_weights", "audit", "alert:resumed"]);
  });

  it("aborts: canary to 0, ends aborted", () => {
    const out = applyCommand(running(), "abort", ours, T0 + 5 * MIN, "bob");
    expect(out.record.state).toBe("rolling_back");
    expect(kinds(out.actions)).toEqual(["set_weights", "audit", "alert:aborted"]);
    const done = reconcile(out.record, { label: "1.0.0", weights: { "1.0.0": "100" }, step: null }, T0 + 6 * MIN);
    expect(done.record.state).toBe("aborted");
  });

  it("refuses a command the state does not allow", () => {
    expect(() => applyCommand(running(), "resume", ours, T0, "bob")).toThrow(/cannot resume a rollout that is step/);
  });

  it("names the commands each state allows, exactly those applyCommand accepts", () => {
    const paused = applyCommand(running(), "pause", ours, T0 + MIN, "bob").record;
    const rollingBack = applyCommand(running(), "abort", ours, T0 + MIN, "bob").record;
    const aborted = reconcile(rollingBack, { label: "1.0.0", weights: { "1.0.0": "100" }, step: null }, T0 + 2 * MIN);
    const cases: [RolloutRecord, string[]][] = [
      [start(), ["pause", "abort", "promote"]],
      [running(), ["pause", "abort", "promote"]],
      [paused, ["resume", "abort", "promote"]],
      [rollingBack, []],
      [aborted.record, []],
    ];
    for (const [r, allowed] of cases) {
      expect(allowedCommands(r), r.state).toEqual(allowed);
      for (const command of ["pause", "resume", "abort", "promote"] as const) {
        const apply = (): unknown => applyCommand(r, command, ours, T0 + 3 * MIN, "bob");
        if (allowed.includes(command)) expect(apply, `${command} ${r.state}`).not.toThrow();
        else expect(apply, `${command} ${r.state}`).toThrow(RegistryError);
      }
    }
  });
});

describe("weights", () => {
  it("treats zero weights and absent versions alike", () => {
    expect(sameWeights({ a: 100, b: 0 }, { a: 100 })).toBe(true);
    expect(sameWeights({ a: 95, b: 5 }, { a: 50, b: 50 })).toBe(false);
  });
});
