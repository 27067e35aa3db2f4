// The readout per segment: Holm's correction per (metric, canary) family across the segments, checked
// against statsmodels' multipletests("holm"); a better/worse verdict that does not survive the correction
// becomes too early; a segment that goes against the overall verdict is called out, significant or not.
import { describe, expect, it } from "vitest";
import { experimentReport, type ArmInput } from "../../../gateway/stats/experiment.ts";
import { segmentReadouts, type SegmentArms } from "../../../gateway/stats/segment-readout.ts";
import type { MeanSummary } from "../../../gateway/statistics/summaries.ts";
import { expectClose } from "../../support/close.ts";

// Printed by test/reference/segment_holm.py: per segment the stable and canary quality scores (n, sum, sumSq)
// and [requests, errors]; then per metric the raw p-values, in segment order, and their Holm adjustment.
// prettier-ignore
const SEGMENTS: Record<string, [MeanSummary, MeanSummary, [number, number], [number, number]]> = {"en": [{"n": 2000, "sum": 1400.0, "sumSq": 1104.9375}, {"n": 2000, "sum": 1500.0, "sumSq": 1249.9375}, [4000, 80], [4000, 40]], "fr": [{"n": 1100, "sum": 770.0, "sumSq": 607.6875}, {"n": 1100, "sum": 808.5, "sumSq": 662.935}, [3000, 60], [3000, 45]], "de": [{"n": 300, "sum": 210.0, "sumSq": 165.6875}, {"n": 300, "sum": 206.99999999999997, "sumSq": 161.51749999999996}, [1000, 20], [1000, 30]]};
// prettier-ignore
const REFERENCE = {
  quality: {"p": [2.818855909722775e-10, 0.0010421137963435643, 0.6243857863366098], "p_holm": [8.456567729168324e-10, 0.0020842275926871287, 0.6243857863366098], "seq": [8.494718695730761e-08, 0.03209915101127959, 1.0], "seq_holm": [2.548415608719228e-07, 0.06419830202255918, 1.0]},
  error_rate: {"p": [0.00023398339372566915, 0.1397213730915781, 0.15207808079297525], "p_holm": [0.0007019501811770074, 0.2794427461831562, 0.2794427461831562], "seq": [0.006900936626981433, 1.0, 0.93589229700153], "seq_holm": [0.0207028098809443, 1.0, 1.0]},
};

const NO_SCORES: MeanSummary = { n: 0, sum: 0, sumSq: 0 };

const arm = (over: Partial<ArmInput> & Pick<ArmInput, "version" | "variant">): ArmInput => ({
  weight: null,
  users: null,
  requests: 0,
  errors: 0,
  quality: NO_SCORES,
  thumbs: { up: 0, down: 0 },
  costPerRequestUsd: null,
  latencyMs: { mean: null, p50: null, p95: null },
  ...over,
});

const segmentArms = (segment: string, [sq, cq, [sr, se], [cr, ce]]: (typeof SEGMENTS)[string]): SegmentArms => ({
  segment,
  arms: [
    arm({ version: "1.0.0", variant: "stable", quality: sq, requests: sr, errors: se }),
    arm({ version: "1.1.0", variant: "canary", quality: cq, requests: cr, errors: ce }),
  ],
});

const add = (a: MeanSummary, b: MeanSummary): MeanSummary => ({
  n: a.n + b.n,
  sum: a.sum + b.sum,
  sumSq: a.sumSq + b.sumSq,
});

/** The whole: every segment's arms added up, version by version. */
function overallOf(segments: readonly SegmentArms[]): ReturnType<typeof experimentReport> {
  const byVersion = new Map<string, ArmInput>();
  for (const s of segments)
    for (const a of s.arms) {
      const seen = byVersion.get(a.version);
      byVersion.set(
        a.version,
        seen === undefined
          ? a
          : {
              ...seen,
              quality: add(seen.quality, a.quality),
              requests: seen.requests + a.requests,
              errors: seen.errors + a.errors,
            },
      );
    }
  return experimentReport([...byVersion.values()], null);
}

const segments = Object.entries(SEGMENTS).map(([name, s]) => segmentArms(name, s));

