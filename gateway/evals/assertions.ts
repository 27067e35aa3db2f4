// Grading one case: every deterministic assertion type here, the model-graded ones through the
// ModelGrader passed in; then negation (`not-`), thresholds, `assert-set`, weights, metrics and the
// case's pass/fail, with grader errors counted apart (never a zero, never a pass).
// Semantics follow promptfoo's documentation; README "Evaluation" lists them per type.
import { distance } from "fastest-levenshtein";
import { canonicalJson } from "../support/json-value.ts";
import { isModelGraded, SCORED_TYPES, schemaErrors, schemaValidator } from "./assertion-spec.ts";
import { countSentences, extractJsonValues, rougeNRecall } from "./text-metrics.ts";
import type {
  Assertion,
  AssertionResult,
  CallResult,
  CaseResult,
  EvalCase,
  GradeOutcome,
  JudgeInput,
  ModelGrader,
} from "./types.ts";

type Verdict = { readonly pass: boolean; readonly score: number; readonly reason: string };

const graded = (pass: boolean, score: number, reason: string): GradeOutcome => ({
  kind: "graded",
  pass,
  score,
  reason,
});
const binary = (pass: boolean, reason: string): Verdict => ({ pass, score: pass ? 1 : 0, reason });
const quote = (s: string, max = 80): string => JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => String(v)) : [String(value)];
}

function jsonVerdict(values: readonly unknown[], schema: object | undefined, what: string): Verdict {
  if (values.length === 0) return binary(false, `${what}: no JSON found`);
  if (schema === undefined) return binary(true, `${what}: valid JSON`);
  const validate = schemaValidator(schema);
  let firstError = "";
  for (const v of values) {
    if (validate(v)) return binary(true, `${what}: JSON matches the schema`);
    if (firstError === "") firstError = schemaErrors(validate);
  }
  return binary(false, `${what}: JSON does not match the schema: ${firstError}`);
}

/** The verdict of a deterministic type before negation; null: the type is not deterministic. */
function deterministic(a: Assertion, call: CallResult): Verdict | GradeOutcome | null {
  const out = call.output;
  const value = a.value;
  switch (a.type) {
    case "equals": {
      if (value !== null && typeof value === "object") {
        let parsed: unknown;
        try {
          parsed = JSON.parse(out);
        } catch {
          return binary(false, "equals: the output is not JSON, expected a JSON value");
        }
        return binary(canonicalJson(parsed) === canonicalJson(value), "equals: JSON compared");
      }
      const expected = String(value);
      return binary(out === expected, out === expected ? "equals: identical" : `equals: expected ${quote(expected)}`);
    }
    case "contains":
      return binary(out.includes(String(value)), `contains ${quote(String(value))}`);
    case "icontains":
      return binary(out.toLowerCase().includes(String(value).toLowerCase()), `icontains ${quote(String(value))}`);
    case "contains-any":
    case "icontains-any":
    case "contains-all":
    case "icontains-all": {
      const fold = a.type.startsWith("i") ? (s: string) => s.toLowerCase() : (s: string) => s;
      const text = fold(out);
      const items = strings(value);
      const found = items.filter((s) => text.includes(fold(s)));
      const any = a.type.endsWith("any");
      const pass = any ? found.length > 0 : found.length === items.length;
      const missing = items.filter((s) => !found.includes(s));
      return binary(
        pass,
        any
          ? `${a.type}: ${found.length === 0 ? "none of" : "found"} ${(found.length === 0 ? items : found).map((s) => quote(s)).join(", ")}`
          : `${a.type}: ${missing.length === 0 ? "all found" : `missing ${missing.map((s) => quote(s)).join(", ")}`}`,
      );
    }
    case "starts-with":
      return binary(out.startsWith(String(value)), `starts-with ${quote(String(value))}`);
    case "regex":
      return binary(new RegExp(String(value)).test(out), `regex /${String(value)}/`);
    case "is-json": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(out);
      } catch {
        return binary(false, "is-json: the output is not valid JSON");
      }
      return jsonVerdict([parsed], value as object | undefined, "is-json");
    }
    case "contains-json":
      return jsonVerdict(extractJsonValues(out), value as object | undefined, "contains-json");
    case "levenshtein": {
      const d = distance(out, String(value));
      const max = a.threshold ?? 5;
      return binary(d <= max, `levenshtein distance ${d} ${d <= max ? "<=" : ">"} ${max}`);
    }
    case "rouge-n": {
      const score = rougeNRecall(out, String(value));
      const min = a.threshold ?? 0.75;
      return { pass: score >= min, score, reason: `ROUGE-N ${score.toFixed(3)} ${score >= min ? ">=" : "<"} ${min}` };
    }
    case "latency": {
      const max = a.threshold!;
      return binary(
        call.latencyMs <= max,
        `latency ${Math.round(call.latencyMs)} ms ${call.latencyMs <= max ? "<=" : ">"} ${max} ms`,
      );
    }
    case "cost": {
      if (call.costUsd === null)
        return {
          kind: "error",
          reason: "cost: the model is unpriced (add it to pricing.yaml), so its cost cannot be checked",
        };
      const max = a.threshold!;
      return binary(call.costUsd <= max, `cost $${call.costUsd} ${call.costUsd <= max ? "<=" : ">"} $${max}`);
    }
    case "sentence-count": {
      const n = countSentences(out);
      const range = typeof value === "number" ? { min: value, max: value } : (value as { min: number; max: number });
      const target =
        typeof value === "number"
          ? `${value}`
          : `${range.min}..${range.max === Number.MAX_SAFE_INTEGER ? "" : range.max}`;
      const off = n < range.min ? range.min - n : n > range.max ? n - range.max : 0;
      // Partial credit for the gate: one sentence off a target of 2 scores 0.5.
      const score = Math.max(0, 1 - off / Math.max(range.min, 1));
      return { pass: off === 0, score, reason: `sentence-count ${n}, target ${target}` };
    }
    default:
      return null;
  }
}

