// The sender's counts as Prometheus metrics, read at scrape time from AlertSender.stats().
import { Counter, Gauge, type Registry } from "prom-client";
import { observedCounter } from "../telemetry/scraped.ts";
import { ALERT_TYPES } from "./alert-event.ts";
import type { AlertSenderStats } from "./webhook-sender.ts";

/**
 * Registers promptgate_alerts_sent_total{type}, promptgate_alerts_failed_total,
 * promptgate_alerts_dropped_total and promptgate_alerts_queued on `registry`.
 */
export function registerAlertMetrics(registry: Registry, stats: () => AlertSenderStats): void {
  new Counter({
    name: "promptgate_alerts_sent_total",
    help: "Alerts the webhook accepted (2xx), by type",
    labelNames: ["type"],
    registers: [registry],
    collect() {
      const sent = stats().sent;
      this.reset();
      for (const type of ALERT_TYPES) this.inc({ type }, sent.get(type) ?? 0);
    },
  });
  observedCounter(
    registry,
    "promptgate_alerts_failed_total",
    "Alerts given up: every attempt failed, or the webhook refused them (4xx other than 429, 3xx)",
    () => stats().failed,
  );
  observedCounter(
    registry,
    "promptgate_alerts_dropped_total",
    "Alerts never delivered: pushed out of the full queue, or still queued at the shutdown deadline",
    () => stats().dropped,
  );
  new Gauge({
    name: "promptgate_alerts_queued",
    help: "Alerts waiting for delivery (the one in flight included)",
    registers: [registry],
    collect() {
      this.set(stats().queued);
    },
  });
}
