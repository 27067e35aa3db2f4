// Canary splits per prompt and label, built from the snapshot's `weights:{env}:{name}` hashes. A hash
// with problems (an unregistered version, a weight that is not a non-negative integer, all zeros) is
// not applied: the last good split for that label stays, and the change is logged once.
import { buildSplit, type Split } from "./layout.ts";
import { parseWeights, type WeightsHash } from "./weights.ts";
import type { Logger } from "../support/logger.ts";

/**
 * What the splits are built from, per prompt: its registered versions, the version each label points
 * at, and each label's non-empty weights hash. The registry snapshot is one (registry/snapshot.ts).
 */
export interface WeightedPrompts {
  readonly prompts: ReadonlyMap<
    string,
    {
      readonly versions: ReadonlyMap<string, unknown>;
      readonly labels: ReadonlyMap<string, string>;
      readonly weights: ReadonlyMap<string, WeightsHash>;
    }
  >;
}

export interface LabelSplit {
  readonly split: Split;
  /** The hash it was built from (for "did it change?"), and the label version it splits from. */
  readonly raw: WeightsHash | null;
  readonly stable: string;
}

/** Keyed by `${name}\u0000${env}`; labels without weights have no entry (100% to the label). */
export type Splits = ReadonlyMap<string, LabelSplit>;

export const splitKey = (name: string, env: string): string => `${name}\u0000${env}`;

export interface SplitStats {
  /** Hash changes refused because of problems (the last good split stayed). */
  invalidChanges: number;
}

const sameRaw = (a: WeightsHash | null, b: WeightsHash | null): boolean => {
  if (a === null || b === null) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

export function buildSplits(snapshot: WeightedPrompts, previous: Splits, logger: Logger, stats: SplitStats): Splits {
  const out = new Map<string, LabelSplit>();
  for (const [name, entry] of snapshot.prompts) {
    for (const [env, raw] of entry.weights) {
      const stable = entry.labels.get(env);
      if (stable === undefined) continue;
      const key = splitKey(name, env);
      const before = previous.get(key);
      if (before && before.stable === stable && sameRaw(before.raw, raw)) {
        out.set(key, before);
        continue;
      }
      const parsed = parseWeights(raw, new Set(entry.versions.keys()), stable);
      const allZero = parsed.weights === null && Object.keys(raw).length > 0;
      if (parsed.problems.length > 0 || allZero) {
        stats.invalidChanges++;
        const problems = allZero ? ["every weight is zero"] : parsed.problems;
        const keep = before && before.stable === stable ? before : null;
        logger.warn("canary weights ignored; the last good split stays", {
          prompt: name,
          env,
          problems,
          weights: raw,
          kept: keep ? Object.fromEntries(keep.split.counts) : null,
        });
        // Remember the refused hash so the warning is logged once per change, not once per refresh.
        out.set(key, keep ? { ...keep, raw } : { split: buildSplit(stable, null), raw, stable });
        continue;
      }
      if (parsed.notes.length > 0)
        logger.warn("canary weights applied with a warning", { prompt: name, env, notes: parsed.notes, weights: raw });
      out.set(key, { split: buildSplit(stable, parsed.weights), raw, stable });
    }
  }
  return out;
}
