// Distinct users per version (exact on the embedded store, within HyperLogLog's error on Redis) and
// the weights in force (shares per minute, the steps of a ramp), written by the aggregate writer.
import { afterEach, describe, expect, it } from "vitest";
import { distinctUserKeys, readDistinctUsers } from "../../../gateway/stats/distinct-users.ts";
import {
  readWeightsInForce,
  requestWeightedShares,
  stepsOf,
  type ShareMinute,
} from "../../../gateway/stats/weight-shares.ts";
import { createRedisStore } from "../../../gateway/store/redis-store.ts";
import { createSqliteStore } from "../../../gateway/store/sqlite-store.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { createAggregateWriter, MINUTE_MS, type AggregateWriter } from "../../../gateway/telemetry/aggregates.ts";
import { newRecord, type RequestRecord } from "../../../gateway/telemetry/request-record.ts";
import { redisUrl, uniquePrefix } from "../../support/redis.ts";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0); // on an hour boundary
const M0 = T0 / MINUTE_MS;
const OPTIONS = { flush_interval_ms: 60_000, retention_days: 1, max_pending_keys: 100_000 };
const WINDOW = { env: "prod", name: "summarization" } as const;

const stores: Store[] = [];
const writers: AggregateWriter[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) await w.stop().catch(() => undefined);
  for (const s of stores.splice(0)) {
    for (const key of await s.keys("")) await s.del(key);
    await s.close();
  }
});

const STORES: Record<string, () => Promise<Store>> = {
  redis: () => createRedisStore({ url: redisUrl(), prefix: uniquePrefix("users"), logger: silentLogger }),
  embedded: async () => createSqliteStore({ path: ":memory:", prefix: uniquePrefix("users"), logger: silentLogger }),
};

async function open(kind: string): Promise<{ store: Store; w: AggregateWriter }> {
  const store = await STORES[kind]!();
  stores.push(store);
  const w = createAggregateWriter({ store, logger: silentLogger, options: OPTIONS });
  writers.push(w);
  return { store, w };
}

const hashOf = (user: number): string => user.toString(16).padStart(16, "0");

function served(version: string, user: number | null, shares: Record<string, number> | null): RequestRecord {
  return {
    ...newRecord(T0),
    prompt: "summarization",
    version,
    variant: version === "1.0.0" ? "stable" : "canary",
    environment: "prod",
    userHash: user === null ? null : hashOf(user),
    splitShares: shares === null ? null : new Map(Object.entries(shares)),
  };
}

describe("distinct-user keys", () => {
  it("cover a window exactly: whole hours as hour sets, the edges as minute sets", () => {
    const keys = distinctUserKeys("prod", "p", "1.0.0", 59, 181);
    expect(keys).toEqual([
      "users:prod:p:1.0.0:m59",
      "users:prod:p:1.0.0:h1",
      "users:prod:p:1.0.0:h2",
      "users:prod:p:1.0.0:m180",
    ]);
    expect(distinctUserKeys("prod", "p", "1.0.0", 120, 180)).toEqual(["users:prod:p:1.0.0:h2"]);
    expect(distinctUserKeys("prod", "p", "1.0.0", 121, 124)).toHaveLength(3);
    // 14 days from a minute that is not on the hour: a few hundred sets, not 20,160.
    expect(distinctUserKeys("prod", "p", "1.0.0", 7, 7 + 14 * 24 * 60).length).toBeLessThan(14 * 24 + 120);
  });
});

describe.each(["embedded", "redis"])("distinct users per version (%s store)", (kind) => {
  it("counts each user once per version over a window and a sub-window, across minutes, hours and flushes", async () => {
    const { store, w } = await open(kind);
    // 3,000 users: even ones on 1.0.0, odd ones on 1.1.0; each comes back in three minutes (two
    // hours apart at most), anonymous requests and pinned ones count no user.
    for (const at of [T0 + 5 * 1_000, T0 + 59 * MINUTE_MS, T0 + 125 * MINUTE_MS]) {
      for (let u = 0; u < 3_000; u++) w.record(served(u % 2 ? "1.1.0" : "1.0.0", u, null), 200, at);
      await w.flush();
    }
    w.record(served("1.0.0", null, null), 200, T0);
    w.record({ ...served("1.0.0", null, null), environment: null, variant: "pinned" }, 200, T0);
    await w.flush();
    const tolerance = (n: number): number => Math.ceil(4 * store.distinctError * n);
    const read = (from: number, to: number) =>
      readDistinctUsers(store, { ...WINDOW, from, to }, ["1.0.0", "1.1.0", "2.0.0"]);

    const all = await read(T0, T0 + 3 * 60 * MINUTE_MS);
    expect(all.map((u) => u.relativeError)).toEqual([store.distinctError, store.distinctError, store.distinctError]);
    expect(store.distinctError).toBe(kind === "redis" ? 0.0081 : 0);
    for (const [i, expected] of [1_500, 1_500, 0].entries())
      expect(Math.abs(all[i]!.users - expected)).toBeLessThanOrEqual(tolerance(expected));
    // A sub-window that starts mid-hour (the current step of a ramp): minutes 59..200.
    const late = await read(T0 + 59 * MINUTE_MS, T0 + 200 * MINUTE_MS);
    expect(Math.abs(late[0]!.users - 1_500)).toBeLessThanOrEqual(tolerance(1_500));
    // Only the last visit's minute: still every user once.
    const last = await read(T0 + 125 * MINUTE_MS, T0 + 126 * MINUTE_MS);
    expect(Math.abs(last[1]!.users - 1_500)).toBeLessThanOrEqual(tolerance(1_500));
    // A minute nobody came in.
    expect((await read(T0 + 60 * MINUTE_MS, T0 + 61 * MINUTE_MS)).map((u) => u.users)).toEqual([0, 0, 0]);
    if (kind === "embedded") expect(all.map((u) => u.users)).toEqual([1_500, 1_500, 0]);
  });
});

