// The store seam: the small set of operations promptgate needs from shared state, with two
// implementations (Redis for replicas, embedded SQLite for one machine) held to one contract suite.

/** One field increment inside an atomic batch (aggregates are written this way). */
export interface HashIncrement {
  readonly key: string;
  readonly field: string;
  readonly by: number;
}

/**
 * One key of a bounded read: its value, or why it was not read. `wrong_type`: the key holds another
 * type (a hash where a string was asked, ...); `too_large`: more fields or longer values than allowed.
 * `detail` says what was found, in a few words, for a log line.
 */
export type Bounded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: "wrong_type" | "too_large"; readonly detail: string };

export interface HashLimits {
  /** More fields than this and the hash is not read. */
  readonly maxFields: number;
  /** A field name or value longer than this (in UTF-8 bytes) and the hash is not read. */
  readonly maxBytes: number;
}

/** Members added to a distinct-count set (a HyperLogLog on Redis, an exact set on the embedded store). */
export interface DistinctAdd {
  readonly key: string;
  readonly members: readonly string[];
}

export interface BatchOptions {
  /**
   * Every key the batch touches expires this long after the batch (the expiry is renewed by each
   * batch, as Redis PEXPIRE does); an expired key reads as absent and counts from zero again.
   */
  readonly expireMs?: number;
  /**
   * Members added to distinct-count sets in the same atomic batch as the increments (their keys expire
   * with `expireMs` too). Counted back with `countDistinct`.
   */
  readonly distinct?: readonly DistinctAdd[];
}

/** A work queue's bounds: its longest length and how long an item may wait in it. */
export interface QueueLimits {
  /** More items than this and the oldest are dropped (Redis RPUSH + LTRIM). */
  readonly maxLength: number;
  /** An item is dropped this long (ms, a positive integer) after it was pushed, judged or not. */
  readonly retentionMs: number;
}

export interface QueuePushResult {
  /** The queue's length after the push. */
  readonly length: number;
  /** Oldest items dropped to keep the queue within `maxLength` (possibly some of those just pushed). */
  readonly trimmed: number;
  /** Items dropped because they had waited longer than their retention. */
  readonly expired: number;
}

export interface QueuePopResult {
  /** At most the count asked, oldest first; each was handed to this caller only. */
  readonly values: string[];
  /** Items found past their retention and dropped on the way. */
  readonly expired: number;
}

export interface SetOptions {
  /** The key expires this long (ms, a positive integer) after the write. */
  readonly expireMs?: number;
}

/** What a winning `compareAndSetWith` also writes, in the same atomic step. */
export interface CasEffects {
  /** Values appended (RPUSH) to lists, in this order. */
  readonly append?: readonly { readonly key: string; readonly value: string }[];
  /** Fields set (HSET) in hashes. */
  readonly hset?: readonly { readonly key: string; readonly fields: Readonly<Record<string, string>> }[];
}

/**
 * Every key and channel given to a store is logical (`weights:prod:summarization`); the store applies
 * its prefix (`REDIS_PREFIX`, default `promptgate:`) itself, so the SRE sees
 * `promptgate:weights:prod:summarization` in redis-cli and tests isolate themselves with a unique prefix.
 */
export interface Store {
  readonly kind: "redis" | "embedded";
  readonly prefix: string;

  get(key: string): Promise<string | null>;
  /** Several values in one round trip; missing keys are null, in the order asked. */
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  set(key: string, value: string): Promise<void>;
  /**
   * Writes only when the key does not exist; true when this call wrote it. With `expireMs` the key
   * expires that long after this write (Redis SET NX PX): it then reads as absent and may be set again.
   */
  setIfAbsent(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Writes only when the current value equals `expected` (null = absent); true when this call won. */
  compareAndSet(key: string, expected: string | null, value: string): Promise<boolean>;
  /**
   * compareAndSet that, when it wins, also appends to lists and sets hash fields, all in one atomic step
   * (a rollout start: the finished record it replaces goes to the history, the index names the new one).
   * Nothing at all is written when it loses.
   */
  compareAndSetWith(key: string, expected: string | null, value: string, effects: CasEffects): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Logical keys (prefix removed) that start with `prefix`, in no particular order. */
  keys(prefix: string): Promise<string[]>;

  hgetall(key: string): Promise<Record<string, string>>;
  /** Several hashes in one round trip (not one snapshot); missing keys are `{}`, in the order asked. */
  hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]>;
  /**
   * Reads of what other people can write (the registry refresh): each key on its own, so a key of
   * another type or too large is reported in its place and never fails the others, and nothing larger
   * than the limits crosses the wire. Missing keys read as null.
   */
  readStrings(keys: readonly string[], maxBytes: number): Promise<Bounded<string | null>[]>;
  /** The same for hashes (missing keys read as `{}`); the limits are checked before anything is sent. */
  readHashes(keys: readonly string[], limits: HashLimits): Promise<Bounded<Record<string, string>>[]>;
  hset(key: string, fields: Readonly<Record<string, string>>): Promise<void>;
  hdel(key: string, fields: readonly string[]): Promise<void>;
  /** `by` must be a safe integer (count money in integer micro-units); a non-integer field rejects. */
  hincrby(key: string, field: string, by: number): Promise<number>;
  /**
   * Applies all increments atomically: other readers see all of them or none. A batch holding a
   * non-integer `by` is rejected before anything is written.
   */
  hincrbyBatch(increments: readonly HashIncrement[], options?: BatchOptions): Promise<void>;
  /**
   * How many distinct members the union of these distinct-count sets holds (missing keys add none).
   * On Redis an estimate (HyperLogLog, PFCOUNT), on the embedded store exact.
   */
  countDistinct(keys: readonly string[]): Promise<number>;
  /**
   * The relative standard error of `countDistinct`: 0.0081 for Redis' HyperLogLog (1.04 / sqrt(16384)),
   * 0 for exact counting. Tests that use distinct counts (sample-ratio mismatch) carry it.
   */
  readonly distinctError: number;

