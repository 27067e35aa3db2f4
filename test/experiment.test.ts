// The experiment readout end to end: synthetic users through the real gateway (mock provider), feedback on
// the x-request-id of each answer, then `promptgate stats` (a real process) and the admin API read back
// the means, the verdicts, the split check and the per-segment readout. Time is moved by a clock the
// test owns (the gateway counts requests in the minute its clock says), so a ramp spans real minutes of
// aggregates without waiting for them. Reference values: test/reference/experiment_e2e.py (scipy).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { sampleRatioMismatch } from "../gateway/statistics/srm.ts";
import { readDistinctUsers } from "../gateway/stats/distinct-users.ts";
import type { StatsView } from "../gateway/stats/stats-ops.ts";
import { readWeightsInForce } from "../gateway/stats/weight-shares.ts";
import { weightsKey } from "../gateway/store/keys.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock, type Clock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { MINUTE_MS } from "../gateway/telemetry/aggregates.ts";
import { cli, cliWorkspace } from "./support/cli.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { seededLevels } from "./support/random.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";

const ADMIN = "admin-token-e2e";
const YAML = `
routes:
  - { match: "mock/*", provider: mock }
`;

const promptFile = (name: string, version: string, segmented: boolean): string => `
name: ${name}
version: ${version}
model: mock/echo
variables: {}
${segmented ? "segment: { header: [free, pro] }\n" : ""}messages:
  - { role: system, content: "${name} v${version}" }
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The gateway's clock: real time, or real time shifted to one second into a chosen epoch minute. */
interface MovableClock extends Clock {
  /** From now on, time runs from one second into epoch minute `minute`. */
  at(minute: number): void;
  reset(): void;
}

function movableClock(): MovableClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: systemClock.sleep,
    at: (minute) => void (offset = minute * MINUTE_MS + 1_000 - Date.now()),
    reset: () => void (offset = 0),
  };
}

interface Rig {
  gw: TestGateway;
  store: Store;
  clock: MovableClock;
  /** The environment that points `promptgate` at the same store. */
  cliEnv: Record<string, string>;
}

/** One gateway on a store of its own; each prompt gets 1.0.0 on prod (stable) and 1.1.0, weights as given. */
async function rig(
  kind: "redis" | "embedded",
  prompts: readonly { name: string; weights: Record<string, string>; segmented?: boolean }[],
): Promise<Rig> {
  const prefix = uniquePrefix("experiment");
  const path = join(mkdtempSync(join(tmpdir(), "pg-experiment-")), "state.db");
  const store =
    kind === "redis"
      ? await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger })
      : createSqliteStore({ path, prefix, logger: silentLogger });
  cleanups.push(async () => {
    for (const key of await store.keys("")) await store.del(key);
    await store.close();
  });
  const registry = createRegistry(store, systemClock);
  for (const p of prompts) {
    for (const v of ["1.0.0", "1.1.0"])
      await registry.register(parsePromptFile(promptFile(p.name, v, p.segmented ?? false), "x.yaml"), "test");
    await registry.promote(p.name, "1.0.0", "staging", { approvedBy: "t" });
    await registry.promote(p.name, "1.0.0", "prod", { approvedBy: "t" });
    await store.hset(weightsKey("prod", p.name), p.weights);
  }
  const clock = movableClock();
  const gw = await startTestGateway({ yaml: YAML, env: { ADMIN_TOKEN: ADMIN }, store, clock });
  cleanups.push(() => gw.close());
  const base = cliWorkspace({}).env;
  const cliEnv =
    kind === "redis"
      ? { ...base, REDIS_URL: redisUrl(), REDIS_PREFIX: prefix }
      : { ...base, STATE_PATH: path, REDIS_PREFIX: prefix };
  return { gw, store, clock, cliEnv };
}

interface Answer {
  user: string;
  version: string;
  id: string;
}

async function infer(gw: TestGateway, prompt: string, user: string, segment?: string): Promise<Answer> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-prompt-ref": prompt,
      "x-user-id": user,
      ...(segment === undefined ? {} : { "x-prompt-segment": segment }),
    },
    body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }] }),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return { user, version: res.headers.get("x-prompt-version")!, id: res.headers.get("x-request-id")! };
}

/** Runs `task` over `items`, eight at a time, results in order. */
async function pool<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await task(items[i]!);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

async function sendFeedback(gw: TestGateway, id: string, body: { score: number } | { value: string }): Promise<void> {
  const res = await fetch(`${gw.url}/v1/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ request_id: id, ...body }),
  });
  expect(res.status, await res.text()).toBe(200);
}

