// Running a suite: every case called on the version under test (and on the baseline, with one) through an
// injected caller, graded through an injected model grader, with a bounded number of cases in flight, a
// deadline per case, a cost budget and progress events; then per-metric summaries, the paired regression
// gate and the run's status. Pure orchestration: every call, judge and clock comes in from outside.
import type { EvalMetricSummary } from "../registry/eval-records.ts";
import type { PromptVersion, VariableSpec } from "../prompts/types.ts";
import { gradeCase } from "./assertions.ts";
import type { CallDetail, PromptCaller, ResolvedPrompt } from "./caller.ts";
import { regressionGate, type GateConfig as PairedGateConfig, type GateResult } from "./gate.ts";
import { repeatedGrader, type JudgeCall, type RepeatPolicy } from "./model-graded.ts";
import type { AssertionResult, CaseResult, EvalCase, ModelGrader, Suite } from "./types.ts";

export const DEFAULT_CONCURRENCY = 4;
/** The deadline of one case: its call(s) and every judgement of it. */
export const DEFAULT_CASE_TIMEOUT_MS = 120_000;

/** What the run spent, in USD: prompt calls and judge calls (cached judgements cost 0). */
export interface CostMeter {
  /** Adds a prompt call's cost (null: unpriced). */
  call(costUsd: number | null): void;
  /** Adds a judge call (hand it to createModelGrader's onCall). */
  judge(call: JudgeCall): void;
  spent(): number;
  readonly totals: () => CostTotals;
}

export interface CostTotals {
  readonly promptUsd: number;
  readonly judgeUsd: number;
  /** Calls whose model is unpriced: their cost is unknown and the budget cannot count it. */
  readonly unpricedCalls: number;
  readonly judgeCalls: number;
  readonly judgeCacheHits: number;
}

export function createCostMeter(): CostMeter {
  // Pico-dollars as integers, so that thousands of small costs add up exactly.
  let prompt = 0;
  let judge = 0;
  let unpriced = 0;
  let judgeCalls = 0;
  let hits = 0;
  const pico = (usd: number): number => Math.round(usd * 1e12);
  return {
    call(costUsd) {
      if (costUsd === null) unpriced++;
      else prompt += pico(costUsd);
    },
    judge(c) {
      judgeCalls++;
      if (c.cached) hits++;
      if (c.costUsd === null) unpriced++;
      else judge += pico(c.costUsd);
    },
    spent: () => (prompt + judge) / 1e12,
    totals: () => ({
      promptUsd: prompt / 1e12,
      judgeUsd: judge / 1e12,
      unpricedCalls: unpriced,
      judgeCalls,
      judgeCacheHits: hits,
    }),
  };
}

/** One version's side of a case: what its call produced and how it was graded, or why it could not be. */
export interface ArmRun {
  readonly output: string | null;
  readonly latencyMs: number | null;
  readonly costUsd: number | null;
  readonly result: CaseResult | null;
  /** The call failed or the case ran out of time: the case could not be graded. */
  readonly error: string | null;
}

export interface CaseRun {
  readonly id: string;
  readonly description: string | null;
  /** The variables the prompt was called with (declared ones only, converted to their types). */
  readonly vars: Readonly<Record<string, unknown>>;
  readonly expected: string | null;
  readonly candidate: ArmRun;
  readonly baseline: ArmRun | null;
}

/** `passed`: exit 0; `failed`: a threshold or the gate failed (exit 1); `error`: the run could not decide (exit 3). */
export type RunStatus = "passed" | "failed" | "error";

export interface PromptId {
  readonly name: string;
  readonly version: string;
  readonly hash: string;
}

