// Reading per-version aggregates back: the minutes of a time window, summed per version. These feed
// `promptgate stats`, `/admin/prompts/:name/stats/:env`, A/B statistics and the rollout controller.
import { segmentIndexKey, segmentStatsKey, statsIndexKey, statsKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import {
  DURATION_BOUNDS_MS,
  FEEDBACK_FIELD_PREFIX,
  FEEDBACK_METRIC_PATTERN,
  FEEDBACK_STATS,
  type FeedbackStat,
  FIELD,
  LATENCY_BUCKET_FIELDS,
  MINUTE_MS,
  TTFT_BUCKET_FIELDS,
} from "../telemetry/aggregates.ts";

/** The longest window read at once (the default retention). */
export const MAX_WINDOW_MS = 14 * 24 * 60 * MINUTE_MS;

/**
 * The whole minutes of a window of `windowMs` ending now: up to the end of the minute `now` is in, from the first
 * minute that starts after `now - windowMs` (epoch ms).
 */
export function minuteWindow(now: number, windowMs: number): { from: number; to: number } {
  return {
    from: Math.floor((now - windowMs) / MINUTE_MS) * MINUTE_MS + MINUTE_MS,
    to: (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS,
  };
}

export interface Histogram {
  /** Upper bounds in whole ms; `counts` has one more entry, for everything above the last bound. */
  readonly bounds: readonly number[];
  readonly counts: number[];
  /** Observations in `counts`: minutes written before this bucket layout add none. */
  bucketed: number;
  /** Every observation in the window and their exact sum, whatever the bucket layout. */
  count: number;
  sumMs: number;
}

/**
 * One feedback metric's sufficient statistics over the window: scores as n, their sum and sum of
 * squares (both in integer millionths: mean = sumMicro / 1e6 / n), and the thumbs counted apart.
 */
export interface FeedbackStats {
  n: number;
  sumMicro: number;
  sumSqMicro: number;
  up: number;
  down: number;
}

export const emptyFeedback = (): FeedbackStats => ({ n: 0, sumMicro: 0, sumSqMicro: 0, up: 0, down: 0 });

const FEEDBACK_KEYS: Record<FeedbackStat, keyof FeedbackStats> = {
  n: "n",
  sum_micro: "sumMicro",
  sumsq_micro: "sumSqMicro",
  up: "up",
  down: "down",
};
/** `feedback:{metric}:{stat}`, with the metric names the feedback route accepts. */
const FEEDBACK_FIELD = new RegExp(
  `^${FEEDBACK_FIELD_PREFIX}(${FEEDBACK_METRIC_PATTERN}):(${FEEDBACK_STATS.join("|")})$`,
);

/** The mean and sample standard deviation of a metric's scores (null below 1 and 2 scores). */
export function feedbackMoments(f: FeedbackStats): { mean: number | null; std: number | null } {
  if (f.n === 0) return { mean: null, std: null };
  const sum = f.sumMicro / 1e6;
  const mean = sum / f.n;
  if (f.n < 2) return { mean, std: null };
  // Scores and squares are rounded to millionths apart: clamp the tiny negative that can leave.
  const variance = Math.max(0, (f.sumSqMicro / 1e6 - (sum * sum) / f.n) / (f.n - 1));
  return { mean, std: Math.sqrt(variance) };
}

/**
 * A mean's sufficient statistics over the minutes that stored squares (minutes written before the squares
 * existed are left out here, though they count in the plain sums): n observations, their sum and sum of squares.
 */
export interface SquaredSums {
  n: number;
  sum: number;
  sumSq: number;
}

const emptySquares = (): SquaredSums => ({ n: 0, sum: 0, sumSq: 0 });

export interface VersionStats {
  readonly version: string;
  requests: number;
  /** 5xx answers and streams the provider cut after its 200 (provider or gateway failures). */
  errors: number;
  /** 4xx answers other than 499. */
  clientErrors: number;
  /** Clients that went away before the answer ended (499). */
  aborted: number;
  /** Answers counted without the provider's final usage (aborted or cut streams). */
  incomplete: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** Requests with a known cost; `costPico` is their exact sum in pico-dollars. */
  priced: number;
  costPico: bigint;
  readonly latency: Histogram;
  readonly ttft: Histogram;
  /** Request latency in ms (sumSq in ms^2, from centiseconds^2), for the mean's interval. */
  readonly latencySquares: SquaredSums;
  /** Priced requests' cost in milli-cents (1e-5 $; sumSq in milli-cents^2), for the mean's interval. */
  readonly costSquares: SquaredSums;
  /** Per feedback metric (`quality`, ...), only the metrics that received feedback in the window. */
  readonly feedback: Record<string, FeedbackStats>;
}

export interface StatsWindow {
  readonly env: string;
  readonly name: string;
  /** Epoch ms, inclusive; the minute holding it is read whole. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
}

const emptyHistogram = (): Histogram => ({
  bounds: DURATION_BOUNDS_MS,
  counts: new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0),
  bucketed: 0,
  count: 0,
  sumMs: 0,
});

export const emptyStats = (version: string): VersionStats => ({
  version,
  requests: 0,
  errors: 0,
  clientErrors: 0,
  aborted: 0,
  incomplete: 0,
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  priced: 0,
  costPico: 0n,
  latency: emptyHistogram(),
  ttft: emptyHistogram(),
  latencySquares: emptySquares(),
  costSquares: emptySquares(),
  feedback: {},
});

/** Adds one stored minute (a stats hash) into `into`. */
export function addMinute(into: VersionStats, hash: Readonly<Record<string, string>>): void {
  const n = (field: string): number => {
    const v = hash[field];
    return v === undefined ? 0 : Number(v);
  };
  into.requests += n(FIELD.requests);
  into.errors += n(FIELD.errors);
  into.clientErrors += n(FIELD.clientErrors);
  into.aborted += n(FIELD.aborted);
  into.incomplete += n(FIELD.incomplete);
  into.inputTokens += n(FIELD.inputTokens);
  into.outputTokens += n(FIELD.outputTokens);
  into.cachedInputTokens += n(FIELD.cachedInputTokens);
  into.priced += n(FIELD.priced);
  into.costPico += BigInt(hash[FIELD.costPico] ?? "0");
  // Every request adds its latency to the sum; only streams add a time to first token.
  into.latency.count += n(FIELD.requests);
  into.latency.sumMs += n(FIELD.latencySumMs);
  into.ttft.count += n(FIELD.ttftCount);
  into.ttft.sumMs += n(FIELD.ttftSumMs);
  if (hash[FIELD.latencySumSqCs] !== undefined) {
    into.latencySquares.n += n(FIELD.requests);
    into.latencySquares.sum += n(FIELD.latencySumMs);
    into.latencySquares.sumSq += n(FIELD.latencySumSqCs) * 100;
  }
  if (hash[FIELD.costSumSqMillicent] !== undefined) {
    into.costSquares.n += n(FIELD.priced);
    into.costSquares.sum += Number(hash[FIELD.costPico]) / 1e7;
    into.costSquares.sumSq += n(FIELD.costSumSqMillicent);
  }
  addBuckets(into.latency, LATENCY_BUCKET_FIELDS, hash);
  addBuckets(into.ttft, TTFT_BUCKET_FIELDS, hash);
  addFeedback(into.feedback, hash);
}

/** Adds a minute's feedback fields into `into`, by metric (fields of another shape are ignored). */
export function addFeedback(into: Record<string, FeedbackStats>, hash: Readonly<Record<string, string>>): void {
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(FEEDBACK_FIELD_PREFIX)) continue;
    const m = FEEDBACK_FIELD.exec(field);
    if (!m) continue;
    const metric = m[1]!;
    const stats = Object.hasOwn(into, metric) ? into[metric]! : (into[metric] = emptyFeedback());
    stats[FEEDBACK_KEYS[m[2] as FeedbackStat]] += Number(value);
  }
}

function addBuckets(h: Histogram, fields: readonly string[], hash: Readonly<Record<string, string>>): void {
  fields.forEach((field, i) => {
    const v = hash[field];
    if (v === undefined) return;
    h.counts[i] = (h.counts[i] ?? 0) + Number(v);
    h.bucketed += Number(v);
  });
}

/**
 * The q-quantile (0..1) in ms, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does, with one difference: durations are whole ms, so the bucket up to N holds
 * the whole numbers above the previous bound P up to N and is read as the span (P + 0.5, N + 0.5],
 * which puts a bucket holding one value right on it. The open top bucket answers with the last
 * bound. Null when no observation is in the buckets.
 */
export function quantileMs(h: Histogram, q: number): number | null {
  if (h.bucketed === 0) return null;
  const rank = q * h.bucketed;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i] ?? 0;
    if (c > 0 && seen + c >= rank) {
      const bound = h.bounds[i];
      if (bound === undefined) return h.bounds[h.bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : (h.bounds[i - 1] ?? 0) + 0.5;
      return lower + ((bound + 0.5 - lower) * (rank - seen)) / c;
    }
    seen += c;
  }
  return h.bounds[h.bounds.length - 1] ?? null;
}