function isOutcome(v: Verdict | GradeOutcome): v is GradeOutcome {
  return "kind" in v;
}

/** Applies `not-`: pass flips; a measured score becomes 1 - score, a pass/fail score follows the pass. */
function negate(a: Assertion, v: Verdict): Verdict {
  if (!a.negate) return v;
  const pass = !v.pass;
  const score = SCORED_TYPES.has(a.type) ? 1 - v.score : pass ? 1 : 0;
  return { pass, score, reason: `not (${v.reason})` };
}

interface Tally {
  /** Sum of weight x score over graded assertions, and their weights. */
  scoreSum: number;
  gradedWeight: number;
  /** Weight of assertions that could not be graded. */
  errorWeight: number;
  anyFailed: boolean;
  anyError: boolean;
  failReason: string | null;
}

function tally(results: readonly AssertionResult[]): Tally {
  const t: Tally = {
    scoreSum: 0,
    gradedWeight: 0,
    errorWeight: 0,
    anyFailed: false,
    anyError: false,
    failReason: null,
  };
  for (const r of results) {
    const w = r.assertion.weight;
    if (r.outcome.kind === "error") {
      t.anyError = true;
      t.errorWeight += w;
      continue;
    }
    t.scoreSum += w * r.outcome.score;
    t.gradedWeight += w;
    if (!r.outcome.pass) {
      t.anyFailed = true;
      t.failReason ??= r.outcome.reason;
    }
  }
  return t;
}

/**
 * pass/fail of a group of results, as promptfoo scores a test: without a threshold every assertion must
 * pass; with one, the weighted mean score must reach it. Grader errors count as unknown scores between
 * 0 and 1: when the answer depends on them, it is null (undecided).
 */
function decide(t: Tally, threshold: number | null | undefined): { pass: boolean | null; score: number | null } {
  const total = t.gradedWeight + t.errorWeight;
  const score = t.gradedWeight > 0 ? t.scoreSum / t.gradedWeight : t.anyError ? null : 0;
  if (threshold === null || threshold === undefined) {
    return { pass: t.anyFailed ? false : t.anyError ? null : true, score };
  }
  if (total === 0) return { pass: 0 >= threshold, score: 0 };
  const low = t.scoreSum / total;
  const high = (t.scoreSum + t.errorWeight) / total;
  return { pass: low >= threshold ? true : high < threshold ? false : null, score };
}

/** What the case gives a judge and every assertion. */
export interface GradeContext {
  readonly vars: Readonly<Record<string, unknown>>;
  readonly expected: string | null;
}

