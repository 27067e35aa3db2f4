// The registry as the request path reads it: an immutable in-memory snapshot, kept fresh in the
// background (change channel + polling), surviving store outages and restarts through a disk copy.
import type { WeightsHash } from "../split/weights.ts";
import type { Clock } from "../support/clock.ts";
import type { PromptVersion } from "../prompts/types.ts";
import type { Store } from "../store/store.ts";
import { silentLogger } from "../support/logger.ts";
import type { Logger } from "../support/logger.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";
import { CHANGE_CHANNEL, labelKey, parseVersionKey, PROMPTS_PREFIX, versionKey } from "../store/keys.ts";
import type { Bounded } from "../store/store.ts";
import { createInvalidKeyReport } from "./invalid-keys.ts";
import { parseLabelRecord, parsePromptVersion } from "./records.ts";
import {
  KEY_FAMILIES,
  MAX_RECORD_BYTES,
  readRevision,
  readWeights,
  type InvalidKey,
  type KeyFamily,
  type WeightsByName,
} from "./refresh-reads.ts";
import { errorText, readSnapshotFile, writeSnapshotFile } from "./snapshot-file.ts";
import { createRecordsReader } from "./snapshot-records.ts";
import { createStoreGuard, type RegistryHealth } from "./store-regression.ts";

export interface PromptEntry {
  readonly versions: ReadonlyMap<string, PromptVersion>;
  /** env -> the version its label points at. */
  readonly labels: ReadonlyMap<Environment, string>;
  /** The raw `weights:{env}:{name}` hashes, non-empty ones only (empty or missing: 100% to the label). */
  readonly weights: ReadonlyMap<Environment, WeightsHash>;
}

/** Never mutated once published: a refresh builds a new one, so a request keeps a consistent view. */
export interface RegistrySnapshot {
  readonly revision: number;
  readonly prompts: ReadonlyMap<string, PromptEntry>;
}

export interface LoadOptions {
  /** What the last refresh read: a key that cannot be read now keeps its value from there. */
  readonly previous?: RegistrySnapshot | null;
  /** Receives every key skipped; without it, each one is logged as it is found. */
  readonly invalid?: InvalidKey[];
}

/**
 * Reads the whole registry: the revision first (so a change racing this load bumps it past what we
 * report and the next poll reloads), one key scan, one bounded read of versions and labels, and the
 * weights hashes (refresh-reads.ts). A key that cannot be read (another type, too large, unparsable) is
 * skipped and reported, keeping its value from `previous` when there is one; the others load as usual.
 */
export async function loadSnapshot(
  store: Store,
  logger: Logger = silentLogger,
  options: LoadOptions = {},
): Promise<RegistrySnapshot> {
  const previous = options.previous ?? null;
  const invalid: InvalidKey[] = [];
  const revision = (await readRevision(store, invalid)) ?? previous?.revision ?? 0;
  const byName = new Map<string, string[]>();
  for (const key of await store.keys(PROMPTS_PREFIX)) {
    const parsed = parseVersionKey(key);
    if (parsed) byName.set(parsed.name, [...(byName.get(parsed.name) ?? []), parsed.version]);
  }
  const names = [...byName.keys()].sort();
  const versionKeys = names.flatMap((name) => (byName.get(name) ?? []).map((v) => versionKey(name, v)));
  const labelKeys = names.flatMap((name) => ENVIRONMENTS.map((env) => labelKey(env, name)));
  const heldWeights = (name: string, env: Environment): WeightsHash | undefined =>
    previous?.prompts.get(name)?.weights.get(env);
  const [values, weights] = await Promise.all([
    store.readStrings([...versionKeys, ...labelKeys], MAX_RECORD_BYTES),
    readWeights(store, names, heldWeights, invalid),
  ]);

  const prompts = new Map<string, PromptEntry>();
  let v = 0; // versions come first in `values`, then three labels per name
  let l = versionKeys.length;
  for (const name of names) {
    const held = previous?.prompts.get(name);
    const versions = new Map<string, PromptVersion>();
    for (const version of byName.get(name) ?? []) {
      const key = versionKey(name, version);
      const parsed = readRecord(values[v++], key, "version", parsePromptVersion, held?.versions.get(version), invalid);
      if (parsed !== null) versions.set(version, parsed);
    }
    const labels = new Map<Environment, string>();
    for (const env of ENVIRONMENTS) {
      const label = readRecord(values[l++], labelKey(env, name), "label", labelVersion, held?.labels.get(env), invalid);
      if (label !== null) labels.set(env, label);
    }
    prompts.set(name, { versions, labels, weights: weights.get(name) ?? new Map() });
  }
  if (options.invalid) options.invalid.push(...invalid);
  else for (const { key, reason, detail } of invalid) logger.warn("registry key skipped", { key, reason, detail });
  return { revision, prompts };
}

function unparsable(text: string | null, family: KeyFamily): string {
  try {
    JSON.parse(text ?? "");
    return `JSON, but not a ${family} record`;
  } catch {
    return `${text?.length ?? 0} characters that are not JSON`;
  }
}