describe("distinct users through failed writes", () => {
  it("keeps the users of a refused batch for the next flush", async () => {
    const real = await STORES.embedded!();
    stores.push(real);
    let fail = true;
    const flaky: Store = {
      ...real,
      hincrbyBatch: (incs, opts) => (fail ? Promise.reject(new Error("down")) : real.hincrbyBatch(incs, opts)),
    };
    const w = createAggregateWriter({ store: flaky, logger: silentLogger, options: OPTIONS });
    writers.push(w);
    w.record(served("1.0.0", 1, null), 200, T0);
    await w.flush();
    w.record(served("1.0.0", 2, null), 200, T0);
    w.record(served("1.0.0", 1, null), 200, T0);
    fail = false;
    await w.flush();
    const [users] = await readDistinctUsers(real, { ...WINDOW, from: T0, to: T0 + MINUTE_MS }, ["1.0.0"]);
    expect(users?.users).toBe(2);
  });
});

describe("weights in force", () => {
  const minute = (m: number, requests: number, shares: Record<string, number>): ShareMinute => ({
    minute: M0 + m,
    requests,
    shares,
  });

  it("groups minutes of equal shares into steps; a minute that blends two steps is its own", () => {
    const steps = stepsOf([
      minute(0, 10, { "1.0.0": 0.95, "1.1.0": 0.05 }),
      minute(1, 20, { "1.0.0": 0.95, "1.1.0": 0.05 }),
      minute(3, 10, { "1.0.0": 0.85, "1.1.0": 0.15 }), // changed mid-minute: a blend
      minute(4, 30, { "1.0.0": 0.75, "1.1.0": 0.25 }),
      minute(6, 40, { "1.1.0": 0.25, "1.0.0": 0.75 }),
    ]);
    expect(steps.map((s) => [(s.from - T0) / MINUTE_MS, (s.to - T0) / MINUTE_MS, s.requests])).toEqual([
      [0, 2, 30],
      [3, 4, 10],
      [4, 7, 70],
    ]);
    expect(requestWeightedShares(steps)["1.1.0"]).toBeCloseTo((30 * 0.05 + 10 * 0.15 + 70 * 0.25) / 110, 12);
    expect(stepsOf([])).toEqual([]);
    expect(requestWeightedShares([])).toEqual({});
  });

  it.each(["embedded", "redis"])(
    "reads the shares each minute had and where the current step began (%s)",
    async (kind) => {
      const { store, w } = await open(kind);
      const ramp = [
        { from: 0, to: 10, canary: 500 },
        { from: 10, to: 20, canary: 2_500 },
        { from: 20, to: 30, canary: 5_000 },
      ];
      for (const step of ramp)
        for (let m = step.from; m < step.to; m++)
          for (let u = 0; u < 7; u++)
            w.record(
              served(u % 2 ? "1.1.0" : "1.0.0", u, { "1.0.0": 10_000 - step.canary, "1.1.0": step.canary }),
              200,
              T0 + m * MINUTE_MS + u,
            );
      // In minute 20 one replica still had the old weights for a moment: a blend.
      w.record(served("1.0.0", 99, { "1.0.0": 7_500, "1.1.0": 2_500 }), 200, T0 + 20 * MINUTE_MS + 500);
      // A label without weights (everything to 1.0.0) and an anonymous request add nothing here.
      w.record(served("1.0.0", null, null), 200, T0 + 25 * MINUTE_MS);
      await w.flush();

      const force = await readWeightsInForce(store, { ...WINDOW, from: T0 - 5 * MINUTE_MS, to: T0 + 40 * MINUTE_MS });
      expect(force.minutes).toHaveLength(30);
      expect(force.minutes[0]).toEqual({ minute: M0, requests: 7, shares: { "1.0.0": 0.95, "1.1.0": 0.05 } });
      expect(force.minutes[20]?.requests).toBe(8);
      expect(force.minutes[20]?.shares["1.1.0"]).toBeCloseTo((7 * 0.5 + 0.25) / 8, 12);
      expect(force.steps.map((s) => [(s.from - T0) / MINUTE_MS, (s.to - T0) / MINUTE_MS, s.shares["1.1.0"]])).toEqual([
        [0, 10, 0.05],
        [10, 20, 0.25],
        [20, 21, (7 * 0.5 + 0.25) / 8],
        [21, 30, 0.5],
      ]);
      expect(force.current).toEqual({
        from: T0 + 21 * MINUTE_MS,
        to: T0 + 30 * MINUTE_MS,
        requests: 63,
        shares: { "1.0.0": 0.5, "1.1.0": 0.5 },
      });
      // The current step's users are readable on their own.
      const users = await readDistinctUsers(store, { ...WINDOW, from: force.current!.from, to: force.current!.to }, [
        "1.0.0",
        "1.1.0",
      ]);
      expect(users.map((u) => u.users)).toEqual([4, 3]);
      const empty = await readWeightsInForce(store, { ...WINDOW, from: T0 + 40 * MINUTE_MS, to: T0 + 50 * MINUTE_MS });
      expect(empty).toEqual({ minutes: [], steps: [], current: null });
    },
  );
});
