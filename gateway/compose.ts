// The composition root: builds the gateway's Deps from the environment, and closes what it opened.
// Settings and config are read and checked first (a mistake fails here, before anything is opened),
// then tracing, the store, the prompt files synced into it, the prompt catalog, the upstream client
// and the aggregate writer. `promptgate serve` calls it; what it wires takes its inputs as arguments.
import { join } from "node:path";
import { startPromptSource } from "./catalog/prompt-source.ts";
import { ConfigError, loadGatewayConfig } from "./config/gateway-config.ts";
import { loadSettings, snapshotPath } from "./config/settings.ts";
import type { Deps } from "./deps.ts";
import { createMockProvider } from "./providers/mock.ts";
import { createUpstream } from "./providers/upstream.ts";
import { openGatewayWarning } from "./proxy/auth.ts";
import { syncPromptFiles } from "./registry/startup-sync.ts";
import { openStore } from "./store/open-store.ts";
import { systemClock } from "./support/clock.ts";
import { createLogger } from "./support/logger.ts";
import { createAggregateWriter } from "./telemetry/aggregates.ts";
import { startTracing, tracingWarnings } from "./telemetry/otel.ts";
import { loadPricing } from "./telemetry/pricing.ts";

export interface ComposedGateway {
  readonly deps: Deps;
  /** Whether spans are exported (OTEL_* names a collector). */
  readonly tracing: boolean;
  /** Stops the background work, flushes spans and aggregates, closes the upstream pool, then the store. */
  readonly close: () => Promise<void>;
}

export async function composeGateway(env: NodeJS.ProcessEnv): Promise<ComposedGateway> {
  const settings = loadSettings(env);
  const logger = createLogger(settings.logLevel);
  const config = await loadGatewayConfig(settings.configDir, env);
  const prices = await loadPricing(settings.configDir);
  const tracing = startTracing(env);

  const warning = openGatewayWarning(config);
  if (warning) logger.warn(warning);
  for (const w of tracingWarnings(env)) logger.warn(w);
  for (const p of config.providers.values()) {
    if (p.apiKeyEnv && p.apiKey === null) {
      logger.info(`${p.apiKeyEnv} is not set: provider "${p.name}" receives each caller's own Authorization header`);
    }
  }

  const store = await openStore({
    redisUrl: settings.redisUrl,
    statePath: settings.statePath,
    prefix: settings.redisPrefix,
    logger,
  });
  await syncPromptFiles(join(settings.configDir, "prompts"), config.prompts, store, systemClock, logger).catch(
    (err: unknown) => {
      if (err instanceof ConfigError) throw err;
      // The store may be down: the gateway still serves the snapshot it kept on disk.
      logger.warn("prompt files not synced at start", { error: err instanceof Error ? err.message : String(err) });
    },
  );
  const prompts = await startPromptSource({ store, clock: systemClock, logger, snapshotPath: snapshotPath(settings) });
  const upstream = createUpstream(config.limits, createMockProvider(Math.random));
  const aggregates = createAggregateWriter({ store, logger, options: config.aggregates });
  const deps: Deps = {
    settings,
    config,
    prices,
    clock: systemClock,
    random: Math.random,
    store,
    prompts,
    upstream,
    logger,
    tracer: tracing.tracer,
    spanExport: tracing.stats,
    aggregates,
    lifecycle: { ready: false, draining: false },
  };
  return {
    deps,
    tracing: tracing.exporting,
    close: async () => {
      await Promise.allSettled([prompts.stop(), upstream.close(), tracing.shutdown(), aggregates.stop()]);
      await store.close();
    },
  };
}