const labelVersion = (text: string): string | null => parseLabelRecord(text)?.version ?? null;

/** A record's value: parsed, or (when it cannot be read) reported and replaced by the one held, if any. */
function readRecord<T>(
  read: Bounded<string | null> | undefined,
  key: string,
  family: KeyFamily,
  parse: (text: string) => T | null,
  held: T | undefined,
  invalid: InvalidKey[],
): T | null {
  if (!read) throw new Error("the store answered fewer reads than asked");
  if (read.ok && read.value === null) return null; // absent: a label not set, a version deleted since the scan
  const parsed = read.ok && read.value !== null ? parse(read.value) : null;
  if (parsed !== null) return parsed;
  const kept = held !== undefined;
  if (read.ok) invalid.push({ key, family, reason: "unparsable", detail: unparsable(read.value, family), kept });
  else invalid.push({ key, family, reason: read.problem, detail: read.detail, kept });
  return held ?? null;
}

/** `snapshot` with the given weights; the same object when nothing changed (entries are shared). */
export function withWeights(snapshot: RegistrySnapshot, weights: WeightsByName): RegistrySnapshot {
  let changed = false;
  const prompts = new Map<string, PromptEntry>();
  for (const [name, entry] of snapshot.prompts) {
    const fresh = weights.get(name) ?? new Map<Environment, WeightsHash>();
    if (sameWeights(entry.weights, fresh)) prompts.set(name, entry);
    else {
      changed = true;
      prompts.set(name, { ...entry, weights: fresh });
    }
  }
  return changed ? { revision: snapshot.revision, prompts } : snapshot;
}

/** Equal content: revision, versions (by hash), labels and weights. */
export function sameSnapshot(a: RegistrySnapshot, b: RegistrySnapshot): boolean {
  if (a === b) return true;
  if (a.revision !== b.revision || a.prompts.size !== b.prompts.size) return false;
  for (const [name, x] of a.prompts) {
    const y = b.prompts.get(name);
    if (!y || x.versions.size !== y.versions.size || !sameWeights(x.weights, y.weights)) return false;
    for (const [version, pv] of x.versions) if (y.versions.get(version)?.hash !== pv.hash) return false;
    if (x.labels.size !== y.labels.size) return false;
    for (const [env, version] of x.labels) if (y.labels.get(env) !== version) return false;
  }
  return true;
}

function sameWeights(a: ReadonlyMap<Environment, WeightsHash>, b: ReadonlyMap<Environment, WeightsHash>): boolean {
  if (a.size !== b.size) return false;
  for (const [env, x] of a) {
    const y = b.get(env);
    if (!y) return false;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length || keys.some((k) => x[k] !== y[k])) return false;
  }
  return true;
}

export interface SnapshotRefresherOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called with every new snapshot (never twice with equal content); a throw is logged, not raised. */
  readonly onSnapshot: (snapshot: RegistrySnapshot) => void;
  /** Where the last snapshot is kept for starts while the store is down. */
  readonly diskPath: string;
  /** Poll period for the revision and the weights hashes (default 250 ms). */
  readonly intervalMs?: number;
  /** How long start() waits for the store before falling back to disk (default 1500 ms). */
  readonly startTimeoutMs?: number;
  /** Called once per weights hash refused at read (another type, too large): an invalid canary change. */
  readonly onWeightsRefused?: () => void;
}

export interface SnapshotRefresher {
  /** Resolves after the first load from the store, or from disk when the store does not answer in time. */
  start(): Promise<void>;
  stop(): Promise<void>;
  current(): RegistrySnapshot | null;
  /** True once a snapshot is held (from the store or from disk): what /readyz reports. */
  ready(): boolean;
  /** The keys the refresh skips now (another type, too large, unparsable); each was logged once. */
  invalidKeys(): readonly InvalidKey[];
  /** The store as this replica last saw it: current, unreachable, or behind the snapshot served. */
  health(): RegistryHealth;
}

