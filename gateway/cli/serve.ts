// `promptgate serve`: wires the real dependencies, serves, and drains on SIGTERM.
import { join } from "node:path";
import { ConfigError, loadGatewayConfig } from "../config/gateway-config.ts";
import { loadSettings, snapshotPath } from "../config/settings.ts";
import type { Deps } from "../deps.ts";
import { startPromptSource } from "../prompts/prompt-source.ts";
import { syncPromptFiles } from "../prompts/startup-sync.ts";
import { createMockProvider } from "../providers/mock.ts";
import { openGatewayWarning } from "../proxy/auth.ts";
import { createUpstream } from "../proxy/upstream.ts";
import { startGateway } from "../server.ts";
import { createAggregateWriter } from "../telemetry/aggregates.ts";
import { startTracing, tracingWarnings } from "../telemetry/otel.ts";
import { loadPricing } from "../telemetry/pricing.ts";
import { openStore } from "../store/open-store.ts";
import { systemClock } from "../support/clock.ts";
import { createLogger } from "../support/logger.ts";
import { listenFailure, OpenedResources, stopWithParent } from "./serve-lifecycle.ts";

export async function serve(env: NodeJS.ProcessEnv): Promise<void> {
  const settings = loadSettings(env);
  const logger = createLogger(settings.logLevel);
  const config = await loadGatewayConfig(settings.configDir, env);
  const prices = await loadPricing(settings.configDir);
  // What start-up opens is closed again, newest first, if a later step throws (a port in use, a
  // prompt file refused), so that the process exits instead of idling on timers and sockets.
  await using opened = new OpenedResources(logger);
  const tracing = startTracing(env);
  opened.defer("tracing", () => tracing.shutdown());

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
  opened.defer("store", () => store.close());
  await syncPromptFiles(join(settings.configDir, "prompts"), config.prompts, store, systemClock, logger).catch(
    (err: unknown) => {
      if (err instanceof ConfigError) throw err;
      // The store may be down: the gateway still serves the snapshot it kept on disk.
      logger.warn("prompt files not synced at start", { error: err instanceof Error ? err.message : String(err) });
    },
  );
  const prompts = await startPromptSource({ store, clock: systemClock, logger, snapshotPath: snapshotPath(settings) });
  opened.defer("prompt refresh", () => prompts.stop());
  const upstream = createUpstream(config.limits, createMockProvider(Math.random));
  opened.defer("upstream", () => upstream.close());
  const aggregates = createAggregateWriter({ store, logger, options: config.aggregates });
  opened.defer("aggregates", () => aggregates.stop()); // closed first: its last flush needs the store
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
  const gw = await startGateway(deps, settings.port, settings.host).catch((err: unknown) => {
    throw listenFailure(err, settings.host, settings.port);
  });
  const running = opened.keep(); // listening: from here on, shutdown closes them
  logger.info("promptgate listening", {
    url: `http://${settings.host}:${gw.port}`,
    store: store.kind,
    env: settings.gatewayEnv,
    tracing: tracing.exporting,
  });

  const shutdown = async (signal: string): Promise<void> => {
    logger.info("draining", { signal, drain_ms: settings.drainTimeoutMs });
    const clean = await gw.stop(settings.drainTimeoutMs);
    await running.close();
    logger.info("stopped", { drained: clean });
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  stopWithParent(env, () => void shutdown("parent exited"));
}
