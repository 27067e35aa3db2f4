// The embedded single-node store: SQLite through node:sqlite in WAL mode, so the CLI and a running
// gateway can share one file; notifications cross processes through a table that subscribers poll.
// node:sqlite is synchronous: the methods are async without awaiting so a throw becomes a rejection.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import type { SQLOutputValue, StatementSync } from "node:sqlite";
import type { Logger } from "../support/logger.ts";
import { assertLeaseArgs, assertQueueLimits, leaseValue, parseLeaseValue } from "./store.ts";
import type { BatchOptions, Bounded, FencedWrite, HashIncrement, HashLimits, Lease, Store } from "./store.ts";

export interface SqliteStoreOptions {
  readonly path: string;
  readonly prefix: string;
  readonly logger: Logger;
  /** How often other processes' notifications are polled for while subscribed (default 100 ms). */
  readonly pollMs?: number;
}

// How long a writer waits for another process's write lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT_MS = 5_000;
// Notifications are only a wake-up signal: subscribers that fall this far behind re-read state anyway.
const NOTIFICATION_RETENTION_MS = 60_000;
const PRUNE_INTERVAL_MS = 10_000;
const POLL_BATCH = 1_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hashes (
  key TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS distinct_members (
  key TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS expiries (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expiries_at ON expiries (at);
CREATE TABLE IF NOT EXISTS lists (
  key TEXT NOT NULL, idx INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_items (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, deadline INTEGER NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_items_key ON queue_items (key, id);
CREATE INDEX IF NOT EXISTS queue_items_deadline ON queue_items (deadline);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, channel TEXT NOT NULL,
  message TEXT NOT NULL, created_at INTEGER NOT NULL
);`;

type Row = Record<string, SQLOutputValue>;
type Listener = (message: string) => void;

export function createSqliteStore(opts: SqliteStoreOptions): Store {
  const { prefix, logger } = opts;
  const pollMs = opts.pollMs ?? 100;
  if (opts.path !== ":memory:") mkdirSync(dirname(opts.path), { recursive: true });

  const db = new DatabaseSync(opts.path, { timeout: BUSY_TIMEOUT_MS });
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA synchronous = NORMAL;`);
  db.exec(SCHEMA);

  const q = {
    begin: db.prepare("BEGIN IMMEDIATE"),
    beginRead: db.prepare("BEGIN DEFERRED"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
    // An expired key reads as absent even before it is purged (strings and hashes alike).
    get: db.prepare(
      "SELECT value FROM kv WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM expiries WHERE key = ?1 AND at <= ?2)",
    ),
    set: db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    insert: db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
    replace: db.prepare("UPDATE kv SET value = ? WHERE key = ? AND value = ?"),
    delKv: db.prepare("DELETE FROM kv WHERE key = ?"),
    delHash: db.prepare("DELETE FROM hashes WHERE key = ?"),
    delList: db.prepare("DELETE FROM lists WHERE key = ?"),
    delDistinct: db.prepare("DELETE FROM distinct_members WHERE key = ?"),
    addDistinct: db.prepare("INSERT INTO distinct_members (key, member) VALUES (?, ?) ON CONFLICT DO NOTHING"),
    // The union of the sets named in a JSON array of keys; expired sets count as absent.
    countDistinct: db.prepare(
      `SELECT COUNT(DISTINCT member) AS n FROM distinct_members
       WHERE key IN (SELECT value FROM json_each(?1)) AND key NOT IN (SELECT key FROM expiries WHERE at <= ?2)`,
    ),
    keys: db.prepare(
      `SELECT key FROM kv WHERE key GLOB ?1 AND key NOT IN (SELECT key FROM expiries WHERE at <= ?2)
       UNION SELECT key FROM hashes WHERE key GLOB ?1 AND key NOT IN (SELECT key FROM expiries WHERE at <= ?2)
       UNION SELECT key FROM lists WHERE key GLOB ?1
       UNION SELECT DISTINCT key FROM queue_items WHERE key GLOB ?1 AND deadline > ?2
       UNION SELECT DISTINCT key FROM distinct_members WHERE key GLOB ?1
         AND key NOT IN (SELECT key FROM expiries WHERE at <= ?2)`,
    ),
    // An expired hash reads as absent even before it is purged.
    hgetall: db.prepare(
      "SELECT field, value FROM hashes WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM expiries WHERE key = ?1 AND at <= ?2)",
    ),
    // Sizes first, so that a value over the limit is measured, never read.
    boundedGet: db.prepare(
      `SELECT octet_length(value) AS n, CASE WHEN octet_length(value) <= ?2 THEN value END AS value FROM kv
       WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM expiries WHERE key = ?1 AND at <= ?3)`,
    ),
    hashSize: db.prepare(
      `SELECT COUNT(*) AS n, COALESCE(MAX(max(octet_length(field), octet_length(value))), 0) AS longest FROM hashes
       WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM expiries WHERE key = ?1 AND at <= ?2)`,
    ),
    isString: db.prepare(
      "SELECT 1 AS found FROM kv WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM expiries WHERE key = ?1 AND at <= ?2)",
    ),
    isHash: db.prepare(
      "SELECT 1 AS found FROM hashes WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM expiries WHERE key = ?1 AND at <= ?2) LIMIT 1",
    ),
    isList: db.prepare("SELECT 1 AS found FROM lists WHERE key = ? LIMIT 1"),
    expiry: db.prepare("SELECT at FROM expiries WHERE key = ?"),
    setExpiry: db.prepare(
      "INSERT INTO expiries (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at",
    ),
    delExpiry: db.prepare("DELETE FROM expiries WHERE key = ?"),
    purgeExpiredHashes: db.prepare("DELETE FROM hashes WHERE key IN (SELECT key FROM expiries WHERE at <= ?)"),
    purgeExpiredStrings: db.prepare("DELETE FROM kv WHERE key IN (SELECT key FROM expiries WHERE at <= ?)"),
    purgeExpiredDistinct: db.prepare(
      "DELETE FROM distinct_members WHERE key IN (SELECT key FROM expiries WHERE at <= ?)",
    ),
    purgeExpiries: db.prepare("DELETE FROM expiries WHERE at <= ?"),
    hget: db.prepare("SELECT value FROM hashes WHERE key = ? AND field = ?"),
    hset: db.prepare(
      "INSERT INTO hashes (key, field, value) VALUES (?, ?, ?) ON CONFLICT (key, field) DO UPDATE SET value = excluded.value",
    ),
    hdel: db.prepare("DELETE FROM hashes WHERE key = ? AND field = ?"),
    listLength: db.prepare("SELECT COUNT(*) AS n FROM lists WHERE key = ?"),
    listPush: db.prepare("INSERT INTO lists (key, idx, value) VALUES (?, ?, ?)"),
    listRange: db.prepare("SELECT value FROM lists WHERE key = ? AND idx BETWEEN ? AND ? ORDER BY idx"),
    queueExpire: db.prepare("DELETE FROM queue_items WHERE key = ? AND deadline <= ?"),
    queuePush: db.prepare("INSERT INTO queue_items (key, deadline, value) VALUES (?, ?, ?)"),
    queueLength: db.prepare("SELECT COUNT(*) AS n FROM queue_items WHERE key = ? AND deadline > ?"),
    queueTrim: db.prepare(
      "DELETE FROM queue_items WHERE id IN (SELECT id FROM queue_items WHERE key = ? ORDER BY id LIMIT ?)",
    ),
    queueHead: db.prepare("SELECT id, value FROM queue_items WHERE key = ? ORDER BY id LIMIT ?"),
    queueDelete: db.prepare("DELETE FROM queue_items WHERE id = ?"),
    queueDelKey: db.prepare("DELETE FROM queue_items WHERE key = ?"),
    purgeExpiredQueues: db.prepare("DELETE FROM queue_items WHERE deadline <= ?"),
    notify: db.prepare("INSERT INTO notifications (origin, channel, message, created_at) VALUES (?, ?, ?, ?)"),
    lastNotification: db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM notifications"),
    pending: db.prepare(
      `SELECT id, channel, message FROM notifications WHERE id > ? AND origin <> ? ORDER BY id LIMIT ${POLL_BATCH}`,
    ),
    prune: db.prepare("DELETE FROM notifications WHERE created_at < ?"),
  } satisfies Record<string, StatementSync>;

  /** Runs fn inside one transaction; IMMEDIATE takes the write lock up front so it cannot deadlock. */
  const tx = <T>(fn: () => T, write = true): T => {
    (write ? q.begin : q.beginRead).run();
    try {
      const result = fn();
      q.commit.run();
      return result;
    } catch (err) {
      if (db.isTransaction) q.rollback.run();
      throw err;
    }
  };

  const k = (key: string): string => prefix + key;
  const getValue = (full: string, now = Date.now()): string | null => {
    const row = q.get.get(full, now);
    return row ? text(row, "value") : null;
  };
  /** Drops a key whose expiry has passed, so new increments count from zero and SET NX writes, as in Redis. */
  const dropIfExpired = (full: string, now: number): void => {
    const row = q.expiry.get(full);
    if (row && int(row, "at") <= now) {
      q.delHash.run(full);
      q.delKv.run(full);
      q.delDistinct.run(full);
      q.delExpiry.run(full);
    }
  };
  let lastPurge = 0;
  const purgeExpired = (now: number): void => {
    if (now - lastPurge < PRUNE_INTERVAL_MS) return;
    lastPurge = now;
    q.purgeExpiredHashes.run(now);
    q.purgeExpiredStrings.run(now);
    q.purgeExpiredDistinct.run(now);
    q.purgeExpiries.run(now);
    q.purgeExpiredQueues.run(now);
  };
  const readHash = (full: string, now: number): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const row of q.hgetall.all(full, now)) out[text(row, "field")] = text(row, "value");
    return out;
  };
  /**
   * One file holds a key in each table it was written to; "another type" is a key that is absent from the
   * table asked for and present in another one (Redis would answer WRONGTYPE).
   */
  const otherType = (full: string, now: number, asked: "string" | "hash"): string | null => {
    if (asked !== "string" && q.isString.get(full, now)) return "string";
    if (asked !== "hash" && q.isHash.get(full, now)) return "hash";
    if (q.isList.get(full)) return "list";
    return null;
  };
  const boundedString = (full: string, now: number, maxBytes: number): Bounded<string | null> => {
    const row = q.boundedGet.get(full, maxBytes, now);
    if (row) {
      const bytes = int(row, "n");
      if (bytes > maxBytes)
        return { ok: false, problem: "too_large", detail: `a value of ${bytes} bytes, more than ${maxBytes}` };
      return { ok: true, value: text(row, "value") };
    }
    const found = otherType(full, now, "string");
    return found ? { ok: false, problem: "wrong_type", detail: `a ${found}, not a string` } : { ok: true, value: null };
  };
  const boundedHash = (full: string, now: number, limits: HashLimits): Bounded<Record<string, string>> => {
    const size = q.hashSize.get(full, now) ?? {};
    const fields = int(size, "n");
    const longest = int(size, "longest");
    if (fields === 0) {
      const found = otherType(full, now, "hash");
      return found ? { ok: false, problem: "wrong_type", detail: `a ${found}, not a hash` } : { ok: true, value: {} };
    }
    if (fields > limits.maxFields)
      return { ok: false, problem: "too_large", detail: `${fields} fields, more than ${limits.maxFields}` };
    if (longest > limits.maxBytes) {
      const detail = `a field or value of ${longest} bytes, more than ${limits.maxBytes}`;
      return { ok: false, problem: "too_large", detail };
    }
    // fromEntries, as the Redis store does: a field named __proto__ stays a field.
    const rows = q.hgetall.all(full, now).map((row): [string, string] => [text(row, "field"), text(row, "value")]);
    return { ok: true, value: Object.fromEntries(rows) };
  };
  const hincrby = (full: string, field: string, by: number): number => {
    assertSafeInteger(by);
    const row = q.hget.get(full, field);
    const next = (row ? parseInteger(text(row, "value")) : 0) + by;
    q.hset.run(full, field, String(next));
    return next;
  };

  // Leases (store.ts, "Leases and fencing"): the lease is a string with an expiry, as on Redis; every step
  // below runs inside one IMMEDIATE transaction, so the check and the write are one atomic step.
  /** Whether the lease key holds this lease now (an expired lease holds nothing). */
  const holds = (lease: Lease, now: number): boolean => getValue(k(lease.key), now) === leaseValue(lease);
  const fenced = (lease: Lease, write: () => boolean): FencedWrite =>
    tx(() => {
      const now = Date.now();
      if (!holds(lease, now)) return "lease_lost";
      return write() ? "written" : "conflict";
    });

  // Pub/sub: own notifications are delivered in-process at once; others' by polling the table.
  const origin = randomUUID();
  const channels = new Map<string, Set<Listener>>();
  let lastSeen = 0;
  let lastPrune = 0;
  let poller: NodeJS.Timeout | undefined;
  let closed = false;

  const deliver = (channel: string, message: string): void => {
    const listeners = channels.get(channel);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch (err) {
        logger.error("store listener failed", { channel: channel.slice(prefix.length), error: errorText(err) });
      }
    }
  };
  const poll = (): void => {
    try {
      for (const row of q.pending.all(lastSeen, origin)) {
        lastSeen = Math.max(lastSeen, int(row, "id"));
        deliver(text(row, "channel"), text(row, "message"));
      }
    } catch (err) {
      logger.warn("store notification poll failed", { error: errorText(err) });
    }
  };
  const startPolling = (): void => {
    if (poller) return;
    // Like Redis pub/sub, a new subscriber only hears what is published from now on.
    lastSeen = int(q.lastNotification.get() ?? {}, "id");
    poller = setInterval(poll, pollMs);
    poller.unref();
  };
  const stopPolling = (): void => {
    clearInterval(poller);
    poller = undefined;
  };

  return {
    kind: "embedded",
    prefix,

    get: async (key) => getValue(k(key)),
    mget: async (keys) => tx(() => keys.map((key) => getValue(k(key))), false),
    async set(key, value) {
      const full = k(key);
      // As Redis SET: the write clears any expiry the key had.
      tx(() => {
        q.set.run(full, value);
        q.delExpiry.run(full);
      });
    },
    setIfAbsent: async (key, value, options = {}) => {
      if (options.expireMs !== undefined) assertExpiry(options.expireMs);
      const full = k(key);
      return tx(() => {
        const now = Date.now();
        purgeExpired(now);
        dropIfExpired(full, now);
        if (q.insert.run(full, value).changes !== 1) return false;
        if (options.expireMs !== undefined) q.setExpiry.run(full, now + options.expireMs);
        return true;
      });
    },
    async compareAndSet(key, expected, value) {
      const full = k(key);
      return tx(() => {
        dropIfExpired(full, Date.now());
        const result = expected === null ? q.insert.run(full, value) : q.replace.run(value, full, expected);
        if (result.changes === 1) q.delExpiry.run(full);
        return result.changes === 1;
      });
    },
    async compareAndSetWith(key, expected, value, effects) {
      const full = k(key);
      return tx(() => {
        const now = Date.now();
        dropIfExpired(full, now);
        const result = expected === null ? q.insert.run(full, value) : q.replace.run(value, full, expected);
        if (result.changes !== 1) return false;
        q.delExpiry.run(full);
        for (const item of effects.append ?? []) {
          const list = k(item.key);
          q.listPush.run(list, int(q.listLength.get(list) ?? {}, "n"), item.value);
        }
        for (const hash of effects.hset ?? []) {
          const hashKey = k(hash.key);
          dropIfExpired(hashKey, now);
          for (const [field, fieldValue] of Object.entries(hash.fields)) q.hset.run(hashKey, field, fieldValue);
        }
        return true;
      });
    },
    async del(key) {
      const full = k(key);
      tx(() => {
        q.delKv.run(full);
        q.delHash.run(full);
        q.delList.run(full);
        q.delDistinct.run(full);
        q.delExpiry.run(full);
        q.queueDelKey.run(full);
      });
    },
    keys: async (logicalPrefix) =>
      q.keys
        .all(escapeGlob(prefix + logicalPrefix) + "*", Date.now())
        .map((row) => text(row, "key").slice(prefix.length)),

    hgetall: async (key) => readHash(k(key), Date.now()),
    hgetallMany: async (keys) =>
      tx(() => {
        const now = Date.now();
        return keys.map((key) => readHash(k(key), now));
      }, false),
    readStrings: async (keys, maxBytes) =>
      tx(() => {
        const now = Date.now();
        return keys.map((key) => boundedString(k(key), now, maxBytes));
      }, false),
    readHashes: async (keys, limits) =>
      tx(() => {
        const now = Date.now();
        return keys.map((key) => boundedHash(k(key), now, limits));
      }, false),
    async hset(key, fields) {
      const full = k(key);
      tx(() => {
        dropIfExpired(full, Date.now());
        for (const [field, value] of Object.entries(fields)) q.hset.run(full, field, value);
      });
    },
    async hdel(key, fields) {
      const full = k(key);
      tx(() => {
        for (const field of fields) q.hdel.run(full, field);
      });
    },
    hincrby: async (key, field, by) =>
      tx(() => {
        const full = k(key);
        dropIfExpired(full, Date.now());
        return hincrby(full, field, by);
      }),
    async hincrbyBatch(increments: readonly HashIncrement[], options: BatchOptions = {}) {
      const distinct = (options.distinct ?? []).filter((add) => add.members.length > 0);
      if (increments.length === 0 && distinct.length === 0) return;
      for (const inc of increments) assertSafeInteger(inc.by);
      tx(() => {
        const now = Date.now();
        purgeExpired(now);
        const touched = new Set([...increments.map((inc) => k(inc.key)), ...distinct.map((add) => k(add.key))]);
        for (const full of touched) dropIfExpired(full, now);
        for (const inc of increments) hincrby(k(inc.key), inc.field, inc.by);
        for (const add of distinct) for (const member of add.members) q.addDistinct.run(k(add.key), member);
        if (options.expireMs !== undefined) for (const full of touched) q.setExpiry.run(full, now + options.expireMs);
      });
    },

    countDistinct: async (keys) =>
      keys.length === 0 ? 0 : int(q.countDistinct.get(JSON.stringify(keys.map(k)), Date.now()) ?? {}, "n"),
    distinctError: 0,

    incrby: async (key, by) =>
      tx(() => {
        assertSafeInteger(by);
        const full = k(key);
        dropIfExpired(full, Date.now()); // as Redis INCRBY: an expired key counts from zero, with no expiry
        const current = getValue(full);
        const next = (current === null ? 0 : parseInteger(current)) + by;
        q.set.run(full, String(next));
        return next;
      }),

    append: async (key, value) =>
      tx(() => {
        const full = k(key);
        const length = int(q.listLength.get(full) ?? {}, "n");
        q.listPush.run(full, length, value);
        return length + 1;
      }),
    range: async (key, start, stop) =>
      tx(() => {
        const full = k(key);
        const bounds = listBounds(int(q.listLength.get(full) ?? {}, "n"), start, stop);
        if (!bounds) return [];
        return q.listRange.all(full, bounds[0], bounds[1]).map((row) => text(row, "value"));
      }, false),

    queuePush: async (key, values, limits) => {
      assertQueueLimits(limits);
      const full = k(key);
      return tx(() => {
        const now = Date.now();
        const expired = Number(q.queueExpire.run(full, now).changes);
        for (const value of values) q.queuePush.run(full, now + limits.retentionMs, value);
        const length = int(q.queueLength.get(full, now) ?? {}, "n");
        const trimmed = Math.max(0, length - limits.maxLength);
        if (trimmed > 0) q.queueTrim.run(full, trimmed);
        return { length: length - trimmed, trimmed, expired };
      });
    },
    queuePop: async (key, count) => {
      if (!Number.isSafeInteger(count) || count < 1)
        throw new RangeError(`count must be a positive integer, got ${count}`);
      const full = k(key);
      return tx(() => {
        const expired = Number(q.queueExpire.run(full, Date.now()).changes);
        const rows = q.queueHead.all(full, count);
        for (const row of rows) q.queueDelete.run(int(row, "id"));
        return { values: rows.map((row) => text(row, "value")), expired };
      });
    },
    queueLength: async (key) => int(q.queueLength.get(k(key), Date.now()) ?? {}, "n"),

    async publish(channel, message) {
      const full = k(channel);
      const now = Date.now();
      q.notify.run(origin, full, message, now);
      if (now - lastPrune > PRUNE_INTERVAL_MS) {
        lastPrune = now;
        q.prune.run(now - NOTIFICATION_RETENTION_MS);
      }
      queueMicrotask(() => deliver(full, message));
    },
    async subscribe(channel, listener) {
      if (closed) throw new Error("store is closed");
      const full = k(channel);
      startPolling();
      const entry: Listener = (message) => listener(message); // distinct per call, like Redis listeners
      const listeners = channels.get(full) ?? new Set<Listener>();
      channels.set(full, listeners);
      listeners.add(entry);
      return async () => {
        listeners.delete(entry);
        if (listeners.size === 0 && channels.get(full) === listeners) channels.delete(full);
        if (channels.size === 0) stopPolling();
      };
    },

    acquireLease: async (spec, owner, ttlMs) => {
      assertLeaseArgs(owner, ttlMs);
      const full = k(spec.key);
      return tx(() => {
        const now = Date.now();
        dropIfExpired(full, now);
        const current = getValue(full, now);
        if (current !== null) {
          const held = parseLeaseValue(current);
          if (held?.owner !== owner) return null;
          q.setExpiry.run(full, now + ttlMs);
          return { key: spec.key, token: held.token, owner };
        }
        const fence = k(spec.fenceKey);
        dropIfExpired(fence, now);
        const last = getValue(fence, now);
        const token = (last === null ? 0 : parseInteger(last)) + 1;
        q.set.run(fence, String(token));
        q.set.run(full, leaseValue({ token, owner }));
        q.setExpiry.run(full, now + ttlMs);
        return { key: spec.key, token, owner };
      });
    },
    renewLease: async (lease, ttlMs) => {
      assertLeaseArgs(lease.owner, ttlMs);
      return tx(() => {
        const now = Date.now();
        if (!holds(lease, now)) return false;
        q.setExpiry.run(k(lease.key), now + ttlMs);
        return true;
      });
    },
    releaseLease: async (lease) =>
      tx(() => {
        if (!holds(lease, Date.now())) return false;
        q.delKv.run(k(lease.key));
        q.delExpiry.run(k(lease.key));
        return true;
      }),
    fencedCompareAndSet: async (lease, key, expected, value) =>
      fenced(lease, () => {
        const full = k(key);
        dropIfExpired(full, Date.now());
        const result = expected === null ? q.insert.run(full, value) : q.replace.run(value, full, expected);
        if (result.changes === 1) q.delExpiry.run(full);
        return result.changes === 1;
      }),
    fencedReplaceHash: async (lease, key, fields) =>
      fenced(lease, () => {
        const full = k(key);
        q.delHash.run(full);
        q.delExpiry.run(full);
        for (const [field, value] of Object.entries(fields)) q.hset.run(full, field, value);
        return true;
      }),

    async ping() {
      q.get.get("");
    },
    async close() {
      if (closed) return;
      closed = true;
      stopPolling();
      channels.clear();
      db.close();
    },
  };
}

/** Redis LRANGE semantics: negative indexes count from the end, out-of-range bounds are clamped. */
export function listBounds(length: number, start: number, stop: number): [number, number] | null {
  const from = Math.max(start < 0 ? length + start : start, 0);
  const to = Math.min(stop < 0 ? length + stop : stop, length - 1);
  return from > to ? null : [from, to];
}

/** GLOB is case-sensitive (unlike LIKE); a metacharacter is matched literally inside brackets. */
function escapeGlob(literal: string): string {
  return literal.replace(/[*?[]/g, (c) => `[${c}]`);
}

function assertExpiry(ms: number): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`expiry must be a positive integer of ms, got ${ms}`);
}

function assertSafeInteger(by: number): void {
  if (!Number.isSafeInteger(by)) throw new RangeError(`increment must be a safe integer, got ${by}`);
}

function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new Error("value is not an integer");
  return Number(value);
}

function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw new Error(`expected text in column ${column}`);
  return value;
}

function int(row: Row, column: string): number {
  const value = row[column];
  if (typeof value !== "number") throw new Error(`expected an integer in column ${column}`);
  return value;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
