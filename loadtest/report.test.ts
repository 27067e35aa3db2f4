import { describe, expect, it } from "vitest";
import type { TargetName } from "./bench.ts";
import {
  metAllTargets,
  parseSpanCounters,
  PROMPT_THROUGHPUT_TARGET,
  renderMarkdown,
  renderTelemetry,
  summarizeScenario,
  telemetryValid,
  THROUGHPUT_TARGET,
  type MeasuredRun,
  type TelemetryEvidence,
} from "./report.ts";

const run = (target: TargetName, rps: number, p50: number, failures = 0): MeasuredRun => ({
  target,
  connections: 1,
  seconds: 1,
  requests: rps,
  rps,
  non2xx: failures,
  errors: 0,
  timeouts: 0,
  cpuUsPerRequest: rps / 10,
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
    expect(
      summarizeScenario({ scenario: "stream", throughput: rounds, latency: rounds, warmupFailures: 0 }).clean,
    ).toBe(false);
    const ok = [[run("direct", 1, 0.1), run("bare", 1, 0.2), run("gateway", 1, 0.3)]];
    const s = summarizeScenario({ scenario: "stream", throughput: ok, latency: ok, warmupFailures: 1 });
    expect(s.clean).toBe(false);
    expect(renderMarkdown(s, { connections: 50 })).toContain("INVALID");
  });

  it("cannot judge added latency when bare adds none", () => {
    const r = [[run("direct", 1, 0.2), run("bare", 1, 0.2), run("gateway", 1, 0.3)]];
    expect(
      summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 }).addedLatencyRatio.verdict,
    ).toBe("N/A");
  });
});

describe("span export overhead (--otel)", () => {
  const summarize = (): ReturnType<typeof summarizeScenario> =>
    summarizeScenario({
      scenario: "nonstream",
      throughput: [
        [run("direct", 1000, 0), run("bare", 500, 0), run("gateway", 450, 0), run("gateway-otel", 420, 0)],
        [run("bare", 400, 0), run("gateway", 300, 0), run("gateway-otel", 240, 0), run("direct", 900, 0)],
        [run("gateway", 420, 0), run("gateway-otel", 400, 0), run("direct", 950, 0), run("bare", 480, 0)],
      ],
      latency: [
        [run("direct", 1, 0.1), run("bare", 1, 0.3), run("gateway", 1, 0.35), run("gateway-otel", 1, 0.4)],
        [run("bare", 1, 0.32), run("gateway", 1, 0.4), run("gateway-otel", 1, 0.45), run("direct", 1, 0.12)],
        [run("gateway", 1, 0.5), run("gateway-otel", 1, 0.52), run("direct", 1, 0.1), run("bare", 1, 0.3)],
      ],
      warmupFailures: 0,
    });

  it("compares gateway-otel with the gateway like the other ratios: medians of rounds, per-round spread", () => {
    const s = summarize();
    expect(s.targets["gateway-otel"]?.rps).toBe(400);
    expect(s.targets["gateway-otel"]?.p50).toBeCloseTo(0.45);
    expect(s.targets["gateway-otel"]?.addedP50).toBeCloseTo(0.35);
    const tel = s.telemetryThroughputRatio;
    expect(tel?.value).toBeCloseTo(400 / 420);
    expect(tel?.target).toBe(0.9);
    expect(tel?.verdict).toBe("PASS");
    expect(tel?.perRound.map((v) => v?.toFixed(3))).toEqual(["0.933", "0.800", "0.952"]);
    expect(s.telemetryCpuRatio).toBeCloseTo(400 / 420);
    // The gateway/bare checks do not change with a fourth target.
    expect(s.throughputRatio.value).toBeCloseTo(0.875);
    const md = renderMarkdown(s, { connections: 50 });
    expect(md).toContain("| gateway-otel | 400 | 420 / 240 / 400 | 40 | 0.450 | 0.350 | 0 | 0 |");
    expect(md).toContain(
      "| throughput gateway-otel / gateway (span export on / off) | 0.952x; per round 0.93 / 0.80 / 0.95 | >= 0.90x | PASS |",
    );
    expect(md).toContain("| p50 @c=1 gateway-otel vs gateway (info) | 0.450 vs 0.400 ms (+0.050 ms) | | |");
  });

  it("fails below 0.9x, and shows nothing about telemetry when gateway-otel was not measured", () => {
    const r = [
      [run("direct", 1000, 0.1), run("bare", 500, 0.2), run("gateway", 400, 0.3), run("gateway-otel", 350, 0.3)],
    ];
    const s = summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 });
    expect(s.telemetryThroughputRatio?.value).toBeCloseTo(0.875);
    expect(s.telemetryThroughputRatio?.verdict).toBe("FAIL");
    const plain = [[run("direct", 1000, 0.1), run("bare", 500, 0.2), run("gateway", 400, 0.3)]];
    const p = summarizeScenario({ scenario: "stream", throughput: plain, latency: plain, warmupFailures: 0 });
    expect(p.targets["gateway-otel"]).toBeUndefined();
    expect(p.telemetryThroughputRatio).toBeNull();
    expect(p.telemetryCpuRatio).toBeNull();
    expect(renderMarkdown(p, { connections: 50 })).not.toContain("gateway-otel");
  });

  it("counts a failed gateway-otel request against the scenario", () => {
    const r = [[run("direct", 1, 0.1), run("bare", 1, 0.2), run("gateway", 1, 0.3), run("gateway-otel", 1, 0.3, 1)]];
    expect(summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 }).clean).toBe(false);
  });
});

