// Live judging, the gateway's half: a sample of the completed requests of the prompts that opt in
// (their suite's `online.sample`) is captured as a (rendered input, answer text) pair plus what the signed
// request id says, held in a bounded in-memory queue and pushed to the store's bounded, expiring queue
// off the request path, on its own timer. `promptgate evaluator` takes them from there.
// The pairs hold user data: they are never logged, never put on spans, never exported; only counts are.
import { z } from "zod";
import type { LiveJudgingOptions } from "../config/gateway-config.ts";
import { LIVE_QUEUE_KEY } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { PINNED_ENV } from "./aggregates.ts";
import type { RequestRecord } from "./request-record.ts";

export const HOUR_MS = 3_600_000;

/** Why a sampled pair was not handed to the evaluator: promptgate_live_judging_dropped_total{reason}. */
export const DROP_REASONS = ["memory_full", "store_full", "expired", "store_error", "shutdown"] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** One sampled pair, as queued in the store (JSON). */
export const liveSampleSchema = z.strictObject({
  v: z.literal(1),
  /** When it was sampled (ms since the epoch). */
  at: z.number().int(),
  env: z.string(),
  prompt: z.string(),
  version: z.string(),
  variant: z.string(),
  segment: z.string().nullable(),
  /** The rendered input as sent upstream (JSON of the messages). */
  input: z.string(),
  /** The answer's text. */
  output: z.string(),
});
export type LiveSample = z.infer<typeof liveSampleSchema>;

/** What the request path fills in on a sampled request (separate from span message capture). */
export interface SampledPair {
  input: string | null;
  output: string | null;
}

export interface LiveSampler {
  /** Whether this request of `prompt` is sampled (a random draw at the prompt's rate; false when it does not opt in). */
  draw(prompt: string): boolean;
  /** At the end of a request: queues its pair when it was sampled and completed. Never blocks, never throws. */
  record(rec: RequestRecord, status: number, now: number): void;
  /** Pushes the pairs held in memory to the store. */
  flush(): Promise<void>;
  /** Pairs held in memory now. */
  depth(): number;
  /** Dropped pairs so far, by reason. */
  dropped(): ReadonlyMap<DropReason, number>;
  /** Sampled pairs queued in memory so far. */
  sampled(): number;
  /** Stops the timer and pushes what is held (the rest is counted as dropped). */
  stop(): Promise<void>;
}

export interface LiveSamplerDeps {
  readonly store: Store;
  readonly logger: Logger;
  readonly options: LiveJudgingOptions;
  /** Per prompt that opts in: the share of its requests sampled, in (0, 1]. */
  readonly rates: ReadonlyMap<string, number>;
  readonly random: () => number;
}

/** Pushed to the store in batches of at most this many (one round trip each). */
const PUSH_BATCH = 500;

export function createLiveSampler(deps: LiveSamplerDeps): LiveSampler {
  const { store, logger, options, rates, random } = deps;
  const held: string[] = [];
  const drops = new Map<DropReason, number>();
  let sampledCount = 0;
  let flushing: Promise<void> | null = null;
  let stopped = false;
  const drop = (reason: DropReason, n = 1): void => {
    if (n > 0) drops.set(reason, (drops.get(reason) ?? 0) + n);
  };
  const limits = { maxLength: options.store_queue, retentionMs: Math.round(options.retention_hours * HOUR_MS) };

  const push = async (): Promise<void> => {
    while (held.length > 0) {
      const batch = held.splice(0, PUSH_BATCH);
      try {
        const result = await store.queuePush(LIVE_QUEUE_KEY, batch, limits);
        drop("store_full", result.trimmed);
        drop("expired", result.expired);
      } catch (err) {
        // Kept for the next flush while memory allows: the oldest go first when it does not.
        const room = options.memory_queue - held.length;
        const kept = batch.slice(Math.max(0, batch.length - room));
        drop("memory_full", batch.length - kept.length);
        held.unshift(...kept);
        logger.warn("live judging samples not pushed; kept for the next flush", {
          held: held.length,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
    }
  };
  const flush = (): Promise<void> => {
    flushing ??= push().finally(() => {
      flushing = null;
    });
    return flushing;
  };
  const timer = rates.size > 0 ? setInterval(() => void flush(), options.flush_interval_ms) : undefined;
  timer?.unref();

  return {
    draw(prompt) {
      const rate = rates.get(prompt);
      return rate !== undefined && !stopped && random() < rate;
    },
    record(rec, status, now) {
      const pair = rec.liveSample;
      if (pair === null || stopped) return;
      // Only completed answers are judged: a failed, cut or abandoned request is not a sample.
      if (status !== 200 || rec.errorType !== null || pair.input === null || pair.output === null) return;
      if (rec.prompt === null || rec.version === null || rec.variant === null) return;
      if (held.length >= options.memory_queue) {
        drop("memory_full");
        return;
      }
      const sample: LiveSample = {
        v: 1,
        at: now,
        env: rec.environment ?? PINNED_ENV,
        prompt: rec.prompt,
        version: rec.version,
        variant: rec.variant,
        segment: rec.segment,
        input: pair.input,
        output: pair.output,
      };
      held.push(JSON.stringify(sample));
      sampledCount += 1;
    },
    flush,
    depth: () => held.length,
    dropped: () => drops,
    sampled: () => sampledCount,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await flush();
      if (flushing) await flushing;
      if (held.length > 0) {
        logger.error("live judging samples lost at shutdown", { count: held.length });
        drop("shutdown", held.length);
        held.length = 0;
      }
    },
  };
}

/** A sampler for a gateway where no prompt opts in (and for tests that do not judge). */
export const noLiveSampler = (store: Store, logger: Logger, options: LiveJudgingOptions): LiveSampler =>
  createLiveSampler({ store, logger, options, rates: new Map(), random: Math.random });
