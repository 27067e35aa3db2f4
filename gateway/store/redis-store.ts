// The Redis implementation of the store seam: shared by every gateway replica, failing fast (never
// queueing or hanging) while Redis is unreachable so callers can keep serving their last snapshot.
import { Redis } from "ioredis";
import type { Result } from "ioredis";
import type { Logger } from "../support/logger.ts";
import { assertLeaseArgs, assertQueueLimits, leaseValue } from "./store.ts";
import type { BatchOptions, Bounded, FencedWrite, HashIncrement, HashLimits, Store } from "./store.ts";

export interface RedisStoreOptions {
  readonly url: string;
  readonly prefix: string;
  readonly logger: Logger;
  /** A command without a reply after this long rejects (default 1000 ms). */
  readonly commandTimeoutMs?: number;
  /** How long creation waits for the first connection before returning anyway (default 2000 ms). */
  readonly readyTimeoutMs?: number;
  /**
   * Reject creation when that first connection fails, instead of returning a store that fails each
   * command until Redis is back: the CLI wants one clear error, the gateway serves its snapshot meanwhile.
   */
  readonly requireConnection?: boolean;
}

/**
 * The comparison every compare-and-set script starts with: returns 0 unless `key` holds `expected`, or is absent
 * when `absent` is "1" (Lua expressions of the script's KEYS and ARGV).
 */
const compareOrReturn = (key: string, absent: string, expected: string): string => `
local cur = redis.call("GET", ${key})
if ${absent} == "1" then
  if cur then return 0 end
elseif cur ~= ${expected} then
  return 0
end`;

// GET and SET in one script so that no other client can write between the comparison and the write.
// ARGV[1] is "1" when the caller expects the key to be absent.
const CAS_SCRIPT = `${compareOrReturn("KEYS[1]", "ARGV[1]", "ARGV[2]")}
redis.call("SET", KEYS[1], ARGV[3])
return 1`;

// CAS_SCRIPT, then, only when it wrote, the effects (compareAndSetWith). KEYS[1]: the key compared; KEYS[2 ..
// 1 + ARGV[4]]: the lists appended to, one value each (ARGV[5 ...]); the remaining KEYS: the hashes set, each
// given in ARGV as its number of fields, then field, value, field, value ...
const CAS_WITH_SCRIPT = `${compareOrReturn("KEYS[1]", "ARGV[1]", "ARGV[2]")}
redis.call("SET", KEYS[1], ARGV[3])
local lists = tonumber(ARGV[4])
for i = 1, lists do redis.call("RPUSH", KEYS[1 + i], ARGV[4 + i]) end
local a = 5 + lists
for key = 2 + lists, #KEYS do
  local n = tonumber(ARGV[a])
  for j = 1, n do redis.call("HSET", KEYS[key], ARGV[a + 2 * j - 1], ARGV[a + 2 * j]) end
  a = a + 1 + 2 * n
end
return 1`;

// Bounded reads (readStrings, readHashes): the type and the sizes are checked on the server, so a key of
// another type is an answer rather than a WRONGTYPE error, and nothing over the limits is sent.
// Replies: {"none"}, {"wrong_type", type}, {"too_large", size} or {"ok", value}.
const READ_STRING_SCRIPT = `
local t = redis.call("TYPE", KEYS[1]).ok
if t == "none" then return {"none"} end
if t ~= "string" then return {"wrong_type", t} end
local n = redis.call("STRLEN", KEYS[1])
if n > tonumber(ARGV[1]) then return {"too_large", n} end
return {"ok", redis.call("GET", KEYS[1])}`;

