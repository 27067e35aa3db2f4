// The experiment readout in words: one sentence per comparison that a prompt author can act on, and a
// loud line when the split does not deliver its weights. The numbers are the JSON document's.
import type { Comparison, ComparedMetric, ExperimentReport, MdeReport, SrmReport } from "../stats/experiment.ts";

const METRIC_NAMES: Readonly<Record<ComparedMetric, string>> = {
  quality: "quality",
  error_rate: "error rate",
  thumbs_down_rate: "thumbs-down rate",
};

/** Scores are shown to 3 decimals; rates as percentage points. */
const isRate = (metric: ComparedMetric): boolean => metric !== "quality";

function signed(metric: ComparedMetric, v: number): string {
  const sign = v > 0 ? "+" : v < 0 ? "-" : "±";
  const abs = Math.abs(v);
  return isRate(metric) ? `${sign}${(abs * 100).toFixed(2)} pt` : `${sign}${abs.toFixed(3)}`;
}

const range = (metric: ComparedMetric, low: number | null, high: number | null): string =>
  low === null || high === null ? "-" : `${signed(metric, low)}..${signed(metric, high)}`;

function pValue(p: number | null): string {
  if (p === null) return "p=-";
  if (p < 0.001) return "p<0.001";
  return `p=${p.toFixed(3)}`;
}

/** "2-point" for quality's 0.02 and for a rate's 0.02 alike: both read as points. */
const points = (effect: number): string => `${+(effect * 100).toFixed(1)}-point`;

function evidence(c: Comparison): string {
  const m = c.metric;
  const diff = c.diff === null ? "-" : signed(m, c.diff);
  return `${diff} (95% CI ${range(m, c.ci_low, c.ci_high)}), ${pValue(c.p_value)}; sequential CI ${range(m, c.seq_ci_low, c.seq_ci_high)}`;
}

function needed(mde: MdeReport | undefined): string {
  if (mde === undefined || mde.units_needed === null) return "not enough data to estimate how much more it needs";
  const effect = `a ${points(mde.effect)} effect`;
  const [have, need, unit] =
    mde.users !== null && mde.users_needed !== null
      ? [mde.users, mde.users_needed, "users"]
      : [
          mde.units,
          mde.units_needed,
          mde.metric === "quality" ? "scores" : mde.metric === "error_rate" ? "requests" : "thumbs",
        ];
  // Enough data for the effect by the estimate, and still undecided: the true difference is near the effect.
  if (have >= need) return `${have} ${unit}, ~${need} expected to be enough for ${effect}, and still undecided`;
  return `${have} of ~${need} ${unit} needed for ${effect}`;
}

/** One sentence for one comparison, e.g. "1.1.0 is better on quality: +0.039 (95% CI ...), p=0.003; ...". */
export function describeComparison(c: Comparison, mde: MdeReport | undefined): string {
  const name = METRIC_NAMES[c.metric];
  switch (c.verdict) {
    case "better":
    case "worse":
      return `${c.treatment} is ${c.verdict} than ${c.control} on ${name}: ${evidence(c)}: significant`;
    case "no_difference":
      return `${c.treatment} and ${c.control} do not differ on ${name} by a ${points(mde?.effect ?? 0)} effect or more: ${evidence(c)}`;
    case "too_early":
      return `${c.treatment} vs ${c.control} on ${name}: too early: ${needed(mde)}; so far ${evidence(c)}`;
  }
}

export function describeSrm(srm: SrmReport): string {
  const basis =
    srm.basis === "current_step" ? `since the weights last changed (${srm.since})` : `over the window (${srm.since})`;
  const seen = srm.versions
    .map((v, i) => `${v} ${srm.observed[i] ?? 0} users (expected ${Math.round(srm.expected[i] ?? 0)})`)
    .join(", ");
  const counter = srm.counter_error > 0 ? `, counter error ${(srm.counter_error * 100).toFixed(2)}% allowed for` : "";
  if (srm.p_value === null) return `split: no users counted ${basis}`;
  if (!srm.mismatch) return `split: users match the weights ${basis}: ${seen}; ${pValue(srm.p_value)}${counter}`;
  return (
    `!!! SAMPLE RATIO MISMATCH ${basis}: ${seen}; ${pValue(srm.p_value)}${counter}.\n` +
    "!!! The users each version saw do not fit its weight, so the comparisons above are not to be trusted: look\n" +
    "!!! for something in front of the gateway that drops, caches or retries one version's traffic."
  );
}

/** The comparisons and the split check, one line (or block) each. */
export function describeExperiment(report: ExperimentReport): string {
  if (report.stable === null) return "no stable version served in this window: nothing to compare against\n";
  if (report.comparisons.length === 0) return `only the stable version (${report.stable}) served: nothing to compare\n`;
  const lines = report.comparisons.map((c) =>
    describeComparison(
      c,
      report.mde.find((m) => m.metric === c.metric && m.treatment === c.treatment),
    ),
  );
  for (const i of report.informational) {
    if (i.diff === null) continue;
    const [unit, digits] = i.metric === "latency_ms" ? [" ms", 1] : [" USD", 6];
    const f = (v: number | null): string => (v === null ? "-" : `${v > 0 ? "+" : ""}${v.toFixed(digits)}${unit}`);
    const what = i.metric === "latency_ms" ? "mean latency" : "cost per request";
    lines.push(
      `${i.treatment} vs ${i.control} on ${what} (for information): ${f(i.diff)} (95% CI ${f(i.ci_low)}..${f(i.ci_high)}), ${pValue(i.p_value)}`,
    );
  }
  if (report.srm !== null) lines.push(describeSrm(report.srm));
  return `${lines.join("\n")}\n`;
}
