import { describe, expect, it } from "vitest";
import type { TargetName } from "./bench.ts";
import { renderMarkdown, summarizeScenario, type MeasuredRun } from "./report.ts";

const run = (target: TargetName, rps: number, p50: number, failures = 0): MeasuredRun => ({
  target, connections: 1, seconds: 1, requests: rps, rps, non2xx: failures, errors: 0, timeouts: 0, cpuUsPerRequest: rps / 10,
  latencyMs: { p50, p90: p50, p99: p50, mean: p50, source: "samples" },
});

describe("summarizeScenario", () => {
  it("compares medians of rounds and added latency over direct", () => {
    const s = summarizeScenario({
      scenario: "nonstream",
      throughput: [
        [run("direct", 1000, 0), run("bare", 500, 0), run("gateway", 450, 0)],
        [run("bare", 400, 0), run("gateway", 300, 0), run("direct", 900, 0)],
        [run("gateway", 420, 0), run("direct", 950, 0), run("bare", 480, 0)],
      ],
      latency: [
        [run("direct", 1, 0.1), run("bare", 1, 0.3), run("gateway", 1, 0.35)],
        [run("bare", 1, 0.32), run("gateway", 1, 0.4), run("direct", 1, 0.12)],
        [run("gateway", 1, 0.5), run("direct", 1, 0.1), run("bare", 1, 0.3)],
      ],
      warmupFailures: 0,
    });
    expect(s.targets.bare.rps).toBe(480);
    expect(s.targets.gateway.rps).toBe(420);
    expect(s.throughputRatio.value).toBeCloseTo(0.875);
    expect(s.throughputRatio.verdict).toBe("PASS");
    expect(s.targets.bare.addedP50).toBeCloseTo(0.2);
    expect(s.targets.gateway.addedP50).toBeCloseTo(0.3);
    expect(s.addedLatencyRatio.value).toBeCloseTo(1.5);
    expect(s.addedLatencyRatio.verdict).toBe("FAIL");
    expect(s.throughputRatio.perRound.map((v) => v?.toFixed(2))).toEqual(["0.90", "0.75", "0.88"]);
    expect(s.targets.gateway.cpuUsPerRequest).toBe(42);
    expect(s.cpuPerRequestRatio).toBeCloseTo(0.875);
    expect(s.clean).toBe(true);
    expect(renderMarkdown(s, { connections: 50 })).toContain("| throughput gateway / bare | 0.875x");
  });

  it("flags a scenario with failed requests, measured or in warm-up", () => {
    const rounds = [[run("direct", 1, 0.1), run("bare", 1, 0.2), run("gateway", 1, 0.3, 2)]];
    expect(summarizeScenario({ scenario: "stream", throughput: rounds, latency: rounds, warmupFailures: 0 }).clean).toBe(false);
    const ok = [[run("direct", 1, 0.1), run("bare", 1, 0.2), run("gateway", 1, 0.3)]];
    const s = summarizeScenario({ scenario: "stream", throughput: ok, latency: ok, warmupFailures: 1 });
    expect(s.clean).toBe(false);
    expect(renderMarkdown(s, { connections: 50 })).toContain("INVALID");
  });

  it("cannot judge added latency when bare adds none", () => {
    const r = [[run("direct", 1, 0.2), run("bare", 1, 0.2), run("gateway", 1, 0.3)]];
    expect(summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 }).addedLatencyRatio.verdict).toBe("N/A");
  });
});
