// The rollout simulation of issue #16: the real guardrails and state machine, an injected clock (a look every
// minute) and synthetic traffic fed as observations, no store. Seeded: the same figures on every run. The figures
// are recorded in docs/rollouts.md ("What the simulation shows").
import { describe, expect, it } from "vitest";
import type { ArmObservation, StepObservation } from "../../../gateway/rollouts/guardrails.ts";
import { reconcile, type RolloutAction } from "../../../gateway/rollouts/machine.ts";
import { newRollout, type RolloutRecord } from "../../../gateway/rollouts/record.ts";
import { bucketIndex, DURATION_BOUNDS_MS } from "../../../gateway/telemetry/aggregates.ts";
import { seededNormal, seededUniform } from "../../support/random.ts";

const MIN = 60_000;
const T0 = Date.parse("2025-01-01T00:00:00Z");
const USERS_PER_MINUTE = 100; // one request each
const ROLLOUTS = 1000;

interface Behaviour {
  readonly errorRate: number;
  /** Median latency in ms (lognormal, sigma 0.5). */
  readonly medianMs: number;
  /** Mean cost per request in USD (uniform on +-50%). */
  readonly costUsd: number;
  /** Chance that a request gets a quality score, and the chance that the score is 1 (else 0.5). */
  readonly feedbackRate: number;
  readonly goodRate: number;
}

const HEALTHY: Behaviour = { errorRate: 0.01, medianMs: 800, costUsd: 0.002, feedbackRate: 0.2, goodRate: 0.8 };

interface Arm {
  users: number;
  errors: number;
  counts: number[];
  cost: { n: number; sum: number; sumSq: number };
  quality: { n: number; sum: number; sumSq: number };
}
const emptyArm = (): Arm => ({
  users: 0,
  errors: 0,
  counts: new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0),
  cost: { n: 0, sum: 0, sumSq: 0 },
  quality: { n: 0, sum: 0, sumSq: 0 },
});
const observe = (a: Arm): ArmObservation => ({
  users: a.users,
  requests: a.users,
  errors: a.errors,
  latency: { bounds: DURATION_BOUNDS_MS, counts: a.counts },
  cost: a.cost.n === 0 ? null : { ...a.cost },
  quality: { ...a.quality },
});

interface Outcome {
  readonly state: RolloutRecord["state"];
  /** Canary users in the step when it was rolled back (null when it was not). */
  readonly usersToRollback: number | null;
  readonly metric: string | null;
  readonly test: string | null;
}

function simulate(seed: number, canaryBehaviour: Behaviour): Outcome {
  const uniform = seededUniform(seed);
  const normal = seededNormal(uniform);
  let r: RolloutRecord = newRollout(
    {
      id: `sim-${seed}`,
      prompt: "sim",
      env: "prod",
      stable_version: "1.0.0",
      canary_version: "1.1.0",
      hold_ms: 30 * MIN,
      min_users: 100,
      created_by: "simulation",
    },
    T0,
  );
  const store = { label: "1.0.0", weights: {} as Record<string, string> };
  let stepKey = "";
  let arms = { stable: emptyArm(), canary: emptyArm() };
  const serve = (arm: Arm, b: Behaviour): void => {
    arm.users += 1;
    if (uniform() < b.errorRate) arm.errors += 1;
    const ms = Math.round(b.medianMs * Math.exp(0.5 * normal()));
    arm.counts[bucketIndex(ms)]! += 1;
    const cost = b.costUsd * (0.5 + uniform());
    arm.cost.n += 1;
    arm.cost.sum += cost;
    arm.cost.sumSq += cost * cost;
    if (uniform() < b.feedbackRate) {
      const score = uniform() < b.goodRate ? 1 : 0.5;
      arm.quality.n += 1;
      arm.quality.sum += score;
      arm.quality.sumSq += score * score;
    }
  };
  for (let minute = 1; minute < 24 * 60; minute++) {
    const now = T0 + minute * MIN;
    // Traffic of the past minute, split by the weights in force (what the gateway does).
    const canaryShare = Number(store.weights["1.1.0"] ?? 0) / 100;
    if (r.state === "step") {
      for (let u = 0; u < USERS_PER_MINUTE; u++) {
        if (uniform() < canaryShare) serve(arms.canary, canaryBehaviour);
        else serve(arms.stable, HEALTHY);
      }
    }
    const step: StepObservation | null =
      r.state === "step" ? { stable: observe(arms.stable), canary: observe(arms.canary) } : null;
    const out = reconcile(r, { label: store.label, weights: store.weights, step }, now);
    applyActions(out.actions, store);
    r = out.record;
    const key = `${r.step_index}:${r.step_started_at}`;
    if (key !== stepKey) {
      stepKey = key;
      arms = { stable: emptyArm(), canary: emptyArm() };
    }
    if (["succeeded", "failed", "aborted", "paused"].includes(r.state)) break;
  }
  const rollback = r.evaluations.find((e) => e.decision === "rollback");
  const failure = rollback?.guardrails.find((g) => g.status === "fail");
  return {
    state: r.state,
    usersToRollback: rollback?.users?.canary ?? null,
    metric: failure?.metric ?? null,
    test: failure?.test ?? null,
  };
}

