// Model-graded assertions (promptfoo's llm-rubric, factuality, model-graded-closedqa, g-eval and a
// pairwise select-best): each is judged by a registered judge prompt called in process (caller.ts),
// whose answer is parsed strictly. Anything but the JSON the judge was asked for, and any failed judge
// call, is a grader error: the assertion could not be graded, which is never a zero.
import { z } from "zod";
import type { CallDetail, PromptCaller, ResolvedPrompt } from "./caller.ts";
import { judgeCacheKey, type JudgeCache } from "./judge-cache.ts";
import type { Assertion, GradeOutcome, JudgeInput, ModelGrader } from "./types.ts";

export const MODEL_GRADED_TYPES = [
  "llm-rubric",
  "factuality",
  "model-graded-closedqa",
  "g-eval",
  "select-best",
] as const;
export type ModelGradedType = (typeof MODEL_GRADED_TYPES)[number];

export const isModelGraded = (type: string): type is ModelGradedType =>
  (MODEL_GRADED_TYPES as readonly string[]).includes(type);

/** The judge each type uses unless the assertion or the suite names another (config/prompts/judge-*). */
export const DEFAULT_JUDGES: Readonly<Record<ModelGradedType, string>> = {
  "llm-rubric": "judge-rubric@1.0.0",
  factuality: "judge-factuality@1.0.0",
  "model-graded-closedqa": "judge-closedqa@1.0.0",
  "g-eval": "judge-g-eval@1.0.0",
  "select-best": "judge-select-best@1.0.0",
};

/** promptfoo's g-eval passes at a score of at least 0.7 unless the assertion sets a threshold. */
export const G_EVAL_THRESHOLD = 0.7;

/** promptfoo's factuality: A, B, C and E pass, D (a disagreement) fails. */
const FACTUAL_PASS: ReadonlySet<string> = new Set(["A", "B", "C", "E"]);

const verdictSchema = z.strictObject({ pass: z.boolean(), score: z.number().min(0).max(1), reason: z.string() });
const factualitySchema = z.strictObject({ category: z.enum(["A", "B", "C", "D", "E"]), reason: z.string() });
const choiceSchema = z.strictObject({ choice: z.enum(["A", "B"]), reason: z.string() });

/** One judge call as the runner accounts for it. */
export interface JudgeCall {
  /** `name@version` of the judge that answered. */
  readonly judge: string;
  readonly cached: boolean;
  /** USD of this call; 0 when read from the cache; null when the judge's model is unpriced. */
  readonly costUsd: number | null;
  readonly latencyMs: number;
}

export interface ModelGraderOptions {
  readonly caller: PromptCaller;
  /** null or absent: every judgement is a call. */
  readonly cache?: JudgeCache | null;
  /** The suite's judges per type (`judge-rubric@1.1.0`, `judge-rubric@prod`); an assertion's own `judge` wins. */
  readonly judges?: Partial<Record<ModelGradedType, string>>;
  /** The model for a judge version that pins none. */
  readonly model?: string;
  /** Deadline of each judge call (default: the caller's). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Told of every judge call that answered (cached or not), for cost and report. */
  readonly onCall?: (call: JudgeCall) => void;
}

export interface JudgeModelGrader extends ModelGrader {
  /** The judges resolved so far, `name@version`, sorted: what an eval record lists. */
  judges(): string[];
}

/** The case's variables as the judge's `input`: one `name: value` line each (JSON for non-strings). */
export function describeVars(vars: Readonly<Record<string, unknown>>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("\n");
}

const error = (reason: string): GradeOutcome => ({ kind: "error", reason });

const asText = (v: unknown): string | null =>
  typeof v === "string" ? v : v === undefined || v === null ? null : JSON.stringify(v);

const strings = (v: unknown): string[] | null =>
  typeof v === "string" ? [v] : Array.isArray(v) && v.every((x) => typeof x === "string") ? v : null;

/** g-eval's value: criteria as a string or a list, or `{criteria, steps}`. */
function gEvalValue(v: unknown): { criteria: string[]; steps: string[] } | null {
  const plain = strings(v);
  if (plain) return plain.length > 0 ? { criteria: plain, steps: [] } : null;
  if (v === null || typeof v !== "object") return null;
  const o = v as { criteria?: unknown; steps?: unknown };
  const criteria = strings(o.criteria);
  const steps = o.steps === undefined ? [] : strings(o.steps);
  return criteria && criteria.length > 0 && steps ? { criteria, steps } : null;
}

/** A short, single-line view of what a judge answered, for a grader error. */
const preview = (s: string): string => {
  const line = s.replace(/\s+/g, " ").trim();
  return line.length > 120 ? `${line.slice(0, 120)}...` : line;
};