/** Grades one assertion (an assert-set with its members) against one call's result. */
export async function gradeAssertion(
  a: Assertion,
  call: CallResult,
  ctx: GradeContext,
  grader: ModelGrader,
): Promise<AssertionResult> {
  if (a.type === "assert-set") {
    const children = await Promise.all((a.assertions ?? []).map((c) => gradeAssertion(c, call, ctx, grader)));
    const t = tally(children);
    const { pass, score } = decide(t, a.threshold);
    const outcome: GradeOutcome =
      pass === null || score === null
        ? { kind: "error", reason: "assert-set: undecided: grader errors among its assertions" }
        : graded(
            pass,
            score,
            pass
              ? "assert-set passed"
              : `assert-set failed: ${t.failReason ?? `score ${score.toFixed(3)} < ${a.threshold}`}`,
          );
    return { assertion: a, outcome, children };
  }
  if (isModelGraded(a.type)) {
    const input: JudgeInput = { output: call.output, vars: ctx.vars, expected: ctx.expected };
    let raw: GradeOutcome;
    try {
      raw = await grader.grade(a, input);
    } catch (err) {
      raw = {
        kind: "error",
        reason: `${a.type}: the judge failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    if (raw.kind === "error") return { assertion: a, outcome: raw };
    const min = a.threshold;
    const pass = raw.pass && (min === undefined || raw.score >= min);
    const reason =
      min !== undefined && raw.pass && raw.score < min ? `${raw.reason} (score ${raw.score} < ${min})` : raw.reason;
    const v = negate(a, { pass, score: raw.score, reason });
    return { assertion: a, outcome: graded(v.pass, v.score, v.reason) };
  }
  let v: Verdict | GradeOutcome | null;
  try {
    v = deterministic(a, call);
  } catch (err) {
    v = { kind: "error", reason: `${a.type}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (v === null) return { assertion: a, outcome: { kind: "error", reason: `${a.type}: not a gradable type` } };
  if (isOutcome(v)) return { assertion: a, outcome: v };
  const n = negate(a, v);
  return { assertion: a, outcome: graded(n.pass, n.score, n.reason) };
}

function countErrors(results: readonly AssertionResult[]): number {
  let n = 0;
  for (const r of results) {
    if (r.children !== undefined) n += countErrors(r.children);
    else if (r.outcome.kind === "error") n++;
  }
  return n;
}

/** Per metric name: weighted mean of graded scores (weight-0 assertions count with weight 1 here). */
function metricScores(results: readonly AssertionResult[]): Record<string, number> {
  const sums = new Map<string, { s: number; w: number }>();
  const visit = (r: AssertionResult): void => {
    if (r.outcome.kind === "graded") {
      const name = r.assertion.metric ?? r.assertion.type;
      const w = r.assertion.weight > 0 ? r.assertion.weight : 1;
      const acc = sums.get(name) ?? { s: 0, w: 0 };
      acc.s += w * r.outcome.score;
      acc.w += w;
      sums.set(name, acc);
    }
    for (const c of r.children ?? []) visit(c);
  };
  results.forEach(visit);
  const out: Record<string, number> = {};
  for (const [name, { s, w }] of sums) out[name] = s / w;
  return out;
}

/**
 * Grades a case against what the call produced. Model-graded assertions go to `grader` (a thrown error
 * is a grader error). A case with no assertions passes with score 1.
 */
export async function gradeCase(c: EvalCase, call: CallResult, grader: ModelGrader): Promise<CaseResult> {
  const ctx: GradeContext = { vars: c.vars, expected: c.expected };
  const results = await Promise.all(c.assertions.map((a) => gradeAssertion(a, call, ctx, grader)));
  if (results.length === 0) {
    return {
      caseId: c.id,
      results,
      score: 1,
      pass: true,
      graderErrors: 0,
      metrics: { score: 1 },
      reason: "no assertions",
    };
  }
  const t = tally(results);
  const { pass, score } = decide(t, c.threshold);
  const graderErrors = countErrors(results);
  const metrics = metricScores(results);
  if (score !== null) metrics.score = score;
  const reason =
    pass === null
      ? `undecided: ${graderErrors} grader error${graderErrors === 1 ? "" : "s"}`
      : c.threshold !== null
        ? `score ${(score ?? 0).toFixed(3)} ${pass ? ">=" : "<"} threshold ${c.threshold}`
        : pass
          ? "all assertions passed"
          : (t.failReason ?? "failed");
  return { caseId: c.id, results, score, pass, graderErrors, metrics, reason };
}