export const minutesOf = (from: number, to: number): number[] => {
  const out: number[] = [];
  for (let m = Math.floor(from / MINUTE_MS); m * MINUTE_MS < to; m++) out.push(m);
  return out;
};

/**
 * Every version of `name` with stats under `env`, summed over the window (newest semver first is the
 * caller's business; this returns them in the order the index lists them). Versions named in
 * `versions` are always present, with zeros when they served nothing; with `only`, they are the only
 * ones read (the rollout controller reads its two sides every few seconds over a whole step).
 */
export async function readVersionStats(
  store: Store,
  window: StatsWindow,
  versions: readonly string[] = [],
  options: { readonly only?: boolean } = {},
): Promise<VersionStats[]> {
  if (!(window.to > window.from)) throw new RangeError("the window must end after it starts");
  if (window.to - window.from > MAX_WINDOW_MS)
    throw new RangeError(`the window may span at most ${MAX_WINDOW_MS / (24 * 60 * MINUTE_MS)} days`);
  const indexed = options.only === true ? [] : Object.keys(await store.hgetall(statsIndexKey(window.env, window.name)));
  const all = [...new Set([...versions, ...indexed])];
  const minutes = minutesOf(window.from, window.to);
  const keys = all.flatMap((v) => minutes.map((m) => statsKey(window.env, window.name, v, m)));
  const hashes = await store.hgetallMany(keys);
  return all.map((version, vi) => {
    const stats = emptyStats(version);
    for (let mi = 0; mi < minutes.length; mi++) {
      const hash = hashes[vi * minutes.length + mi];
      if (hash) addMinute(stats, hash);
    }
    return stats;
  });
}

