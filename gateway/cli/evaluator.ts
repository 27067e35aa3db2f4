// `promptgate evaluator`: the live-judging worker. Takes the sampled (request, answer) pairs the gateways
// queue in the store, judges each with its prompt's `online.judge` through CONFIG_DIR's routing (judges
// resolved from the registry), and records the scores as feedback on the versions that served them.
// Safe with several replicas (each pair is taken by one). While it runs (not with --once) it serves
// /healthz, /readyz and Prometheus /metrics (its counts, the store's queue length) on --port. SIGTERM or
// SIGINT: the batch in hand is finished, the scores are flushed, and it exits 0. Logs say counts, never
// what was judged.
import { collectDefaultMetrics, Registry as MetricsRegistry } from "prom-client";
import { loadSettings } from "../config/settings.ts";
import { openPromptCaller, registryResolver } from "../evals/caller.ts";
import { emptyCounts, judgeBatch, type LiveCounts } from "../evals/live-judge.ts";
import { registerEvaluatorMetrics } from "../evals/evaluator-metrics.ts";
import { createModelGrader } from "../evals/model-graded.ts";
import { loadLivePrompts } from "../evals/online.ts";
import { createRegistry } from "../registry/registry.ts";
import { LIVE_QUEUE_KEY } from "../store/keys.ts";
import { openStore } from "../store/open-store.ts";
import { systemClock } from "../support/clock.ts";
import { createLogger } from "../support/logger.ts";
import { createAggregateWriter } from "../telemetry/aggregates.ts";
import { startProbeServer, type ProbeServer } from "./probe-server.ts";
import { stopWithParent } from "./serve-lifecycle.ts";

export interface EvaluatorOptions {
  /** Pairs taken and judged at once. */
  readonly batch: number;
  /** How long to wait before looking again when the queue is empty. */
  readonly intervalMs: number;
  /** Judge what is queued, then exit (for cron jobs and tests). */
  readonly once: boolean;
  /** The probes' and metrics' port (0: any free one); null: none (a --once pass serves none). */
  readonly port: number | null;
}

/** How often the running counts are logged while there is work. */
const LOG_INTERVAL_MS = 10_000;

export async function runEvaluator(env: NodeJS.ProcessEnv, opts: EvaluatorOptions): Promise<LiveCounts> {
  const settings = loadSettings(env);
  const logger = createLogger(settings.logLevel);
  const prompts = loadLivePrompts(settings.configDir, logger);
  const store = await openStore({
    redisUrl: settings.redisUrl,
    statePath: settings.statePath,
    prefix: settings.redisPrefix,
    logger,
    // One pass (--once) fails at once on a store it cannot reach; the worker waits for it, as serve does.
    requireConnection: opts.once,
  });
  const registry = createRegistry(store, systemClock);
  let opened: Awaited<ReturnType<typeof openPromptCaller>>;
  try {
    opened = await openPromptCaller({
      configDir: settings.configDir,
      env,
      resolve: registryResolver(registry, settings.gatewayEnv),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  // No judge cache: every pair is new, and a cache on disk would keep user data past its retention.
  const grader = createModelGrader({ caller: opened.caller, cache: null });
  const aggregates = createAggregateWriter({ store, logger, options: opened.config.aggregates });
  const counts = emptyCounts();
  let stopping = false;

  let probes: ProbeServer | null = null;
  if (opts.port !== null) {
    const metrics = new MetricsRegistry();
    collectDefaultMetrics({ register: metrics, prefix: "promptgate_evaluator_" });
    registerEvaluatorMetrics(
      metrics,
      () => counts,
      () => store.queueLength(LIVE_QUEUE_KEY),
    );
    try {
      probes = await startProbeServer({
        host: settings.host,
        port: opts.port,
        store,
        metrics,
        logger,
        stopping: () => stopping,
        worker: "evaluator",
      });
    } catch (err) {
      await Promise.all([aggregates.stop(), opened.close()]);
      await store.close();
      throw err;
    }
  }
  logger.info("evaluator started", {
    prompts: [...prompts.keys()],
    store: store.kind,
    batch: opts.batch,
    ...(probes === null ? {} : { url: `http://${settings.host}:${probes.port}` }),
  });
  if (prompts.size === 0) logger.warn("no suite declares online: judging nothing (queued pairs are skipped)");

  let wake: (() => void) | null = null;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info("evaluator stopping", { signal });
    wake?.();
  };
  const onSigterm = (): void => stop("SIGTERM");
  const onSigint = (): void => stop("SIGINT");
  process.once("SIGTERM", onSigterm);
  process.once("SIGINT", onSigint);
  stopWithParent(env, () => stop("parent exited"));

  let lastLog = 0;
  let logged = "";
  const logCounts = (force: boolean): void => {
    const now = Date.now();
    const text = JSON.stringify(counts);
    if (text === logged || (!force && now - lastLog < LOG_INTERVAL_MS)) return;
    lastLog = now;
    logged = text;
    logger.info("live judging", { ...counts });
  };
  const deps = { store, grader, prompts, aggregates, batch: opts.batch };
  try {
    while (!stopping) {
      let taken = 0;
      try {
        taken = await judgeBatch(deps, counts);
      } catch (err) {
        if (opts.once) throw err;
        logger.warn("live judging queue not read; retrying", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
      logCounts(false);
      if (taken > 0) continue;
      if (opts.once) break;
      logger.debug("live judging queue empty", { next_look_ms: opts.intervalMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    process.off("SIGTERM", onSigterm);
    process.off("SIGINT", onSigint);
    await probes?.close();
    await aggregates.stop();
    await opened.close();
    await store.close();
  }
  logCounts(true);
  logger.info("evaluator stopped", { ...counts });
  return counts;
}