function parseStrict<T>(schema: z.ZodType<T>, answer: string, judge: string): T | string {
  let value: unknown;
  try {
    value = JSON.parse(answer);
  } catch {
    return `judge ${judge} answered something that is not JSON: "${preview(answer)}"`;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
  return `judge ${judge} answered JSON of the wrong shape (${issues}): "${preview(answer)}"`;
}

export function createModelGrader(opts: ModelGraderOptions): JudgeModelGrader {
  const resolving = new Map<string, Promise<ResolvedPrompt>>();
  const used = new Set<string>();

  const resolve = (ref: string): Promise<ResolvedPrompt> => {
    let p = resolving.get(ref);
    if (!p) {
      p = opts.caller.resolve(ref);
      resolving.set(ref, p);
    }
    return p;
  };

  /** One judge call (or cache read), parsed with `schema`; a string is the grader error's reason. */
  async function judge<T>(
    ref: string,
    given: Record<string, unknown>,
    attempt: number,
    schema: z.ZodType<T>,
  ): Promise<T | string> {
    let resolved: ResolvedPrompt;
    try {
      resolved = await resolve(ref);
    } catch (err) {
      return `judge ${ref} cannot be used: ${err instanceof Error ? err.message : String(err)}`;
    }
    const { version } = resolved;
    const id = `${version.name}@${version.version}`;
    used.add(id);
    // Only the variables the judge declares: a custom judge may leave `input` out.
    const vars = Object.fromEntries(Object.entries(given).filter(([k]) => Object.hasOwn(version.variables, k)));
    const model = version.model ?? opts.model ?? "";
    const key = opts.cache ? judgeCacheKey({ judgeHash: version.hash, model, vars, attempt }) : "";
    const hit = opts.cache?.get(key) ?? null;
    if (hit) {
      const parsed = parseStrict(schema, hit.output, id);
      if (typeof parsed !== "string") {
        opts.onCall?.({ judge: id, cached: true, costUsd: 0, latencyMs: 0 });
        return parsed;
      }
    }
    let answer: CallDetail;
    try {
      answer = await opts.caller.call(resolved, vars, {
        ...(opts.model === undefined ? {} : { model: opts.model }),
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
    } catch (err) {
      return `judge ${id} failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    opts.onCall?.({ judge: id, cached: false, costUsd: answer.costUsd, latencyMs: answer.latencyMs });
    const parsed = parseStrict(schema, answer.output, id);
    if (typeof parsed !== "string") opts.cache?.set(key, { output: answer.output, costUsd: answer.costUsd });
    return parsed;
  }

  const refOf = (type: ModelGradedType, a: Assertion): string => a.judge ?? opts.judges?.[type] ?? DEFAULT_JUDGES[type];

  return {
    judges: () => [...used].sort(),

    async grade(assertion, input: JudgeInput): Promise<GradeOutcome> {
      const { type } = assertion;
      if (!isModelGraded(type)) return error(`"${type}" is not a model-graded assertion type`);
      const ref = refOf(type, assertion);
      const attempt = input.attempt ?? 0;
      const base = { output: input.output, input: describeVars(input.vars) };

      switch (type) {
        case "llm-rubric":
        case "model-graded-closedqa": {
          const text = asText(assertion.value);
          if (text === null || text.trim() === "") return error(`${type} needs a value: the rubric to grade against`);
          const field = type === "llm-rubric" ? "rubric" : "criterion";
          const v = await judge(ref, { ...base, [field]: text }, attempt, verdictSchema);
          if (typeof v === "string") return error(v);
          // closed QA is a yes or no: its score is 1 or 0 whatever number came with it.
          const score = type === "llm-rubric" ? v.score : v.pass ? 1 : 0;
          return { kind: "graded", pass: v.pass, score, reason: v.reason };
        }
        case "factuality": {
          const reference = asText(assertion.value) ?? input.expected;
          if (reference === null || reference.trim() === "") {
            return error("factuality needs a reference: a value, or the case's expected answer");
          }
          const v = await judge(ref, { ...base, reference }, attempt, factualitySchema);
          if (typeof v === "string") return error(v);
          const pass = FACTUAL_PASS.has(v.category);
          return { kind: "graded", pass, score: pass ? 1 : 0, reason: `category ${v.category}: ${v.reason}` };
        }
        case "g-eval": {
          const value = gEvalValue(assertion.value);
          if (!value) {
            return error("g-eval needs criteria: a string, a list of strings, or { criteria, steps }");
          }
          const v = await judge(ref, { ...base, ...value }, attempt, verdictSchema);
          if (typeof v === "string") return error(v);
          const pass = v.score >= (assertion.threshold ?? G_EVAL_THRESHOLD);
          return { kind: "graded", pass, score: v.score, reason: v.reason };
        }
        case "select-best": {
          const criterion = asText(assertion.value);
          if (criterion === null || criterion.trim() === "") return error("select-best needs a value: the criterion");
          const other = input.alternative;
          if (other === undefined || other === null) {
            return error("select-best compares with the baseline's output for the same case: run with a baseline");
          }
          // Both orders: position bias is real, so a judge that flips with the order calls a tie.
          const [first, second] = await Promise.all([
            judge(
              ref,
              { criterion, input: base.input, output_a: input.output, output_b: other },
              attempt,
              choiceSchema,
            ),
            judge(
              ref,
              { criterion, input: base.input, output_a: other, output_b: input.output },
              attempt,
              choiceSchema,
            ),
          ]);
          if (typeof first === "string") return error(first);
          if (typeof second === "string") return error(second);
          return pairwiseOutcome(first.choice === "A", second.choice === "B", first.reason, second.reason);
        }
      }
    },
  };
}

/**
 * The pairwise verdict from both orders: the output under test wins when chosen in both, loses when
 * chosen in neither, and ties when the judge changed its choice with the order. Score 1, 0.5 or 0;
 * it passes unless it lost (at least as good as the baseline).
 */
export function pairwiseOutcome(
  chosenFirst: boolean,
  chosenSecond: boolean,
  reasonFirst: string,
  reasonSecond: string,
): GradeOutcome {
  const reasons = `as A: ${reasonFirst} | as B: ${reasonSecond}`;
  if (chosenFirst && chosenSecond)
    return { kind: "graded", pass: true, score: 1, reason: `better in both orders (${reasons})` };
  if (!chosenFirst && !chosenSecond) {
    return { kind: "graded", pass: false, score: 0, reason: `worse in both orders (${reasons})` };
  }
  return {
    kind: "graded",
    pass: true,
    score: 0.5,
    reason: `tie: the judge's choice changed with the order (${reasons})`,
  };
}

/** `--repeat k` with a minimum pass count: judge k times, pass when at least `minPass` judgements pass. */
export interface RepeatPolicy {
  readonly k: number;
  readonly minPass: number;
}

/** A strict majority of k: the default minimum pass count. */
export const majority = (k: number): number => Math.floor(k / 2) + 1;

export function repeatPolicy(k: number, minPass: number = majority(k)): RepeatPolicy {
  if (!Number.isInteger(k) || k < 1 || k > 100)
    throw new RangeError(`repeat must be a whole number from 1 to 100, got ${k}`);
  if (!Number.isInteger(minPass) || minPass < 1 || minPass > k) {
    throw new RangeError(
      `the minimum pass count must be a whole number from 1 to the repeat count ${k}, got ${minPass}`,
    );
  }
  return { k, minPass };
}

/**
 * Runs `once(attempt)` for attempts 0..k-1 and folds the outcomes: passes when at least minPass graded
 * judgements pass, fails when even counting every grader error as a pass could not reach minPass, and
 * is a grader error when the errors decide it (or when all k are errors). The score is the mean of the
 * graded judgements' scores.
 */
export async function gradeRepeated(
  policy: RepeatPolicy,
  once: (attempt: number) => Promise<GradeOutcome>,
): Promise<GradeOutcome> {
  if (policy.k === 1) return once(0);
  const outcomes = await Promise.all(Array.from({ length: policy.k }, (_, i) => once(i)));
  const graded = outcomes.filter((o): o is Extract<GradeOutcome, { kind: "graded" }> => o.kind === "graded");
  const errors = outcomes.length - graded.length;
  const passes = graded.filter((o) => o.pass).length;
  const firstError = outcomes.find((o) => o.kind === "error");
  const tally = `${passes} of ${policy.k} judgements passed (at least ${policy.minPass} needed)${
    errors > 0 ? `, ${errors} grader error${errors === 1 ? "" : "s"}` : ""
  }`;
  if (graded.length === 0 || (passes < policy.minPass && passes + errors >= policy.minPass)) {
    const cause = firstError?.kind === "error" ? `; ${firstError.reason}` : "";
    return error(`${tally}: the grader errors decide it${cause}`);
  }
  const score = graded.reduce((s, o) => s + o.score, 0) / graded.length;
  const pass = passes >= policy.minPass;
  const last = graded[graded.length - 1]!;
  return { kind: "graded", pass, score, reason: `${tally}; last: ${last.reason}` };
}

/** A ModelGrader that judges every assertion `policy.k` times (distinct cache entries per attempt). */
export function repeatedGrader(grader: ModelGrader, policy: RepeatPolicy): ModelGrader {
  return {
    grade: (assertion, input) => gradeRepeated(policy, (attempt) => grader.grade(assertion, { ...input, attempt })),
  };
}
