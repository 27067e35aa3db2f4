// `promptgate controller`: the rollout controller process. Runs the reconcile loop (rollouts/controller.ts) under
// the controller lease, sends alerts to ALERT_WEBHOOK_URL, and serves its probes and metrics on a small HTTP
// server: /healthz (the process answers), /readyz (the store answers), /metrics (Prometheus). SIGTERM or
// SIGINT: the loop stops after the tick in hand, the lease is released (a standby takes over at once), queued
// alerts get a few seconds, and it exits 0.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { collectDefaultMetrics, Registry as MetricsRegistry } from "prom-client";
import { registerAlertMetrics } from "../alerts/alert-metrics.ts";
import { AlertSender, type AlertSenderStats } from "../alerts/webhook-sender.ts";
import { webhookSecrets } from "../config/secrets.ts";
import { loadSettings } from "../config/settings.ts";
import { createRegistry } from "../registry/registry.ts";
import { createRolloutController } from "../rollouts/controller.ts";
import { registerRolloutMetrics } from "../rollouts/rollout-metrics.ts";
import { openStore } from "../store/open-store.ts";
import { systemClock } from "../support/clock.ts";
import { createLogger } from "../support/logger.ts";
import { Scrubber } from "../support/scrubber.ts";
import { startProbeServer, type ProbeServer } from "./probe-server.ts";
import { stopWithParent } from "./serve-lifecycle.ts";

export interface ControllerRunOptions {
  /** How often the rollouts are looked at. */
  readonly intervalMs: number;
  /** The lease's time to live: a dead leader is replaced within it. Longer than the interval. */
  readonly leaseMs: number;
  /** The probes' and metrics' port (0: any free one; the log line says which). */
  readonly port: number;
}

/** How long queued alerts may still be delivered at shutdown. */
const ALERT_DRAIN_MS = 5_000;

const noAlerts: AlertSenderStats = { sent: new Map(), failed: 0, dropped: 0, queued: 0 };

export async function runController(env: NodeJS.ProcessEnv, opts: ControllerRunOptions): Promise<void> {
  const settings = loadSettings(env);
  const redisPassword = settings.redisUrl && URL.canParse(settings.redisUrl) ? new URL(settings.redisUrl).password : "";
  const scrubber = new Scrubber(
    [...webhookSecrets(settings.alertWebhookUrl), redisPassword].filter((s) => s !== "").map((value) => ({ value })),
  );
  const logger = createLogger(settings.logLevel, undefined, undefined, (line) => scrubber.text(line, "log"));
  // Like serve: a Redis that is down at start does not stop it; it stands by until the store answers.
  const store = await openStore({
    redisUrl: settings.redisUrl,
    statePath: settings.statePath,
    prefix: settings.redisPrefix,
    logger,
  });
  const alerts =
    settings.alertWebhookUrl === undefined
      ? null
      : new AlertSender({ url: settings.alertWebhookUrl, logger, scrubber, clock: systemClock });
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const controller = createRolloutController({
    store,
    registry: createRegistry(store, systemClock),
    clock: systemClock,
    logger,
    alerts,
    owner,
    leaseMs: opts.leaseMs,
  });

  const metrics = new MetricsRegistry();
  collectDefaultMetrics({ register: metrics, prefix: "promptgate_controller_" });
  registerRolloutMetrics(metrics, () => controller.status());
  registerAlertMetrics(metrics, () => alerts?.stats() ?? noAlerts);

  const stop = new AbortController();
  let server: ProbeServer;
  try {
    server = await startProbeServer({
      host: settings.host,
      port: opts.port,
      store,
      metrics,
      logger,
      stopping: () => stop.signal.aborted,
      worker: "controller",
    });
  } catch (err) {
    await Promise.all([store.close(), alerts?.close(0)]);
    throw err;
  }
  logger.info("promptgate controller listening", {
    url: `http://${settings.host}:${server.port}`,
    store: store.kind,
    owner,
    interval_ms: opts.intervalMs,
    lease_ms: opts.leaseMs,
    alerts: alerts === null ? "off (ALERT_WEBHOOK_URL unset)" : alerts.destination,
  });

  const shutdown = (signal: string): void => {
    if (stop.signal.aborted) return;
    logger.info("controller stopping", { signal });
    stop.abort();
  };
  const onSigterm = (): void => shutdown("SIGTERM");
  const onSigint = (): void => shutdown("SIGINT");
  process.once("SIGTERM", onSigterm);
  process.once("SIGINT", onSigint);
  stopWithParent(env, () => shutdown("parent exited"));

  try {
    await controller.run(opts.intervalMs, stop.signal); // releases the lease once stopped
  } finally {
    process.off("SIGTERM", onSigterm);
    process.off("SIGINT", onSigint);
    await server.close();
    const closed = await alerts?.close(ALERT_DRAIN_MS);
    await store.close();
    logger.info("controller stopped", { alerts_abandoned: closed?.abandoned ?? 0 });
  }
}
