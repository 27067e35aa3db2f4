// Live judging, the evaluator's half: takes sampled (request, answer) pairs from the store's queue
// (atomically, so several evaluators never judge the same pair), judges each with its prompt's
// `online.judge` as an llm-rubric, and records the score as feedback from the judge on the version that
// served it (the aggregate writer's recordFeedback), so `stats` and the rollout guardrails read judged
// quality per version. Malformed judge output is a grader error, counted, never a score.
// The pairs hold user data: nothing here logs or keeps their content (no judge cache on disk either).
import { LIVE_QUEUE_KEY } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import type { AggregateWriter } from "../telemetry/aggregates.ts";
import { liveSampleSchema, type LiveSample } from "../telemetry/live-samples.ts";
import type { LivePrompt } from "./online.ts";
import type { Assertion, GradeOutcome, ModelGrader } from "./types.ts";

/** What a pass of the evaluator did, counted (and logged as counts only). */
export interface LiveCounts {
  /** Scored and recorded as feedback. */
  judged: number;
  /** The judge answered something unreadable or failed: no score recorded. */
  graderErrors: number;
  /** Unreadable items, or items of prompts this evaluator has no online config for. */
  skipped: number;
  /** Dropped by the store on the way, past their retention. */
  expired: number;
}

export const emptyCounts = (): LiveCounts => ({ judged: 0, graderErrors: 0, skipped: 0, expired: 0 });

/** The llm-rubric assertion a live judgement is. */
export const liveAssertion = (p: LivePrompt): Assertion => ({
  type: "llm-rubric",
  negate: false,
  value: p.rubricText,
  weight: 1,
  metric: p.metric,
  judge: p.judge,
});

/** Parses one queued item; null when it is not a sample this version of promptgate wrote. */
export function parseSample(raw: string): LiveSample | null {
  try {
    const parsed = liveSampleSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Judges one sample: the judge sees the rendered input (as `input`) and the answer. */
export function judgeSample(sample: LiveSample, p: LivePrompt, grader: ModelGrader): Promise<GradeOutcome> {
  return grader.grade(liveAssertion(p), { output: sample.output, vars: { input: sample.input }, expected: null });
}

export interface LiveJudgeDeps {
  readonly store: Store;
  readonly grader: ModelGrader;
  readonly prompts: ReadonlyMap<string, LivePrompt>;
  readonly aggregates: Pick<AggregateWriter, "recordFeedback">;
  /** Items taken and judged at once (the judge calls run concurrently). */
  readonly batch: number;
}

/** Takes one batch from the queue and judges it; counts what happened. An empty queue gives all zeros. */
export async function judgeBatch(deps: LiveJudgeDeps, counts: LiveCounts = emptyCounts()): Promise<number> {
  const { values, expired } = await deps.store.queuePop(LIVE_QUEUE_KEY, deps.batch);
  counts.expired += expired;
  await Promise.all(
    values.map(async (raw) => {
      const sample = parseSample(raw);
      const p = sample ? deps.prompts.get(sample.prompt) : undefined;
      if (!sample || !p) {
        counts.skipped += 1;
        return;
      }
      const outcome = await judgeSample(sample, p, deps.grader);
      if (outcome.kind === "error") {
        counts.graderErrors += 1;
        return;
      }
      const target = { env: sample.env, prompt: sample.prompt, version: sample.version, segment: sample.segment };
      deps.aggregates.recordFeedback(target, { metric: p.metric, score: outcome.score }, sample.at);
      counts.judged += 1;
    }),
  );
  return values.length;
}
