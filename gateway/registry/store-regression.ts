// Whether the store has gone backwards behind the registry snapshot a replica serves (Redis restarted
// without persistence, a FLUSH, evicted keys), and the guard that keeps such a store from replacing a
// good snapshot. A legitimate change never lowers the revision (it is only ever incremented), never
// removes or rewrites a version (versions are immutable) and never removes a label (labels move).
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import type { Store } from "../store/store.ts";
import { labelKey, LABELS_PREFIX, PROMPTS_PREFIX, versionKey } from "../store/keys.ts";
import type { RegistrySnapshot } from "./snapshot.ts";

export interface Regression {
  /** The revision of the snapshot held. */
  readonly heldRevision: number;
  readonly storeRevision: number;
  /** `name@version`: held, but absent from the store or stored with other content. */
  readonly versions: readonly string[];
  /** `name@env`: labels held, but absent from the store. */
  readonly labels: readonly string[];
}

/** What `held` has that `next` lost; null when `next` may legitimately follow `held`. Pure. */
export function findRegression(held: RegistrySnapshot, next: RegistrySnapshot): Regression | null {
  const versions: string[] = [];
  const labels: string[] = [];
  for (const [name, entry] of held.prompts) {
    const now = next.prompts.get(name);
    for (const [version, v] of entry.versions) {
      if (now?.versions.get(version)?.hash !== v.hash) versions.push(`${name}@${version}`);
    }
    for (const env of entry.labels.keys()) if (now?.labels.has(env) !== true) labels.push(`${name}@${env}`);
  }
  if (next.revision >= held.revision && versions.length === 0 && labels.length === 0) return null;
  return { heldRevision: held.revision, storeRevision: next.revision, versions: versions.sort(), labels };
}

/**
 * `findRegression`, not counting values the store still holds but could not be read into `next`
 * (hand-edited, wrong type): those are skipped and logged where they are read, not lost. A lower
 * revision is a regression whatever else holds: only a reset store counts down.
 */
export async function storeRegression(
  store: Store,
  held: RegistrySnapshot,
  next: RegistrySnapshot,
): Promise<Regression | null> {
  const found = findRegression(held, next);
  if (found === null) return null;
  const unread = (item: string): boolean => {
    const { name, part } = splitItem(item);
    return !next.prompts.get(name)?.versions.has(part); // absent from `next`, not stored with other content
  };
  if (found.labels.length === 0 && !found.versions.some(unread)) return found;
  const [versionKeys, labelKeys] = await Promise.all([store.keys(PROMPTS_PREFIX), store.keys(LABELS_PREFIX)]);
  const stored = new Set([...versionKeys, ...labelKeys]);
  const versions = found.versions.filter((item) => {
    const { name, part } = splitItem(item);
    return !(unread(item) && stored.has(versionKey(name, part)));
  });
  const labels = found.labels.filter((item) => {
    const { name, part } = splitItem(item);
    return !stored.has(labelKey(part, name));
  });
  if (found.storeRevision >= found.heldRevision && versions.length === 0 && labels.length === 0) return null;
  return { ...found, versions, labels };
}

/** `name@version` or `name@env` -> its parts (names never hold '@'). */
function splitItem(item: string): { name: string; part: string } {
  const at = item.lastIndexOf("@");
  return { name: item.slice(0, at), part: item.slice(at + 1) };
}

/** The store is behind the snapshot this replica serves: what /readyz and the log say. */
export interface StoreBehind {
  /** ISO time the regression was first seen. */
  readonly since: string;
  readonly heldRevision: number;
  readonly storeRevision: number;
  readonly missingVersions: number;
  readonly missingLabels: number;
}

/** What a replica reports about its registry: /readyz details and the registry metrics. */
export interface RegistryHealth {
  /** The revision of the snapshot served; null before one is held. */
  readonly revision: number | null;
  /** `behind`: the store lost what the snapshot served holds (see `behind`); it is served as it was. */
  readonly store: "current" | "unreachable" | "behind";
  readonly behind: StoreBehind | null;
  /** Times the store fell behind since start. */
  readonly regressions: number;
}

export interface StoreGuard {
  /**
   * Whether `next`, just read from the store, may replace `held` (always, when nothing is held yet).
   * When it may not, the first refusal of an episode is logged as an error and counted.
   */
  admits(held: RegistrySnapshot | null, next: RegistrySnapshot): Promise<boolean>;
  /** Null while the store is current. */
  behind(): StoreBehind | null;
  /** Episodes since start: each time the store fell behind a snapshot that was being served. */
  regressions(): number;
}

/** At most this many names in one log line; the counts say how many there were. */
const LOGGED_ITEMS = 10;

export function createStoreGuard(opts: {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The replica's snapshot file, named in the log line as what to restore from. */
  readonly diskPath: string;
}): StoreGuard {
  const { store, clock, logger, diskPath } = opts;
  let behind: StoreBehind | null = null;
  let regressions = 0;
  return {
    async admits(held, next) {
      const found = held === null ? null : await storeRegression(store, held, next);
      if (found === null) {
        if (behind !== null) {
          logger.info("registry store caught up with the snapshot served; following it again", {
            revision: next.revision,
            behind_since: behind.since,
          });
        }
        behind = null;
        return true;
      }
      const detail = {
        heldRevision: found.heldRevision,
        storeRevision: found.storeRevision,
        missingVersions: found.versions.length,
        missingLabels: found.labels.length,
      };
      if (behind === null) {
        regressions++;
        logger.error("registry store is behind the snapshot served; keeping the last good snapshot", {
          held_revision: found.heldRevision,
          store_revision: found.storeRevision,
          missing_versions: found.versions.slice(0, LOGGED_ITEMS),
          missing_versions_count: found.versions.length,
          missing_labels: found.labels.slice(0, LOGGED_ITEMS),
          missing_labels_count: found.labels.length,
          fix: `promptgate restore --from-snapshot ${diskPath}`,
        });
        behind = { since: new Date(clock.now()).toISOString(), ...detail };
      } else behind = { since: behind.since, ...detail };
      return false;
    },
    behind: () => behind,
    regressions: () => regressions,
  };
}
