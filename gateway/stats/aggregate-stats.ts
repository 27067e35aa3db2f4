// Reading per-version aggregates back: the minutes of a time window, summed per version. These feed
// `promptgate stats`, `/admin/prompts/:name/stats/:env`, A/B statistics and the rollout controller.
import { statsIndexKey, statsKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import { FIELD, LATENCY_BOUNDS_MS, MINUTE_MS, TTFT_BOUNDS_MS } from "../telemetry/aggregates.ts";

/** The longest window read at once (the default retention). */
export const MAX_WINDOW_MS = 14 * 24 * 60 * MINUTE_MS;

export interface Histogram {
  /** Upper bounds in ms; `counts` has one more entry, for everything above the last bound. */
  readonly bounds: readonly number[];
  readonly counts: number[];
  count: number;
  sumMs: number;
}

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
}

export interface StatsWindow {
  readonly env: string;
  readonly name: string;
  /** Epoch ms, inclusive; the minute holding it is read whole. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
}

const emptyHistogram = (bounds: readonly number[]): Histogram => ({
  bounds,
  counts: new Array<number>(bounds.length + 1).fill(0),
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
  latency: emptyHistogram(LATENCY_BOUNDS_MS),
  ttft: emptyHistogram(TTFT_BOUNDS_MS),
});

/** Adds one stored minute (a stats hash) into `into`. */
function addMinute(into: VersionStats, hash: Readonly<Record<string, string>>): void {
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
  into.latency.sumMs += n(FIELD.latencySumMs);
  into.ttft.sumMs += n(FIELD.ttftSumMs);
  addBuckets(into.latency, "latency", hash);
  addBuckets(into.ttft, "ttft", hash);
}

function addBuckets(h: Histogram, name: string, hash: Readonly<Record<string, string>>): void {
  h.bounds.forEach((bound, i) => {
    const v = Number(hash[`${name}_le_${bound}`] ?? 0);
    h.counts[i] = (h.counts[i] ?? 0) + v;
    h.count += v;
  });
  const inf = Number(hash[`${name}_le_inf`] ?? 0);
  h.counts[h.bounds.length] = (h.counts[h.bounds.length] ?? 0) + inf;
  h.count += inf;
}

/**
 * The q-quantile (0..1) in ms, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; the open top bucket answers with the last bound. Null when empty.
 */
export function quantileMs(h: Histogram, q: number): number | null {
  if (h.count === 0) return null;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i] ?? 0;
    if (c > 0 && seen + c >= rank) {
      const upper = h.bounds[i];
      if (upper === undefined) return h.bounds[h.bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : (h.bounds[i - 1] ?? 0);
      return lower + ((upper - lower) * (rank - seen)) / c;
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
 * `versions` are always present, with zeros when they served nothing.
 */
export async function readVersionStats(
  store: Store,
  window: StatsWindow,
  versions: readonly string[] = [],
): Promise<VersionStats[]> {
  if (!(window.to > window.from)) throw new RangeError("the window must end after it starts");
  if (window.to - window.from > MAX_WINDOW_MS)
    throw new RangeError(`the window may span at most ${MAX_WINDOW_MS / (24 * 60 * MINUTE_MS)} days`);
  const indexed = Object.keys(await store.hgetall(statsIndexKey(window.env, window.name)));
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
