// The HTML report (`--output report.html`): one self-contained file (inline style, no script, nothing
// fetched), every value from the run escaped: outputs are model text and suites are user data.
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

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text safe in an HTML element or a quoted attribute. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => ENTITIES[ch]!);

function htmlTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const list = (items: readonly string[]): string => `<ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`;

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}pre{background:#f7f7f7;padding:.5rem;white-space:pre-wrap;word-break:break-word}
.passed{color:#0a6b2d}.failed{color:#a11}.error{color:#a60}`;

export function renderHtml(r: EvalReport): string {
  const parts: string[] = [`<h1 class="${r.status}">${escapeHtml(headline(r))}</h1>`, list(overviewLines(r))];
  if (r.reasons.length > 0) parts.push("<h2>Why</h2>", list(r.reasons));
  if (r.suite.warnings.length > 0) parts.push("<h2>Suite warnings</h2>", list(r.suite.warnings));
  parts.push("<h2>Metrics</h2>", htmlTable(METRIC_COLUMNS, metricRows(r)));
  if (r.gate !== null) {
    parts.push(
      `<h2>Baseline comparison (paired, ${Math.round(r.gate.confidence * 1000) / 10}% intervals)</h2>`,
      htmlTable(GATE_COLUMNS, gateRows(r)),
      `<p>Gate: <strong class="${r.gate.passed ? "passed" : "failed"}">${r.gate.passed ? "passed" : "failed"}</strong></p>`,
      list(r.gate.metrics.map((m) => m.reason)),
    );
  }
  if (r.worst.length > 0) {
    parts.push("<h2>Worst cases</h2>");
    for (const id of r.worst) {
      const c = caseById(r, id);
      const res = c.candidate.result!;
      const verdict = caseVerdict(res.pass);
      parts.push(
        `<h3>${escapeHtml(`${id}${c.description === null ? "" : `: ${c.description}`} (score ${num(res.score)}, ${verdict})`)}</h3>`,
        `<p>${escapeHtml(`Reason: ${short(res.reason, 500)}`)}</p>`,
        `<p>Variables:</p><pre>${escapeHtml(JSON.stringify(c.vars, null, 2))}</pre>`,
        `<p>Output:</p><pre>${escapeHtml(c.candidate.output ?? "")}</pre>`,
      );
      if (c.baseline?.output != null) parts.push(`<p>Baseline output:</p><pre>${escapeHtml(c.baseline.output)}</pre>`);
    }
  }
  for (const t of problemTables(r, 300)) {
    parts.push(
      `<h2>${escapeHtml(t.title)}</h2>`,
      ...(t.note === null ? [] : [`<p>${escapeHtml(t.note)}</p>`]),
      htmlTable(t.columns, t.rows),
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(headline(r))}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>${STYLE}</style></head>
<body>
${parts.join("\n")}
</body></html>
`;
}