// ARGV[1]: the most fields, ARGV[2]: the longest field or value. Lengths are taken with HSTRLEN, so an
// oversized value is never copied, even into the script.
const READ_HASH_SCRIPT = `
local t = redis.call("TYPE", KEYS[1]).ok
if t == "none" then return {"none"} end
if t ~= "hash" then return {"wrong_type", t} end
local n = redis.call("HLEN", KEYS[1])
if n > tonumber(ARGV[1]) then return {"too_many", n} end
local max = tonumber(ARGV[2])
for _, field in ipairs(redis.call("HKEYS", KEYS[1])) do
  if #field > max then return {"too_large", #field} end
  local len = redis.call("HSTRLEN", KEYS[1], field)
  if len > max then return {"too_large", len} end
end
return {"ok", redis.call("HGETALL", KEYS[1])}`;

// The live-judging queue: each item is stored as "<deadline ms>:<value>", so expired items can be dropped
// from the head by the server in the same atomic step as a push or a pop. ARGV[1] is the caller's clock.
const QUEUE_DROP_EXPIRED = `
local function deadline(item) return tonumber(string.match(item, "^(%d+):")) or 0 end
local expired = 0
while true do
  local head = redis.call("LINDEX", KEYS[1], 0)
  if not head or deadline(head) > tonumber(ARGV[1]) then break end
  redis.call("LPOP", KEYS[1])
  expired = expired + 1
end`;

// ARGV[2]: the longest length, ARGV[3]: the key's expiry (ms), ARGV[4...]: the encoded items.
// Replies {length, trimmed, expired}.
const QUEUE_PUSH_SCRIPT = `${QUEUE_DROP_EXPIRED}
for i = 4, #ARGV do redis.call("RPUSH", KEYS[1], ARGV[i]) end
local length = redis.call("LLEN", KEYS[1])
local max = tonumber(ARGV[2])
local trimmed = 0
if length > max then
  trimmed = length - max
  redis.call("LTRIM", KEYS[1], -max, -1)
  length = max
end
if length > 0 then redis.call("PEXPIRE", KEYS[1], ARGV[3]) end
return {length, trimmed, expired}`;

// ARGV[2]: how many to take. Replies {expired, item...}: items past their deadline are dropped, not returned.
const QUEUE_POP_SCRIPT = `
local now = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local out = {0}
while #out - 1 < want do
  local item = redis.call("LPOP", KEYS[1])
  if not item then break end
  local at = tonumber(string.match(item, "^(%d+):")) or 0
  if at > now then out[#out + 1] = item else out[1] = out[1] + 1 end
end
return out`;

// The controller lease (store.ts, "Leases and fencing"). KEYS[1]: the lease, KEYS[2]: the fence counter;
// ARGV[1]: the owner, ARGV[2]: the time to live (ms). Replies the token held by the owner, or 0 when another
// owner holds the lease. A new holder's token is INCR of the counter: strictly larger than any before.
const LEASE_ACQUIRE_SCRIPT = `
local cur = redis.call("GET", KEYS[1])
if cur then
  local token, owner = string.match(cur, "^(%d+):(.*)$")
  if owner == ARGV[1] then
    redis.call("PEXPIRE", KEYS[1], ARGV[2])
    return tonumber(token)
  end
  return 0
end
local token = redis.call("INCR", KEYS[2])
redis.call("SET", KEYS[1], token .. ":" .. ARGV[1], "PX", ARGV[2])
return token`;

// ARGV[1]: the lease's value; ARGV[2]: the new time to live (ms), or "" to release. Replies 1 when it held.
const LEASE_KEEP_SCRIPT = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == "" then redis.call("DEL", KEYS[1]) else redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 1`;

// Fenced writes: KEYS[1] the lease, KEYS[2] the key written, ARGV[1] the lease's value. Replies 1 written,
// 0 the compare failed, -1 the lease is not held with that value.
const FENCED_CAS_SCRIPT = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return -1 end${compareOrReturn("KEYS[2]", "ARGV[2]", "ARGV[3]")}
redis.call("SET", KEYS[2], ARGV[4])
return 1`;