export interface LatencySummary {
  readonly n: number;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

export interface EvalRun {
  readonly prompt: PromptId;
  readonly baseline: PromptId | null;
  readonly suite: {
    readonly file: string;
    readonly hash: string;
    readonly description: string | null;
    readonly warnings: readonly string[];
  };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly status: RunStatus;
  /** Why the run failed or could not decide, one line each; empty when it passed. */
  readonly reasons: readonly string[];
  /** Every case of the suite, in its order; cases the budget kept from starting are counted in `skipped`. */
  readonly cases: readonly CaseRun[];
  readonly skipped: number;
  readonly counts: {
    readonly total: number;
    readonly passed: number;
    readonly failed: number;
    /** Grader errors (or a failed call) left the case undecided. */
    readonly undecided: number;
    /** The call failed or the case timed out. */
    readonly errors: number;
  };
  /** Assertions that could not be graded (candidate side). */
  readonly graderErrors: number;
  readonly metrics: Readonly<Record<string, EvalMetricSummary>>;
  readonly baselineMetrics: Readonly<Record<string, EvalMetricSummary>> | null;
  readonly gate: GateResult | null;
  readonly cost: CostTotals & {
    /** Prompt + judge calls; null when some call was unpriced. */
    readonly totalUsd: number | null;
    readonly budgetUsd: number | null;
    readonly budgetExceeded: boolean;
  };
  /** The candidate's call latencies (ms). */
  readonly latency: LatencySummary;
  readonly repeat: RepeatPolicy | null;
}

export type CaseOutcome = "pass" | "fail" | "undecided" | "error";

export type ProgressEvent =
  | { readonly kind: "start"; readonly total: number }
  | {
      readonly kind: "case";
      readonly caseId: string;
      readonly outcome: CaseOutcome;
      readonly done: number;
      readonly total: number;
      readonly spentUsd: number;
    }
  | { readonly kind: "budget"; readonly spentUsd: number; readonly budgetUsd: number; readonly skipped: number };

export interface RunOptions {
  readonly suite: Suite;
  readonly candidate: ResolvedPrompt;
  readonly baseline?: ResolvedPrompt | null;
  readonly caller: Pick<PromptCaller, "call">;
  /** Judges model-graded assertions (createModelGrader with `onCall: meter.judge`). */
  readonly grader: ModelGrader;
  readonly meter: CostMeter;
  readonly concurrency?: number;
  /** Judge each model-graded assertion k times, passing with at least minPass passes. */
  readonly repeat?: RepeatPolicy | null;
  /** Stop starting cases once this much was spent (USD); null: no budget. */
  readonly maxCostUsd?: number | null;
  readonly caseTimeoutMs?: number;
  /** The model for versions that pin none. */
  readonly model?: string;
  /** Epoch milliseconds (start and finish times). */
  readonly now?: () => number;
  readonly onProgress?: (event: ProgressEvent) => void;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A variable's value as a dataset gave it, converted to the declared type when it came as text (CSV). */
function convert(spec: VariableSpec, value: unknown): unknown {
  if (typeof value !== "string" || spec.type === "string") return value;
  const text = value.trim();
  // An empty cell of a typed column: not given, so the default applies.
  if (text === "") return undefined;
  switch (spec.type) {
    case "integer":
    case "number": {
      const n = Number(text);
      return Number.isFinite(n) ? n : value;
    }
    case "boolean":
      return /^true$/i.test(text) ? true : /^false$/i.test(text) ? false : value;
    case "array":
    case "object":
      try {
        return JSON.parse(text) as unknown;
      } catch {
        // A comma-separated list for an array of strings, as a spreadsheet writes it.
        return spec.type === "array" && spec.items === "string" ? text.split(",").map((s) => s.trim()) : value;
      }
  }
}

/**
 * The case's variables as the prompt takes them: only the ones it declares (a suite's vars may also serve
 * its assertions), text converted to the declared types. Type mismatches are left for the prompt's own
 * validation to name.
 */
export function promptVars(
  variables: PromptVersion["variables"],
  vars: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(variables)) {
    if (!Object.hasOwn(vars, name)) continue;
    const v = convert(spec, vars[name]);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** Per metric: the share of cases whose graded assertions of that metric all passed. */
function metricPasses(result: CaseResult): Map<string, boolean> {
  const passes = new Map<string, boolean>();
  const visit = (r: AssertionResult): void => {
    if (r.outcome.kind === "graded") {
      const name = r.assertion.metric ?? r.assertion.type;
      passes.set(name, (passes.get(name) ?? true) && r.outcome.pass);
    }
    for (const c of r.children ?? []) visit(c);
  };
  result.results.forEach(visit);
  if (result.pass !== null) passes.set("score", result.pass);
  return passes;
}

/** Summaries per metric over the graded cases (mean, sample std, min, max, pass rate). */
export function summarizeMetrics(results: readonly CaseResult[]): Record<string, EvalMetricSummary> {
  const scores = new Map<string, number[]>();
  const passes = new Map<string, { pass: number; n: number }>();
  for (const r of results) {
    for (const [name, score] of Object.entries(r.metrics)) {
      const list = scores.get(name) ?? [];
      list.push(score);
      scores.set(name, list);
    }
    for (const [name, pass] of metricPasses(r)) {
      const p = passes.get(name) ?? { pass: 0, n: 0 };
      p.n++;
      if (pass) p.pass++;
      passes.set(name, p);
    }
  }
  const out: Record<string, EvalMetricSummary> = {};
  for (const name of [...scores.keys()].sort()) {
    const xs = scores.get(name)!;
    const n = xs.length;
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const std = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
    const p = passes.get(name);
    out[name] = {
      n,
      mean,
      std,
      min: Math.min(...xs),
      max: Math.max(...xs),
      pass_rate: p === undefined || p.n === 0 ? null : p.pass / p.n,
    };
  }
  return out;
}

function quantile(sorted: readonly number[], q: number): number {
  // Nearest rank: an observed latency, never an interpolated one.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function summarizeLatency(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { n: 0, mean: null, p50: null, p95: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    max: sorted[sorted.length - 1]!,
  };
}

/** The suite's `gate:` section as the paired gate takes it (no section: every metric compared, none gated). */
export function gateConfigOf(suite: Suite): PairedGateConfig {
  if (suite.gate === null) return { metrics: {} };
  const metrics = Object.fromEntries(
    Object.entries(suite.gate.metrics).map(([name, m]) => [name, { maxRegression: m.max_regression }]),
  );
  return { metrics, confidence: suite.gate.confidence };
}

/** Scores per metric, per case, of the cases graded. */
function scoresByMetric(cases: readonly CaseRun[], arm: "candidate" | "baseline"): Record<string, Map<string, number>> {
  const out: Record<string, Map<string, number>> = {};
  for (const c of cases) {
    const result = c[arm]?.result;
    if (!result) continue;
    for (const [name, score] of Object.entries(result.metrics)) (out[name] ??= new Map()).set(c.id, score);
  }
  return out;
}

export const caseOutcome = (arm: ArmRun): CaseOutcome =>
  arm.error !== null || arm.result === null
    ? "error"
    : arm.result.pass === null
      ? "undecided"
      : arm.result.pass
        ? "pass"
        : "fail";

const idOf = (r: ResolvedPrompt): PromptId => ({
  name: r.version.name,
  version: r.version.version,
  hash: r.version.hash,
});

/** Runs `work` under a deadline; on expiry aborts `controller` and rejects. */
function withDeadline<T>(work: Promise<T>, ms: number, controller: AbortController): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`the case timed out after ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export async function runEval(opts: RunOptions): Promise<EvalRun> {
  const now = opts.now ?? Date.now;
  const startedAt = new Date(now()).toISOString();
  const { suite, meter } = opts;
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError("concurrency must be a whole number >= 1");
  const timeoutMs = opts.caseTimeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;
  const budget = opts.maxCostUsd ?? null;
  const repeat = opts.repeat && opts.repeat.k > 1 ? opts.repeat : null;
  const grader = repeat ? repeatedGrader(opts.grader, repeat) : opts.grader;
  const baseline = opts.baseline ?? null;
  const total = suite.cases.length;
  const runs: (CaseRun | undefined)[] = new Array<CaseRun | undefined>(total);
  let next = 0;
  let done = 0;
  let stopped = false;
  opts.onProgress?.({ kind: "start", total });

  const call = async (
    target: ResolvedPrompt,
    c: EvalCase,
    signal: AbortSignal,
  ): Promise<{ detail: CallDetail | null; error: string | null }> => {
    try {
      const detail = await opts.caller.call(target, promptVars(target.version.variables, c.vars), {
        ...(opts.model === undefined ? {} : { model: opts.model }),
        timeoutMs,
        signal,
      });
      meter.call(detail.costUsd);
      return { detail, error: null };
    } catch (err) {
      return { detail: null, error: message(err) };
    }
  };

  /** Grades one arm; `other` is the other arm's output, what select-best compares with. */
  const grade = async (
    c: EvalCase,
    answer: { detail: CallDetail | null; error: string | null },
    other: string | null,
  ): Promise<ArmRun> => {
    const d = answer.detail;
    if (d === null) return { output: null, latencyMs: null, costUsd: null, result: null, error: answer.error };
    const withOther: ModelGrader = { grade: (a, input) => grader.grade(a, { ...input, alternative: other }) };
    const result = await gradeCase(c, d, withOther);
    return { output: d.output, latencyMs: d.latencyMs, costUsd: d.costUsd, result, error: null };
  };

  const runCase = async (c: EvalCase): Promise<CaseRun> => {
    const controller = new AbortController();
    const vars = promptVars(opts.candidate.version.variables, c.vars);
    const base = { id: c.id, description: c.description, vars, expected: c.expected };
    const work = (async (): Promise<CaseRun> => {
      const [mine, theirs] = await Promise.all([
        call(opts.candidate, c, controller.signal),
        baseline === null ? Promise.resolve(null) : call(baseline, c, controller.signal),
      ]);
      const [candidate, baselineArm] = await Promise.all([
        grade(c, mine, theirs?.detail?.output ?? null),
        theirs === null ? Promise.resolve(null) : grade(c, theirs, mine.detail?.output ?? null),
      ]);
      return { ...base, candidate, baseline: baselineArm };
    })();
    try {
      return await withDeadline(work, timeoutMs, controller);
    } catch (err) {
      const failed: ArmRun = { output: null, latencyMs: null, costUsd: null, result: null, error: message(err) };
      return { ...base, candidate: failed, baseline: baseline === null ? null : failed };
    }
  };

  const worker = async (): Promise<void> => {
    while (!stopped && next < total) {
      if (budget !== null && meter.spent() >= budget) {
        stopped = true;
        break;
      }
      const i = next++;
      const c = suite.cases[i]!;
      const run = await runCase(c);
      runs[i] = run;
      done++;
      opts.onProgress?.({
        kind: "case",
        caseId: c.id,
        outcome: caseOutcome(run.candidate),
        done,
        total,
        spentUsd: meter.spent(),
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));

  const cases = runs.filter((r): r is CaseRun => r !== undefined);
  const skipped = total - cases.length;
  if (skipped > 0 && budget !== null) {
    opts.onProgress?.({ kind: "budget", spentUsd: meter.spent(), budgetUsd: budget, skipped });
  }
  const outcomes = cases.map((c) => caseOutcome(c.candidate));
  const count = (o: CaseOutcome): number => outcomes.filter((x) => x === o).length;
  const counts = {
    total,
    passed: count("pass"),
    failed: count("fail"),
    undecided: count("undecided"),
    errors: count("error"),
  };
  const graded = cases.map((c) => c.candidate.result).filter((r): r is CaseResult => r !== null);
  const baselineGraded =
    baseline === null ? [] : cases.map((c) => c.baseline?.result).filter((r): r is CaseResult => !!r);
  const graderErrors = graded.reduce((n, r) => n + r.graderErrors, 0);

  const gate =
    baseline === null
      ? null
      : regressionGate({
          config: gateConfigOf(suite),
          candidate: scoresByMetric(cases, "candidate"),
          baseline: scoresByMetric(cases, "baseline"),
          thresholdsPassed: counts.failed === 0,
        });

  // An error (exit 3) says the run could not decide; a failure (exit 1) is a decided "no".
  const errors: string[] = [];
  if (skipped > 0) {
    errors.push(
      `the cost budget of $${budget} was reached after $${meter.spent().toFixed(6)}: ${skipped} of ${total} cases were not run`,
    );
  }
  if (cases.length > 0 && counts.errors === cases.length) {
    errors.push(`every case's call failed (first: ${cases[0]!.candidate.error ?? "unknown"})`);
  }
  if (baseline !== null && cases.length > 0 && baselineGraded.length === 0) {
    errors.push(
      `every call of the baseline ${baseline.version.name}@${baseline.version.version} failed (first: ${cases[0]!.baseline?.error ?? "unknown"})`,
    );
  }
  const failures: string[] = [];
  if (counts.failed > 0) failures.push(`${counts.failed} of ${total} cases failed`);
  if (gate !== null && !gate.passed)
    failures.push(...gate.failures.filter((f) => !f.startsWith("the candidate's own")));
  const undecided = counts.undecided + counts.errors;
  let status: RunStatus;
  let reasons: string[];
  if (errors.length > 0) {
    status = "error";
    reasons = errors;
  } else if (failures.length > 0) {
    status = "failed";
    reasons = failures;
  } else if (undecided > 0) {
    status = "error";
    reasons = [
      `${undecided} of ${total} cases could not be decided (${counts.undecided} by grader errors, ${counts.errors} by failed calls or timeouts): they could turn the result either way`,
    ];
  } else {
    status = "passed";
    reasons = [];
  }

  const totals = meter.totals();
  return {
    prompt: idOf(opts.candidate),
    baseline: baseline === null ? null : idOf(baseline),
    suite: { file: suite.file, hash: suite.hash, description: suite.description, warnings: suite.warnings },
    startedAt,
    finishedAt: new Date(now()).toISOString(),
    status,
    reasons,
    cases,
    skipped,
    counts,
    graderErrors,
    metrics: summarizeMetrics(graded),
    baselineMetrics: baseline === null ? null : summarizeMetrics(baselineGraded),
    gate,
    cost: {
      ...totals,
      totalUsd: totals.unpricedCalls > 0 ? null : meter.spent(),
      budgetUsd: budget,
      budgetExceeded: skipped > 0,
    },
    latency: summarizeLatency(cases.map((c) => c.candidate.latencyMs).filter((x): x is number => x !== null)),
    repeat,
  };
}
