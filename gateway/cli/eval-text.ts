// `promptgate eval`'s summary for people: the verdict, counts, cost and latency, then tables of the metrics,
// the baseline comparison, the worst cases and the grader errors (the full report: --output).
import {
  caseById,
  caseVerdict,
  problemTables,
  GATE_COLUMNS,
  gateRows,
  headline,
  METRIC_COLUMNS,
  metricRows,
  num,
  overviewLines,
  short,
  type EvalReport,
} from "../evals/report.ts";
import { table } from "./output.ts";

export function describeEval(r: EvalReport, recorded: string): string {
  const parts: string[] = [`${headline(r)}\n`, ...overviewLines(r).map((l) => `  ${l}\n`), `  ${recorded}\n`];
  if (r.reasons.length > 0) parts.push("\n", ...r.reasons.map((l) => `  - ${l}\n`));
  for (const w of r.suite.warnings) parts.push(`  warning: ${w}\n`);
  parts.push("\n", table(METRIC_COLUMNS, metricRows(r)));
  if (r.gate !== null) {
    parts.push(
      `\nbaseline comparison (paired, ${Math.round(r.gate.confidence * 1000) / 10}% intervals): gate ${r.gate.passed ? "passed" : "failed"}\n`,
      table(GATE_COLUMNS, gateRows(r)),
    );
  }
  if (r.worst.length > 0) {
    parts.push(
      "\nworst cases\n",
      table(
        ["case", "score", "result", "variables", "output", "reason"],
        r.worst.map((id) => {
          const c = caseById(r, id);
          const res = c.candidate.result!;
          return [
            id,
            num(res.score),
            caseVerdict(res.pass),
            short(c.vars, 40),
            short(c.candidate.output ?? "", 50),
            short(res.reason, 60),
          ];
        }),
      ),
    );
  }
  for (const t of problemTables(r, 100)) {
    const title = t.title.toLowerCase();
    parts.push(`\n${t.note === null ? title : `${title} (${t.note})`}\n`, table(t.columns, t.rows));
  }
  return parts.join("");
}