function applyActions(actions: readonly RolloutAction[], store: { label: string; weights: Record<string, string> }) {
  for (const a of actions) {
    if (a.kind === "set_weights") {
      store.weights = Object.fromEntries(Object.entries(a.weights).map(([k, v]) => [k, String(v)]));
    }
    if (a.kind === "clear_weights") store.weights = {};
    if (a.kind === "promote_label") store.label = a.version;
  }
}

const percentile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

describe("rollout simulation (1,000 rollouts each, a look every minute)", () => {
  it("A/A: two identical versions are rolled back in at most alpha of the rollouts", () => {
    const outcomes = Array.from({ length: ROLLOUTS }, (_, i) => simulate(1000 + i, HEALTHY));
    const failed = outcomes.filter((o) => o.state === "failed").length;
    const succeeded = outcomes.filter((o) => o.state === "succeeded").length;
    const rate = failed / ROLLOUTS;
    console.log(
      `A/A: ${failed} of ${ROLLOUTS} rolled back (false rollback rate ${rate}, alpha 0.05); ${succeeded} succeeded; by metric ${JSON.stringify(
        Object.fromEntries(
          ["error_rate", "p95_latency", "cost_per_request", "quality"].map((m) => [
            m,
            outcomes.filter((o) => o.metric === m).length,
          ]),
        ),
      )}`,
    );
    expect(rate).toBeLessThanOrEqual(0.05);
    expect(succeeded + failed).toBe(ROLLOUTS); // none stuck or paused: 100 users a minute is enough data
  });

  it("a canary failing 30% of calls (stable 1%) is rolled back within 200 canary users", () => {
    const outcomes = Array.from({ length: ROLLOUTS }, (_, i) => simulate(5000 + i, { ...HEALTHY, errorRate: 0.3 }));
    const users = outcomes.map((o) => o.usersToRollback ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
    const byTest = {
      sequential: outcomes.filter((o) => o.test === "sequential").length,
      hard_limit: outcomes.filter((o) => o.test === "hard_limit").length,
    };
    console.log(
      `30% failing canary: ${outcomes.filter((o) => o.state === "failed").length} of ${ROLLOUTS} rolled back; canary users to rollback p50 ${percentile(users, 0.5)}, p90 ${percentile(users, 0.9)}, p99 ${percentile(users, 0.99)}, max ${users[users.length - 1]}; decided by ${JSON.stringify(byTest)}`,
    );
    expect(outcomes.every((o) => o.state === "failed" && o.metric === "error_rate")).toBe(true);
    expect(users[users.length - 1]).toBeLessThanOrEqual(200);
  });

  it("a canary failing every call is rolled back by the hard limit within a look or two", () => {
    const outcomes = Array.from({ length: 100 }, (_, i) => simulate(9000 + i, { ...HEALTHY, errorRate: 1 }));
    const users = outcomes.map((o) => o.usersToRollback ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
    console.log(
      `failing canary: canary users to rollback p50 ${percentile(users, 0.5)}, max ${users[users.length - 1]}`,
    );
    expect(outcomes.every((o) => o.state === "failed" && o.test === "hard_limit")).toBe(true);
    expect(users[users.length - 1]).toBeLessThan(30);
  });
});