// ARGV[2...]: field, value, field, value ... (none: the hash is deleted).
const FENCED_HASH_SCRIPT = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return -1 end
redis.call("DEL", KEYS[2])
for i = 2, #ARGV, 2 do redis.call("HSET", KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    promptgateCas(key: string, expectAbsent: string, expected: string, value: string): Result<number, Context>;
    promptgateCasWith(numberOfKeys: number, ...keysAndArgs: string[]): Result<number, Context>;
    promptgateReadString(key: string, maxBytes: number): Result<unknown, Context>;
    promptgateReadHash(key: string, maxFields: number, maxBytes: number): Result<unknown, Context>;
    promptgateQueuePush(key: string, ...args: (string | number)[]): Result<unknown, Context>;
    promptgateQueuePop(key: string, now: number, count: number): Result<unknown, Context>;
    promptgateLeaseAcquire(lease: string, fence: string, owner: string, ttlMs: number): Result<number, Context>;
    promptgateLeaseKeep(lease: string, value: string, ttlMs: string): Result<number, Context>;
    promptgateFencedCas(
      lease: string,
      key: string,
      value: string,
      expectAbsent: string,
      expected: string,
      next: string,
    ): Result<number, Context>;
    promptgateFencedHash(lease: string, key: string, value: string, ...fields: string[]): Result<number, Context>;
  }
}

/** Redis' HyperLogLog: 16384 registers, standard error 1.04 / sqrt(16384) = 0.81%. */
export const REDIS_HLL_ERROR = 0.0081;

const ERROR_LOG_INTERVAL_MS = 10_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const QUIT_TIMEOUT_MS = 500;
const SCAN_COUNT = 1_000;

/** Capped exponential backoff with jitter, so replicas do not reconnect in lockstep after an outage. */
function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS);
  return base + Math.floor(Math.random() * 100);
}

/** Escapes Redis glob metacharacters so a literal prefix can be used as a SCAN MATCH pattern. */
function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function assertExpiry(ms: number): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`expiry must be a positive integer of ms, got ${ms}`);
}

function assertSafeInteger(by: number): void {
  if (!Number.isSafeInteger(by)) throw new RangeError(`increment must be a safe integer, got ${by}`);
}

