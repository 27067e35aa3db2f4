// At start, `serve` registers the prompt files under CONFIG_DIR/prompts (idempotent: versions are
// immutable) and, when asked, gives unlabelled prompts their newest version so a first try works.
import type { PromptsOptions } from "../config/gateway-config.ts";
import { ConfigError } from "../config/gateway-config.ts";
import type { Clock } from "../support/clock.ts";
import { ENVIRONMENTS } from "./environments.ts";
import { pushVersions } from "./prompt-ops.ts";
import { createRegistry } from "./registry.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { loadPromptDir, PromptFileError } from "../prompts/prompt-file.ts";

export const STARTUP_ACTOR = "promptgate serve";

export async function syncPromptFiles(
  dir: string,
  options: PromptsOptions,
  store: Store,
  clock: Clock,
  logger: Logger,
): Promise<void> {
  if (!options.register_on_start) return;
  let versions;
  try {
    versions = await loadPromptDir(dir);
  } catch (err) {
    // A broken prompt file in the gateway's own config is a config error: fail fast, say where.
    if (err instanceof PromptFileError) throw new ConfigError(err.message);
    throw err;
  }
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
