// `promptgate eval`'s summary for people: the verdict, counts, cost and latency, then tables of the metrics,
// the baseline comparison, the worst cases and the grader errors (the full report: --output).
import {
  caseById,
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
            res.pass === null ? "undecided" : res.pass ? "passed" : "failed",
            short(c.vars, 40),
            short(c.candidate.output ?? "", 50),
            short(res.reason, 60),
          ];
        }),
      ),
    );
  }
  if (r.graderErrorList.length > 0) {
    parts.push(
      "\ngrader errors (not failures: these assertions could not be graded)\n",
      table(
        ["case", "assertion", "reason"],
        r.graderErrorList.map((e) => [e.caseId, e.assertion, short(e.reason, 100)]),
      ),
    );
  }
  if (r.caseErrors.length > 0) {
    parts.push(
      "\nfailed calls\n",
      table(
        ["case", "side", "error"],
        r.caseErrors.map((e) => [e.caseId, e.side, short(e.error, 100)]),
      ),
    );
  }
  return parts.join("");
}