async function statsCli(r: Rig, args: readonly string[]): Promise<{ view: StatsView; text: string }> {
  await r.gw.deps.aggregates.flush();
  const [json, text] = await Promise.all([
    cli(["stats", ...args, "--json"], r.cliEnv),
    cli(["stats", ...args], r.cliEnv),
  ]);
  expect([json.code, json.stderr]).toEqual([0, ""]);
  expect([text.code, text.stderr]).toEqual([0, ""]);
  return { view: JSON.parse(json.stdout) as StatsView, text: text.stdout };
}

async function statsAdmin(r: Rig, name: string, query: string): Promise<StatsView> {
  const res = await fetch(`${r.gw.url}/admin/prompts/${name}/stats?${query}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as StatsView;
}

/** The document without its window bounds (two reads a minute boundary apart differ there only). */
const withoutWindow = (v: StatsView): Omit<StatsView, "from" | "to"> =>
  Object.fromEntries(Object.entries(v).filter(([k]) => k !== "from" && k !== "to")) as Omit<StatsView, "from" | "to">;

const comparison = <C extends StatsView["comparisons"][number]>(
  v: { readonly comparisons: readonly C[] },
  metric: string,
): C => v.comparisons.find((c) => c.metric === metric && c.treatment === "1.1.0")!;

const meanOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Relative closeness, for p-values and intervals against the scipy references. */
function expectRelative(actual: number | null, expected: number, tolerance = 1e-6): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(tolerance * Math.abs(expected));
}

// Score distributions over the levels 0, 0.25, 0.5, 0.75, 1.
const CONTROL = [0.1, 0.2, 0.3, 0.25, 0.15];
const BETTER = [0.05, 0.1, 0.25, 0.35, 0.25];
const SCORED = 300;
const THUMBS = 200;

// scipy, from test/reference/experiment_e2e.py.
const REFERENCE = {
  ab: {
    control_mean: 0.5658333333333333,
    treatment_mean: 0.6725,
    diff: 0.10666666666666669,
    p_value: 1.4868541082773337e-5,
    ci_low: 0.05869296887015223,
    ci_high: 0.15464036446318113,
  },
  aa: {
    control_mean: 0.5591666666666667,
    treatment_mean: 0.535,
    diff: -0.02416666666666667,
    p_value: 0.33066261155758364,
    ci_low: -0.07291702777547303,
    ci_high: 0.02458369444213969,
  },
  thumbs: {
    diff: 0.19999999999999998,
    p_value: 5.73303143758389e-7,
    ci_low: 0.12285209426014565,
    ci_high: 0.27509669451665003,
  },
};

/**
 * Sends users (one request each, `user-0`, `user-1`, ...) in batches until every version has served at
 * least `need` answers; returns every answer in order.
 */
async function serveUntil(gw: TestGateway, prompt: string, need: number, start = 0): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = start;
  const count = (v: string): number => answers.filter((a) => a.version === v).length;
  while (count("1.0.0") < need || count("1.1.0") < need) {
    const users = Array.from({ length: 100 }, () => `user-${next++}`);
    answers.push(...(await pool(users, (u) => infer(gw, prompt, u))));
  }
  return answers;
}

describe("the experiment readout end to end", () => {
  it("shows the means sent, a significant difference with its verdict, and none between equals", async () => {
    const r = await rig("redis", [
      { name: "ab", weights: { "1.0.0": "50", "1.1.0": "50" } },
      { name: "aa", weights: { "1.0.0": "50", "1.1.0": "50" } },
    ]);
    // ab: 1.1.0 scores better, and draws more thumbs down (20 of 200 against 60 of 200).
    const ab = await serveUntil(r.gw, "ab", SCORED + THUMBS);
    const scores = { "1.0.0": seededLevels(1401, SCORED, CONTROL), "1.1.0": seededLevels(1402, SCORED, BETTER) };
    const downs = { "1.0.0": 1, "1.1.0": 3 }; // per 10 thumbs
    const jobs: { id: string; body: { score: number } | { value: string } }[] = [];
    for (const version of ["1.0.0", "1.1.0"] as const) {
      const mine = ab.filter((a) => a.version === version);
      scores[version].forEach((score, k) => jobs.push({ id: mine[k]!.id, body: { score } }));
      for (let k = 0; k < THUMBS; k++)
        jobs.push({
          id: mine[SCORED + k]!.id,
          body: { value: k % 10 < downs[version] ? "thumbs_down" : "thumbs_up" },
        });
    }
    // aa: both versions score from the same distribution.
    const aa = await serveUntil(r.gw, "aa", SCORED);
    const aaScores = { "1.0.0": seededLevels(1403, SCORED, CONTROL), "1.1.0": seededLevels(1406, SCORED, CONTROL) };
    for (const version of ["1.0.0", "1.1.0"] as const) {
      const mine = aa.filter((a) => a.version === version);
      aaScores[version].forEach((score, k) => jobs.push({ id: mine[k]!.id, body: { score } }));
    }
    await pool(jobs, (j) => sendFeedback(r.gw, j.id, j.body));

    const { view, text } = await statsCli(r, ["ab", "--env", "prod"]);
    // The versions: requests, feedback counts and means exactly as sent; users within the counter's error.
    for (const version of ["1.0.0", "1.1.0"] as const) {
      const row = view.versions.find((v) => v.version === version)!;
      const served = ab.filter((a) => a.version === version);
      expect(row.variant).toBe(version === "1.0.0" ? "stable" : "canary");
      expect(row.weight).toBe(50);
      expect(row.requests).toBe(served.length);
      expect(row.quality.n).toBe(SCORED);
      expect(Math.abs(row.quality.mean! - meanOf(scores[version]))).toBeLessThanOrEqual(1e-9);
      expect(row.thumbs).toEqual({ up: THUMBS - (THUMBS / 10) * downs[version], down: (THUMBS / 10) * downs[version] });
      expect(Math.abs(row.users! - served.length)).toBeLessThanOrEqual(Math.ceil(4 * 0.0081 * served.length));
    }
    // Quality: 1.1.0 is better, exact to scipy's Welch; the sequential interval excludes 0 too.
    const quality = comparison(view, "quality");
    expect(quality).toMatchObject({ control: "1.0.0", control_n: SCORED, treatment_n: SCORED });
    expect(Math.abs(quality.control_mean! - REFERENCE.ab.control_mean)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(quality.treatment_mean! - REFERENCE.ab.treatment_mean)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(quality.diff! - REFERENCE.ab.diff)).toBeLessThanOrEqual(1e-9);
    expectRelative(quality.p_value, REFERENCE.ab.p_value);
    expectRelative(quality.ci_low, REFERENCE.ab.ci_low);
    expectRelative(quality.ci_high, REFERENCE.ab.ci_high);
    expect(quality.significant).toBe(true);
    expect(quality.seq_ci_low).toBeGreaterThan(0);
    expect(quality.seq_ci_low!).toBeLessThan(REFERENCE.ab.ci_low); // wider than the one-look interval
    expect(quality.seq_significant).toBe(true);
    expect(quality.verdict).toBe("better");
    // Thumbs-down rate: higher on 1.1.0, so worse (lower is better), exact to scipy's two-proportion test.
    const thumbs = comparison(view, "thumbs_down_rate");
    expect(thumbs).toMatchObject({ control_n: THUMBS, treatment_n: THUMBS, control_mean: 0.1, treatment_mean: 0.3 });
    expect(Math.abs(thumbs.diff! - REFERENCE.thumbs.diff)).toBeLessThanOrEqual(1e-9);
    expectRelative(thumbs.p_value, REFERENCE.thumbs.p_value);
    expectRelative(thumbs.ci_low, REFERENCE.thumbs.ci_low);
    expectRelative(thumbs.ci_high, REFERENCE.thumbs.ci_high);
    expect([thumbs.significant, thumbs.seq_significant, thumbs.verdict]).toEqual([true, true, "worse"]);
    // No errors on either side, over a thousand requests: no difference on the error rate.
    expect(comparison(view, "error_rate")).toMatchObject({ diff: 0, significant: false, verdict: "no_difference" });
    // The 50/50 split holds: no mismatch, over the whole window (the weights never moved).
    expect(view.srm).toMatchObject({ basis: "window", versions: ["1.1.0", "1.0.0"], mismatch: false });
    expect(view.srm!.counter_error).toBe(0.0081);
    expect(view.srm!.p_value!).toBeGreaterThan(0.001);

    // The sentences carry the verdicts and the numbers of the document.
    const sign = (v: number): string => `${v > 0 ? "+" : "-"}${Math.abs(v).toFixed(3)}`;
    expect(text).toContain(
      `1.1.0 is better than 1.0.0 on quality: ${sign(quality.diff!)} (95% CI ${sign(quality.ci_low!)}..${sign(quality.ci_high!)}), p<0.001; ` +
        `sequential CI ${sign(quality.seq_ci_low!)}..${sign(quality.seq_ci_high!)}: significant`,
    );
    expect(text).toContain("1.1.0 is worse than 1.0.0 on thumbs-down rate: +20.00 pt (95% CI +12.29 pt..+27.51 pt)");
    expect(text).toMatch(/split: users match the weights over the window/);
    for (const row of view.versions)
      expect(text).toContain(`${row.quality.mean!.toFixed(3)} ±${row.quality.std!.toFixed(3)} (300)`);

    // The admin API serves the same document.
    expect(withoutWindow(await statsAdmin(r, "ab", "env=prod"))).toEqual(withoutWindow(view));

    // aa: the same distribution on both sides: no significant difference, and never better or worse.
    const same = await statsCli(r, ["aa", "--env", "prod"]);
    const aaQuality = comparison(same.view, "quality");
    expect(aaQuality).toMatchObject({ control_n: SCORED, treatment_n: SCORED, significant: false });
    expect(Math.abs(aaQuality.control_mean! - meanOf(aaScores["1.0.0"]))).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(aaQuality.treatment_mean! - meanOf(aaScores["1.1.0"]))).toBeLessThanOrEqual(1e-9);
    expectRelative(aaQuality.p_value, REFERENCE.aa.p_value);
    expectRelative(aaQuality.ci_low, REFERENCE.aa.ci_low);
    expectRelative(aaQuality.ci_high, REFERENCE.aa.ci_high);
    expect(aaQuality.seq_significant).toBe(false);
    expect(aaQuality.seq_ci_low!).toBeLessThan(0);
    expect(aaQuality.seq_ci_high!).toBeGreaterThan(0);
    for (const c of same.view.comparisons) expect(["no_difference", "too_early"]).toContain(c.verdict);
    expect(same.text).toMatch(
      /1\.1\.0 vs 1\.0\.0 on quality: too early: \d+ of ~\d+ users needed for a 2-point effect/,
    );
    expect(same.text).not.toMatch(/is (better|worse) than/);
    expect(withoutWindow(await statsAdmin(r, "aa", "env=prod"))).toEqual(withoutWindow(same.view));
  }, 60_000);

  it("flags a sample-ratio mismatch when something in front of the gateway drops canary users", async () => {
    const r = await rig("embedded", [{ name: "skew", weights: { "1.0.0": "50", "1.1.0": "50" } }]);
    const base = Math.floor(Date.now() / MINUTE_MS);
    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    // Half an hour ago every user came through once: the split assigned each a version (sticky).
    r.clock.at(base - 30);
    const first = await pool(users, (u) => infer(r.gw, "skew", u));
    // Three minutes ago, a cache in front of the gateway answered two in five of the canary's users itself.
    r.clock.at(base - 3);
    const canaryUsers = first.filter((a) => a.version === "1.1.0").map((a) => a.user);
    const cached = new Set(canaryUsers.filter((_, k) => k % 5 < 2));
    const second = await pool(
      users.filter((u) => !cached.has(u)),
      (u) => infer(r.gw, "skew", u),
    );
    expect(Math.floor(r.clock.now() / MINUTE_MS)).toBe(base - 3);
    expect(second.every((a) => a.version === first.find((f) => f.user === a.user)!.version)).toBe(true);
    r.clock.reset();

    const recent = await statsCli(r, ["skew", "--env", "prod", "--since", "10m"]);
    const seen = (v: string): number => second.filter((a) => a.version === v).length;
    // Exact counts on the embedded store: the users the gateway saw, not the ones the split assigned.
    expect(recent.view.srm).toMatchObject({
      basis: "window",
      versions: ["1.1.0", "1.0.0"],
      observed: [seen("1.1.0"), seen("1.0.0")],
      counter_error: 0,
      mismatch: true,
    });
    expect(recent.view.srm!.p_value!).toBeLessThan(0.001);
    const expected = (seen("1.1.0") + seen("1.0.0")) / 2;
    expect(recent.view.srm!.expected).toEqual([expected, expected]);
    expect(recent.text).toContain(
      `!!! SAMPLE RATIO MISMATCH over the window (${recent.view.srm!.since}): ` +
        `1.1.0 ${seen("1.1.0")} users (expected ${Math.round(expected)}), 1.0.0 ${seen("1.0.0")} users (expected ${Math.round(expected)}); p<0.001.`,
    );
    expect(recent.text).toMatch(/!!! The users each version saw do not fit its weight/);
    expect(withoutWindow(await statsAdmin(r, "skew", "env=prod&since=10m"))).toEqual(withoutWindow(recent.view));

    // Over the hour, every user the split assigned came through once: the split is fine there.
    const hour = await statsCli(r, ["skew", "--env", "prod", "--since", "1h"]);
    expect(hour.view.srm).toMatchObject({
      basis: "window",
      mismatch: false,
      observed: [canaryUsers.length, 400 - canaryUsers.length],
    });
    expect(hour.text).not.toContain("SAMPLE RATIO MISMATCH");
    expect(hour.text).toMatch(/split: users match the weights over the window/);
  }, 60_000);

  it("raises no mismatch over a ramp 5 -> 25 -> 50: the split is checked on the current step", async () => {
    const r = await rig("redis", [{ name: "ramp", weights: { "1.0.0": "95", "1.1.0": "5" } }]);
    const base = Math.floor(Date.now() / MINUTE_MS);
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const steps = [
      { minute: base - 4, weights: null, canary: 0.05 },
      { minute: base - 3, weights: { "1.0.0": "75", "1.1.0": "25" }, canary: 0.25 },
      { minute: base - 2, weights: { "1.0.0": "50", "1.1.0": "50" }, canary: 0.5 },
    ];
    for (const step of steps) {
      if (step.weights !== null) {
        const before = r.gw.deps.prompts.catalog();
        await r.store.hset(weightsKey("prod", "ramp"), step.weights);
        await vi.waitFor(() => expect(r.gw.deps.prompts.catalog()).not.toBe(before), { timeout: 5_000, interval: 20 });
      }
      // Each minute, every user comes back (one request each).
      r.clock.at(step.minute);
      const answers = await pool(users, (u) => infer(r.gw, "ramp", u));
      expect(Math.floor(r.clock.now() / MINUTE_MS)).toBe(step.minute);
      const share = answers.filter((a) => a.version === "1.1.0").length / users.length;
      expect(Math.abs(share - step.canary)).toBeLessThan(0.1);
    }
    r.clock.reset();
    const { view, text } = await statsCli(r, ["ramp", "--env", "prod", "--since", "10m"]);

    // The weights in force, minute by minute: three steps; the readout uses the last one.
    const window = { env: "prod", name: "ramp", from: (base - 9) * MINUTE_MS, to: (base + 1) * MINUTE_MS };
    const force = await readWeightsInForce(r.store, window);
    expect(force.steps.map((s) => [s.from, s.requests])).toEqual(steps.map((s) => [s.minute * MINUTE_MS, 300]));
    force.steps.forEach((s, k) => expect(s.shares["1.1.0"]).toBeCloseTo(steps[k]!.canary, 9));
    expect(view.srm).toMatchObject({
      basis: "current_step",
      since: new Date((base - 2) * MINUTE_MS).toISOString(),
      versions: ["1.1.0", "1.0.0"],
      mismatch: false,
      counter_error: 0.0081,
    });
    expect(view.srm!.p_value!).toBeGreaterThan(0.001);
    const observed = view.srm!.observed.reduce((a, b) => a + b, 0);
    expect(Math.abs(observed - 300)).toBeLessThanOrEqual(Math.ceil(4 * 0.0081 * 300));
    expect(text).toContain(`split: users match the weights since the weights last changed (${view.srm!.since})`);
    expect(text).not.toContain("SAMPLE RATIO MISMATCH");
    expect(withoutWindow(await statsAdmin(r, "ramp", "env=prod&since=10m"))).toEqual(withoutWindow(view));

    // Why the basis matters: the same users over the whole window, against today's 50/50, do mismatch
    // (everyone who ever had the stable version counts there, most of them also on the canary later).
    const overWindow = await readDistinctUsers(r.store, window, ["1.1.0", "1.0.0"]);
    const naive = sampleRatioMismatch(
      overWindow.map((u) => u.users),
      [0.5, 0.5],
      0.0081,
    )!;
    expect(naive.mismatch).toBe(true);
  }, 60_000);

  it("per segment (--by segment): Holm-corrected p-values and a warning where the canary goes the other way", async () => {
    const r = await rig("embedded", [{ name: "seg", weights: { "1.0.0": "50", "1.1.0": "50" }, segmented: true }]);
    // Three users in four are "free": the canary is much better for them, and much worse for "pro".
    const draws = {
      free: { "1.0.0": [1411, [0.15, 0.25, 0.3, 0.2, 0.1]], "1.1.0": [1412, [0.02, 0.05, 0.15, 0.38, 0.4]] },
      pro: { "1.0.0": [1413, [0.02, 0.08, 0.25, 0.35, 0.3]], "1.1.0": [1414, [0.3, 0.3, 0.25, 0.1, 0.05]] },
    } as const;
    const need = { free: 300, pro: 100 } as const;
    const answers: (Answer & { segment: "free" | "pro" })[] = [];
    const cell = (segment: string, version: string) =>
      answers.filter((a) => a.segment === segment && a.version === version);
    for (
      let next = 0;
      ["free", "pro"].some((s) => ["1.0.0", "1.1.0"].some((v) => cell(s, v).length < need[s as "free"]));
    ) {
      const batch = Array.from({ length: 100 }, () => next++);
      answers.push(
        ...(await pool(batch, async (i) => {
          const segment = i % 4 === 0 ? ("pro" as const) : ("free" as const);
          return { ...(await infer(r.gw, "seg", `user-${i}`, segment)), segment };
        })),
      );
    }
    const sent = new Map<string, number[]>();
    const jobs: { id: string; score: number }[] = [];
    for (const segment of ["free", "pro"] as const)
      for (const version of ["1.0.0", "1.1.0"] as const) {
        const [seed, probs] = draws[segment][version];
        const scores = seededLevels(seed, need[segment], probs);
        sent.set(`${segment}/${version}`, scores);
        scores.forEach((score, k) => jobs.push({ id: cell(segment, version)[k]!.id, score }));
      }
    await pool(jobs, (j) => sendFeedback(r.gw, j.id, { score: j.score }));

    const { view, text } = await statsCli(r, ["seg", "--env", "prod", "--by", "segment"]);
    // Overall, 1.1.0 is better.
    const overall = comparison(view, "quality");
    const all = (v: string): number[] => [...sent.get(`free/${v}`)!, ...sent.get(`pro/${v}`)!];
    expect(Math.abs(overall.control_mean! - meanOf(all("1.0.0")))).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(overall.treatment_mean! - meanOf(all("1.1.0")))).toBeLessThanOrEqual(1e-9);
    expect(overall.verdict).toBe("better");

    const segments = view.segments!;
    expect(segments.map((s) => s.segment).sort()).toEqual(["free", "pro"]);
    const quality = (segment: string) =>
      comparison(
        segments.find((s) => s.segment === segment)!,
        "quality",
      );
    for (const segment of ["free", "pro"]) {
      const seg = segments.find((s) => s.segment === segment)!;
      for (const version of ["1.0.0", "1.1.0"]) {
        const row = seg.versions.find((v) => v.version === version)!;
        expect(row.requests).toBe(cell(segment, version).length);
        expect(row.quality.n).toBe(need[segment as "free"]);
        expect(Math.abs(row.quality.mean! - meanOf(sent.get(`${segment}/${version}`)!))).toBeLessThanOrEqual(1e-9);
      }
    }
    // Holm across the two segments, for the fixed-horizon and the sequential p-values alike.
    const holm2 = (p: readonly number[]): number[] => {
      const [lo, hi] = p[0]! <= p[1]! ? [0, 1] : [1, 0];
      const out = [0, 0];
      out[lo] = Math.min(1, 2 * p[lo]!);
      out[hi] = Math.min(1, Math.max(out[lo], p[hi]!));
      return out;
    };
    const [free, pro] = [quality("free"), quality("pro")];
    const raw = [free.p_value!, pro.p_value!];
    const seqRaw = [free.seq_p_value!, pro.seq_p_value!];
    expect([free.p_value_holm, pro.p_value_holm]).toEqual(holm2(raw));
    expect([free.seq_p_value_holm, pro.seq_p_value_holm]).toEqual(holm2(seqRaw));
    // The correction did something: the smaller p-value of each pair was doubled.
    expect(Math.min(free.seq_p_value_holm!, pro.seq_p_value_holm!)).toBeGreaterThan(Math.min(...seqRaw));
    // The canary is worse for pro, significantly after the correction, and the readout says so.
    expect(pro).toMatchObject({ verdict: "worse", seq_significant: true });
    expect(pro.diff!).toBeLessThan(0);
    expect(pro.seq_p_value_holm!).toBeLessThan(0.05);
    expect(free.verdict).toBe("better");
    const warning = `1.1.0 is worse for segment pro on quality while better overall (Holm-corrected sequential p=${pro.seq_p_value_holm!.toPrecision(2)})`;
    expect(segments.find((s) => s.segment === "pro")!.warnings).toEqual([warning]);
    expect(segments.find((s) => s.segment === "free")!.warnings).toEqual([]);
    expect(text).toContain(`segment pro:\n  !!! ${warning}\n`);
    expect(text).toContain(
      `[Holm-corrected: p=${pro.p_value_holm!.toPrecision(2)}, sequential p=${pro.seq_p_value_holm!.toPrecision(2)}]`,
    );
    expect(withoutWindow(await statsAdmin(r, "seg", "env=prod&by=segment"))).toEqual(withoutWindow(view));
  }, 60_000);
});
