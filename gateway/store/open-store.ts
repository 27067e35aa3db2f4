// Picks the store for this process: Redis when REDIS_URL is set (shared by replicas), else the
// embedded SQLite file at STATE_PATH (one machine, CLI and gateway side by side).
import type { Logger } from "../support/logger.ts";
import { createRedisStore } from "./redis-store.ts";
import { createSqliteStore } from "./sqlite-store.ts";
import type { Store } from "./store.ts";

export { redisTarget } from "./redis-store.ts";

export interface OpenStoreOptions {
  readonly redisUrl?: string | undefined;
  readonly statePath: string;
  readonly prefix: string;
  readonly logger: Logger;
  /**
   * Fail when Redis does not answer at once (the CLI: one clear error, within seconds). Without it
   * the store opens anyway and fails each command until Redis is back (the gateway, which serves its
   * last snapshot meanwhile).
   */
  readonly requireConnection?: boolean;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { redisUrl, statePath, prefix, logger } = opts;
  if (redisUrl)
    return createRedisStore({ url: redisUrl, prefix, logger, requireConnection: opts.requireConnection ?? false });
  try {
    return createSqliteStore({ path: statePath, prefix, logger });
  } catch (err) {
    // node:sqlite says "unable to open database file" or "file is not a database", but not which file.
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot open the embedded store ${statePath} (STATE_PATH): ${reason}`, { cause: err });
  }
}
