import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { redisUrl, uniquePrefix } from "../../support/redis.ts";
import { statsKey } from "../../../gateway/store/keys.ts";
import { createMetrics } from "../../../gateway/telemetry/metrics.ts";
import { createRedisStore } from "../../../gateway/store/redis-store.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { silentLogger, type LogFields, type Logger } from "../../../gateway/support/logger.ts";
import fc from "fast-check";
import {
  emptyStats,
  feedbackMoments,
  minutesOf,
  quantileMs,
  readVersionStats,
  MAX_WINDOW_MS,
  type Histogram,
  type VersionStats,
} from "../../../gateway/stats/aggregate-stats.ts";
import {
  DURATION_BOUNDS_MS,
  LATENCY_BUCKET_FIELDS,
  MINUTE_MS,
  bucketIndex,
  createAggregateWriter,
  feedbackIncrements,
  requestIncrements,
  costSquareMillicent,
  latencySquareCs,
  type AggregateWriter,
} from "../../../gateway/telemetry/aggregates.ts";
import { newRecord, type RequestRecord } from "../../../gateway/telemetry/request-record.ts";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const OPTIONS = { flush_interval_ms: 60_000, retention_days: 1, max_pending_keys: 100 };

function served(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    ...newRecord(T0),
    operation: "chat",
    model: "gpt-4o-mini",
    prompt: "summarization",
    version: "1.1.0",
    variant: "canary",
    environment: "prod",
    usage: { inputTokens: 100, outputTokens: 20, cachedInputTokens: 0 },
    costPico: 27_000_000,
    ...over,
  };
}

const stores: Store[] = [];
const writers: AggregateWriter[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) await w.stop().catch(() => undefined);
  for (const s of stores.splice(0)) {
    for (const key of await s.keys("")) await s.del(key);
    await s.close();
  }
});

async function redis(prefix = uniquePrefix("agg")): Promise<Store> {
  const s = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
  stores.push(s);
  return s;
}

function writer(store: Store, options = OPTIONS): AggregateWriter {
  const w = createAggregateWriter({ store, logger: silentLogger, options });
  writers.push(w);
  return w;
}

function fields(rec: RequestRecord, status: number, endedAt: number): Record<string, number> {
  const into = new Map<string, number>();
  requestIncrements(rec, status, endedAt, into);
  return Object.fromEntries(into);
}

describe("per-version aggregate increments", () => {
  it("counts a served request: tokens, exact cost, latency and TTFT buckets", () => {
    expect(fields(served({ ttftMs: 40 }), 200, T0 + 180)).toEqual({
      requests: 1,
      input_tokens: 100,
      output_tokens: 20,
      priced: 1,
      cost_pico: 27_000_000,
      cost_millicent_sumsq: 7,
      latency_ms_sum: 180,
      latency_cs_sumsq: 324,
      latency_v2_le_196: 1,
      ttft_count: 1,
      ttft_ms_sum: 40,
      ttft_v2_le_42: 1,
    });
  });

  it("tells errors, client errors, aborts and incomplete usage apart", () => {
    expect(fields(served({ usage: null, costPico: null }), 502, T0 + 10)).toMatchObject({ requests: 1, errors: 1 });
    expect(fields(served({ usage: null, costPico: null }), 502, T0 + 10)).not.toHaveProperty("incomplete");
    expect(fields(served({ usage: null, costPico: null }), 400, T0 + 10)).toMatchObject({ client_errors: 1 });
    // A stream the client left: counted once, as aborted and incomplete, with no cost it cannot know.
    expect(fields(served({ usage: null, costPico: null, ttftMs: 5 }), 499, T0 + 70_000)).toEqual({
      requests: 1,
      aborted: 1,
      incomplete: 1,
      latency_ms_sum: 70_000,
      latency_cs_sumsq: 49_000_000,
      latency_v2_le_70528: 1,
      ttft_count: 1,
      ttft_ms_sum: 5,
      ttft_v2_le_5: 1,
    });
    expect(fields(served(), 200, T0 + 700_000)).toMatchObject({ latency_v2_le_inf: 1 });
    // A stream the provider cut after its 200: an error, and incomplete.
    expect(fields(served({ usage: null, costPico: null, errorType: "upstream_error" }), 200, T0 + 10)).toMatchObject({
      errors: 1,
      incomplete: 1,
    });
  });
});

