// The readout per segment: better on average can be worse for some users. Each segment gets the same
// comparisons as the whole; their p-values are Holm-corrected across the segments of one comparison
// (one metric, one canary), a segment's better/worse verdict stands only when its corrected
// sequential p-value does, and a segment whose estimate goes against the overall verdict is called out.
import { holm } from "../statistics/holm.ts";
import {
  experimentReport,
  type ArmInput,
  type Comparison,
  type ExperimentReport,
  type MdeReport,
} from "./experiment.ts";
import type { VersionReport } from "./experiment.ts";

/** The alpha the corrected p-values are read against (the comparisons' own). */
const ALPHA = 0.05;

export interface SegmentArms {
  readonly segment: string;
  readonly arms: readonly ArmInput[];
}

export interface SegmentComparison extends Comparison {
  /** p_value and seq_p_value after Holm's correction across the segments. */
  readonly p_value_holm: number | null;
  readonly seq_p_value_holm: number | null;
}

export interface SegmentReadout {
  readonly segment: string;
  readonly versions: readonly VersionReport[];
  readonly comparisons: readonly SegmentComparison[];
  readonly mde: readonly MdeReport[];
  /** Plain sentences: where this segment goes against the overall verdict. */
  readonly warnings: readonly string[];
}

/** Holm over the non-null values, handed back in place (nulls stay null). */
function holmInPlace(values: readonly (number | null)[]): (number | null)[] {
  const present = values.flatMap((v, i) => (v === null ? [] : [{ v, i }]));
  const adjusted = holm(present.map((p) => p.v));
  const out: (number | null)[] = values.map(() => null);
  present.forEach((p, k) => (out[p.i] = adjusted[k]!));
  return out;
}

const familyOf = (c: Comparison): string => `${c.metric}\u0000${c.treatment}`;

const opposite = (a: number, b: number): boolean => (a > 0 && b < 0) || (a < 0 && b > 0);

export function segmentReadouts(overall: ExperimentReport, segments: readonly SegmentArms[]): SegmentReadout[] {
  const reports = segments.map((s) => ({ segment: s.segment, report: experimentReport(s.arms, null) }));
  // Each family (metric, canary) across the segments that have it.
  const families = new Map<string, { at: [number, number]; c: Comparison }[]>();
  reports.forEach(({ report }, si) =>
    report.comparisons.forEach((c, ci) => {
      const family = families.get(familyOf(c)) ?? [];
      family.push({ at: [si, ci], c });
      families.set(familyOf(c), family);
    }),
  );
  const corrected = new Map<string, SegmentComparison>();
  for (const members of families.values()) {
    const p = holmInPlace(members.map((m) => m.c.p_value));
    const seq = holmInPlace(members.map((m) => m.c.seq_p_value));
    members.forEach((m, k) => {
      const seqHolm = seq[k]!;
      const stands = seqHolm !== null && seqHolm < ALPHA;
      const verdict = (m.c.verdict === "better" || m.c.verdict === "worse") && !stands ? "too_early" : m.c.verdict;
      corrected.set(m.at.join(":"), {
        ...m.c,
        verdict,
        seq_significant: m.c.seq_significant && stands,
        p_value_holm: p[k]!,
        seq_p_value_holm: seqHolm,
      });
    });
  }
  return reports.map(({ segment, report }, si) => {
    const comparisons = report.comparisons.map((_, ci) => corrected.get(`${si}:${ci}`)!);
    const warnings = comparisons.flatMap((c) => {
      const whole = overall.comparisons.find((o) => o.metric === c.metric && o.treatment === c.treatment);
      if (!whole || (whole.verdict !== "better" && whole.verdict !== "worse")) return [];
      if (whole.diff === null || c.diff === null || !opposite(whole.diff, c.diff)) return [];
      const against = whole.verdict === "better" ? "worse" : "better";
      return [
        c.verdict === against
          ? `${c.treatment} is ${against} for segment ${segment} on ${c.metric} while ${whole.verdict} overall (Holm-corrected sequential p=${c.seq_p_value_holm?.toPrecision(2) ?? "-"})`
          : `${c.treatment} leans ${against} for segment ${segment} on ${c.metric} while ${whole.verdict} overall; not significant yet`,
      ];
    });
    return { segment, versions: report.versions, comparisons, mde: report.mde, warnings };
  });
}
