// The report of an eval run: one JSON-ready object (the run, its worst cases, its grader errors and the
// baseline comparison), and what each `--output` extension writes from it (report-markdown.ts,
// report-html.ts, report-junit.ts).
import { WORST_CASE_TEXT, type WorstCase } from "../registry/eval-records.ts";
import type { AssertionResult } from "./types.ts";
import type { CaseRun, EvalRun } from "./runner.ts";

/** How many of the lowest-scoring cases the report shows with their inputs and outputs. */
export const WORST_CASES = 5;

export interface GraderErrorRow {
  readonly caseId: string;
  /** The assertion's type (`not-` shown) and metric. */
  readonly assertion: string;
  readonly reason: string;
}

export interface CaseErrorRow {
  readonly caseId: string;
  readonly side: "candidate" | "baseline";
  readonly error: string;
}

export interface EvalReport extends EvalRun {
  readonly passed: boolean;
  /** Ids of the worst graded cases, lowest score first (failed before passed on a tie). */
  readonly worst: readonly string[];
  /** Every assertion that could not be graded: counted apart from failures. */
  readonly graderErrorList: readonly GraderErrorRow[];
  /** Calls that failed or cases that timed out. */
  readonly caseErrors: readonly CaseErrorRow[];
}

export type ReportFormat = "json" | "md" | "html" | "xml";

/** The format an `--output` path asks for by its extension; null when none is known. */
export function reportFormat(path: string): ReportFormat | null {
  const ext = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase() ?? "";
  return EXTENSIONS[ext] ?? null;
}

const EXTENSIONS: Readonly<Record<string, ReportFormat>> = {
  json: "json",
  md: "md",
  markdown: "md",
  html: "html",
  htm: "html",
  xml: "xml",
};

function assertionName(r: AssertionResult): string {
  const a = r.assertion;
  const type = `${a.negate ? "not-" : ""}${a.type}`;
  return a.metric === null ? type : `${type} (${a.metric})`;
}

function graderErrors(c: CaseRun): GraderErrorRow[] {
  const rows: GraderErrorRow[] = [];
  const visit = (r: AssertionResult): void => {
    if (r.children !== undefined) r.children.forEach(visit);
    else if (r.outcome.kind === "error")
      rows.push({ caseId: c.id, assertion: assertionName(r), reason: r.outcome.reason });
  };
  c.candidate.result?.results.forEach(visit);
  return rows;
}

export function buildReport(run: EvalRun, worst = WORST_CASES): EvalReport {
  const graded = run.cases.filter((c) => c.candidate.result !== null && c.candidate.result.score !== null);
  const ranked = [...graded].sort((a, b) => {
    const ra = a.candidate.result!;
    const rb = b.candidate.result!;
    return ra.score! - rb.score! || Number(ra.pass === true) - Number(rb.pass === true);
  });
  const caseErrors: CaseErrorRow[] = [];
  for (const c of run.cases) {
    if (c.candidate.error !== null) caseErrors.push({ caseId: c.id, side: "candidate", error: c.candidate.error });
    if (c.baseline?.error != null) caseErrors.push({ caseId: c.id, side: "baseline", error: c.baseline.error });
  }
  return {
    ...run,
    passed: run.status === "passed",
    worst: ranked
      .filter((c) => c.candidate.result!.pass !== true || c.candidate.result!.score! < 1)
      .slice(0, worst)
      .map((c) => c.id),
    graderErrorList: run.cases.flatMap(graderErrors),
    caseErrors,
  };
}

// Shared formatting of the text formats.

/** A number with up to 4 decimals; "-" for null. */
export const num = (x: number | null | undefined): string =>
  x === null || x === undefined ? "-" : String(Math.round(x * 10000) / 10000);

export const pct = (x: number | null | undefined): string =>
  x === null || x === undefined ? "-" : `${Math.round(x * 1000) / 10}%`;

export const usd = (x: number | null | undefined): string =>
  x === null || x === undefined ? "unknown" : `$${x.toFixed(6).replace(/0+$/, "").replace(/\.$/, "")}`;

export const ms = (x: number | null | undefined): string =>
  x === null || x === undefined ? "-" : `${Math.round(x)} ms`;

/** A value as one short line: strings as they are, anything else as JSON; cut at `max` characters. */
export function short(v: unknown, max = 200): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  const line = (s ?? "").replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

export const STATUS_WORDS = { passed: "PASSED", failed: "FAILED", error: "ERROR (could not decide)" } as const;

/** The one-line headline: verdict, version, suite, baseline. */
export function headline(r: EvalReport): string {
  const base = r.baseline === null ? "" : ` against ${r.baseline.name}@${r.baseline.version}`;
  return `${STATUS_WORDS[r.status]}: ${r.prompt.name}@${r.prompt.version}${base} on ${r.suite.file}`;
}

