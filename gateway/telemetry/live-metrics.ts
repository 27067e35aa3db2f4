// Live judging's gateway counters, read at scrape time: pairs sampled, dropped (by reason) and held in
// memory. Counts only: the pairs themselves never reach a metric.
import { Counter, Gauge, type Registry } from "prom-client";
import { DROP_REASONS, type LiveSampler } from "./live-samples.ts";

export function countLiveSamples(registry: Registry, sampler: LiveSampler): void {
  new Counter({
    name: "promptgate_live_judging_sampled_total",
    help: "Completed requests sampled for live judging (queued in memory)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sampler.sampled());
    },
  });
  new Counter({
    name: "promptgate_live_judging_dropped_total",
    help: "Sampled pairs dropped before an evaluator took them: memory_full, store_full, expired, store_error, shutdown",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      const dropped = sampler.dropped();
      for (const reason of DROP_REASONS) this.inc({ reason }, dropped.get(reason) ?? 0);
    },
  });
  new Gauge({
    name: "promptgate_live_judging_queue_depth",
    help: "Sampled pairs held in this gateway's memory, waiting to be pushed to the store",
    registers: [registry],
    collect() {
      this.set(sampler.depth());
    },
  });
}