describe("squares for the intervals of mean latency and cost", () => {
  it("adds each latency's square in centiseconds^2 and each cost's square in milli-cents^2", () => {
    const into = new Map<string, number>();
    requestIncrements(served({ costPico: 15_000_000 }), 200, T0 + 30, into);
    requestIncrements(served({ costPico: 2_500_000_000_000 }), 200, T0 + 250, into);
    requestIncrements(served({ costPico: null }), 200, T0 + 7, into);
    expect(Object.fromEntries(into)).toMatchObject({
      latency_ms_sum: 287,
      // 3 cs, 25 cs and 0.7 cs squared: 9 + 625 + 0.49, rounded.
      latency_cs_sumsq: 9 + 625 + 0,
      priced: 2,
      // 15 micro-dollars are 1.5 milli-cents, squared 2.25, rounded; $2.50 is 250,000 milli-cents.
      cost_millicent_sumsq: 2 + 62_500_000_000,
    });
    // The store takes a flush's sums as safe integers: 80 requests of $100 each in one flush still are, and so
    // are a million requests of ten minutes each.
    expect(Number.isSafeInteger(80 * costSquareMillicent(100e12))).toBe(true);
    expect(Number.isSafeInteger(1e6 * latencySquareCs(600_000))).toBe(true);
  });
});

describe("reading the squares back", () => {
  it("sums them only over the minutes that stored them, beside the plain sums of every minute", async () => {
    const older = { requests: "2", latency_ms_sum: "300", priced: "2", cost_pico: "40000000" };
    const newer = {
      requests: "3",
      latency_ms_sum: "60",
      latency_cs_sumsq: "14",
      priced: "1",
      cost_pico: "20000000",
      cost_millicent_sumsq: "4",
    };
    const store = {
      hgetall: () => Promise.resolve({}),
      hgetallMany: () => Promise.resolve([older, newer]),
    } as unknown as Store;
    const [stats] = await readVersionStats(store, { env: "prod", name: "x", from: T0, to: T0 + 2 * MINUTE_MS }, [
      "1.0.0",
    ]);
    expect(stats!.latency).toMatchObject({ count: 5, sumMs: 360 });
    expect(stats!.latencySquares).toEqual({ n: 3, sum: 60, sumSq: 1400 });
    expect(stats!.costSquares).toEqual({ n: 1, sum: 2, sumSq: 4 });
  });
});

