// The registry a CLI verb works on, opened exactly as the gateway opens its store: Redis when
// REDIS_URL is set, else the embedded SQLite file at STATE_PATH (shared with a running gateway).
import type { Settings } from "../config/settings.ts";
import type { Clock } from "../support/clock.ts";
import type { Registry } from "../registry/registry.ts";
import type { Store } from "../store/store.ts";

export interface CliContext {
  readonly settings: Settings;
  readonly store: Store;
  readonly clock: Clock;
  readonly registry: Registry;
  /** After a failure: which store stopped answering during the command, in plain words; else null. */
  lostStore(): Promise<string | null>;
  close(): Promise<void>;
}

export async function openContext(env: NodeJS.ProcessEnv): Promise<CliContext> {
  // Loaded here rather than on import, so --help and usage errors answer without loading the store.
  const [{ loadSettings }, { openStore, redisTarget }, { createRegistry }, { systemClock }, { createLogger }] =
    await Promise.all([
      import("../config/settings.ts"),
      import("../store/open-store.ts"),
      import("../registry/registry.ts"),
      import("../support/clock.ts"),
      import("../support/logger.ts"),
    ]);
  const settings = loadSettings(env);
  // A command prints its own one-line failure; store chatter only when LOG_LEVEL=debug.
  const logger = createLogger(settings.logLevel === "debug" ? "debug" : "error");
  const store = await openStore({
    redisUrl: settings.redisUrl,
    statePath: settings.statePath,
    prefix: settings.redisPrefix,
    logger,
    // A command against a store that is down fails at once, naming it, rather than on its first read.
    requireConnection: true,
  });
  return {
    settings,
    store,
    clock: systemClock,
    registry: createRegistry(store, systemClock),
    async lostStore() {
      // The embedded store is a local file: its own errors already say what went wrong.
      if (store.kind !== "redis") return null;
      const answers = await store.ping().then(
        () => true,
        () => false,
      );
      const where = redisTarget(settings.redisUrl ?? "");
      return answers ? null : `lost the connection to Redis at ${where} (REDIS_URL) during the command`;
    },
    close: () => store.close(),
  };
}

/** Who a change is recorded as when the command does not say: the login name, else "cli". */
export function defaultActor(env: NodeJS.ProcessEnv): string {
  const user = env["USER"]?.trim();
  return user === undefined || user === "" ? "cli" : user;
}
