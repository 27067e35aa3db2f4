// The cache of judge calls, so that re-running a suite costs nothing for what was judged before. A
// judgement is keyed by the judge version's content hash, the model it ran on, the variables it was
// rendered with and the attempt number (repeats of one judgement are distinct calls), so a new judge
// version, model or input misses and nothing stale is ever served. Only answers that parsed are kept.
//
// On disk it is a SQLite file beside the embedded store (`.promptgate/judge-cache.db`, node:sqlite in
// WAL mode, so concurrent runs share it), bounded to `maxEntries` judgements: the least recently used
// go first. It is a local cache, not state: deleting the file only costs the next run its judge calls.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { canonicalJson } from "../support/json-value.ts";

/** What a judge answered, as it came (parsed again on every read), and what it cost then. */
export interface CachedJudgement {
  readonly output: string;
  readonly costUsd: number | null;
}

export interface JudgeCache {
  get(key: string): CachedJudgement | null;
  set(key: string, value: CachedJudgement): void;
  /** Judgements held now. */
  size(): number;
  close(): void;
}

export interface JudgeCacheKey {
  /** The judge's content hash: a changed judge never reads another's answers. */
  readonly judgeHash: string;
  readonly model: string;
  /** The variables the judge was rendered with. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** 0 for a single judgement; 0..k-1 for `--repeat k`. */
  readonly attempt: number;
}

/** sha256 of the canonical JSON of the key's parts. */
export function judgeCacheKey(k: JudgeCacheKey): string {
  return createHash("sha256")
    .update(canonicalJson({ judge: k.judgeHash, model: k.model, vars: k.vars, attempt: k.attempt }))
    .digest("hex");
}

export const DEFAULT_JUDGE_CACHE_ENTRIES = 50_000;

/** The cache file beside the embedded store's (STATE_PATH), whichever store the registry uses. */
export const judgeCachePath = (statePath: string): string => join(dirname(statePath), "judge-cache.db");

const isCached = (v: unknown): v is CachedJudgement =>
  v !== null &&
  typeof v === "object" &&
  typeof (v as CachedJudgement).output === "string" &&
  (typeof (v as CachedJudgement).costUsd === "number" || (v as CachedJudgement).costUsd === null);

/** An in-process cache (tests, `--no-cache` runs that still share judgements between repeats of a pair). */
export function memoryJudgeCache(maxEntries = DEFAULT_JUDGE_CACHE_ENTRIES): JudgeCache {
  const entries = new Map<string, CachedJudgement>();
  return {
    get(key) {
      const v = entries.get(key);
      if (v === undefined) return null;
      // Map order is insertion order: re-inserting marks it the most recently used.
      entries.delete(key);
      entries.set(key, v);
      return v;
    },
    set(key, value) {
      entries.delete(key);
      entries.set(key, value);
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries) break;
        entries.delete(oldest);
      }
    },
    size: () => entries.size,
    close: () => entries.clear(),
  };
}

/** How many writes go by between two evictions (the file holds at most maxEntries + this many). */
const EVICT_EVERY = 100;

export function openJudgeCache(path: string, maxEntries = DEFAULT_JUDGE_CACHE_ENTRIES): JudgeCache {
  mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { timeout: 5_000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(
    "CREATE TABLE IF NOT EXISTS judge_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, used_at INTEGER NOT NULL)",
  );
  db.exec("CREATE INDEX IF NOT EXISTS judge_cache_used ON judge_cache (used_at)");
  const read = db.prepare("SELECT value FROM judge_cache WHERE key = ?");
  const touch = db.prepare("UPDATE judge_cache SET used_at = ? WHERE key = ?");
  const write = db.prepare("INSERT OR REPLACE INTO judge_cache (key, value, used_at) VALUES (?, ?, ?)");
  const count = db.prepare("SELECT count(*) AS n FROM judge_cache");
  const evict = db.prepare(
    "DELETE FROM judge_cache WHERE key IN (SELECT key FROM judge_cache ORDER BY used_at ASC, key ASC LIMIT ?)",
  );
  // A counter rather than the clock: within one process, later uses always sort later.
  let tick = Date.now() * 1_000;
  const size = (): number => Number((count.get() as { n: number | bigint }).n);
  const trim = (): void => {
    const over = size() - maxEntries;
    if (over > 0) evict.run(over);
  };
  trim();
  let writes = 0;
  return {
    get(key) {
      const row = read.get(key) as { value: string } | undefined;
      if (!row) return null;
      let value: unknown;
      try {
        value = JSON.parse(row.value);
      } catch {
        return null;
      }
      if (!isCached(value)) return null;
      touch.run(++tick, key);
      return value;
    },
    set(key, value) {
      write.run(key, JSON.stringify({ output: value.output, costUsd: value.costUsd }), ++tick);
      if (++writes % EVICT_EVERY === 0) trim();
    },
    size,
    close() {
      trim();
      db.close();
    },
  };
}
