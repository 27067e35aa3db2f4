// At start, `serve` registers the prompt files under CONFIG_DIR/prompts (idempotent: versions are
// immutable) and, when asked, gives unlabelled prompts their newest version so a first try works.
// When the store is down at start, or behind the snapshot the replica serves, the sync is retried in
// the background until it succeeds: never into a store that lost data, which `promptgate restore` fixes.
import type { PromptsOptions } from "../config/gateway-config.ts";
import { ConfigError } from "../config/gateway-config.ts";
import type { Clock } from "../support/clock.ts";
import { ENVIRONMENTS } from "./environments.ts";
import { pushVersions } from "./prompt-ops.ts";
import { createRegistry } from "./registry.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { loadPromptDir, PromptFileError } from "../prompts/prompt-file.ts";
import type { PromptVersion } from "../prompts/types.ts";
import { errorText } from "./snapshot-file.ts";
import { loadSnapshot, type RegistrySnapshot } from "./snapshot.ts";
import { storeRegression, type Regression } from "./store-regression.ts";

export const STARTUP_ACTOR = "promptgate serve";

export async function syncPromptFiles(
  dir: string,
  options: PromptsOptions,
  store: Store,
  clock: Clock,
  logger: Logger,
): Promise<void> {
  const versions = await loadStartupPrompts(dir, options);
  if (versions !== null) await registerStartupPrompts(versions, options, store, clock, logger);
}

/** The prompt files to sync at start; null when `register_on_start` is off. A broken file is a ConfigError. */
export async function loadStartupPrompts(dir: string, options: PromptsOptions): Promise<PromptVersion[] | null> {
  if (!options.register_on_start) return null;
  try {
    return await loadPromptDir(dir);
  } catch (err) {
    // A broken prompt file in the gateway's own config is a config error: fail fast, say where.
    if (err instanceof PromptFileError) throw new ConfigError(err.message);
    throw err;
  }
}

/**
 * Registers `versions` unless the store is behind `held` (the snapshot the replica serves, or its
 * disk copy): bootstrapping labels into a store that lost them would overwrite them with guesses.
 * Returns the regression that stopped it, else null; throws when the store does not answer.
 */
export async function syncUnlessBehind(
  versions: readonly PromptVersion[],
  held: RegistrySnapshot | null,
  options: PromptsOptions,
  store: Store,
  clock: Clock,
  logger: Logger,
): Promise<Regression | null> {
  if (held !== null) {
    const regression = await storeRegression(store, held, await loadSnapshot(store, logger));
    if (regression !== null) return regression;
  }
  await registerStartupPrompts(versions, options, store, clock, logger);
  return null;
}

export interface RetryOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The first wait (default 1 s); it doubles after each failure up to `maxDelayMs` (default 30 s). */
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface BackgroundRetry {
  /** Resolves true once an attempt succeeded, false when stopped first. */
  readonly done: Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Runs `attempt` after a wait, again and again, until it returns null. An attempt that throws (the
 * store is down) is logged as a warning each time and doubles the wait; one that returns a regression
 * (the store answers, but is behind) is logged once, and the next comes after the first wait again.
 */
export function retryStartupSync(
  attempt: () => Promise<Regression | null>,
  { clock, logger, firstDelayMs = 1_000, maxDelayMs = 30_000 }: RetryOptions,
): BackgroundRetry {
  const abort = new AbortController();
  const done = (async () => {
    let delay = firstDelayMs;
    let waitingForRestore = false;
    for (let n = 1; ; n++) {
      try {
        await clock.sleep(delay, abort.signal);
      } catch {
        return false; // stopped
      }
      try {
        const regression = await attempt();
        if (regression === null) {
          logger.info("prompt files synced", { attempt: n });
          return true;
        }
        if (!waitingForRestore)
          logger.warn("prompt files not synced: the store is behind the snapshot served; restore it first", {
            held_revision: regression.heldRevision,
            store_revision: regression.storeRevision,
          });
        waitingForRestore = true;
        delay = firstDelayMs; // the store answers: sync soon after it is restored
      } catch (err) {
        delay = Math.min(delay * 2, maxDelayMs);
        logger.warn("prompt files still not synced; retrying", {
          attempt: n,
          retry_in_ms: delay,
          error: errorText(err),
        });
      }
    }
  })();
  return {
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/** Registers the versions and, when asked, bootstraps the labels of prompts that have none. */
async function registerStartupPrompts(
  versions: readonly PromptVersion[],
  options: PromptsOptions,
  store: Store,
  clock: Clock,
  logger: Logger,
): Promise<void> {
  const registry = createRegistry(store, clock);
  const outcomes = await pushVersions(registry, versions, STARTUP_ACTOR);
  for (const o of outcomes) {
    if (o.status === "error")
      logger.warn("prompt version not registered at start", {
        prompt: o.name,
        version: o.version,
        error: o.error.message,
      });
    else if (o.status === "created") logger.info("prompt version registered", { prompt: o.name, version: o.version });
  }
  if (!options.bootstrap_labels) return;
  for (const name of new Set(versions.map((v) => v.name))) {
    try {
      const newest = (await registry.versions(name)).at(-1);
      const labels = await registry.labels(name);
      if (newest === undefined || ENVIRONMENTS.some((env) => labels[env] !== null)) continue;
      // In order, so prod's "was on staging first" rule holds without forcing.
      for (const env of ENVIRONMENTS)
        await registry.promote(name, newest, env, { approvedBy: `${STARTUP_ACTOR} (bootstrap_labels)` });
      logger.info("prompt labels bootstrapped", { prompt: name, version: newest });
    } catch (err) {
      logger.warn("could not bootstrap prompt labels", {
        prompt: name,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