describe("segmentReadouts", () => {
  it("Holm-corrects each (metric, canary) family across segments, as statsmodels does", () => {
    const readouts = segmentReadouts(overallOf(segments), segments);
    expect(readouts.map((r) => r.segment)).toEqual(["en", "fr", "de"]);
    for (const metric of ["quality", "error_rate"] as const) {
      const ref = REFERENCE[metric];
      readouts.forEach((r, i) => {
        const c = r.comparisons.find((x) => x.metric === metric)!;
        expectClose(c.p_value!, ref.p[i]!, 1e-6);
        expectClose(c.p_value_holm!, ref.p_holm[i]!, 1e-6);
        expectClose(c.seq_p_value!, ref.seq[i]!, 1e-6);
        expectClose(c.seq_p_value_holm!, ref.seq_holm[i]!, 1e-6);
      });
    }
  });

  it("keeps a segment's verdict where its corrected sequential p stands, and says too early where it does not", () => {
    const [en, fr, de] = segmentReadouts(overallOf(segments), segments).map((r) =>
      r.comparisons.find((c) => c.metric === "quality")!,
    );
    expect(en).toMatchObject({ verdict: "better", seq_significant: true });
    // fr alone: sequential p 0.032 < 0.05, an interval clear of 0; two segments' worth of chances makes it 0.064.
    expect(segmentReadouts(overallOf([segments[1]!]), [segments[1]!])[0]!.comparisons[0]).toMatchObject({
      verdict: "better",
      seq_significant: true,
    });
    expect(fr!.seq_ci_low!).toBeGreaterThan(0);
    expect(fr).toMatchObject({ verdict: "too_early", seq_significant: false });
    // The fixed-horizon figures are reported, corrected, but never drive the verdict.
    expect(fr).toMatchObject({ significant: true });
    expect(de).toMatchObject({ verdict: "too_early", seq_significant: false });
  });

  it("corrects each canary's family on its own: a second canary does not widen the first one's", () => {
    const withSecond = segments.map((s) => ({
      ...s,
      arms: [...s.arms, arm({ version: "1.2.0", variant: "canary", quality: s.arms[0]!.quality, requests: 10 })],
    }));
    const readouts = segmentReadouts(overallOf(withSecond), withSecond);
    readouts.forEach((r, i) => {
      const first = r.comparisons.find((c) => c.metric === "quality" && c.treatment === "1.1.0")!;
      expectClose(first.seq_p_value_holm!, REFERENCE.quality.seq_holm[i]!, 1e-6);
    });
  });

  it("warns where a segment leans against the overall verdict without being significant", () => {
    const overall = overallOf(segments);
    expect(overall.comparisons.find((c) => c.metric === "quality")!.verdict).toBe("better");
    const [en, fr, de] = segmentReadouts(overall, segments);
    expect(en!.warnings).toEqual([]);
    // fr goes the same way (only not significant after the correction): no warning.
    expect(fr!.warnings).toEqual([]);
    expect(de!.warnings).toContain(
      "1.1.0 leans worse for segment de on quality while better overall; not significant yet",
    );
  });

  it("warns loudly where a segment is significantly against the overall verdict", () => {
    const against = segmentArms("de", [
      { n: 1500, sum: 1050, sumSq: 1500 * 0.49 + 1499 * 0.0625 },
      { n: 1500, sum: 990, sumSq: 1500 * 0.66 * 0.66 + 1499 * 0.0625 },
      [1000, 20],
      [1000, 20],
    ]);
    const all = [segments[0]!, segments[1]!, against];
    const overall = overallOf(all);
    expect(overall.comparisons.find((c) => c.metric === "quality")!.verdict).toBe("better");
    const de = segmentReadouts(overall, all)[2]!;
    const q = de.comparisons.find((c) => c.metric === "quality")!;
    expect(q.verdict).toBe("worse");
    expect(q.seq_p_value_holm!).toBeLessThan(0.05);
    expect(de.warnings).toContain(
      `1.1.0 is worse for segment de on quality while better overall (Holm-corrected sequential p=${q.seq_p_value_holm!.toPrecision(2)})`,
    );
  });

  it("does not warn when the overall verdict is not better or worse", () => {
    const flat = segments.map((s) => ({ ...s, arms: s.arms.map((a) => ({ ...a, requests: 0, errors: 0 })) }));
    const overall = overallOf([segments[2]!]);
    expect(overall.comparisons[0]!.verdict).toBe("too_early");
    expect(segmentReadouts(overall, flat).flatMap((r) => r.warnings)).toEqual([]);
  });

  it("leaves nulls null: a segment without a statistic is left out of its family, one without a stable version compares nothing", () => {
    const thin = segmentArms("it", [{ n: 1, sum: 0.5, sumSq: 0.25 }, { n: 40, sum: 20, sumSq: 12 }, [10, 0], [10, 0]]);
    const onlyCanary: SegmentArms = {
      segment: "es",
      arms: [arm({ version: "1.1.0", variant: "canary", requests: 5 })],
    };
    const all = [...segments, thin, onlyCanary];
    const readouts = segmentReadouts(overallOf(segments), all);
    const quality = readouts.map((r) => r.comparisons.find((c) => c.metric === "quality"));
    // The three segments with a Welch test keep statsmodels' adjustment for a family of three.
    quality.slice(0, 3).forEach((c, i) => expectClose(c!.p_value_holm!, REFERENCE.quality.p_holm[i]!, 1e-6));
    expect(quality[3]).toMatchObject({
      p_value: null,
      p_value_holm: null,
      seq_p_value_holm: null,
      verdict: "too_early",
    });
    expect(quality[4]).toBeUndefined();
    expect(readouts[4]).toMatchObject({ segment: "es", comparisons: [], mde: [], warnings: [] });
    // No thumbs anywhere: a family of nulls stays null, and warns about nothing.
    for (const r of readouts.slice(0, 4)) {
      const thumbs = r.comparisons.find((c) => c.metric === "thumbs_down_rate")!;
      expect(thumbs).toMatchObject({ diff: null, p_value_holm: null, seq_p_value_holm: null, verdict: "too_early" });
    }
    // A segment whose error rate is 0 against 0 has no interval: no warning can come from a null diff.
    expect(readouts[3]!.warnings.filter((w) => w.includes("error_rate"))).toEqual([]);
  });
});
