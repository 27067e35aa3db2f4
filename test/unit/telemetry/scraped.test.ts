import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ScrapedCounter, ScrapedHistogram, newCells, observeCells } from "../../../gateway/telemetry/scraped.ts";

const BUCKETS = [0.01, 0.1, 1, 10];
const lines = async (r: Registry): Promise<string[]> =>
  (await r.metrics())
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .sort();

describe("metrics read at scrape time", () => {
  it("expose exactly what prom-client's own counter and histogram would for the same observations", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const hist = new Histogram({
      name: "x_seconds",
      help: "h",
      labelNames: ["k"],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const count = new Counter({ name: "x_total", help: "c", labelNames: ["k"], registers: [theirs] });
    const cells = { a: newCells(BUCKETS), b: newCells(BUCKETS) };
    const totals = { a: 0, b: 0 };
    new ScrapedHistogram(
      {
        name: "x_seconds",
        help: "h",
        labelNames: ["k"],
        buckets: BUCKETS,
        read: () => Object.entries(cells).map(([k, c]) => [{ k }, c] as const),
      },
      ours,
    );
    new ScrapedCounter(
      {
        name: "x_total",
        help: "c",
        labelNames: ["k"],
        read: () => Object.entries(totals).map(([k, value]) => ({ labels: { k }, value })),
      },
      ours,
    );

    const values = [0, 0.01, 0.011, 0.5, 1, 3, 10, 10.5, 1e6, 0.1];
    values.forEach((v, i) => {
      const k = i % 3 === 0 ? "a" : "b";
      hist.observe({ k }, v);
      count.inc({ k }, v);
      observeCells(cells[k], BUCKETS, v);
      totals[k] += v;
    });
    expect(await lines(ours)).toEqual(await lines(theirs));
    expect((await ours.getMetricsAsJSON()).map((m) => m.values.length)).toEqual(
      (await theirs.getMetricsAsJSON()).map((m) => m.values.length),
    );
  });
});
