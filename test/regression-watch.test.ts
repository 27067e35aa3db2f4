// The production-regression check against a real store (Redis and the embedded one): the baseline read
// after the label moved and kept, the tumbling window, one alert per regression until it recovers, and the
// eval record as the quality baseline when no feedback came in.
import { afterEach, describe, expect, it } from "vitest";
import type { EvalRecord } from "../gateway/registry/eval-records.ts";
import type { Label } from "../gateway/registry/records.ts";
import { REGRESSION_WATCH_DEFAULTS, watchRegressions } from "../gateway/stats/regression-watch.ts";
import { regressionBaselineKey, regressionsKey, statsIndexKey, statsKey } from "../gateway/store/keys.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { bucketIndex, feedbackField, LATENCY_BUCKET_FIELDS, MINUTE_MS } from "../gateway/telemetry/aggregates.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";

const NAME = "summarization";
const ENV = "prod";
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0); // the label moved here
const HOUR = 60 * MINUTE_MS;
const SETTINGS = { ...REGRESSION_WATCH_DEFAULTS, baselineMs: HOUR, windowMs: 10 * MINUTE_MS };

const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) {
    for (const key of await s.keys("")) await s.del(key);
    await s.close();
  }
});

const STORES: Record<string, () => Promise<Store>> = {
  redis: () => createRedisStore({ url: redisUrl(), prefix: uniquePrefix("regressions"), logger: silentLogger }),
  embedded: async () =>
    createSqliteStore({ path: ":memory:", prefix: uniquePrefix("regressions"), logger: silentLogger }),
};

/** Writes `minutes` minutes from `from` of `version` serving `requests` a minute with `errors`, at `ms` each. */
async function serve(
  store: Store,
  version: string,
  from: number,
  minutes: number,
  perMinute: { requests: number; errors: number; ms?: number; quality?: number },
): Promise<void> {
  const ms = perMinute.ms ?? 200;
  for (let m = 0; m < minutes; m++) {
    const minute = Math.floor(from / MINUTE_MS) + m;
    const fields: Record<string, string> = {
      requests: String(perMinute.requests),
      errors: String(perMinute.errors),
      latency_ms_sum: String(ms * perMinute.requests),
      [LATENCY_BUCKET_FIELDS[bucketIndex(ms)]!]: String(perMinute.requests),
    };
    if (perMinute.quality !== undefined) {
      const n = perMinute.requests;
      fields[feedbackField("quality", "n")] = String(n);
      fields[feedbackField("quality", "sum_micro")] = String(Math.round(perMinute.quality * 1e6) * n);
      // Scores alternating q - 0.1 and q + 0.1: squares sum to n (q^2 + 0.01).
      fields[feedbackField("quality", "sumsq_micro")] = String(Math.round((perMinute.quality ** 2 + 0.01) * 1e6) * n);
    }
    await store.hset(statsKey(ENV, NAME, version, minute), fields);
  }
  await store.hset(statsIndexKey(ENV, NAME), { [version]: "1" });
}

function registry(label: () => Label | null, evals: EvalRecord[] = []) {
  return { label: async () => label(), evals: async () => evals };
}

const labelAt = (version: string, at: number): Label => ({
  version,
  previous: [],
  approvedBy: "sre",
  at: new Date(at).toISOString(),
});