export interface SegmentStats {
  readonly segment: string;
  /** Every version with stats under `env` (and those asked for), summed over the window for this segment. */
  readonly versions: VersionStats[];
}

/**
 * The same sums per segment (prompts/segment.ts): one entry per segment that has stats under `env`
 * or is named in `segments`, each with every version of the index and of `versions`. Requests without
 * a segment are in readVersionStats only.
 */
export async function readSegmentStats(
  store: Store,
  window: StatsWindow,
  versions: readonly string[] = [],
  segments: readonly string[] = [],
): Promise<SegmentStats[]> {
  if (!(window.to > window.from)) throw new RangeError("the window must end after it starts");
  if (window.to - window.from > MAX_WINDOW_MS)
    throw new RangeError(`the window may span at most ${MAX_WINDOW_MS / (24 * 60 * MINUTE_MS)} days`);
  const [versionIndex, segmentIndex] = await store.hgetallMany([
    statsIndexKey(window.env, window.name),
    segmentIndexKey(window.env, window.name),
  ]);
  const allVersions = [...new Set([...versions, ...Object.keys(versionIndex ?? {})])];
  const allSegments = [...new Set([...segments, ...Object.keys(segmentIndex ?? {})])];
  const minutes = minutesOf(window.from, window.to);
  const keys = allSegments.flatMap((segment) =>
    allVersions.flatMap((v) => minutes.map((m) => segmentStatsKey(window.env, window.name, v, segment, m))),
  );
  const hashes = await store.hgetallMany(keys);
  let at = 0;
  return allSegments.map((segment) => ({
    segment,
    versions: allVersions.map((version) => {
      const stats = emptyStats(version);
      for (let mi = 0; mi < minutes.length; mi++) {
        const hash = hashes[at++];
        if (hash) addMinute(stats, hash);
      }
      return stats;
    }),
  }));
}