describe("latency buckets", () => {
  it("are every millisecond up to 10, then at most 10% wide, up to ten minutes", () => {
    expect(DURATION_BOUNDS_MS.slice(0, 12)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (let i = 11; i < DURATION_BOUNDS_MS.length; i++) {
      const [lower, upper] = [DURATION_BOUNDS_MS[i - 1]!, DURATION_BOUNDS_MS[i]!];
      expect(Number.isInteger(upper) && upper > lower && upper - lower <= lower / 10).toBe(true);
    }
    expect(DURATION_BOUNDS_MS.at(-1)).toBeGreaterThanOrEqual(600_000);
    // The stored layout: changing a bound changes what old minutes mean, so it takes a new field name.
    expect(DURATION_BOUNDS_MS).toHaveLength(132);
    expect(LATENCY_BUCKET_FIELDS.slice(30, 33)).toEqual(["latency_v2_le_46", "latency_v2_le_50", "latency_v2_le_55"]);
    expect(LATENCY_BUCKET_FIELDS.at(-1)).toBe("latency_v2_le_inf");
  });

  it("count each whole millisecond in the first bucket whose bound holds it", () => {
    for (let ms = 0; ms <= 700_000; ms++) {
      const i = bucketIndex(ms);
      const above = i === 0 || ms > DURATION_BOUNDS_MS[i - 1]!;
      const within = i === DURATION_BOUNDS_MS.length || ms <= DURATION_BOUNDS_MS[i]!;
      if (!above || !within) expect({ ms, i }).toBe("in its bucket");
    }
  });
});

/** A histogram of whole-ms samples, as the aggregates count them. */
function histogramOf(samples: readonly number[]): Histogram {
  const h = emptyStats("x").latency;
  for (const ms of samples) {
    h.counts[bucketIndex(ms)]! += 1;
    h.bucketed += 1;
    h.count += 1;
    h.sumMs += ms;
  }
  return h;
}

/** The sample at rank ceil(q * n), as a nearest-rank percentile. */
const exactQuantile = (samples: readonly number[], q: number): number =>
  [...samples].sort((a, b) => a - b)[Math.max(0, Math.ceil(q * samples.length) - 1)]!;

describe("reading aggregates", () => {
  it("reads a bucket holding one value right on it: 2 ms answers are p50 2 ms", () => {
    expect(quantileMs(histogramOf(Array<number>(100).fill(2)), 0.5)).toBe(2);
    expect(quantileMs(histogramOf(Array<number>(100).fill(2)), 0.95)).toBeCloseTo(2.45);
    // A clock that ticks each millisecond reads a 2 ms answer as 1, 2 or 3 ms.
    const jittered = Array.from({ length: 300 }, (_, i) => 1 + (i % 3));
    expect(quantileMs(histogramOf(jittered), 0.5)).toBeCloseTo(2);
    expect(quantileMs(histogramOf([0, 0]), 0.5)).toBe(0.25);
    expect(quantileMs(emptyStats("x").ttft, 0.5)).toBeNull();
  });

  it("interpolates inside a bucket like histogram_quantile, across its whole-ms span", () => {
    // 10 answers from 185 to 215 ms: 4 in (179, 196], 6 in (196, 215].
    const h = histogramOf([185, 190, 195, 196, 200, 205, 210, 212, 214, 215]);
    expect(quantileMs(h, 0.2)).toBeCloseTo(179.5 + (17 * 2) / 4);
    expect(quantileMs(h, 0.7)).toBeCloseTo(196.5 + (19 * 3) / 6);
    expect(quantileMs(h, 1)).toBe(215.5);
    // Past the last bound, the last bound is all that is known.
    expect(quantileMs(histogramOf([700_000]), 0.5)).toBe(DURATION_BOUNDS_MS.at(-1));
  });

  it("puts every percentile within one bucket of the exact one: 1 ms, or 10% above 10 ms", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 600_000 })), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.constantFrom(0.5, 0.9, 0.95, 0.99),
        (samples, q) => {
          const exact = exactQuantile(samples, q);
          const estimate = quantileMs(histogramOf(samples), q)!;
          expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(Math.max(1, exact / 10));
        },
      ),
    );
  });

  it("covers every minute a window touches, and refuses windows it cannot read", () => {
    expect(minutesOf(T0 + 30_000, T0 + 2 * MINUTE_MS)).toEqual([T0 / MINUTE_MS, T0 / MINUTE_MS + 1]);
    expect(minutesOf(T0, T0 + 1)).toEqual([T0 / MINUTE_MS]);
    return Promise.all([
      expect(readVersionStats({} as Store, { env: "prod", name: "x", from: T0, to: T0 })).rejects.toThrow(/end after/),
      expect(
        readVersionStats({} as Store, { env: "prod", name: "x", from: T0, to: T0 + MAX_WINDOW_MS + 1 }),
      ).rejects.toThrow(/at most 14 days/),
    ]);
  });
});