export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  const { prefix, logger } = opts;
  const client = new Redis(opts.url, {
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs ?? 1_000,
    connectTimeout: 2_000,
    // After QUIT, a server that never closes its end must not hold the process for ioredis' default 2 s.
    disconnectTimeout: QUIT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: reconnectDelay,
  });
  watchConnection(client, "commands", logger);
  client.defineCommand("promptgateCas", { numberOfKeys: 1, lua: CAS_SCRIPT });
  client.defineCommand("promptgateCasWith", { lua: CAS_WITH_SCRIPT }); // the key count comes first in each call
  client.defineCommand("promptgateReadString", { numberOfKeys: 1, lua: READ_STRING_SCRIPT });
  client.defineCommand("promptgateReadHash", { numberOfKeys: 1, lua: READ_HASH_SCRIPT });
  client.defineCommand("promptgateQueuePush", { numberOfKeys: 1, lua: QUEUE_PUSH_SCRIPT });
  client.defineCommand("promptgateQueuePop", { numberOfKeys: 1, lua: QUEUE_POP_SCRIPT });
  client.defineCommand("promptgateLeaseAcquire", { numberOfKeys: 2, lua: LEASE_ACQUIRE_SCRIPT });
  client.defineCommand("promptgateLeaseKeep", { numberOfKeys: 1, lua: LEASE_KEEP_SCRIPT });
  client.defineCommand("promptgateFencedCas", { numberOfKeys: 2, lua: FENCED_CAS_SCRIPT });
  client.defineCommand("promptgateFencedHash", { numberOfKeys: 2, lua: FENCED_HASH_SCRIPT });

  const readyTimeoutMs = opts.readyTimeoutMs ?? 2_000;
  const outcome = await waitUntilReady(client, readyTimeoutMs);
  if (outcome !== "ready") {
    const reason = outcome === "timeout" ? `no answer within ${readyTimeoutMs} ms` : connectionFailure(outcome);
    if (opts.requireConnection) {
      client.disconnect();
      throw new Error(`cannot reach Redis at ${redisTarget(opts.url)} (REDIS_URL): ${reason}`, { cause: outcome });
    }
    logger.warn("redis not reachable at start; commands fail until it is back", {
      redis: redisTarget(opts.url),
      error: reason,
    });
  }

  const k = (key: string): string => prefix + key;
  const pubsub = createPubSub(client, prefix, logger);
  let closed = false;

  return {
    kind: "redis",
    prefix,

    get: (key) => client.get(k(key)),
    async mget(keys) {
      if (keys.length === 0) return [];
      return client.mget(keys.map(k));
    },
    async set(key, value) {
      await client.set(k(key), value);
    },
    async setIfAbsent(key, value, options = {}) {
      if (options.expireMs === undefined) return (await client.set(k(key), value, "NX")) === "OK";
      assertExpiry(options.expireMs);
      return (await client.set(k(key), value, "PX", options.expireMs, "NX")) === "OK";
    },
    async compareAndSet(key, expected, value) {
      const won = await client.promptgateCas(k(key), expected === null ? "1" : "0", expected ?? "", value);
      return won === 1;
    },
    async compareAndSetWith(key, expected, value, effects) {
      const lists = effects.append ?? [];
      const hashes = (effects.hset ?? []).map((h) => ({ key: h.key, pairs: Object.entries(h.fields).flat() }));
      const keys = [key, ...lists.map((l) => l.key), ...hashes.map((h) => h.key)].map(k);
      const args = [
        expected === null ? "1" : "0",
        expected ?? "",
        value,
        String(lists.length),
        ...lists.map((l) => l.value),
        ...hashes.flatMap((h) => [String(h.pairs.length / 2), ...h.pairs]),
      ];
      return (await client.promptgateCasWith(keys.length, ...keys, ...args)) === 1;
    },
    async del(key) {
      await client.del(k(key));
    },
    async keys(logicalPrefix) {
      const found = new Set<string>(); // SCAN may return a key more than once
      const match = escapeGlob(prefix + logicalPrefix) + "*";
      let cursor = "0";
      do {
        const [next, batch] = await client.scan(cursor, "MATCH", match, "COUNT", SCAN_COUNT);
        for (const key of batch) found.add(key.slice(prefix.length));
        cursor = next;
      } while (cursor !== "0");
      return [...found];
    },

    hgetall: (key) => client.hgetall(k(key)),
    async hgetallMany(keys) {
      if (keys.length === 0) return [];
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.hgetall(k(key));
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, value]) => {
        if (err) throw err;
        return value as Record<string, string>;
      });
    },
    async readStrings(keys, maxBytes) {
      return Promise.all(
        keys.map(async (key) => stringRead(await client.promptgateReadString(k(key), maxBytes), maxBytes)),
      );
    },
    async readHashes(keys, limits) {
      if (keys.length === 0) return [];
      // Most weights hashes are empty: one pipelined HLEN each (a wrong type is that key's error), and
      // the script only for the hashes that have fields.
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.hlen(k(key));
      const lengths = (await pipeline.exec()) ?? [];
      return Promise.all(
        keys.map(async (key, i): Promise<Bounded<Record<string, string>>> => {
          const [err, length] = lengths[i] ?? [new Error("no reply")];
          if (err && !isWrongType(err)) throw err;
          if (!err && length === 0) return { ok: true, value: {} };
          if (!err && typeof length === "number" && length > limits.maxFields) return tooManyFields(length, limits);
          return hashRead(await client.promptgateReadHash(k(key), limits.maxFields, limits.maxBytes), limits);
        }),
      );
    },
    async hset(key, fields) {
      if (Object.keys(fields).length === 0) return;
      await client.hset(k(key), fields);
    },
    async hdel(key, fields) {
      if (fields.length === 0) return;
      await client.hdel(k(key), ...fields);
    },
    async hincrby(key, field, by) {
      assertSafeInteger(by);
      return client.hincrby(k(key), field, by);
    },
    async hincrbyBatch(increments: readonly HashIncrement[], options: BatchOptions = {}) {
      const distinct = (options.distinct ?? []).filter((add) => add.members.length > 0);
      if (increments.length === 0 && distinct.length === 0) return;
      for (const inc of increments) assertSafeInteger(inc.by);
      const tx = client.multi();
      for (const inc of increments) tx.hincrby(k(inc.key), inc.field, inc.by);
      for (const add of distinct) tx.pfadd(k(add.key), ...add.members);
      if (options.expireMs !== undefined) {
        const touched = new Set([...increments.map((inc) => inc.key), ...distinct.map((add) => add.key)]);
        for (const key of touched) tx.pexpire(k(key), options.expireMs);
      }
      const results = await tx.exec();
      if (results === null) throw new Error("redis transaction aborted");
      const failed = results.find(([err]) => err !== null);
      if (failed?.[0]) throw failed[0];
    },

    async countDistinct(keys) {
      if (keys.length === 0) return 0;
      // PFCOUNT over several keys counts their union (merged on the server, nothing stored).
      return client.pfcount(...keys.map(k));
    },
    distinctError: REDIS_HLL_ERROR,

    async incrby(key, by) {
      assertSafeInteger(by);
      return client.incrby(k(key), by);
    },

    append: (key, value) => client.rpush(k(key), value),
    range: (key, start, stop) => client.lrange(k(key), start, stop),

    async queuePush(key, values, limits) {
      assertQueueLimits(limits);
      const now = Date.now();
      const deadline = now + limits.retentionMs;
      const encoded = values.map((value) => `${deadline}:${value}`);
      const reply = await client.promptgateQueuePush(k(key), now, limits.maxLength, limits.retentionMs, ...encoded);
      const [length, trimmed, expired] = pushReply(reply);
      return { length, trimmed, expired };
    },
    async queuePop(key, count) {
      if (!Number.isSafeInteger(count) || count < 1)
        throw new RangeError(`count must be a positive integer, got ${count}`);
      const reply = await client.promptgateQueuePop(k(key), Date.now(), count);
      if (!Array.isArray(reply) || typeof reply[0] !== "number") throw new Error("unexpected queue pop reply");
      const values = reply.slice(1).map((item: unknown) => {
        if (typeof item !== "string") throw new Error("unexpected queue item");
        return item.slice(item.indexOf(":") + 1);
      });
      return { values, expired: reply[0] };
    },
    queueLength: (key) => client.llen(k(key)),

    async publish(channel, message) {
      await client.publish(k(channel), message);
    },
    subscribe: (channel, listener) => pubsub.subscribe(k(channel), listener),

    async acquireLease(spec, owner, ttlMs) {
      assertLeaseArgs(owner, ttlMs);
      const token = await client.promptgateLeaseAcquire(k(spec.key), k(spec.fenceKey), owner, ttlMs);
      return token > 0 ? { key: spec.key, token, owner } : null;
    },
    async renewLease(lease, ttlMs) {
      assertLeaseArgs(lease.owner, ttlMs);
      return (await client.promptgateLeaseKeep(k(lease.key), leaseValue(lease), String(ttlMs))) === 1;
    },
    async releaseLease(lease) {
      return (await client.promptgateLeaseKeep(k(lease.key), leaseValue(lease), "")) === 1;
    },
    async fencedCompareAndSet(lease, key, expected, value) {
      const absent = expected === null ? "1" : "0";
      const reply = await client.promptgateFencedCas(
        k(lease.key),
        k(key),
        leaseValue(lease),
        absent,
        expected ?? "",
        value,
      );
      return fencedOutcome(reply);
    },
    async fencedReplaceHash(lease, key, fields) {
      const pairs = Object.entries(fields).flat();
      return fencedOutcome(await client.promptgateFencedHash(k(lease.key), k(key), leaseValue(lease), ...pairs));
    },

    async ping() {
      await client.ping();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([pubsub.close(), quit(client)]);
    },
  };
}

