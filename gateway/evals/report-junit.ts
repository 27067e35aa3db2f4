// The JUnit XML report (`--output report.xml`), which CI systems read: one testcase per case of the suite;
// a failed case is a <failure>, a case that could not be decided (grader errors, a failed call, a timeout)
// an <error>, a case the budget kept from running <skipped>; with a baseline, one more testcase for the
// regression gate.
import { short, type EvalReport } from "./report.ts";
import type { CaseRun } from "./runner.ts";

/** Text safe in XML content and double-quoted attributes; characters XML 1.0 cannot hold are dropped. */
export function escapeXml(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const attrs = (a: Readonly<Record<string, string | number>>): string =>
  Object.entries(a)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join("");

const seconds = (msValue: number | null): string => ((msValue ?? 0) / 1000).toFixed(3);

function testcase(c: CaseRun, classname: string): { xml: string; kind: "pass" | "failure" | "error" } {
  const name = c.description === null ? c.id : `${c.id}: ${c.description}`;
  const open = `    <testcase${attrs({ name, classname, time: seconds(c.candidate.latencyMs) })}>`;
  const detail = (extra: string): string =>
    escapeXml(`variables: ${JSON.stringify(c.vars)}\noutput: ${c.candidate.output ?? "(none)"}\n${extra}`);
  const r = c.candidate.result;
  if (c.candidate.error !== null || r === null) {
    const message = c.candidate.error ?? "not graded";
    return {
      kind: "error",
      xml: `${open}\n      <error${attrs({ message: short(message, 300), type: "call" })}>${detail(message)}</error>\n    </testcase>`,
    };
  }
  if (r.pass === null) {
    const errs = r.results
      .flatMap((a) => (a.children ?? [a]).filter((x) => x.outcome.kind === "error"))
      .map((a) => (a.outcome.kind === "error" ? `${a.assertion.type}: ${a.outcome.reason}` : ""));
    return {
      kind: "error",
      xml: `${open}\n      <error${attrs({ message: short(r.reason, 300), type: "grader" })}>${detail(errs.join("\n"))}</error>\n    </testcase>`,
    };
  }
  if (!r.pass) {
    return {
      kind: "failure",
      xml: `${open}\n      <failure${attrs({ message: short(r.reason, 300), type: "assertion" })}>${detail(`score: ${r.score ?? "-"}`)}</failure>\n    </testcase>`,
    };
  }
  return { kind: "pass", xml: `${open}</testcase>` };
}

export function renderJunit(r: EvalReport): string {
  const classname = `${r.prompt.name}@${r.prompt.version}`;
  const cases = r.cases.map((c) => testcase(c, classname));
  const skipped: string[] = [];
  // The cases the budget kept from starting: the suite's cases without a run, by position.
  for (let i = 0; i < r.skipped; i++) {
    skipped.push(
      `    <testcase${attrs({ name: `not run ${i + 1} of ${r.skipped}`, classname, time: "0.000" })}>\n      <skipped${attrs({ message: "the cost budget was reached before this case started" })}/>\n    </testcase>`,
    );
  }
  const body = cases.map((c) => c.xml);
  let failures = cases.filter((c) => c.kind === "failure").length;
  if (r.gate !== null) {
    const open = `    <testcase${attrs({ name: "regression gate", classname: `${classname} gate`, time: "0.000" })}>`;
    if (r.gate.passed) body.push(`${open}</testcase>`);
    else {
      failures++;
      body.push(
        `${open}\n      <failure${attrs({ message: short(r.gate.failures.join("; "), 300), type: "gate" })}>${escapeXml(r.gate.metrics.map((m) => m.reason).join("\n"))}</failure>\n    </testcase>`,
      );
    }
  }
  const counts = {
    tests: body.length + skipped.length,
    failures,
    errors: cases.filter((c) => c.kind === "error").length,
    skipped: skipped.length,
  };
  const time = seconds(Date.parse(r.finishedAt) - Date.parse(r.startedAt));
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites${attrs({ name: "promptgate eval", ...counts, time })}>
  <testsuite${attrs({ name: `${classname} on ${r.suite.file}`, ...counts, time, timestamp: r.startedAt })}>
${[...body, ...skipped].join("\n")}
  </testsuite>
</testsuites>
`;
}
