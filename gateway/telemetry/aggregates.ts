// Per-version aggregates: every request served from a prompt version adds integer counts to that
// version's hash for the current minute. Counts gather in memory and reach the store in one atomic
// batch per flush, off the request path; increments from any number of replicas add up exactly.
import type { AggregatesOptions } from "../config/gateway-config.ts";
import { segmentIndexKey, segmentStatsKey, sharesKey, statsIndexKey, statsKey, usersKey } from "../store/keys.ts";
import type { DistinctAdd, HashIncrement, Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import type { RequestRecord } from "./request-record.ts";

export const MINUTE_MS = 60_000;

/** How long shutdown waits for the last write of the aggregates (the store answers in milliseconds). */
export const FINAL_FLUSH_TIMEOUT_MS = 2_000;

/**
 * Upper bounds (whole ms) of the latency and TTFT histogram buckets: every millisecond up to 10, then
 * each bound 10% above the last (rounded down), up to about ten minutes; a last bucket `inf` takes the
 * rest. So a bucket is never wider than 10% of its lower bound, and a 2 ms answer is counted as 2 ms.
 */
export const DURATION_BOUNDS_MS: readonly number[] = (() => {
  const bounds = Array.from({ length: 11 }, (_, ms) => ms);
  for (let b = 10; b < 600_000;) bounds.push((b = Math.floor((b * 11) / 10)));
  return bounds;
})();

/**
 * Bucket fields are named `{histogram}_v2_le_{bound}` (and `_v2_le_inf`). The `v2` names this bucket
 * layout: minutes written with the first one (`latency_le_50` ... `latency_le_inf`, coarse buckets
 * from 50 ms) keep their counts, sums and means, but their buckets are not read (they cannot be split
 * finer); they expire with the retention period. A new layout takes a new name.
 */
const bucketFields = (histogram: "latency" | "ttft"): readonly string[] => [
  ...DURATION_BOUNDS_MS.map((bound) => `${histogram}_v2_le_${bound}`),
  `${histogram}_v2_le_inf`,
];
export const LATENCY_BUCKET_FIELDS = bucketFields("latency");
export const TTFT_BUCKET_FIELDS = bucketFields("ttft");

/** The index of the bucket that counts `ms` (whole ms): the first bound at or above it. */
export function bucketIndex(ms: number): number {
  let lo = 0;
  let hi = DURATION_BOUNDS_MS.length; // the open top bucket
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= DURATION_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Requests that named their version (`name@1.2.0`) are counted under this environment. */
export const PINNED_ENV = "pinned";

/** Field names in a stats hash. Money is in pico-dollars so that every call's cost adds up exactly. */
export const FIELD = {
  requests: "requests",
  errors: "errors",
  clientErrors: "client_errors",
  aborted: "aborted",
  incomplete: "incomplete",
  inputTokens: "input_tokens",
  outputTokens: "output_tokens",
  cachedInputTokens: "cached_input_tokens",
  priced: "priced",
  costPico: "cost_pico",
  latencySumMs: "latency_ms_sum",
  /**
   * Sum of each request's latency squared, in centiseconds^2 (10 ms), each square rounded: with the sum, the
   * mean's interval. ms^2 would let a flush of many slow requests pass the store's safe-integer limit.
   */
  latencySumSqCs: "latency_cs_sumsq",
  /** Sum of each priced request's cost squared, in milli-cents^2 (each square rounded to a whole number). */
  costSumSqMillicent: "cost_millicent_sumsq",
  ttftCount: "ttft_count",
  ttftSumMs: "ttft_ms_sum",
} as const;

/**
 * Feedback fields in the same stats hash, per metric (metric names are `[a-z][a-z0-9_]*`, so the
 * colons keep every field unambiguous): `feedback:{metric}:n`, `:sum_micro` and `:sumsq_micro` (the
 * scores' sufficient statistics in integer millionths), `:up` and `:down` (thumbs). A thumbs value adds
 * to up or down only, never to the score's n.
 */
export const FEEDBACK_FIELD_PREFIX = "feedback:";
export { FEEDBACK_METRIC_PATTERN } from "../config/gateway-config.ts";
export const FEEDBACK_STATS = ["n", "sum_micro", "sumsq_micro", "up", "down"] as const;
export type FeedbackStat = (typeof FEEDBACK_STATS)[number];
export const feedbackField = (metric: string, stat: FeedbackStat): string =>
  `${FEEDBACK_FIELD_PREFIX}${metric}:${stat}`;

/** One feedback as the aggregates count it: a score in 0..1, or a thumb. */
export type FeedbackValue =
  { readonly metric: string; readonly score: number } | { readonly metric: string; readonly thumb: "up" | "down" };

/** The request a feedback is about: what its signed request id says. */
export interface FeedbackTarget {
  readonly env: string;
  readonly prompt: string;
  readonly version: string;
  readonly segment: string | null;
}

/** A score in integer millionths; its square in millionths too, from the rounded score (so n*sumsq >= sum^2). */
export const scoreMicro = (score: number): { micro: number; squareMicro: number } => {
  const micro = Math.round(score * 1e6);
  return { micro, squareMicro: Math.round((micro * micro) / 1e6) };
};

/**
 * The integer increments of one feedback. Every feedback increment goes through here, whichever hash
 * it is added to (the version's; a segment's hash takes the same fields).
 */
export function feedbackIncrements(value: FeedbackValue, into: Map<string, number>): void {
  if ("thumb" in value) {
    bump(into, feedbackField(value.metric, value.thumb), 1);
    return;
  }
  const { micro, squareMicro } = scoreMicro(value.score);
  bump(into, feedbackField(value.metric, "n"), 1);
  bump(into, feedbackField(value.metric, "sum_micro"), micro);
  bump(into, feedbackField(value.metric, "sumsq_micro"), squareMicro);
}

/** Adds `by` to `field` of one key's pending counts. */
function bump(fields: Map<string, number>, field: string, by: number): void {
  fields.set(field, (fields.get(field) ?? 0) + by);
}

/**
 * A cost's square in milli-cents^2 (1 milli-cent = 1e-5 $), rounded. The store takes each flush's sum as a safe
 * integer (< 2^53): pico-dollars squared would pass it at a cent, micro-dollars at about $95 per request; in
 * milli-cents a $100 request adds 1e14, and a 0.0005 $ one still adds 2,500 (rounding costs < 0.1%).
 */
export const costSquareMillicent = (costPico: number): number => Math.round((costPico / 1e7) ** 2);

/** A latency's square in centiseconds^2 (10 ms), rounded: a 10-minute request adds 3.6e9. */
export const latencySquareCs = (ms: number): number => Math.round((ms / 10) ** 2);

/** Adds the integer increments of one finished request to its version's counts for that minute. */
export function requestIncrements(
  rec: RequestRecord,
  status: number,
  endedAt: number,
  into: Map<string, number>,
): void {
  bump(into, FIELD.requests, 1);
  const aborted = status === 499;
  if (aborted) bump(into, FIELD.aborted, 1);
  // 5xx, or a stream the provider cut after its 200.
  else if (status >= 500 || (status < 400 && rec.errorType !== null)) bump(into, FIELD.errors, 1);
  else if (status >= 400) bump(into, FIELD.clientErrors, 1);
  // An answer that started (or was cut) without the provider's final usage: what is known still counts.
  if ((status < 400 || aborted) && (rec.usage === null || aborted)) bump(into, FIELD.incomplete, 1);
  if (rec.usage) {
    bump(into, FIELD.inputTokens, rec.usage.inputTokens);
    bump(into, FIELD.outputTokens, rec.usage.outputTokens);
    if (rec.usage.cachedInputTokens > 0) bump(into, FIELD.cachedInputTokens, rec.usage.cachedInputTokens);
  }
  if (rec.costPico !== null) {
    bump(into, FIELD.priced, 1);
    bump(into, FIELD.costPico, rec.costPico);
    bump(into, FIELD.costSumSqMillicent, costSquareMillicent(rec.costPico));
  }
  const latency = Math.max(0, Math.round(endedAt - rec.startedAt));
  bump(into, FIELD.latencySumMs, latency);
  bump(into, FIELD.latencySumSqCs, latencySquareCs(latency));
  bump(into, LATENCY_BUCKET_FIELDS[bucketIndex(latency)]!, 1);
  if (rec.ttftMs !== null) {
    const ttft = Math.max(0, Math.round(rec.ttftMs));
    bump(into, FIELD.ttftCount, 1);
    bump(into, FIELD.ttftSumMs, ttft);
    bump(into, TTFT_BUCKET_FIELDS[bucketIndex(ttft)]!, 1);
  }
}

/** Fields of a `shares:{env}:{name}:{minute}` hash (store/keys.ts): the weights in force. */
export const SHARES_REQUESTS_FIELD = "n";
export const shareField = (version: string): string => `v:${version}`;

/** A version's stats key for one minute, its index key, its distinct-user keys and the prompt's shares key. */
interface MinuteKeys {
  readonly minute: number;
  readonly stats: string;
  readonly index: string;
  readonly usersMinute: string;
  readonly usersHour: string;
  readonly shares: string;
}

/**
 * The keys of each version's current minute, by environment, prompt and version: counting a request
 * then builds no key strings (the names are the snapshot's own strings, whose hashes V8 keeps).
 */
class KeyCache {
  readonly #byEnv = new Map<string, Map<string, Map<string, MinuteKeys>>>();

  get(env: string, name: string, version: string, minute: number): MinuteKeys {
    let byName = this.#byEnv.get(env);
    if (!byName) this.#byEnv.set(env, (byName = new Map<string, Map<string, MinuteKeys>>()));
    let byVersion = byName.get(name);
    if (!byVersion) byName.set(name, (byVersion = new Map<string, MinuteKeys>()));
    let keys = byVersion.get(version);
    if (keys?.minute !== minute) {
      keys = {
        minute,
        stats: statsKey(env, name, version, minute),
        index: statsIndexKey(env, name),
        usersMinute: usersKey(env, name, version, "m", minute),
        usersHour: usersKey(env, name, version, "h", Math.floor(minute / 60)),
        shares: sharesKey(env, name, minute),
      };
      byVersion.set(version, keys);
    }
    return keys;
  }
}

export interface AggregateWriter {
  /** Counts a finished request in memory (no I/O). */
  record(rec: RequestRecord, status: number, endedAt: number): void;
  /**
   * Counts one feedback in memory (no I/O) under the version that served the request, in the minute
   * the feedback arrived (`at`, epoch ms), written with the next batch.
   */
  recordFeedback(target: FeedbackTarget, value: FeedbackValue, at: number): void;
  /** Writes what is pending in one atomic batch; on failure keeps it for the next flush. */
  flush(): Promise<void>;
  /** Distinct keys waiting to be written. */
  pendingKeys(): number;
  /** Counts dropped because the store stayed unreachable past `max_pending_keys`. */
  droppedRequests(): number;
  /** Feedback dropped for the same reason. */
  droppedFeedback(): number;
  /**
   * Stops the timer and makes a last flush, waiting at most `timeoutMs` for the store: there is no
   * next flush, so counts it did not take are logged as lost (an error naming how many).
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** Requests, keys and field increments held in batches the store never took. */
function lostCounts(batches: readonly Pending[], users: readonly PendingUsers[]): LostCounts {
  let requests = 0;
  let keys = 0;
  let increments = 0;
  for (const batch of users) keys += batch.size;
  for (const batch of batches) {
    keys += batch.size;
    for (const fields of batch.values()) {
      increments += fields.size;
      requests += fields.get(FIELD.requests) ?? 0;
    }
  }
  return { requests, keys, increments };
}

export interface AggregateWriterDeps {
  readonly store: Store;
  readonly logger: Logger;
  readonly options: AggregatesOptions;
}

type Pending = Map<string, Map<string, number>>;
/** Distinct-user keys -> the user hashes to add. */
type PendingUsers = Map<string, Set<string>>;
interface LostCounts {
  requests: number;
  keys: number;
  increments: number;
}

export function createAggregateWriter(deps: AggregateWriterDeps): AggregateWriter {
  const { store, logger, options } = deps;
  const expireMs = Math.round(options.retention_days * 24 * 60 * MINUTE_MS);
  let pending: Pending = new Map();
  let pendingUsers: PendingUsers = new Map();
  let dropped = 0;
  let droppedFeedback = 0;
  let inFlight: Promise<void> | null = null;
  /** The batch being written, until the store has taken or refused it. */
  let writing: Pending | null = null;
  let writingUsers: PendingUsers | null = null;
  let failing = false;
  let lastError = "";
  let stopping = false;

  const keys = new KeyCache();

  /** One key's pending counts; null when a new key would hold more than `max_pending_keys` keys. */
  const slot = (into: Pending, key: string): Map<string, number> | null => {
    let fields = into.get(key);
    if (!fields) {
      if (into.size >= options.max_pending_keys) return null;
      fields = new Map();
      into.set(key, fields);
    }
    return fields;
  };

  /** Adds one key's counts, or counts its requests as dropped when there is no room for the key. */
  const add = (into: Pending, key: string, counts: ReadonlyMap<string, number>): void => {
    const fields = slot(into, key);
    if (fields === null) dropped += counts.get(FIELD.requests) ?? 0;
    else for (const [field, by] of counts) bump(fields, field, by);
  };

  /** Adds a user hash to a distinct-user key; a new key past `max_pending_keys` is not counted. */
  const addUser = (into: PendingUsers, key: string, userHash: string): void => {
    let set = into.get(key);
    if (!set) {
      if (into.size >= options.max_pending_keys) return;
      into.set(key, (set = new Set()));
    }
    set.add(userHash);
  };

  const writeOnce = async (): Promise<void> => {
    if (pending.size === 0 && pendingUsers.size === 0) return;
    const batch = pending;
    const users = pendingUsers;
    pending = new Map();
    pendingUsers = new Map();
    writing = batch;
    writingUsers = users;
    const increments: HashIncrement[] = [];
    for (const [key, fields] of batch) for (const [field, by] of fields) increments.push({ key, field, by });
    const distinct: DistinctAdd[] = [];
    for (const [key, members] of users) distinct.push({ key, members: [...members] });
    try {
      await store.hincrbyBatch(increments, { expireMs, distinct });
      writing = null;
      writingUsers = null;
      if (failing) logger.info("aggregates written again", { keys: batch.size });
      failing = false;
    } catch (err) {
      writing = null;
      writingUsers = null;
      // A MULTI that failed applied nothing: put the batch back (newer counts merge into it). Only a
      // reply lost after Redis applied it (a command timeout) makes the retry count twice; that rare
      // over-count is preferred to losing counts.
      lastError = err instanceof Error ? err.message : String(err);
      const newer = pending;
      pending = batch;
      for (const [key, fields] of newer) add(pending, key, fields);
      const newerUsers = pendingUsers;
      pendingUsers = users;
      for (const [key, members] of newerUsers) for (const member of members) addUser(pendingUsers, key, member);
      // At shutdown there is no next flush: stop() reports what is lost.
      if (!failing && !stopping)
        logger.warn("aggregates not written; kept for the next flush", {
          error: lastError,
          pending_keys: pending.size,
        });
      failing = true;
    }
  };

  const flush = (): Promise<void> => {
    // One batch at a time: a flush asked for during a write runs right after it.
    const next: Promise<void> = (inFlight ?? Promise.resolve()).then(writeOnce).finally(() => {
      if (inFlight === next) inFlight = null;
    });
    inFlight = next;
    return next;
  };

  const timer = setInterval(() => void flush(), options.flush_interval_ms);
  timer.unref();

  return {
    record(rec, status, endedAt) {
      // Only requests served from a prompt version are counted; pinned ones under PINNED_ENV.
      if (rec.prompt === null || rec.version === null) return;
      const at = keys.get(rec.environment ?? PINNED_ENV, rec.prompt, rec.version, Math.floor(endedAt / MINUTE_MS));
      const fields = slot(pending, at.stats);
      if (fields === null) dropped += 1;
      else requestIncrements(rec, status, endedAt, fields);
      const versions = slot(pending, at.index);
      if (versions !== null) bump(versions, rec.version, 1);
      // The segment's own hash: the same fields, so every statistic reads per segment as per version.
      if (rec.segment !== null) {
        const env = rec.environment ?? PINNED_ENV;
        const minute = Math.floor(endedAt / MINUTE_MS);
        const segmentFields = slot(pending, segmentStatsKey(env, rec.prompt, rec.version, rec.segment, minute));
        if (segmentFields !== null) requestIncrements(rec, status, endedAt, segmentFields);
        const segments = slot(pending, segmentIndexKey(env, rec.prompt));
        if (segments !== null) bump(segments, rec.segment, 1);
      }
      // Distinct users by minute and by hour: a window is read as whole hours plus the minutes at its
      // edges, so a 14-day window unions a few hundred sets, not 20,160.
      if (rec.userHash !== null) {
        addUser(pendingUsers, at.usersMinute, rec.userHash);
        addUser(pendingUsers, at.usersHour, rec.userHash);
      }
      // The weights in force: each identified request adds the split's buckets per version.
      if (rec.splitShares !== null) {
        const shares = slot(pending, at.shares);
        if (shares !== null) {
          bump(shares, SHARES_REQUESTS_FIELD, 1);
          for (const [version, buckets] of rec.splitShares) if (buckets > 0) bump(shares, shareField(version), buckets);
        }
      }
    },
    recordFeedback(target, value, at) {
      const minute = Math.floor(at / MINUTE_MS);
      const { stats } = keys.get(target.env, target.prompt, target.version, minute);
      const fields = slot(pending, stats);
      if (fields === null) droppedFeedback += 1;
      else feedbackIncrements(value, fields);
      // The segment the request fell in (carried by its id) reads the same feedback fields.
      if (target.segment !== null) {
        const key = segmentStatsKey(target.env, target.prompt, target.version, target.segment, minute);
        const segmentFields = slot(pending, key);
        if (segmentFields !== null) feedbackIncrements(value, segmentFields);
      }
    },
    flush,
    pendingKeys: () => pending.size + pendingUsers.size,
    droppedRequests: () => dropped,
    droppedFeedback: () => droppedFeedback,
    async stop(timeoutMs = FINAL_FLUSH_TIMEOUT_MS) {
      clearInterval(timer);
      stopping = true;
      let timeout: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => (timeout = setTimeout(resolve, timeoutMs)));
      await Promise.race([flush(), gaveUp]);
      clearTimeout(timeout);
      // What the store has not taken: refused (back in `pending`) or still unanswered (`writing`).
      const lost = lostCounts(
        writing === null ? [pending] : [writing, pending],
        writingUsers === null ? [pendingUsers] : [writingUsers, pendingUsers],
      );
      if (lost.keys === 0) return;
      logger.error("aggregates lost at shutdown: the store did not take the last write", {
        ...lost,
        error: writing === null ? lastError : `no answer within ${timeoutMs} ms`,
      });
    },
  };
}