export function createSnapshotRefresher(opts: SnapshotRefresherOptions): SnapshotRefresher {
  const { store, clock, logger, diskPath } = opts;
  const intervalMs = opts.intervalMs ?? 250;
  const abort = new AbortController();
  let snapshot: RegistrySnapshot | null = null;
  let fresh = false; // the held snapshot was read from the store since the last outage (else: full reload)
  let down = false; // an outage is in progress and has been logged once
  let started = false;
  let stopped = false;
  let unsubscribe: (() => Promise<void>) | null = null;
  let subscribing = false;
  let loop: Promise<void> = Promise.resolve();
  let running: Promise<void> | null = null;
  let again = false;
  let diskPending: RegistrySnapshot | null = null;
  let diskWriting: Promise<void> | null = null;
  const invalidKeys = createInvalidKeyReport({
    logger,
    ...(opts.onWeightsRefused ? { onWeightsRefused: opts.onWeightsRefused } : {}),
  });
  // A store that went backwards (emptied, keys lost) never replaces the snapshot served, nor its disk copy.
  const guard = createStoreGuard({ store, clock, logger, diskPath });
  const records = createRecordsReader(store, logger);

  const persist = (next: RegistrySnapshot): void => {
    diskPending = next;
    diskWriting ??= (async () => {
      while (diskPending) {
        const s = diskPending;
        diskPending = null;
        try {
          await writeSnapshotFile(diskPath, s, new Date(clock.now()), await records(s));
        } catch (err) {
          logger.warn("registry snapshot not saved to disk", { path: diskPath, error: errorText(err) });
        }
      }
    })().finally(() => {
      diskWriting = null;
      if (diskPending) persist(diskPending);
    });
  };

  const publish = (next: RegistrySnapshot, save: boolean): void => {
    if (stopped || (snapshot && sameSnapshot(snapshot, next))) return;
    snapshot = next;
    try {
      opts.onSnapshot(next);
    } catch (err) {
      logger.error("registry snapshot listener failed", { error: errorText(err) });
    }
    if (save) persist(next);
  };

  const subscribe = (): void => {
    if (unsubscribe || subscribing || stopped) return;
    subscribing = true;
    store
      .subscribe(CHANGE_CHANNEL, () => void refresh())
      .then(
        (off) => {
          subscribing = false;
          if (stopped) void off();
          else unsubscribe = off;
        },
        () => {
          subscribing = false; // unreachable: the next tick tries again (the outage is logged there)
        },
      );
  };

  const tick = async (): Promise<void> => {
    subscribe();
    try {
      const held = snapshot;
      const found: InvalidKey[] = [];
      // An unreadable revision (null, reported) cannot say the registry changed: the weights still flow.
      const revision = await readRevision(store, found);
      if (!held || !fresh || guard.behind() || (revision !== null && revision !== held.revision)) {
        const loaded = await loadSnapshot(store, logger, { previous: held, invalid: found });
        if (await guard.admits(snapshot, loaded)) publish(loaded, true);
        invalidKeys.update(KEY_FAMILIES, found);
      } else {
        const heldWeights = (name: string, env: Environment): WeightsHash | undefined =>
          held.prompts.get(name)?.weights.get(env);
        const weights = await readWeights(store, [...held.prompts.keys()], heldWeights, found);
        // A store emptied between the two reads must not pass for weights removed: the revision tells.
        if ((await readRevision(store, [])) === revision) publish(withWeights(held, weights), true);
        invalidKeys.update(["revision", "weights"], found);
      }
      fresh = true;
      if (down) logger.info("registry store reachable again", { revision: snapshot?.revision ?? null });
      down = false;
    } catch (err) {
      fresh = false;
      if (!down) {
        logger.warn("registry store unreachable; keeping the last snapshot", {
          error: errorText(err),
          revision: snapshot?.revision ?? null,
        });
      }
      down = true;
    }
  };

  /** One refresh at a time; a request arriving meanwhile runs one more pass after it. */
  const refresh = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await tick();
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const poll = async (): Promise<void> => {
    while (!stopped) {
      try {
        await clock.sleep(intervalMs, abort.signal);
      } catch {
        return; // aborted by stop()
      }
      await refresh();
    }
  };

  const firstLoad = async (): Promise<void> => {
    const timeout = new AbortController();
    const found: InvalidKey[] = [];
    const load = loadSnapshot(store, logger, { invalid: found }).then(
      (loaded) => ({ loaded }),
      (err: unknown) => ({ err }),
    );
    const timer = clock.sleep(opts.startTimeoutMs ?? 1_500, timeout.signal).then(
      () => ({ err: new Error("timed out") }),
      () => ({ err: new Error("cancelled") }),
    );
    const outcome = await Promise.race([load, timer]);
    timeout.abort();
    if ("loaded" in outcome) {
      invalidKeys.update(KEY_FAMILIES, found);
      // The disk copy is the last good snapshot: a store that lost part of it is not taken as the truth.
      const saved = await readSnapshotFile(diskPath, logger);
      const admitted = saved === null || (await guard.admits(saved, outcome.loaded).catch(() => null));
      if (admitted === true) publish(outcome.loaded, true);
      else if (saved) publish(saved, false);
      fresh = admitted !== null; // when the comparison itself failed, the first poll makes it again
      return;
    }
    down = true;
    const saved = await readSnapshotFile(diskPath, logger);
    logger.warn("registry store unreachable at start", {
      error: errorText(outcome.err),
      fallback: saved ? `disk snapshot at revision ${saved.revision}` : "none: not ready until the store answers",
    });
    if (saved) publish(saved, false);
  };

  return {
    async start() {
      if (started) return;
      started = true;
      await firstLoad();
      subscribe();
      loop = poll();
    },
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
      await running;
      const off = unsubscribe;
      unsubscribe = null;
      await off?.();
      await diskWriting;
    },
    current: () => snapshot,
    ready: () => snapshot !== null,
    invalidKeys: () => invalidKeys.current(),
    health: () => {
      const behind = guard.behind();
      return {
        revision: snapshot?.revision ?? null,
        store: behind ? "behind" : down ? "unreachable" : "current",
        behind,
        regressions: guard.regressions(),
      };
    },
  };
}