describe("prompt overhead (--prompt)", () => {
  // gateway-prompt after gateway in round-1 order, rotated like the runner does.
  const summarize = (promptRps: readonly [number, number, number]): ReturnType<typeof summarizeScenario> =>
    summarizeScenario({
      scenario: "nonstream",
      throughput: [
        [run("direct", 1000, 0), run("bare", 500, 0), run("gateway", 450, 0), run("gateway-prompt", promptRps[0], 0)],
        [run("bare", 400, 0), run("gateway", 300, 0), run("gateway-prompt", promptRps[1], 0), run("direct", 900, 0)],
        [run("gateway", 420, 0), run("gateway-prompt", promptRps[2], 0), run("direct", 950, 0), run("bare", 480, 0)],
      ],
      latency: [
        [run("direct", 1, 0.1), run("bare", 1, 0.3), run("gateway", 1, 0.35), run("gateway-prompt", 1, 0.41)],
        [run("bare", 1, 0.32), run("gateway", 1, 0.4), run("gateway-prompt", 1, 0.47), run("direct", 1, 0.12)],
        [run("gateway", 1, 0.5), run("gateway-prompt", 1, 0.55), run("direct", 1, 0.1), run("bare", 1, 0.3)],
      ],
      warmupFailures: 0,
    });

  it("checks gateway-prompt against bare (the spine's target within 10%), with prompt on / off as info", () => {
    const s = summarize([430, 285, 390]);
    expect(s.targets["gateway-prompt"]?.rps).toBe(390);
    expect(s.targets["gateway-prompt"]?.p50).toBeCloseTo(0.47);
    // Bare's rounds are 500 / 400 / 480 (median 480), the gateway's 450 / 300 / 420 (median 420).
    const p = s.promptThroughputRatio;
    expect(p?.value).toBeCloseTo(390 / 480);
    expect(p?.target).toBe(0.72);
    expect(p?.verdict).toBe("PASS");
    expect(p?.perRound.map((v) => v?.toFixed(3))).toEqual(["0.860", "0.713", "0.813"]);
    const onOff = s.promptOnOff;
    expect(onOff?.value).toBeCloseTo(390 / 420);
    expect(onOff?.perRound.map((v) => v?.toFixed(3))).toEqual(["0.956", "0.950", "0.929"]);
    expect(onOff).not.toHaveProperty("verdict");
    expect(onOff).not.toHaveProperty("target");
    // cpuUsPerRequest is rps / 10 in these runs: 39 vs 42 µs.
    expect(s.promptCpuRatio).toBeCloseTo(39 / 42);
    expect(s.telemetryThroughputRatio).toBeNull();
    const md = renderMarkdown(s, { connections: 50 });
    expect(md).toContain("| gateway-prompt | 390 | 430 / 285 / 390 | 39 | 0.470 | 0.370 | 0 | 0 |");
    expect(md).toContain(
      "| throughput gateway-prompt / bare (the spine's 0.80x within 10%) | 0.813x; per round 0.86 / 0.71 / 0.81 | >= 0.72x | PASS |",
    );
    expect(md).toContain(
      "| throughput gateway-prompt / gateway (prompt on / off, info) | 0.929x; per round 0.96 / 0.95 / 0.93 | | |",
    );
    expect(md).toContain("| p50 @c=1 gateway-prompt vs gateway (info) | 0.470 vs 0.400 ms (+0.070 ms) | | |");
    expect(md).toContain("| server CPU per request gateway-prompt / gateway (info) | 0.93x | | |");
    expect(md).not.toContain("gateway-otel");
  });

  it("derives its target from the spine's: 0.8 x 0.9, and exactly 0.72x passes", () => {
    expect(PROMPT_THROUGHPUT_TARGET).toBe(0.72);
    expect(PROMPT_THROUGHPUT_TARGET).toBeCloseTo(THROUGHPUT_TARGET * 0.9, 12);
    const r = [
      [run("direct", 1000, 0.1), run("bare", 500, 0.2), run("gateway", 450, 0.3), run("gateway-prompt", 360, 0.3)],
    ];
    const s = summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 });
    expect(s.promptThroughputRatio?.value).toBe(0.72);
    expect(s.promptThroughputRatio?.verdict).toBe("PASS");
  });

  it("fails below 0.72x bare's even when prompt on / off is above it, and --check then misses a target", () => {
    const s = summarize([340, 280, 330]);
    expect(s.promptThroughputRatio?.value).toBeCloseTo(330 / 480);
    expect(s.promptThroughputRatio?.verdict).toBe("FAIL");
    // Against the gateway the same runs would reach 0.786x: the check must not use it.
    expect(s.promptOnOff?.value).toBeCloseTo(330 / 420);
    const md = renderMarkdown(s, { connections: 50 });
    expect(md).toMatch(
      /\| throughput gateway-prompt \/ bare \(the spine's 0\.80x within 10%\) \| 0\.688x.* \| >= 0\.72x \| FAIL \|/,
    );
    expect(md).toContain(
      "| throughput gateway-prompt / gateway (prompt on / off, info) | 0.786x; per round 0.76 / 0.93 / 0.79 | | |",
    );
    const fine = { ...s, addedLatencyRatio: { ...s.addedLatencyRatio, verdict: "PASS" as const } };
    expect(fine.throughputRatio.verdict).toBe("PASS");
    expect(metAllTargets(fine)).toBe(false);
    expect(metAllTargets({ ...fine, promptThroughputRatio: { ...fine.promptThroughputRatio!, verdict: "PASS" } })).toBe(
      true,
    );
  });

  it("passes at 0.72x bare's or more even when prompt on / off is below 0.9x: on / off has no verdict", () => {
    const s = summarize([400, 250, 370]);
    expect(s.promptThroughputRatio?.value).toBeCloseTo(370 / 480);
    expect(s.promptThroughputRatio?.verdict).toBe("PASS");
    expect(s.promptOnOff?.value).toBeCloseTo(370 / 420);
    const md = renderMarkdown(s, { connections: 50 });
    expect(md).toContain(
      "| throughput gateway-prompt / gateway (prompt on / off, info) | 0.881x; per round 0.89 / 0.83 / 0.88 | | |",
    );
    expect(md).not.toMatch(/prompt on \/ off.*(PASS|FAIL|N\/A|>=)/);
    const fine = { ...s, addedLatencyRatio: { ...s.addedLatencyRatio, verdict: "PASS" as const } };
    expect(metAllTargets(fine)).toBe(true);
  });

  it("shows nothing about prompts when gateway-prompt was not measured", () => {
    const plain = [[run("direct", 1000, 0.1), run("bare", 500, 0.2), run("gateway", 400, 0.3)]];
    const p = summarizeScenario({ scenario: "stream", throughput: plain, latency: plain, warmupFailures: 0 });
    expect(p.targets["gateway-prompt"]).toBeUndefined();
    expect(p.promptThroughputRatio).toBeNull();
    expect(p.promptOnOff).toBeNull();
    expect(p.promptCpuRatio).toBeNull();
    expect(renderMarkdown(p, { connections: 50 })).not.toContain("gateway-prompt");
  });

  it("with --otel too: rows and checks in round-1 order, gateway-prompt against bare, gateway-otel against the gateway", () => {
    const r = [
      [
        run("direct", 1000, 0.1),
        run("bare", 500, 0.2),
        run("gateway", 400, 0.3),
        run("gateway-prompt", 380, 0.32),
        run("gateway-otel", 300, 0.31),
      ],
    ];
    const s = summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 });
    expect(s.promptThroughputRatio?.value).toBeCloseTo(0.76);
    expect(s.promptOnOff?.value).toBeCloseTo(0.95);
    expect(s.telemetryThroughputRatio?.value).toBeCloseTo(0.75);
    expect(metAllTargets(s)).toBe(false);
    const md = renderMarkdown(s, { connections: 50 });
    // gateway-otel's check is unchanged by --prompt.
    expect(md).toContain("| throughput gateway-otel / gateway (span export on / off) | 0.750x | >= 0.90x | FAIL |");
    const order = [
      "| gateway |",
      "| gateway-prompt |",
      "| gateway-otel |",
      "| throughput gateway-prompt / bare",
      "| throughput gateway-prompt / gateway",
      "| throughput gateway-otel / gateway",
    ];
    const at = order.map((row) => md.indexOf(row));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it("counts a failed gateway-prompt request against the scenario", () => {
    const r = [[run("direct", 1, 0.1), run("bare", 1, 0.2), run("gateway", 1, 0.3), run("gateway-prompt", 1, 0.3, 1)]];
    expect(summarizeScenario({ scenario: "stream", throughput: r, latency: r, warmupFailures: 0 }).clean).toBe(false);
  });
});

