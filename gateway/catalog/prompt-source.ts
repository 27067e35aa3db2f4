// Keeps the request path's prompt catalog current: the registry snapshot refresher feeds it, and
// each new snapshot is compiled in the background. Requests only ever read `catalog()`.
import type { Clock } from "../support/clock.ts";
import { createSnapshotRefresher } from "../registry/snapshot.ts";
import type { RegistryHealth } from "../registry/store-regression.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { createBucketer, createUserHasher, type Bucketer, type UserHasher } from "../split/bucket.ts";
import { buildCatalog, type PromptCatalog } from "./catalog.ts";
import type { SplitStats } from "../split/label-splits.ts";
import type { InvalidKey } from "../registry/refresh-reads.ts";
import { versionKey } from "../store/keys.ts";

export interface PromptSource {
  /** Hashes (prompt, user) to a bucket for the canary split. */
  readonly bucketer: Bucketer;
  /** Hashes a user id for distinct-user counts. */
  readonly userHasher: UserHasher;
  /** Weights hashes refused since start (the last good split stayed). */
  readonly splitStats: SplitStats;
  /** The current catalog, or null before the first snapshot arrived. */
  catalog(): PromptCatalog | null;
  /** True once a snapshot is held (from the store, or from disk while the store is down). */
  ready(): boolean;
  /** Registry keys skipped now: those the refresh could not read, and versions that do not compile. */
  invalidKeys(): readonly InvalidKey[];
  /** Whether the store is current, unreachable, or behind the snapshot served (/readyz, metrics). */
  health(): RegistryHealth;
  stop(): Promise<void>;
}

export interface PromptSourceOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the last snapshot is kept so a replica can boot while the store is down. */
  readonly snapshotPath: string;
  readonly intervalMs?: number;
}

export async function startPromptSource(opts: PromptSourceOptions): Promise<PromptSource> {
  let catalog: PromptCatalog | null = null;
  const bucketer = await createBucketer();
  const userHasher = await createUserHasher();
  const splitStats: SplitStats = { invalidChanges: 0 };
  const refresher = createSnapshotRefresher({
    store: opts.store,
    clock: opts.clock,
    logger: opts.logger,
    diskPath: opts.snapshotPath,
    ...(opts.intervalMs === undefined ? {} : { intervalMs: opts.intervalMs }),
    onSnapshot: (snapshot) => {
      catalog = buildCatalog(snapshot, catalog, opts.logger, splitStats);
    },
    onWeightsRefused: () => {
      splitStats.invalidChanges++;
    },
  });
  await refresher.start();
  return {
    bucketer,
    userHasher,
    splitStats,
    catalog: () => catalog,
    ready: () => refresher.ready() && catalog !== null,
    invalidKeys: () => [...refresher.invalidKeys(), ...(catalog ? uncompilableKeys(catalog) : [])],
    health: () => refresher.health(),
    stop: () => refresher.stop(),
  };
}

/** The versions of the catalog's snapshot whose templates do not compile (each logged once, when compiled). */
function uncompilableKeys(catalog: PromptCatalog): InvalidKey[] {
  const out: InvalidKey[] = [];
  if (catalog.uncompilable.size === 0) return out;
  for (const [name, entry] of catalog.snapshot.prompts) {
    for (const [version, v] of entry.versions) {
      if (!catalog.uncompilable.has(v.hash)) continue;
      const detail = "its templates do not compile; requests for it fail";
      out.push({ key: versionKey(name, version), family: "version", reason: "does_not_compile", detail, kept: false });
    }
  }
  return out;
}
