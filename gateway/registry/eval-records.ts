// Eval records: the summary of one evaluation run of a prompt version against a suite, stored append-only
// per prompt (`evals:{name}`), and the suite hash the registry holds for each prompt that has a suite
// (`suites:{name}`). The promotion gate (registry.ts) reads both; the eval runner writes them through
// `Registry.recordEval`. Anything read back is checked, since an operator can edit the store by hand.
import { z } from "zod";

/** One metric of a run, over the cases it graded (grader errors left out). */
export interface EvalMetricSummary {
  readonly n: number;
  /** null when n = 0. */
  readonly mean: number | null;
  /** The sample standard deviation (n - 1); null when n < 2. */
  readonly std: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** The share of graded cases whose assertions of this metric passed; null when n = 0. */
  readonly pass_rate: number | null;
}

/** The paired regression gate's result (evals/gate.ts `GateResult`); the registry only reads `passed`. */
export type EvalGateSummary = { readonly passed: boolean; readonly [key: string]: unknown };

/** One of a run's lowest-scoring cases, cut short to keep the record a summary. */
export interface WorstCase {
  readonly case_id: string;
  readonly score: number | null;
  /** null: grader errors left it undecided. */
  readonly passed: boolean | null;
  /** The variables as one line of JSON, the output and the grading's reason, each at most WORST_CASE_TEXT long. */
  readonly vars: string;
  readonly output: string;
  readonly reason: string;
}

/** How many characters of a worst case's variables, output and reason a record keeps. */
export const WORST_CASE_TEXT = 300;

export interface EvalRecord {
  /** Assigned by the registry when the record is stored. */
  readonly id: string;
  readonly prompt: string;
  readonly version: string;
  /** The registered version's content hash: a record speaks for that exact content only. */
  readonly content_hash: string;
  /** Where the suite came from (`config/evals/summarization.yaml`), for people. */
  readonly suite: string;
  /** The suite's canonical content hash, datasets included. */
  readonly suite_hash: string;
  /** Every judge the run called, as `name@version`. */
  readonly judges: readonly string[];
  readonly baseline: { readonly version: string; readonly content_hash: string } | null;
  /** ISO times. */
  readonly started_at: string;
  readonly finished_at: string;
  /** The run passed: every threshold held and, with a baseline, the regression gate passed. */
  readonly passed: boolean;
  readonly cases: number;
  /** Assertions that could not be graded (a judge that failed or answered something unreadable). */
  readonly grader_errors: number;
  /** null when some call was unpriced. */
  readonly cost_usd: number | null;
  readonly metrics: Readonly<Record<string, EvalMetricSummary>>;
  /** null when the run had no baseline. */
  readonly gate: EvalGateSummary | null;
  /** Who ran it. */
  readonly by: string;
  /** The lowest-scoring cases, lowest first (records written before they were kept have none). */
  readonly worst_cases?: readonly WorstCase[];
}

/** What the runner hands to `recordEval`: everything but the id. */
export type NewEvalRecord = Omit<EvalRecord, "id">;

/** The suite the registry holds for a prompt: the hash of the suite last evaluated, or registered by hand. */
export interface SuiteRecord {
  readonly hash: string;
  readonly at: string;
  readonly by: string;
}

/** A stored record larger than this is refused (a record is a summary: cases' outputs stay in reports). */
export const MAX_EVAL_RECORD_BYTES = 256 * 1024;

const nullableNumber = z.number().nullable();
const isoTime = z.iso.datetime({ offset: true });
const metricSummarySchema = z.strictObject({
  n: z.number().int().nonnegative(),
  mean: nullableNumber,
  std: nullableNumber,
  min: nullableNumber,
  max: nullableNumber,
  pass_rate: z.number().min(0).max(1).nullable(),
}) satisfies z.ZodType<EvalMetricSummary>;

const worstCaseSchema = z.strictObject({
  case_id: z.string(),
  score: z.number().nullable(),
  passed: z.boolean().nullable(),
  vars: z.string().max(WORST_CASE_TEXT),
  output: z.string().max(WORST_CASE_TEXT),
  reason: z.string().max(WORST_CASE_TEXT),
}) satisfies z.ZodType<WorstCase>;

const newEvalRecordShape = {
  prompt: z.string().min(1),
  version: z.string().min(1),
  content_hash: z.string().min(1),
  suite: z.string().min(1),
  suite_hash: z.string().min(1),
  judges: z.array(z.string().min(1)),
  baseline: z.strictObject({ version: z.string().min(1), content_hash: z.string().min(1) }).nullable(),
  started_at: isoTime,
  finished_at: isoTime,
  passed: z.boolean(),
  cases: z.number().int().nonnegative(),
  grader_errors: z.number().int().nonnegative(),
  cost_usd: z.number().nonnegative().nullable(),
  metrics: z.record(z.string().min(1), metricSummarySchema),
  gate: z.looseObject({ passed: z.boolean() }).nullable(),
  by: z.string().min(1),
  worst_cases: z.array(worstCaseSchema).max(20).exactOptional(),
};

export const newEvalRecordSchema = z.strictObject(newEvalRecordShape) satisfies z.ZodType<NewEvalRecord>;
const evalRecordSchema = z.object({ id: z.string().min(1), ...newEvalRecordShape }) satisfies z.ZodType<EvalRecord>;
const suiteRecordSchema = z.object({
  hash: z.string().min(1),
  at: z.string(),
  by: z.string(),
}) satisfies z.ZodType<SuiteRecord>;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A stored record, or null when it no longer reads (hand-edited): skipped, never trusted. */
export function parseEvalRecord(text: string): EvalRecord | null {
  const result = evalRecordSchema.safeParse(parseJson(text));
  return result.success ? result.data : null;
}

export function parseSuiteRecord(text: string): SuiteRecord | null {
  const result = suiteRecordSchema.safeParse(parseJson(text));
  return result.success ? result.data : null;
}

/**
 * The record that decides a promotion: the most recent one for this exact content and suite. A later failing
 * run outweighs an earlier passing one (the version is what it is; the suite found it wanting).
 */
export function decidingRecord(
  records: readonly EvalRecord[],
  contentHash: string,
  suiteHash: string,
): EvalRecord | null {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.content_hash === contentHash && r.suite_hash === suiteHash) return r;
  }
  return null;
}
