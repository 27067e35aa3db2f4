// The composition root: builds the gateway's Deps from the environment, and closes what it opened.
// Settings and config are read and checked first (a mistake fails here, before anything is opened),
// and the scrubber is built from the secrets they hold (the logger writes through it); then tracing,
// the store, the prompt files synced into it (retried in the background while the store is down or
// behind), the prompt catalog, the upstream client and the aggregate writer. When a step fails, what
// the earlier ones opened is closed again, so the process exits instead of idling on timers and
// sockets. `promptgate serve` calls it; what it wires takes its inputs as arguments.
import { join } from "node:path";
import { startPromptSource } from "./catalog/prompt-source.ts";
import { ConfigError, loadGatewayConfig } from "./config/gateway-config.ts";
import { configuredSecrets } from "./config/secrets.ts";
import { loadSettings, snapshotPath } from "./config/settings.ts";
import type { Deps } from "./deps.ts";
import { startRequestIds } from "./feedback/signing-keys.ts";
import { createMockProvider } from "./providers/mock.ts";
import { DAY_MS } from "./feedback/request-id.ts";
import { createUpstream } from "./providers/upstream.ts";
import { openGatewayWarning } from "./proxy/auth.ts";
import { readSnapshotFile } from "./registry/snapshot-file.ts";
import type { RegistrySnapshot } from "./registry/snapshot.ts";
import { loadStartupPrompts, retryStartupSync, syncUnlessBehind } from "./registry/startup-sync.ts";
import { openStore } from "./store/open-store.ts";
import { systemClock } from "./support/clock.ts";
import { createLogger } from "./support/logger.ts";
import { OpenedResources } from "./support/opened-resources.ts";
import { Scrubber, unscrubbedSecrets } from "./support/scrubber.ts";
import { createAggregateWriter } from "./telemetry/aggregates.ts";
import { createLiveSampler } from "./telemetry/live-samples.ts";
import { loadLivePrompts, sampleRates } from "./evals/online.ts";
import { startTracing, tracingWarnings } from "./telemetry/otel.ts";
import { loadPricing } from "./telemetry/pricing.ts";

export interface ComposedGateway {
  readonly deps: Deps;
  /** Whether spans are exported (OTEL_* names a collector). */
  readonly tracing: boolean;
  /**
   * Closes what compose opened, newest first: the aggregate writer (its last flush), the upstream pool,
   * the prompt refresh, the store, tracing. Once: a second call waits for the first.
   */
  readonly close: () => Promise<void>;
}

export async function composeGateway(env: NodeJS.ProcessEnv): Promise<ComposedGateway> {
  const settings = loadSettings(env);
  const config = await loadGatewayConfig(settings.configDir, env);
  const secrets = configuredSecrets(settings, config);
  const scrubber = new Scrubber(secrets);
  const logger = createLogger(settings.logLevel, undefined, undefined, (line) => scrubber.text(line, "log"));
  for (const w of unscrubbedSecrets(secrets)) logger.warn(w);
  const prices = await loadPricing(settings.configDir);
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
  const requestIds = await startRequestIds({
    store,
    configured: settings.requestIdKeys,
    maxAgeMs: config.feedback.max_age_days * DAY_MS,
    clock: systemClock,
    logger,
  });
  opened.defer("request id key", () => requestIds.stop());
  const diskSnapshot = snapshotPath(settings);
  const files = await loadStartupPrompts(join(settings.configDir, "prompts"), config.prompts).catch((err: unknown) => {
    if (err instanceof ConfigError) throw err;
    logger.warn("prompt files not read at start", { error: err instanceof Error ? err.message : String(err) });
    return null;
  });
  const sync = (held: RegistrySnapshot | null) =>
    syncUnlessBehind(files ?? [], held, config.prompts, store, systemClock, logger);
  // Checked against the disk copy: a store that lost data is restored, not re-seeded from files alone.
  const synced =
    files === null ||
    (await sync(await readSnapshotFile(diskSnapshot, logger)).then(
      (regression) => regression === null,
      (err: unknown) => {
        // The store may be down: the gateway still serves the snapshot it kept on disk.
        logger.warn("prompt files not synced at start; retrying in the background", {
          error: err instanceof Error ? err.message : String(err),
        });
        return false;
      },
    ));
  const prompts = await startPromptSource({ store, clock: systemClock, logger, snapshotPath: diskSnapshot });
  opened.defer("prompt refresh", () => prompts.stop());
  if (!synced) {
    const retry = retryStartupSync(() => sync(prompts.catalog()?.snapshot ?? null), { clock: systemClock, logger });
    opened.defer("prompt file sync", () => retry.stop());
  }
  const upstream = createUpstream(config.limits, createMockProvider(Math.random));
  opened.defer("upstream", () => upstream.close());
  const aggregates = createAggregateWriter({ store, logger, options: config.aggregates });
  opened.defer("aggregates", () => aggregates.stop()); // closed first: its last flush needs the store
  const rates = sampleRates(loadLivePrompts(settings.configDir, logger));
  if (rates.size > 0) logger.info("live judging on", { prompts: [...rates.keys()] });
  const liveSamples = createLiveSampler({ store, logger, options: config.liveJudging, rates, random: Math.random });
  opened.defer("live judging samples", () => liveSamples.stop());
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
    scrubber,
    tracer: tracing.tracer,
    spanExport: tracing.stats,
    aggregates,
    requestIds,
    liveSamples,
    lifecycle: { ready: false, draining: false },
  };
  const composed = opened.keep(); // everything opened: from here on, the caller closes it
  return { deps, tracing: tracing.exporting, close: () => composed.close() };
}
