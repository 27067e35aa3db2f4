import { describe, expect, it } from "vitest";
import type { Observed, StreamResult } from "./soak-client.ts";
import type { StreamKind } from "./soak-plan.ts";
import type { Figures, OutcomeCounters } from "./soak-probe.ts";
import { decide, gatewayAsExpected, percentile, renderVerdict, type SoakFacts } from "./soak-verdict.ts";

const BASE: Figures = {
  fds: 33,
  clientSockets: 0,
  upstreamSockets: 0,
  otherSockets: 4,
  activeHandles: 4,
  heapUsedBytes: 28 * 2 ** 20,
  rssBytes: 130 * 2 ** 20,
};

const results = (kind: StreamKind, observed: Observed, n: number): StreamResult[] =>
  Array.from({ length: n }, () => ({ kind, observed, ms: 60, detail: null }));

const COUNTED: OutcomeCounters = {
  complete: { byStatus: { "2xx": 6 }, interrupted: 0 },
  abort: { byStatus: { "499": 3 }, interrupted: 0 },
  reset: { byStatus: { "2xx": 1 }, interrupted: 1 },
};

/** A run of 10 streams where everything went as it should. */
const good = (): SoakFacts => ({
  planned: { complete: 6, abort: 3, reset: 1 },
  results: [
    ...results("complete", "complete", 6),
    ...results("abort", "aborted", 3),
    ...results("reset", "interrupted", 1),
  ],
  notStarted: 0,
  baseline: BASE,
  after: { ...BASE, heapUsedBytes: 29 * 2 ** 20, rssBytes: 160 * 2 ** 20, fds: 34 },
  settled: true,
  counters: COUNTED,
  tolerance: 0.1,
});

const failed = (facts: SoakFacts): string[] =>
  decide(facts)
    .checks.filter((c) => !c.ok)
    .map((c) => c.what);

describe("decide", () => {
  it("passes when resources are within the tolerance and every stream ended as planned", () => {
    const v = decide(good());
    expect(v.ok).toBe(true);
    expect(v.checks.length).toBeGreaterThan(8);
    expect(v.streams.map((s) => [s.kind, s.ran, s.clientAsExpected, s.gatewayAsExpected])).toEqual([
      ["complete", 6, 6, 6],
      ["abort", 3, 3, 3],
      ["reset", 1, 1, 1],
    ]);
  });

  it("fails on each resource past baseline +10%, and passes one exactly at the limit", () => {
    const over = (f: Partial<Figures>): string[] => failed({ ...good(), after: { ...BASE, ...f } });
    expect(over({ clientSockets: 1 })).toEqual(["client sockets (to the gateway's port) back to baseline +10%"]);
    expect(over({ upstreamSockets: 1 })).toEqual(["upstream sockets (to the provider) back to baseline +10%"]);
    expect(over({ fds: 37 })).toEqual(["open descriptors (/proc/<pid>/fd) back to baseline +10%"]);
    expect(over({ fds: 36 })).toEqual([]);
    expect(over({ activeHandles: 5 })).toEqual(["active handles (nodejs_active_handles_total) back to baseline +10%"]);
    expect(over({ heapUsedBytes: BASE.heapUsedBytes * 1.1 })).toEqual([]);
    expect(over({ heapUsedBytes: BASE.heapUsedBytes * 1.11 })).toEqual([
      "heap used after a full GC (nodejs_heap_size_used_bytes) back to baseline +10%",
    ]);
    // RSS and the listeners are shown, never checked: the allocator keeps freed pages.
    expect(over({ rssBytes: BASE.rssBytes * 3, otherSockets: 9 })).toEqual([]);
  });

  it("fails when the gateway did not settle or the time limit cut the run short", () => {
    expect(failed({ ...good(), settled: false })).toEqual(["the gateway's sockets came back to the idle baseline"]);
    expect(failed({ ...good(), notStarted: 5 })).toEqual(["every planned stream ran"]);
  });

  it("fails when the client saw a stream end otherwise than planned", () => {
    const facts = good();
    const truncated: StreamResult = { kind: "complete", observed: "truncated", ms: 1, detail: "3 events" };
    expect(failed({ ...facts, results: [truncated, ...facts.results.slice(1)] })).toEqual([
      "complete streams ended as they should",
    ]);
    const reset502: StreamResult = { kind: "reset", observed: "http-502", ms: 1, detail: null };
    expect(
      failed({
        ...facts,
        results: [...facts.results.slice(0, 9), reset502],
        counters: { ...COUNTED, reset: { byStatus: { "5xx": 1 }, interrupted: 0 } },
      }),
    ).toEqual([]);
  });

  it("fails when the gateway's own counters disagree with what happened", () => {
    const withCounters = (c: Partial<OutcomeCounters>): string[] =>
      failed({ ...good(), counters: { ...COUNTED, ...c } });
    // Client aborts counted as successes: the gateway did not notice its client leave.
    expect(withCounters({ abort: { byStatus: { "2xx": 3 }, interrupted: 0 } })).toEqual([
      "abort streams ended as they should",
    ]);
    // A reset counted as a plain success, not as an interrupted stream.
    expect(withCounters({ reset: { byStatus: { "2xx": 1 }, interrupted: 0 } })).toEqual([
      "reset streams ended as they should",
    ]);
    // A complete stream also counted as interrupted, or a request counted twice.
    expect(withCounters({ complete: { byStatus: { "2xx": 6 }, interrupted: 1 } })).toEqual([
      "complete streams ended as they should",
    ]);
    expect(withCounters({ abort: { byStatus: { "499": 3, "2xx": 1 }, interrupted: 0 } })).toEqual([
      "abort streams ended as they should",
    ]);
    // A client abort counted as an ordinary 4xx is not what the gateway should report.
    expect(withCounters({ abort: { byStatus: { "4xx": 3 }, interrupted: 0 } })).toEqual([
      "abort streams ended as they should",
    ]);
  });
});