  incrby(key: string, by: number): Promise<number>;

  /** Appends to an append-only list; returns the new length. */
  append(key: string, value: string): Promise<number>;
  /** Inclusive range, negative indexes count from the end (Redis LRANGE semantics). */
  range(key: string, start: number, stop: number): Promise<string[]>;

  /**
   * A bounded, expiring work queue (live judging): appends `values` at the tail in one atomic step,
   * drops items past their retention from the head and trims the oldest beyond `maxLength`. The queue
   * key itself expires `retentionMs` after the last push.
   */
  queuePush(key: string, values: readonly string[], limits: QueueLimits): Promise<QueuePushResult>;
  /**
   * Takes up to `count` items from the head atomically (Redis LPOP): several consumers never receive the
   * same item. Expired items are dropped, never returned.
   */
  queuePop(key: string, count: number): Promise<QueuePopResult>;
  /** Items waiting (expired ones not yet dropped may be counted). */
  queueLength(key: string): Promise<number>;

  /** Change notification across processes (the gateway and the CLI may be different processes). */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Resolves once listening; rejects quickly when the backing store is unreachable (nothing stays
   * registered then: retry later). Once listening, the subscription survives reconnects. A wake-up
   * signal, not a queue: as with Redis pub/sub, messages sent while not listening are not replayed.
   * The returned function stops listening and never rejects.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;

  /** Resolves when the backing store answers; rejects quickly when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // --- The controller lease and fenced writes (see "Leases and fencing" below) ---

  /**
   * Takes the lease at `spec.key` for `owner` when nobody holds it (or it expired): a fresh token from
   * `spec.fenceKey` (INCR), strictly larger than any given before, stored as `{token}:{owner}` expiring
   * `ttlMs` from now. When `owner` already holds it, its expiry is renewed and the same token returned.
   * Null while another owner holds it.
   */
  acquireLease(spec: LeaseSpec, owner: string, ttlMs: number): Promise<Lease | null>;
  /** Extends the lease by `ttlMs` from now while it still holds this lease's token; false once lost. */
  renewLease(lease: Lease, ttlMs: number): Promise<boolean>;
  /** Deletes the lease while it still holds this lease's token (so a successor need not wait for expiry). */
  releaseLease(lease: Lease): Promise<boolean>;
  /**
   * compareAndSet under the lease: writes `value` only when the lease key still holds this lease's token
   * AND the key's value equals `expected` (null = absent), in one atomic step.
   */
  fencedCompareAndSet(lease: Lease, key: string, expected: string | null, value: string): Promise<FencedWrite>;
  /**
   * Replaces a hash whole under the lease: every field removed, then `fields` written (none: the key is
   * deleted), only while the lease key still holds this lease's token, in one atomic step.
   */
  fencedReplaceHash(lease: Lease, key: string, fields: Readonly<Record<string, string>>): Promise<FencedWrite>;
}

// --- Leases and fencing ------------------------------------------------------------------------------
// One process at a time acts (the rollout controller): it holds a lease, a key with an expiry that it
// renews, and every write it makes is fenced, checked against the lease's token in the same atomic step,
// so a holder that stalled past its expiry (a GC pause, a partition) and was replaced cannot write.

/** Where a lease lives: the lease key and the counter its tokens come from. */
export interface LeaseSpec {
  readonly key: string;
  readonly fenceKey: string;
}

/** A lease held: its key, its token (strictly larger for each new holder) and who holds it. */
export interface Lease {
  readonly key: string;
  readonly token: number;
  readonly owner: string;
}

/**
 * How a fenced write ended: `written`; `conflict` (the lease holds, the value was not the one expected:
 * someone else wrote it, re-read and decide again); `lease_lost` (another holder, or none: stop writing).
 */
export type FencedWrite = "written" | "conflict" | "lease_lost";

/** The value stored at the lease key: `{token}:{owner}`. */
export const leaseValue = (lease: Pick<Lease, "token" | "owner">): string => `${lease.token}:${lease.owner}`;

/** `{token}:{owner}` back into its parts; null for anything else. */
export function parseLeaseValue(value: string): { token: number; owner: string } | null {
  const m = /^(\d+):(.*)$/s.exec(value);
  if (!m) return null;
  const token = Number(m[1]);
  return Number.isSafeInteger(token) ? { token, owner: m[2]! } : null;
}

/** Shared by both stores: a lease's owner is non-empty and its time to live a positive integer of ms. */
export function assertLeaseArgs(owner: string, ttlMs: number): void {
  if (owner === "") throw new RangeError("a lease owner must not be empty");
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
}

/** Shared by both stores: a queue's bounds are positive integers. */
export function assertQueueLimits(limits: QueueLimits): void {
  if (!Number.isSafeInteger(limits.maxLength) || limits.maxLength < 1)
    throw new RangeError(`maxLength must be a positive integer, got ${limits.maxLength}`);
  if (!Number.isSafeInteger(limits.retentionMs) || limits.retentionMs < 1)
    throw new RangeError(`retentionMs must be a positive integer of ms, got ${limits.retentionMs}`);
}