function fencedOutcome(reply: number): FencedWrite {
  if (reply === 1) return "written";
  return reply === 0 ? "conflict" : "lease_lost";
}

function pushReply(reply: unknown): [number, number, number] {
  if (Array.isArray(reply)) {
    const items: readonly unknown[] = reply;
    const [length, trimmed, expired] = items;
    if (typeof length === "number" && typeof trimmed === "number" && typeof expired === "number")
      return [length, trimmed, expired];
  }
  throw new Error("unexpected queue push reply");
}

type Listener = (message: string) => void;
interface ChannelState {
  readonly listeners: Set<Listener>;
  readonly subscribed: Promise<unknown>;
}

/**
 * Pub/sub on one lazily created subscriber connection (a connection in subscriber mode cannot run
 * ordinary commands). Listeners are counted per channel; the channel is unsubscribed with the last.
 * ioredis resubscribes acknowledged channels by itself after a reconnect.
 */
function createPubSub(client: Redis, prefix: string, logger: Logger) {
  const channels = new Map<string, ChannelState>();
  let subscriber: Promise<Redis> | undefined;

  const connection = (): Promise<Redis> => {
    subscriber ??= (async () => {
      const sub = client.duplicate();
      watchConnection(sub, "subscriber", logger);
      sub.on("message", (channel: string, message: string) => {
        const state = channels.get(channel);
        if (!state) return;
        for (const listener of [...state.listeners]) {
          try {
            listener(message);
          } catch (err) {
            logger.error("store listener failed", { channel: channel.slice(prefix.length), error: errorText(err) });
          }
        }
      });
      await waitUntilReady(sub, 2_000);
      return sub;
    })();
    return subscriber;
  };

  return {
    async subscribe(channel: string, listener: Listener): Promise<() => Promise<void>> {
      let state = channels.get(channel);
      if (!state) {
        const created: ChannelState = {
          listeners: new Set(),
          subscribed: connection().then((sub) => sub.subscribe(channel)),
        };
        created.subscribed.catch(() => {
          if (channels.get(channel) === created) channels.delete(channel);
        });
        channels.set(channel, created);
        state = created;
      }
      const current = state;
      const entry: Listener = (message) => listener(message); // distinct per call, so double subscribe counts twice
      current.listeners.add(entry);
      try {
        await current.subscribed;
      } catch (err) {
        current.listeners.delete(entry);
        throw err;
      }
      return async () => {
        if (!current.listeners.delete(entry) || current.listeners.size > 0) return;
        if (channels.get(channel) !== current) return;
        channels.delete(channel);
        try {
          await (await connection()).unsubscribe(channel);
        } catch (err) {
          // Not listening any more either way: nothing is dispatched to a channel without listeners.
          logger.debug("redis unsubscribe failed", { error: errorText(err) });
        }
      };
    },
    async close(): Promise<void> {
      channels.clear();
      if (subscriber) await quit(await subscriber);
    },
  };
}

