// The Markdown report (`--output report.md`): for a pull request comment or a CI summary.
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
} from "./report.ts";

/** A cell of a Markdown table: pipes escaped, one line. */
const cell = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\s+/g, " ");

function mdTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = `| ${columns.map(cell).join(" | ")} |`;
  const rule = `| ${columns.map(() => "---").join(" | ")} |`;
  return [head, rule, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

/** A fenced block whose fence is longer than any backtick run inside it. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}\n${text}\n${fence}`;
}

export function renderMarkdown(r: EvalReport): string {
  const out: string[] = [`# ${headline(r)}`, "", ...overviewLines(r).map((l) => `- ${l}`), ""];
  if (r.reasons.length > 0) out.push("## Why", "", ...r.reasons.map((l) => `- ${l}`), "");
  if (r.suite.warnings.length > 0) out.push("## Suite warnings", "", ...r.suite.warnings.map((w) => `- ${w}`), "");
  out.push("## Metrics", "", mdTable(METRIC_COLUMNS, metricRows(r)), "");
  if (r.gate !== null) {
    out.push(
      `## Baseline comparison (paired, ${Math.round(r.gate.confidence * 1000) / 10}% intervals)`,
      "",
      mdTable(GATE_COLUMNS, gateRows(r)),
      "",
      `Gate: ${r.gate.passed ? "passed" : "failed"}`,
      "",
      ...r.gate.metrics.map((m) => `- ${m.reason}`),
      "",
    );
  }
  if (r.worst.length > 0) {
    out.push("## Worst cases", "");
    for (const id of r.worst) {
      const c = caseById(r, id);
      const res = c.candidate.result!;
      out.push(
        `### ${id}${c.description === null ? "" : `: ${c.description}`} (score ${num(res.score)}, ${caseVerdict(res.pass)})`,
        "",
        `Reason: ${short(res.reason, 500)}`,
        "",
        "Variables:",
        "",
        fenced(JSON.stringify(c.vars, null, 2)),
        "",
        "Output:",
        "",
        fenced(c.candidate.output ?? ""),
        "",
      );
      if (c.baseline?.output != null) out.push("Baseline output:", "", fenced(c.baseline.output), "");
    }
  }
  for (const t of problemTables(r, 300)) {
    out.push(`## ${t.title}`, "", ...(t.note === null ? [] : [`(${t.note})`, ""]), mdTable(t.columns, t.rows), "");
  }
  return out.join("\n");
}