describe("span export evidence", () => {
  it("reads the gateway's span counters from /metrics", () => {
    const text = [
      "# HELP promptgate_spans_exported_total Spans the OTLP exporter delivered",
      "# TYPE promptgate_spans_exported_total counter",
      "promptgate_spans_exported_total 1536",
      "promptgate_spans_dropped_total 0",
      'promptgate_spans_export_failed_total{reason="x"} 2',
      "",
    ].join("\n");
    expect(parseSpanCounters(text)).toEqual({ exported: 1536, dropped: 0, failed: 2 });
    expect(parseSpanCounters("promptgate_spans_exported_total 1\n")).toBeNull();
  });

  const evidence = (requests: number, bytes: number): TelemetryEvidence => ({
    receiver: { requests, bytes, spans: requests * 512 },
    gatewaySpans: { exported: requests * 512, dropped: 0, failed: 0 },
    batch: { OTEL_BSP_SCHEDULE_DELAY: "5000" },
  });

  it("shows what the receiver got", () => {
    const e = evidence(3, 3 * 400_000);
    expect(telemetryValid(e)).toBe(true);
    const md = renderTelemetry(e);
    expect(md).not.toContain("INVALID");
    expect(md).toContain("3 export requests, 1.1 MiB (1200000 bytes), 1536 spans");
    expect(md).toContain("1536 spans exported, 0 dropped (queue full), 0 failed.");
    expect(md).toContain("OTEL_BSP_SCHEDULE_DELAY=5000");
  });

  it("flags a run whose receiver got nothing, or could not be read, as invalid", () => {
    expect(telemetryValid(evidence(0, 0))).toBe(false);
    expect(renderTelemetry(evidence(0, 0))).toContain("INVALID");
    const unreadable: TelemetryEvidence = { receiver: null, gatewaySpans: null, batch: {} };
    expect(telemetryValid(unreadable)).toBe(false);
    expect(renderTelemetry(unreadable)).toContain("could not be read");
  });

  it("warns when spans were dropped", () => {
    const e: TelemetryEvidence = { ...evidence(2, 1000), gatewaySpans: { exported: 1024, dropped: 300, failed: 0 } };
    expect(renderTelemetry(e)).toContain("under-measured");
  });
});
