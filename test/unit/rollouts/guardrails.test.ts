// Reference values from test/reference/rollout_guardrails.py (numpy), recorded as literals.
import { describe, expect, it } from "vitest";
import {
  countAbove,
  DEFAULT_GUARDRAILS,
  evaluateGuardrails,
  intervalAlphaFor,
  latencyThreshold,
  perTestAlpha,
  type ArmObservation,
  type GuardrailResult,
} from "../../../gateway/rollouts/guardrails.ts";
import { resolveGuardrails } from "../../../gateway/rollouts/record.ts";

const REF = {
  a: 0.004166666666666667,
  interval_alpha: 0.008298755186721992,
  error_rate: [0.037308740811793445, 0.5058491539250487],
  latency_share: [-0.05922974406087856, 0.17034085517198969],
  cost: [0.0005507374473591087, 0.0014492625526408914],
  quality: [-0.2434367723136467, -0.05656322768635334],
} as const;

const closeTo = (actual: number | null, expected: number): void => {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected));
};

const none = { n: 0, sum: 0, sumSq: 0 };
const arm = (o: Partial<ArmObservation>): ArmObservation => ({
  users: 0,
  requests: 0,
  errors: 0,
  latency: null,
  cost: null,
  quality: none,
  ...o,
});
const BOUNDS = [100, 200, 300];

const stable = arm({
  users: 950,
  requests: 950,
  errors: 8,
  latency: { bounds: BOUNDS, counts: [700, 160, 40, 0] },
  cost: { n: 400, sum: 0.8, sumSq: 0.0017 },
  quality: { n: 300, sum: 240, sumSq: 200 },
});
const canary = arm({
  users: 50,
  requests: 50,
  errors: 14,
  latency: { bounds: BOUNDS, counts: [60, 30, 10, 0] },
  cost: { n: 40, sum: 0.12, sumSq: 0.00038 },
  quality: { n: 60, sum: 39, sumSq: 27 },
});
const byMetric = (results: readonly GuardrailResult[], metric: string, test = "sequential"): GuardrailResult =>
  results.find((r) => r.metric === metric && r.test === test)!;

describe("guardrail alpha", () => {
  it("splits the rollout's alpha over compared steps and enabled metrics, and spends it on one side", () => {
    expect(perTestAlpha(DEFAULT_GUARDRAILS, 3)).toBeCloseTo(REF.a, 15);
    closeTo(intervalAlphaFor(REF.a), REF.interval_alpha);
    // a / (2 - a) at the interval's level gives back the one-sided error.
    const ia = intervalAlphaFor(0.01);
    expect(ia / (2 - ia)).toBeCloseTo(0.01, 15);
    const fewer = resolveGuardrails({ quality: { enabled: false }, cost_per_request: { enabled: false } });
    expect(perTestAlpha(fewer, 3)).toBeCloseTo(0.05 / 6, 15);
  });
});

describe("evaluateGuardrails", () => {
  const verdict = evaluateGuardrails({
    step: { stable, canary },
    settings: resolveGuardrails({ hard_limits: { error_rate: null }, p95_latency: { threshold_min_requests: 1000 } }),
    comparedSteps: 3,
    latencyThresholdMs: null,
  });

  it("reads each metric's always-valid interval at the one-sided level (numpy reference)", () => {
    const er = byMetric(verdict.results, "error_rate");
    closeTo(er.low, REF.error_rate[0]);
    closeTo(er.high, REF.error_rate[1]);
    expect(er).toMatchObject({ status: "fail", margin: 0.01, stable_n: 950, canary_n: 50 });
    expect(er.reason).toMatch(/error rate: canary 28% vs stable 0.842%.*worse than stable beyond the margin/);

    const lat = byMetric(verdict.results, "p95_latency");
    closeTo(lat.low, REF.latency_share[0]);
    closeTo(lat.high, REF.latency_share[1]);
    expect(lat).toMatchObject({ status: "pass", stable_n: 900, canary_n: 100 });
    expect(lat.reason).toMatch(/share of requests above 200 ms/);

    const cost = byMetric(verdict.results, "cost_per_request");
    closeTo(cost.low, REF.cost[0]);
    closeTo(cost.high, REF.cost[1]);
    expect(cost.status).toBe("fail"); // low 0.00055 > 25% of the stable's $0.002
    closeTo(cost.margin, 0.0005);

    const q = byMetric(verdict.results, "quality");
    closeTo(q.low, REF.quality[0]);
    closeTo(q.high, REF.quality[1]);
    expect(q).toMatchObject({ status: "fail", margin: -0.02 }); // higher is better: fails when high < -margin
  });

  it("names the first failure and fixes the latency threshold for the step", () => {
    expect(verdict.failure?.metric).toBe("error_rate");
    expect(verdict.latencyThresholdMs).toBe(200);
  });

  it("keeps a threshold once fixed, and fixes none below the minimum traffic", () => {
    const kept = evaluateGuardrails({
      step: { stable, canary },
      settings: DEFAULT_GUARDRAILS,
      comparedSteps: 3,
      latencyThresholdMs: 100,
    });
    expect(kept.latencyThresholdMs).toBe(100);
    expect(latencyThreshold(stable.latency!, canary.latency!, 0.95, 1001)).toBeNull();
    expect(countAbove(canary.latency!, 100)).toEqual({ x: 40, n: 100 });
  });

  it("says 'not enough data' below min_samples instead of passing or failing", () => {
    const v = evaluateGuardrails({
      step: { stable, canary: arm({ users: 5, requests: 5, errors: 5 }) },
      settings: resolveGuardrails({ hard_limits: { error_rate: null } }),
      comparedSteps: 3,
      latencyThresholdMs: null,
    });
    expect(byMetric(v.results, "error_rate")).toMatchObject({ status: "insufficient" });
    expect(byMetric(v.results, "quality").reason).toMatch(/quality: not enough data \(stable 300, canary 0; 30 each/);
    expect(v.failure).toBeNull();
  });

  it("short-circuits with the hard limits", () => {
    const failing = arm({ users: 10, requests: 10, errors: 10 });
    const v = evaluateGuardrails({
      step: { stable, canary: failing },
      settings: DEFAULT_GUARDRAILS,
      comparedSteps: 3,
      latencyThresholdMs: null,
    });
    expect(v.failure).toMatchObject({ metric: "error_rate", test: "hard_limit", canary: 1 });
    expect(v.failure?.reason).toMatch(/canary 100% \(10 of 10\) is above the hard limit 50%/);
    // Not when stable fails as much (a provider outage is not the canary's fault), nor below min_errors.
    const outage = arm({ users: 100, requests: 100, errors: 100 });
    expect(
      evaluateGuardrails({
        step: { stable: outage, canary: failing },
        settings: DEFAULT_GUARDRAILS,
        comparedSteps: 3,
        latencyThresholdMs: null,
      }).failure?.test,
    ).not.toBe("hard_limit");
    const few = arm({ users: 9, requests: 9, errors: 9 });
    expect(
      evaluateGuardrails({
        step: { stable, canary: few },
        settings: DEFAULT_GUARDRAILS,
        comparedSteps: 3,
        latencyThresholdMs: null,
      }).failure,
    ).toBeNull();

    const slow = resolveGuardrails({ hard_limits: { p95_latency: { max_ms: 150, min_requests: 50 } } });
    const lat = evaluateGuardrails({
      step: { stable, canary: { ...canary, errors: 0 } },
      settings: slow,
      comparedSteps: 3,
      latencyThresholdMs: null,
    });
    expect(lat.failure).toMatchObject({ metric: "p95_latency", test: "hard_limit", canary: 300 });
  });
});