/** Logs connection trouble at most once per interval: a down Redis must not flood the logs. */
function watchConnection(conn: Redis, role: string, logger: Logger): void {
  let lastLogged = 0;
  let suppressed = 0;
  let wasDown = false;
  conn.on("error", (err: unknown) => {
    wasDown = true;
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    logger.warn("redis connection error", { role, error: errorText(err), suppressed });
    lastLogged = now;
    suppressed = 0;
  });
  conn.on("ready", () => {
    if (wasDown) logger.info("redis connection restored", { role });
    wasDown = false;
  });
}

/** "ready" once the connection is; else the first error, "closed" or "timeout", whichever comes first. */
function waitUntilReady(conn: Redis, timeoutMs: number): Promise<"ready" | "timeout" | "closed" | Error> {
  if (conn.status === "ready") return Promise.resolve("ready");
  return new Promise((resolve) => {
    const done = (outcome: "ready" | "timeout" | "closed" | Error): void => {
      clearTimeout(timer);
      conn.off("ready", onReady);
      conn.off("error", onError);
      conn.off("end", onEnd);
      resolve(outcome);
    };
    const onReady = (): void => done("ready");
    const onError = (err: unknown): void => done(err instanceof Error ? err : new Error(String(err)));
    const onEnd = (): void => done("closed");
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    conn.once("ready", onReady);
    conn.once("error", onError);
    conn.once("end", onEnd);
  });
}