/** Case counts, cost and latency in one paragraph of plain lines. */
export function overviewLines(r: EvalReport): string[] {
  const c = r.counts;
  const lines = [
    `cases: ${c.total} (${c.passed} passed, ${c.failed} failed, ${c.undecided} undecided, ${c.errors} errors, ${r.skipped} not run)`,
    `grader errors: ${r.graderErrors} (assertions that could not be graded; not counted as failures)`,
    `cost: ${r.cost.totalUsd === null ? "unknown, some calls are unpriced" : usd(r.cost.totalUsd)} (prompt ${usd(r.cost.promptUsd)}, judges ${usd(r.cost.judgeUsd)}; ` +
      `${r.cost.judgeCalls} judge calls, ${r.cost.judgeCacheHits} from the cache` +
      `${r.cost.unpricedCalls > 0 ? `; ${r.cost.unpricedCalls} calls unpriced, not counted by the budget` : ""})` +
      `${r.cost.budgetUsd === null ? "" : `, budget ${usd(r.cost.budgetUsd)}`}`,
    `latency: mean ${ms(r.latency.mean)}, p50 ${ms(r.latency.p50)}, p95 ${ms(r.latency.p95)}, max ${ms(r.latency.max)}`,
    `suite: ${r.suite.file} (hash ${r.suite.hash.slice(0, 12)})${r.repeat ? `, judged ${r.repeat.k} times (at least ${r.repeat.minPass} to pass)` : ""}`,
  ];
  return lines;
}

export const METRIC_COLUMNS = ["metric", "n", "mean", "std", "min", "max", "pass rate", "baseline mean"] as const;

export function metricRows(r: EvalReport): string[][] {
  return Object.entries(r.metrics).map(([name, m]) => [
    name,
    String(m.n),
    num(m.mean),
    num(m.std),
    num(m.min),
    num(m.max),
    pct(m.pass_rate),
    num(r.baselineMetrics?.[name]?.mean),
  ]);
}

export const GATE_COLUMNS = [
  "metric",
  "test",
  "pairs",
  "baseline",
  "candidate",
  "diff",
  "interval",
  "p",
  "max regression",
  "verdict",
] as const;

export function gateRows(r: EvalReport): string[][] {
  return (r.gate?.metrics ?? []).map((m) => [
    m.metric,
    m.test,
    String(m.n),
    num(m.baseline_mean),
    num(m.candidate_mean),
    num(m.diff),
    m.ci_low === null ? "-" : `[${num(m.ci_low)}, ${num(m.ci_high)}]`,
    m.p_value === null ? "-" : m.p_value.toPrecision(3),
    m.max_regression === null ? "-" : num(m.max_regression),
    m.verdict,
  ]);
}

/** A case of the report by id. */
export const caseById = (r: EvalReport, id: string): CaseRun => r.cases.find((c) => c.id === id)!;

/** The worst cases as the eval record keeps them: variables, output and reason cut to WORST_CASE_TEXT. */
export function worstCases(r: EvalReport): WorstCase[] {
  const cut = (s: string): string => (s.length > WORST_CASE_TEXT ? `${s.slice(0, WORST_CASE_TEXT - 3)}...` : s);
  return r.worst.map((id) => {
    const c = caseById(r, id);
    const res = c.candidate.result;
    return {
      case_id: id,
      score: res?.score ?? null,
      passed: res?.pass ?? null,
      vars: cut(JSON.stringify(c.vars)),
      output: cut(c.candidate.output ?? ""),
      reason: cut(res?.reason ?? ""),
    };
  });
}

/** How a case ended, in words. */
export const caseVerdict = (pass: boolean | null): string => (pass === null ? "undecided" : pass ? "passed" : "failed");

/** A titled table every renderer shows the same way. */
export interface ReportTable {
  /** A short title (a heading) and what it means (said beside it). */
  readonly title: string;
  readonly note: string | null;
  readonly columns: readonly string[];
  readonly rows: string[][];
}

/** The assertions that could not be graded and the calls that failed, when there are any; cells cut at `width`. */
export function problemTables(r: EvalReport, width: number): ReportTable[] {
  const tables: ReportTable[] = [];
  if (r.graderErrorList.length > 0)
    tables.push({
      title: "Grader errors",
      note: "not failures: these assertions could not be graded",
      columns: ["case", "assertion", "reason"],
      rows: r.graderErrorList.map((e) => [e.caseId, e.assertion, short(e.reason, width)]),
    });
  if (r.caseErrors.length > 0)
    tables.push({
      title: "Failed calls",
      note: null,
      columns: ["case", "side", "error"],
      rows: r.caseErrors.map((e) => [e.caseId, e.side, short(e.error, width)]),
    });
  return tables;
}
