// The shapes every part of evaluation shares: a suite's cases and assertions once parsed, what a graded
// call produced, what grading says, and the seam through which model-graded assertions reach a judge.

/** One assertion of a case, after `defaultTest` is merged (promptfoo's `assert` entries). */
export interface Assertion {
  /** The type without `not-` (`contains`, `llm-rubric`, `assert-set`, ...). */
  readonly type: string;
  /** Written with the `not-` prefix: passes when the assertion would fail. */
  readonly negate: boolean;
  /** The type's argument (`value:` in the suite), already rendered with the case's variables. */
  readonly value?: unknown;
  /** A score at or above it passes (types that score between 0 and 1). */
  readonly threshold?: number;
  /** Its weight in the case's score (default 1). */
  readonly weight: number;
  /** A metric name the report groups scores under (default: the type). */
  readonly metric: string | null;
  /** Model-graded types: the judge, a registered prompt ref (`judge-rubric@1.0.0`); null: the suite's default. */
  readonly judge?: string | null;
  /** `assert-set`: the assertions it groups. */
  readonly assertions?: readonly Assertion[];
}

/** One test case, after datasets are expanded and `defaultTest` is merged. */
export interface EvalCase {
  /** Stable within the suite: its position, or the dataset file and row. */
  readonly id: string;
  readonly description: string | null;
  readonly vars: Readonly<Record<string, unknown>>;
  /** A dataset's `expected` (or `vars.expected`), for assertions that compare with it. */
  readonly expected: string | null;
  readonly assertions: readonly Assertion[];
  /** The case passes when its weighted score reaches this (default: every assertion passes). */
  readonly threshold: number | null;
}

/** What one call of the prompt under test produced. */
export interface CallResult {
  readonly output: string;
  readonly latencyMs: number;
  /** USD; null when the model is unpriced. */
  readonly costUsd: number | null;
}

/**
 * One assertion's outcome. A grader error (a judge that answered something unreadable, a judge that
 * failed) is not a failure and never a zero: the assertion could not be graded.
 */
export type GradeOutcome =
  | { readonly kind: "graded"; readonly pass: boolean; readonly score: number; readonly reason: string }
  | { readonly kind: "error"; readonly reason: string };

/** What a model-graded assertion is judged on. */
export interface JudgeInput {
  readonly output: string;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly expected: string | null;
  /**
   * `select-best`: the other output for the same case to compare with (the baseline's); without one
   * select-best is a grader error.
   */
  readonly alternative?: string | null;
  /**
   * Which judgement of a repeated assertion this is (`--repeat k`: 0..k-1; default 0). Part of the judge
   * cache key, so the k judgements are k calls, and a re-run reads all k from the cache.
   */
  readonly attempt?: number;
}

/** The seam between grading and judges: assertions.ts calls it for every model-graded type. */
export interface ModelGrader {
  /** Grades one model-graded assertion (negation and threshold are applied by the caller). */
  grade(assertion: Assertion, input: JudgeInput): Promise<GradeOutcome>;
}

/** A suite's `gate:` section (our extension): the paired regression gate's margins. */
export interface GateConfig {
  /** Per metric: the largest drop of the candidate's mean below the baseline's that is still allowed. */
  readonly metrics: Readonly<Record<string, { readonly max_regression: number }>>;
  /** Confidence of the one-sided non-inferiority test (default 0.95). */
  readonly confidence: number;
}

/** A suite's `online:` section (our extension): live judging of a sample of production answers. */
export interface OnlineConfig {
  /** Share of completed requests handed to the evaluator, in (0, 1]. */
  readonly sample: number;
  /** The judge, a registered prompt ref (`judge-rubric@1.0.0`). */
  readonly judge: string;
  /** The metric name the judged scores are recorded under. */
  readonly metric: string;
  /** The rubric the judge grades against (llm-rubric); absent: the suite's first llm-rubric, else a default. */
  readonly rubric?: string | undefined;
}

/** A suite file once loaded: its cases (datasets expanded, `defaultTest` merged, values rendered). */
export interface Suite {
  /** The file it was read from, as given. */
  readonly file: string;
  readonly description: string | null;
  readonly cases: readonly EvalCase[];
  readonly gate: GateConfig | null;
  readonly online: OnlineConfig | null;
  /** sha256 (hex) of the canonical content: cases (datasets included) and the gate; not `online`. */
  readonly hash: string;
  /** promptfoo keys accepted but not used (`prompts`, `providers`, a grader `provider`), for the report. */
  readonly warnings: readonly string[];
}

/** One assertion's result; an `assert-set` carries its members' results. */
export interface AssertionResult {
  readonly assertion: Assertion;
  /** After negation and threshold. */
  readonly outcome: GradeOutcome;
  readonly children?: readonly AssertionResult[];
}

/** One case graded. */
export interface CaseResult {
  readonly caseId: string;
  readonly results: readonly AssertionResult[];
  /** Weighted mean score of the graded assertions; null when none could be graded. */
  readonly score: number | null;
  /** null: grader errors leave it undecided (they could turn it either way). */
  readonly pass: boolean | null;
  /** Assertions (leaves, inside sets too) whose outcome is a grader error. */
  readonly graderErrors: number;
  /** Per metric name (`metric`, else the type): the weighted mean score of its graded assertions. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly reason: string;
}
