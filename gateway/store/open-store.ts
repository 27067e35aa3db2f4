// Picks the store for this process: Redis when REDIS_URL is set (shared by replicas), else the
// embedded SQLite file at STATE_PATH (one machine, CLI and gateway side by side).
import type { Logger } from "../support/logger.ts";
import { createRedisStore } from "./redis-store.ts";
import { createSqliteStore } from "./sqlite-store.ts";
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  readonly redisUrl?: string | undefined;
  readonly statePath: string;
  readonly prefix: string;
  readonly logger: Logger;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { redisUrl, statePath, prefix, logger } = opts;
  if (redisUrl) return createRedisStore({ url: redisUrl, prefix, logger });
  return createSqliteStore({ path: statePath, prefix, logger });
}