describe("gatewayAsExpected", () => {
  it("counts interrupted resets only as far as they are also counted as requests", () => {
    expect(gatewayAsExpected("reset", { byStatus: { "2xx": 2, "5xx": 1 }, interrupted: 5 })).toBe(3);
    expect(gatewayAsExpected("complete", { byStatus: { "2xx": 2, "5xx": 1 }, interrupted: 0 })).toBe(2);
    expect(gatewayAsExpected("abort", { byStatus: { "4xx": 2, "499": 1, "5xx": 1 }, interrupted: 0 })).toBe(1);
  });
});

describe("renderVerdict", () => {
  it("prints the figures per resource and per kind, and the verdict", () => {
    const facts = good();
    const text = renderVerdict(decide(facts), facts.results, { warmupSeconds: 2, soakSeconds: 5, settleSeconds: 3.4 });
    expect(text).toContain("| client sockets (to the gateway's port) | 0 | 0 | 0 | yes |");
    expect(text).toContain(
      "| heap used after a full GC (nodejs_heap_size_used_bytes) | 28.0 MiB | 29.0 MiB | 30.8 MiB | yes |",
    );
    expect(text).toContain("| abort | 3 | 3 | aborted 3 | 499 3; interrupted 0 | 60 / 60 | yes |");
    expect(text).toContain("soak 5.0 s (2 streams/s); settle 3.4 s");
    expect(text.endsWith("PASS")).toBe(true);
    const bad = { ...facts, after: { ...BASE, upstreamSockets: 2 } };
    const failedText = renderVerdict(decide(bad), facts.results, {
      warmupSeconds: 2,
      soakSeconds: 5,
      settleSeconds: 60,
    });
    expect(failedText).toContain("| upstream sockets (to the provider) | 0 | 2 | 0 | **NO** |");
    expect(failedText).toContain("FAILED: upstream sockets (to the provider) back to baseline +10%: 0 -> 2 (limit 0)");
    expect(failedText.endsWith("FAIL")).toBe(true);
  });
});

describe("percentile", () => {
  it("takes the nearest rank", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(percentile([5], 0)).toBe(5);
  });
});
