// `promptgate controller`: the rollout controller process. Runs the reconcile loop (rollouts/controller.ts) under
// the controller lease, sends alerts to ALERT_WEBHOOK_URL, and serves its probes and metrics on a small HTTP
// server: /healthz (the process answers), /readyz (the store answers), /metrics (Prometheus). SIGTERM or
// SIGINT: the loop stops after the tick in hand, the lease is released (a standby takes over at once), queued
// alerts get a few seconds, and it exits 0.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
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
import { listenFailure, stopWithParent } from "./serve-lifecycle.ts";

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
/** How long /readyz waits for the store. */
const READY_TIMEOUT_MS = 1_000;

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
  const server = createServer((req, res) => void answer(req, res));
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
      if (path === "/healthz") return reply(200, "ok\n");
      if (path === "/readyz") {
        if (stop.signal.aborted) return reply(503, "stopping\n");
        const answered = await Promise.race([
          store.ping().then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), READY_TIMEOUT_MS).unref()),
        ]).catch(() => false);
        return answered ? reply(200, "ready\n") : reply(503, "the store does not answer\n");
      }
      if (path === "/metrics") return reply(200, await metrics.metrics(), metrics.contentType);
      return reply(404, "not found: /healthz, /readyz, /metrics\n");
    } catch (err) {
      logger.error("controller probe failed", { path, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) reply(500, "internal error\n");
    }
  }

  let port: number;
  try {
    port = await listen(server, opts.port, settings.host);
  } catch (err) {
    await Promise.all([store.close(), alerts?.close(0)]);
    throw listenFailure(err, settings.host, opts.port);
  }
  logger.info("promptgate controller listening", {
    url: `http://${settings.host}:${port}`,
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
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const closed = await alerts?.close(ALERT_DRAIN_MS);
    await store.close();
    logger.info("controller stopped", { alerts_abandoned: closed?.abandoned ?? 0 });
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
