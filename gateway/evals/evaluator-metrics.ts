// The evaluator's counts as Prometheus metrics, read at scrape time: what it judged, what it could not,
// and how many pairs wait in the store's queue (the backlog an SRE scales the evaluators on).
import { Gauge, type Registry } from "prom-client";
import { observedCounter } from "../telemetry/scraped.ts";
import type { LiveCounts } from "./live-judge.ts";

const COUNTERS: readonly { name: string; help: string; of: (c: LiveCounts) => number }[] = [
  {
    name: "promptgate_evaluator_judged_total",
    help: "Sampled pairs judged and recorded as feedback",
    of: (c) => c.judged,
  },
  {
    name: "promptgate_evaluator_grader_errors_total",
    help: "Sampled pairs whose judge failed or answered something that is not a score (never recorded)",
    of: (c) => c.graderErrors,
  },
  {
    name: "promptgate_evaluator_skipped_total",
    help: "Sampled pairs skipped: unreadable, or of a prompt no suite judges online",
    of: (c) => c.skipped,
  },
  {
    name: "promptgate_evaluator_expired_total",
    help: "Sampled pairs the store dropped past their retention before an evaluator took them",
    of: (c) => c.expired,
  },
];

/**
 * Registers the promptgate_evaluator_*_total counters and promptgate_live_judging_store_queue_length on
 * `registry`. `queueLength` reads the store's queue; a scrape while the store is away leaves the gauge out
 * rather than failing.
 */
export function registerEvaluatorMetrics(
  registry: Registry,
  counts: () => LiveCounts,
  queueLength: () => Promise<number>,
): void {
  for (const { name, help, of } of COUNTERS) observedCounter(registry, name, help, () => of(counts()));
  new Gauge({
    name: "promptgate_live_judging_store_queue_length",
    help: "Sampled pairs waiting in the store's queue for an evaluator",
    registers: [registry],
    async collect() {
      this.reset();
      try {
        this.set(await queueLength());
      } catch {
        // The store is away: /readyz says so; the gauge is left out of this scrape.
      }
    },
  });
}
