import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { formatRows, parseSpanCostOptions, summarise } from "./span-cost.ts";

describe("span-cost options", () => {
  it("defaults to 4000 req/s, 4 rounds of 10 s, non-streaming", () => {
    expect(parseSpanCostOptions([])).toEqual({ rate: 4000, seconds: 10, rounds: 4, stream: false });
    expect(parseSpanCostOptions(["--rate", "2500", "--rounds", "6", "--stream"])).toMatchObject({
      rate: 2500,
      rounds: 6,
      stream: true,
    });
  });

  it("refuses what it cannot use, naming the option", () => {
    expect(() => parseSpanCostOptions(["--rate", "fast"])).toThrow(/--rate must be an integer from 100/);
    expect(() => parseSpanCostOptions(["--seconds", "0"])).toThrow(/--seconds/);
    expect(() => parseSpanCostOptions(["--bogus"])).toThrow();
  });
});

describe("span-cost summary", () => {
  const cpu = { off: [80, 90, 82], discard: [88, 99, 90], export: [96, 100, 98] };

  it("takes medians and compares each variant with export off", () => {
    const rows = summarise(cpu);
    expect(rows.map((r) => r.variant)).toEqual(["off", "discard", "export"]);
    expect(rows[0]).toEqual({ variant: "off", medianUs: 82, vsOff: null, addedUs: null });
    expect(rows[1]!.medianUs).toBe(90);
    expect(rows[1]!.vsOff).toBeCloseTo(90 / 82, 10);
    expect(rows[2]!.addedUs).toBe(16);
  });

  it("prints one row per variant with its rounds", () => {
    const table = formatRows(summarise(cpu), cpu);
    expect(table).toContain("| discard | 90.0 | 88.0 / 99.0 / 90.0 | 1.10x | 8.0 |");
    expect(table).toContain("| off | 82.0 | 80.0 / 90.0 / 82.0 | - | - |");
  });
});

describe("discard-exporter preload", () => {
  it("stands in for @opentelemetry/exporter-trace-otlp-http and accepts every batch", async () => {
    const script = [
      'const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");',
      "const results = [];",
      "new OTLPTraceExporter().export([], (r) => results.push(r.code));",
      "console.log(JSON.stringify({ results, batches: OTLPTraceExporter.batches }));",
    ].join("\n");
    const root = join(import.meta.dirname, "..");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "./loadtest/discard-exporter.ts", "--input-type=module", "-e", script],
      { cwd: root },
    );
    expect(JSON.parse(stdout)).toEqual({ results: [0], batches: 1 });
  });
});
