// Cost of counting one request in the per-version aggregates (the request path's part, no I/O), and
// the garbage it leaves: `node loadtest/aggregates-bench.ts`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { createAggregateWriter } from "../gateway/telemetry/aggregates.ts";
import { newRecord, type RequestRecord } from "../gateway/telemetry/request-record.ts";

const CALLS = 1_000_000;
const ROUNDS = 9;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

const dir = mkdtempSync(join(tmpdir(), "pg-aggbench-"));
const store = createSqliteStore({ path: join(dir, "state.db"), prefix: "bench:", logger: silentLogger });
// Written only by the last flush in stop(): what is measured is counting in memory.
const writer = createAggregateWriter({
  store,
  logger: silentLogger,
  options: { flush_interval_ms: 3_600_000, retention_days: 1, max_pending_keys: 10_000 },
});

// Two versions, a third of them streams with a time to first token, latencies from 1 ms to 16 s.
const records: RequestRecord[] = Array.from({ length: 1024 }, (_, i) => ({
  ...newRecord(T0),
  prompt: "summarization",
  version: i % 2 ? "1.1.0" : "1.0.0",
  variant: i % 2 ? "canary" : "stable",
  environment: "prod",
  usage: { inputTokens: 120, outputTokens: 40, cachedInputTokens: 0 },
  costPico: 42_000_000,
  ttftMs: i % 3 === 0 ? 20 + (i % 500) : null,
}));
const endedAt = Float64Array.from({ length: 1024 }, (_, i) => T0 + Math.round(Math.exp((i % 97) / 10)));

let minorGcs = 0;
const gcs = new PerformanceObserver((list) => {
  for (const entry of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[])
    if (entry.detail?.kind === 1) minorGcs++; // NODE_PERFORMANCE_GC_MINOR
});
gcs.observe({ entryTypes: ["gc"] });

const times: number[] = [];
for (let round = 0; round < ROUNDS + 2; round++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) writer.record(records[i & 1023]!, 200, endedAt[i & 1023]!);
  if (round >= 2) times.push(Number(process.hrtime.bigint() - start) / CALLS); // the first rounds warm up
}
// GC entries reach observers a few event-loop turns after the collection.
for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
gcs.disconnect();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? 0;
console.log(
  `record()  ${(median / 1000).toFixed(3)} µs/call (median of ${ROUNDS} rounds of ${CALLS})  ` +
    `minor GCs per million calls: ${(minorGcs / (ROUNDS + 2)).toFixed(1)}`,
);
await writer.stop();
await store.close();
rmSync(dir, { recursive: true, force: true });