describe.each(Object.keys(STORES))("production-regression watch on %s", (kind) => {
  it("waits for the baseline, then alerts once per regression until it recovers", async () => {
    const store = await STORES[kind]!();
    stores.push(store);
    let label = labelAt("1.2.0", T0);
    const reg = registry(() => label);
    await serve(store, "1.2.0", T0, 60, { requests: 100, errors: 1 }); // baseline: 1% errors, 200 ms

    expect((await watchRegressions(store, reg, NAME, ENV, T0 + 30 * MINUTE_MS, SETTINGS)).phase).toBe(
      "forming_baseline",
    );

    // Window [2h, 2h10m): healthy.
    await serve(store, "1.2.0", T0 + 2 * HOUR, 5, { requests: 100, errors: 1 });
    const healthy = await watchRegressions(store, reg, NAME, ENV, T0 + 2 * HOUR + 5 * MINUTE_MS, SETTINGS);
    expect(healthy).toMatchObject({ phase: "checked", version: "1.2.0", windowStart: T0 + 2 * HOUR, alerts: [] });
    expect(healthy.findings.find((f) => f.metric === "error_rate")).toMatchObject({ status: "ok", recentN: 500 });
    expect(Object.keys(await store.hgetall(regressionBaselineKey(ENV, NAME)))).toEqual(["1.2.0"]);

    // Window [3h, 3h10m): 30% errors and 900 ms.
    await serve(store, "1.2.0", T0 + 3 * HOUR, 5, { requests: 100, errors: 30, ms: 900 });
    const bad = await watchRegressions(store, reg, NAME, ENV, T0 + 3 * HOUR + 5 * MINUTE_MS, SETTINGS);
    expect(bad.alerts.map((a) => a.metric).sort()).toEqual(["error_rate", "p95_latency"]);
    const alert = bad.alerts.find((a) => a.metric === "error_rate")!;
    expect(alert).toMatchObject({
      type: "production_regression",
      prompt: NAME,
      env: ENV,
      versions: { stable: "1.2.0", canary: null },
      verdict: "worse",
      links: { stats: `promptgate stats ${NAME} --env prod --since 5m` },
    });
    expect(alert.numbers["recent"]).toBeCloseTo(0.3, 12);
    expect(alert.numbers["baseline"]).toBeCloseTo(0.01, 12);
    expect(alert.reason).toMatch(/^error rate 30\.0% in the recent window vs 1\.0% at baseline/);

    // Looked at again a minute later, still bad: nothing new.
    await serve(store, "1.2.0", T0 + 3 * HOUR + 5 * MINUTE_MS, 1, { requests: 100, errors: 30, ms: 900 });
    const again = await watchRegressions(store, reg, NAME, ENV, T0 + 3 * HOUR + 6 * MINUTE_MS, SETTINGS);
    expect(again.alerts).toEqual([]);
    expect(Object.keys(JSON.parse((await store.get(regressionsKey(ENV, NAME)))!) as object).sort()).toEqual([
      "1.2.0|error_rate",
      "1.2.0|p95_latency",
    ]);

    // The baseline outlives the aggregates: remove its minutes; the next window is healthy and closes both.
    for (let m = 0; m < 60; m++) await store.del(statsKey(ENV, NAME, "1.2.0", T0 / MINUTE_MS + m));
    await serve(store, "1.2.0", T0 + 4 * HOUR, 5, { requests: 100, errors: 1 });
    const back = await watchRegressions(store, reg, NAME, ENV, T0 + 4 * HOUR + 5 * MINUTE_MS, SETTINGS);
    expect(back.phase).toBe("checked");
    expect([...back.recovered].sort()).toEqual(["error_rate", "p95_latency"]);
    expect(JSON.parse((await store.get(regressionsKey(ENV, NAME)))!)).toEqual({});

    // The label moves on: a new baseline for the new stint; nothing to check before it closes.
    label = labelAt("1.3.0", T0 + 5 * HOUR);
    expect((await watchRegressions(store, reg, NAME, ENV, T0 + 5 * HOUR + MINUTE_MS, SETTINGS)).phase).toBe(
      "forming_baseline",
    );
    expect((await watchRegressions(store, reg, NAME, ENV, T0 + 7 * HOUR, SETTINGS)).phase).toBe("no_baseline");
  });

  it("falls back to the eval record for a quality baseline when no feedback came in", async () => {
    const store = await STORES[kind]!();
    stores.push(store);
    const evalRecord: EvalRecord = {
      id: "e1",
      prompt: NAME,
      version: "1.2.0",
      content_hash: "sha256-x",
      suite: "config/evals/summarization.yaml",
      suite_hash: "sha256-s",
      judges: [],
      baseline: null,
      started_at: new Date(T0 - HOUR).toISOString(),
      finished_at: new Date(T0 - HOUR).toISOString(),
      passed: true,
      cases: 60,
      grader_errors: 0,
      cost_usd: null,
      metrics: { quality: { n: 60, mean: 0.85, std: 0.1, min: 0.6, max: 1, pass_rate: 1 } },
      gate: null,
      by: "ci",
    };
    const reg = registry(() => labelAt("1.2.0", T0), [evalRecord]);
    await serve(store, "1.2.0", T0, 60, { requests: 100, errors: 1 });
    await serve(store, "1.2.0", T0 + 2 * HOUR, 3, { requests: 100, errors: 1, quality: 0.5 });
    const r = await watchRegressions(store, reg, NAME, ENV, T0 + 2 * HOUR + 3 * MINUTE_MS, SETTINGS);
    expect(r.qualityBaseline).toBe("eval");
    const q = r.findings.find((f) => f.metric === "quality")!;
    expect(q).toMatchObject({ status: "regressed", baselineN: 60, recentN: 300 });
    expect(q.baseline).toBeCloseTo(0.85, 12);
    expect(q.recent).toBeCloseTo(0.5, 9);
    expect(q.reason).toContain("(baseline: the version's evaluation record)");
    expect(r.alerts.map((a) => a.metric)).toEqual(["quality"]);
  });
});
