// What each soak stream will do, decided up front from a seed: complete, be left by the client after a
// random number of events, or be reset by the provider after a random number of events. The plan names
// the fake provider's behaviour in the model (see pacedPlan in fake-upstream.ts).
import { pacedModel, pacedPlan, type PacedPlan } from "./fake-upstream.ts";

export const STREAM_KINDS = ["complete", "abort", "reset"] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

export interface StreamPlan {
  readonly kind: StreamKind;
  /**
   * abort: the client leaves once it has this many events (0: right after the headers; `events`: after
   * all of them, while the provider holds the stream open). reset: the provider resets after this many.
   */
  readonly at: number;
}

export interface Mix {
  readonly abortShare: number;
  readonly resetShare: number;
  readonly events: number;
}

// The same seed gives the same plan on every machine (mulberry32, shared with the tests' simulations).
export { seededUniform as seededRandom } from "../test/support/random.ts";

/** How many streams of `n` abort and reset: the shares rounded, so a run has exactly 30% and 10%. */
export function kindCounts(n: number, mix: Pick<Mix, "abortShare" | "resetShare">): Record<StreamKind, number> {
  const abort = Math.round(n * mix.abortShare);
  const reset = Math.min(n - abort, Math.round(n * mix.resetShare));
  return { complete: n - abort - reset, abort, reset };
}

/** `n` streams in the mix's exact proportions, in a random order, each with its random point. */
export function planStreams(n: number, mix: Mix, random: () => number): StreamPlan[] {
  const counts = kindCounts(n, mix);
  const kinds: StreamKind[] = [];
  for (const kind of STREAM_KINDS) for (let i = 0; i < counts[kind]; i++) kinds.push(kind);
  // Fisher-Yates.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const upTo = (max: number): number => Math.floor(random() * (max + 1));
  return kinds.map((kind) => ({
    kind,
    at: kind === "abort" ? upTo(mix.events) : kind === "reset" ? upTo(mix.events - 1) : mix.events,
  }));
}

/** The model that asks the fake provider for this stream's behaviour. */
export function modelFor(plan: StreamPlan, events: number, gapMs: number): string {
  const ending: PacedPlan["ending"] =
    plan.kind === "complete"
      ? { kind: "done" }
      : plan.kind === "abort"
        ? { kind: "hold" }
        : { kind: "reset", after: plan.at };
  return pacedModel({ events, gapMs, ending });
}

/** Which kind of stream a model label in the gateway's metrics belongs to; null for other models. */
export function kindOfModel(model: string): StreamKind | null {
  const plan = pacedPlan(model);
  if (plan === null) return null;
  switch (plan.ending.kind) {
    case "done":
      return "complete";
    case "hold":
      return "abort";
    case "reset":
      return "reset";
  }
}
