// Starts the real gateway app in-process against a real fake provider, for integration tests.
import { trace, type Tracer } from "@opentelemetry/api";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseGatewayConfig } from "../../gateway/config/gateway-config.ts";
import { configuredSecrets } from "../../gateway/config/secrets.ts";
import { loadSettings } from "../../gateway/config/settings.ts";
import type { Deps } from "../../gateway/deps.ts";
import { startPromptSource } from "../../gateway/catalog/prompt-source.ts";
import { startRequestIds, type RequestIds } from "../../gateway/feedback/signing-keys.ts";
import { DAY_MS } from "../../gateway/feedback/request-id.ts";
import { createMockProvider } from "../../gateway/providers/mock.ts";
import { createUpstream } from "../../gateway/providers/upstream.ts";
import { startGateway, type RunningGateway } from "../../gateway/server.ts";
import { createSqliteStore } from "../../gateway/store/sqlite-store.ts";
import type { Store } from "../../gateway/store/store.ts";
import { systemClock, type Clock } from "../../gateway/support/clock.ts";
import { createAggregateWriter } from "../../gateway/telemetry/aggregates.ts";
import { createLiveSampler } from "../../gateway/telemetry/live-samples.ts";
import { newSpanExportStats } from "../../gateway/telemetry/otel.ts";
import { parsePricing } from "../../gateway/telemetry/pricing.ts";
import { silentLogger, type Logger } from "../../gateway/support/logger.ts";
import { Scrubber } from "../../gateway/support/scrubber.ts";

export interface TestGatewayOptions {
  /** gateway.yaml text; `${PROVIDER_URL}` is the fake provider's base URL. */
  yaml?: string;
  providerUrl?: string;
  env?: Record<string, string>;
  clock?: Clock;
  random?: () => number;
  logger?: Logger;
  /** The store to serve from (closed by the caller); default: a private embedded store. */
  store?: Store;
  /** Where the registry snapshot is kept on disk; default: a fresh temp folder. */
  snapshotPath?: string;
  /** pricing.yaml text; default: no model is priced. */
  pricing?: string;
  /** Where spans go; default: the global (no-op) tracer. */
  tracer?: Tracer;
  /** The secrets scrubber; default: built from the settings and config, as compose.ts does. */
  scrubber?: Scrubber;
  /** Request id signing; default: as compose.ts does (REQUEST_ID_KEYS in `env`, else the store's key). */
  requestIds?: RequestIds;
  /** Live judging: the share of requests sampled per prompt; default: none. */
  liveRates?: ReadonlyMap<string, number>;
}

export interface TestGateway extends RunningGateway {
  readonly deps: Deps;
  close(): Promise<void>;
}

export const DEFAULT_YAML = `
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "mock/*", provider: mock }
  - { match: "*", provider: fake }
`;

export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const env = { PROVIDER_URL: opts.providerUrl ?? "http://127.0.0.1:9/v1", ...opts.env };
  const config = parseGatewayConfig(opts.yaml ?? DEFAULT_YAML, env);
  const settings = loadSettings(opts.env ?? {});
  const logger = opts.logger ?? silentLogger;
  const ownStore = opts.store === undefined;
  const dir = mkdtempSync(join(tmpdir(), "pg-gw-"));
  const store = opts.store ?? createSqliteStore({ path: join(dir, "state.db"), prefix: "test:", logger });
  const clock = opts.clock ?? systemClock;
  const prompts = await startPromptSource({
    store,
    clock,
    logger,
    snapshotPath: opts.snapshotPath ?? join(dir, "snapshot.json"),
    intervalMs: 100,
  });
  const requestIds =
    opts.requestIds ??
    (await startRequestIds({
      store,
      configured: settings.requestIdKeys,
      maxAgeMs: config.feedback.max_age_days * DAY_MS,
      clock,
      logger,
    }));
  const random = opts.random ?? Math.random;
  const upstream = createUpstream(config.limits, createMockProvider(random));
  const deps: Deps = {
    settings,
    config,
    prices: parsePricing(opts.pricing ?? ""),
    clock,
    random,
    store,
    prompts,
    upstream,
    logger,
    scrubber: opts.scrubber ?? new Scrubber(configuredSecrets(settings, config)),
    tracer: opts.tracer ?? trace.getTracer("promptgate-test"),
    spanExport: newSpanExportStats(),
    aggregates: createAggregateWriter({ store, logger, options: config.aggregates }),
    requestIds,
    liveSamples: createLiveSampler({
      store,
      logger,
      options: config.liveJudging,
      rates: opts.liveRates ?? new Map(),
      random,
    }),
    lifecycle: { ready: false, draining: false },
  };
  const gw = await startGateway(deps, 0);
  return {
    ...gw,
    deps,
    close: async () => {
      gw.server.closeAllConnections();
      await gw.stop(0);
      await prompts.stop();
      await deps.aggregates.stop();
      await deps.liveSamples.stop();
      await requestIds.stop();
      await upstream.close();
      if (ownStore) await store.close();
    },
  };
}