/** Where a Redis URL points, as `host:port`, without the user name or password it may carry. */
export function redisTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "6379"}`;
  } catch {
    return "the REDIS_URL given"; // not a URL: never echo it, it may hold a password
  }
}

/** A failed first connection in plain words; socket errors name the address, never the password. */
function connectionFailure(outcome: "closed" | Error): string {
  if (outcome === "closed") return "the connection was closed";
  const plain: Partial<Record<string, string>> = {
    ECONNREFUSED: "connection refused (is Redis running, and on that port?)",
    ENOTFOUND: "unknown host",
    EAI_AGAIN: "unknown host",
    ETIMEDOUT: "connection timed out",
  };
  // The ready check (INFO) ran into commandTimeout: something listens there, but does not answer.
  if (outcome.message === "Command timed out") return "connected, but no answer (is that Redis?)";
  return plain[(outcome as NodeJS.ErrnoException).code ?? ""] ?? outcome.message;
}

/** QUIT lets pending replies arrive; when Redis does not answer, disconnect() so close never hangs. */
async function quit(conn: Redis): Promise<void> {
  if (conn.status !== "end") {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
    });
    await Promise.race([conn.quit().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }
  conn.disconnect(); // also stops any scheduled reconnect
}

const isWrongType = (err: Error): boolean => err.message.startsWith("WRONGTYPE");

const tooManyFields = (fields: number, limits: HashLimits): Bounded<never> => ({
  ok: false,
  problem: "too_large",
  detail: `${fields} fields, more than ${limits.maxFields}`,
});

const tooLong = (bytes: number, maxBytes: number, what: string): Bounded<never> => ({
  ok: false,
  problem: "too_large",
  detail: `${what} of ${bytes} bytes, more than ${maxBytes}`,
});

const wrongType = (found: unknown, wanted: string): Bounded<never> => ({
  ok: false,
  problem: "wrong_type",
  detail: `a ${String(found)}, not a ${wanted}`,
});

function stringRead(reply: unknown, maxBytes: number): Bounded<string | null> {
  const [status, value] = Array.isArray(reply) ? (reply as unknown[]) : [];
  if (status === "none") return { ok: true, value: null };
  if (status === "ok" && typeof value === "string") return { ok: true, value };
  if (status === "wrong_type") return wrongType(value, "string");
  if (status === "too_large") return tooLong(Number(value), maxBytes, "a value");
  throw new Error(`unexpected reply from the read script: ${String(status)}`);
}

function hashRead(reply: unknown, limits: HashLimits): Bounded<Record<string, string>> {
  const [status, value] = Array.isArray(reply) ? (reply as unknown[]) : [];
  if (status === "none") return { ok: true, value: {} };
  if (status === "wrong_type") return wrongType(value, "hash");
  if (status === "too_many") return tooManyFields(Number(value), limits);
  if (status === "too_large") return tooLong(Number(value), limits.maxBytes, "a field or value");
  if (status !== "ok" || !Array.isArray(value))
    throw new Error(`unexpected reply from the read script: ${String(status)}`);
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < value.length; i += 2) pairs.push([String(value[i]), String(value[i + 1])]);
  return { ok: true, value: Object.fromEntries(pairs) }; // fromEntries: a field named __proto__ stays a field
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