describe("aggregate writer", () => {
  it("batches counts per version and minute; a window reads back exact sums", async () => {
    const store = await redis();
    const w = writer(store);
    w.record(served({ version: "1.0.0", variant: "stable" }), 200, T0 + 100);
    w.record(served({ version: "1.0.0", variant: "stable" }), 200, T0 + MINUTE_MS + 100);
    w.record(served(), 200, T0 + 150);
    w.record(served({ usage: null, costPico: null }), 502, T0 + 50);
    w.record(served({ prompt: null, version: null }), 200, T0 + 50); // no prompt: not a version's
    w.record(served({ environment: null, variant: "pinned" }), 200, T0 + 50);
    expect(w.pendingKeys()).toBe(6); // 4 minute hashes + 2 indexes
    await w.flush();
    expect(w.pendingKeys()).toBe(0);

    const prod = await readVersionStats(store, {
      env: "prod",
      name: "summarization",
      from: T0,
      to: T0 + 2 * MINUTE_MS,
    });
    const byVersion = Object.fromEntries(prod.map((s) => [s.version, s]));
    expect(Object.keys(byVersion).sort()).toEqual(["1.0.0", "1.1.0"]);
    expect(byVersion["1.0.0"]).toMatchObject({ requests: 2, inputTokens: 200, costPico: 54_000_000n });
    expect(byVersion["1.1.0"]).toMatchObject({
      requests: 2,
      errors: 1,
      inputTokens: 100,
      priced: 1,
      costPico: 27_000_000n,
    });
    expect(byVersion["1.1.0"]?.latency.count).toBe(2);
    expect(byVersion["1.1.0"]?.latency.sumMs).toBe(200);

    // The window is what it says: only the first minute.
    const first = await readVersionStats(store, { env: "prod", name: "summarization", from: T0, to: T0 + MINUTE_MS });
    expect(first.find((s) => s.version === "1.0.0")?.requests).toBe(1);
    const pinned = await readVersionStats(
      store,
      { env: "pinned", name: "summarization", from: T0, to: T0 + MINUTE_MS },
      ["9.9.9"],
    );
    expect(pinned.map((s) => [s.version, s.requests])).toEqual([
      ["9.9.9", 0],
      ["1.1.0", 1],
    ]);
    // Keys expire after the retention period.
    const raw = new Redis(redisUrl());
    const ttl = await raw.pttl(`${store.prefix}${statsKey("prod", "summarization", "1.1.0", T0 / MINUTE_MS)}`);
    await raw.quit();
    expect(ttl).toBeGreaterThan(MINUTE_MS * 60 * 23);
  });

  it("reads back the exact mean and fine percentiles; minutes of the old bucket layout add counts and sums", async () => {
    const store = await redis();
    const w = writer(store);
    // 300 streams of 2 ms, read by a millisecond clock as 1, 2 or 3 ms.
    for (let i = 0; i < 300; i++) w.record(served({ ttftMs: 1 + (i % 3) }), 200, T0 + 1 + (i % 3));
    await w.flush();
    // The minute before, written with the first layout: 10 requests of 50 ms, counted in `latency_le_50`.
    const old = {
      requests: 10,
      latency_ms_sum: 500,
      latency_le_50: 10,
      ttft_count: 10,
      ttft_ms_sum: 200,
      ttft_le_25: 10,
    };
    const key = statsKey("prod", "summarization", "1.1.0", T0 / MINUTE_MS - 1);
    await store.hincrbyBatch(Object.entries(old).map(([field, by]) => ({ key, field, by })));

    const read = async (from: number, to: number): Promise<VersionStats> =>
      (await readVersionStats(store, { env: "prod", name: "summarization", from, to }))[0]!;
    const both = await read(T0 - MINUTE_MS, T0 + MINUTE_MS);
    expect(both.latency).toMatchObject({ count: 310, bucketed: 300, sumMs: 600 + 500 });
    expect(both.ttft).toMatchObject({ count: 310, bucketed: 300, sumMs: 600 + 200 });
    expect(quantileMs(both.latency, 0.5)).toBeCloseTo(2);
    expect(quantileMs(both.ttft, 0.5)).toBeCloseTo(2);
    const now = await read(T0, T0 + MINUTE_MS);
    expect(now.latency.sumMs / now.latency.count).toBe(2);
    expect(quantileMs(now.latency, 0.95)).toBeLessThan(3.5);
    // The old minute alone: its counts and mean, but no percentile from buckets that cannot be split.
    const before = await read(T0 - MINUTE_MS, T0);
    expect(before.latency).toMatchObject({ count: 10, bucketed: 0, sumMs: 500 });
    expect(quantileMs(before.latency, 0.5)).toBeNull();
  });

  it("keeps what a failed write held and writes it with the next flush, nothing twice", async () => {
    const real = await redis();
    let fail = true;
    const flaky: Store = {
      ...real,
      hincrbyBatch: (incs, opts) => (fail ? Promise.reject(new Error("redis down")) : real.hincrbyBatch(incs, opts)),
    };
    const w = writer(flaky);
    w.record(served(), 200, T0);
    await w.flush();
    w.record(served(), 200, T0);
    await w.flush();
    expect(w.pendingKeys()).toBe(2);
    fail = false;
    w.record(served(), 200, T0);
    await w.flush();
    await w.flush();
    const [s] = await readVersionStats(real, { env: "prod", name: "summarization", from: T0, to: T0 + 1 });
    expect(s).toMatchObject({ requests: 3, inputTokens: 300, costPico: 81_000_000n });
    expect(w.droppedRequests()).toBe(0);
  });

  it("bounds what it holds while the store is away, and counts what it had to drop", async () => {
    const real = await redis();
    const down: Store = { ...real, hincrbyBatch: () => Promise.reject(new Error("redis down")) };
    const w = writer(down, { ...OPTIONS, max_pending_keys: 3 });
    for (let i = 0; i < 5; i++) w.record(served(), 200, T0 + i * MINUTE_MS);
    await w.flush();
    expect(w.pendingKeys()).toBe(3);
    expect(w.droppedRequests()).toBe(3);
    // Feedback for a minute with no room left is dropped and counted apart, and /metrics shows it.
    const target = { env: "prod", prompt: "summarization", version: "1.1.0", segment: null };
    w.recordFeedback(target, { metric: "quality", score: 0.5 }, T0 + 9 * MINUTE_MS);
    expect(w.droppedFeedback()).toBe(1);
    const text = await createMetrics({ aggregates: w }).registry.metrics();
    expect(text).toContain("promptgate_feedback_dropped_total 1");
    expect(text).toContain("promptgate_aggregates_dropped_total 3");
  });

  describe("at shutdown", () => {
    /** A logger that keeps warnings and errors. */
    const recording = (): { logger: Logger; lines: { level: string; msg: string; fields?: LogFields }[] } => {
      const lines: { level: string; msg: string; fields?: LogFields }[] = [];
      const keep =
        (level: string) =>
        (msg: string, fields?: LogFields): void =>
          void lines.push(fields === undefined ? { level, msg } : { level, msg, fields });
      return { logger: { ...silentLogger, warn: keep("warn"), error: keep("error") }, lines };
    };

    it("writes what is pending in a last flush", async () => {
      const real = await redis();
      const { logger, lines } = recording();
      const w = createAggregateWriter({ store: real, logger, options: OPTIONS });
      w.record(served(), 200, T0);
      w.record(served(), 499, T0);
      await w.stop();
      const [s] = await readVersionStats(real, { env: "prod", name: "summarization", from: T0, to: T0 + 1 });
      expect(s).toMatchObject({ requests: 2, aborted: 1 });
      expect(lines).toEqual([]);
    });

    it("logs as lost, with their count, the counts a store that is down refuses: no next flush is promised", async () => {
      const real = await redis();
      const down: Store = { ...real, hincrbyBatch: () => Promise.reject(new Error("redis down")) };
      const { logger, lines } = recording();
      const w = createAggregateWriter({ store: down, logger, options: OPTIONS });
      for (let i = 0; i < 3; i++) w.record(served(), 200, T0);
      w.record(served(), 200, T0 + MINUTE_MS);
      await w.stop();
      // Two minutes of one version: two stats keys and the version index.
      expect(lines).toEqual([
        {
          level: "error",
          msg: "aggregates lost at shutdown: the store did not take the last write",
          fields: { requests: 4, keys: 3, increments: expect.any(Number) as number, error: "redis down" },
        },
      ]);
    });

    it("waits a bounded time for a store that never answers, then logs what is lost", async () => {
      const real = await redis();
      const frozen: Store = { ...real, hincrbyBatch: () => new Promise<void>(() => undefined) };
      const { logger, lines } = recording();
      const w = createAggregateWriter({ store: frozen, logger, options: OPTIONS });
      w.record(served(), 200, T0);
      await w.stop(50);
      expect(lines).toMatchObject([
        { level: "error", fields: { requests: 1, keys: 2, error: "no answer within 50 ms" } },
      ]);
    });
  });

  it("sums exactly when several writers flush concurrently into one store", async () => {
    const prefix = uniquePrefix("agg-many");
    const ws = await Promise.all([1, 2, 3].map(async () => writer(await redis(prefix))));
    for (let round = 0; round < 20; round++) {
      ws.forEach((w, i) =>
        w.record(
          served({ usage: { inputTokens: i + 1, outputTokens: round, cachedInputTokens: 0 }, costPico: 1 }),
          200,
          T0,
        ),
      );
      await Promise.all(ws.map((w) => w.flush()));
    }
    const [s] = await readVersionStats(await redis(prefix), {
      env: "prod",
      name: "summarization",
      from: T0,
      to: T0 + 1,
    });
    expect(s).toMatchObject({ requests: 60, inputTokens: 20 * (1 + 2 + 3), outputTokens: 3 * 190, costPico: 60n });
  });
});

describe("feedback aggregates", () => {
  const target = { env: "prod", prompt: "summarization", version: "1.1.0", segment: null };

  it("counts a score as n, sum and sum of squares in integer millionths, and thumbs apart", () => {
    const into = new Map<string, number>();
    feedbackIncrements({ metric: "quality", score: 0.333333 }, into);
    feedbackIncrements({ metric: "quality", score: 1 }, into);
    feedbackIncrements({ metric: "quality", thumb: "down" }, into);
    feedbackIncrements({ metric: "tone", thumb: "up" }, into);
    expect(Object.fromEntries(into)).toEqual({
      "feedback:quality:n": 2,
      "feedback:quality:sum_micro": 1_333_333,
      "feedback:quality:sumsq_micro": 111_111 + 1_000_000, // round(333333^2 / 1e6) = 111111
      "feedback:quality:down": 1,
      "feedback:tone:up": 1,
    });
  });

  it("writes feedback with the batch, under the version and minute, and reads back mean and std", async () => {
    const store = await redis();
    const w = writer(store);
    // test/reference/feedback_moments.py: scipy.stats.describe of these scores.
    const scores = [0.9, 0.75, 1.0, 0.333333, 0.0, 0.5, 0.125];
    scores.forEach((score, i) => w.recordFeedback(target, { metric: "quality", score }, T0 + i * 20_000));
    w.recordFeedback(target, { metric: "quality", thumb: "up" }, T0);
    w.recordFeedback(target, { metric: "quality", thumb: "down" }, T0 + 1);
    w.recordFeedback(target, { metric: "quality", thumb: "down" }, T0 + 2);
    w.recordFeedback({ ...target, version: "1.0.0" }, { metric: "helpful", thumb: "up" }, T0);
    w.record(served(), 200, T0 + 10);
    await w.flush();
    // Junk in a hash (another writer, an older layout) is ignored, not misread.
    await store.hset(statsKey("prod", "summarization", "1.1.0", Math.floor(T0 / MINUTE_MS)), {
      "feedback:Bad:n": "5",
      "feedback:quality:mean": "3",
    });
    const stats = await readVersionStats(store, {
      env: "prod",
      name: "summarization",
      from: T0,
      to: T0 + 3 * MINUTE_MS,
    });
    const byVersion = Object.fromEntries(stats.map((s) => [s.version, s]));
    const quality = byVersion["1.1.0"]!.feedback["quality"]!;
    expect(quality).toEqual({ n: 7, sumMicro: 3_608_333, sumSqMicro: expect.any(Number) as number, up: 1, down: 2 });
    expect(byVersion["1.1.0"]!.requests).toBe(1);
    expect(Object.keys(byVersion["1.1.0"]!.feedback)).toEqual(["quality"]);
    const { mean, std } = feedbackMoments(quality);
    expect(mean).toBeCloseTo(0.5154761428571428, 6);
    expect(std).toBeCloseTo(0.3849732267541162, 6);
    // Feedback alone does not list a version: 1.0.0 served nothing in this window's index.
    expect(byVersion["1.0.0"]).toBeUndefined();
    const withOld = await readVersionStats(
      store,
      { env: "prod", name: "summarization", from: T0, to: T0 + MINUTE_MS },
      ["1.0.0"],
    );
    expect(withOld.find((s) => s.version === "1.0.0")!.feedback).toEqual({ helpful: { ...emptyFeedbackOf(), up: 1 } });
  });

  it("has no mean without scores and no std below two", () => {
    expect(feedbackMoments({ n: 0, sumMicro: 0, sumSqMicro: 0, up: 3, down: 1 })).toEqual({ mean: null, std: null });
    expect(feedbackMoments({ n: 1, sumMicro: 250_000, sumSqMicro: 62_500, up: 0, down: 0 })).toEqual({
      mean: 0.25,
      std: null,
    });
    // Rounding can leave n*sumsq a hair below sum^2: never a NaN.
    expect(feedbackMoments({ n: 2, sumMicro: 2, sumSqMicro: 0, up: 0, down: 0 }).std).toBe(0);
  });
});

const emptyFeedbackOf = () => ({ n: 0, sumMicro: 0, sumSqMicro: 0, up: 0, down: 0 });
