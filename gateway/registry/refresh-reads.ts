// What the registry refresh reads from the store, bounded and key by key: anyone with redis-cli can write
// these keys, so a key of the wrong type, too large or unparsable is reported and skipped (its last good
// value stays when one is held) while every other key is read as usual.
import type { HashLimits, Store } from "../store/store.ts";
import { REVISION_KEY, weightsKey } from "../store/keys.ts";
import { MAX_WEIGHTS_ENTRY_BYTES, MAX_WEIGHTS_FIELDS, type WeightsHash } from "../split/weights.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";

/** The key families the refresh reads (store/keys.ts): `registry:revision`, `prompts:`, `labels:`, `weights:`. */
export type KeyFamily = "revision" | "version" | "label" | "weights";
export const KEY_FAMILIES: readonly KeyFamily[] = ["revision", "version", "label", "weights"];

/** Why a key was skipped. `does_not_compile` is found later, by the catalog (a version's templates). */
export type KeyReason = "wrong_type" | "too_large" | "unparsable" | "does_not_compile";

export interface InvalidKey {
  /** The logical key, as in store/keys.ts (without REDIS_PREFIX). */
  readonly key: string;
  readonly family: KeyFamily;
  readonly reason: KeyReason;
  /** What was found, in a few words (bounded: never the value itself). */
  readonly detail: string;
  /** True when the value held from an earlier refresh is still served in its place. */
  readonly kept: boolean;
}

/**
 * The largest version or label record read. The admin API takes prompt files up to 1 MB and the record
 * is that content as JSON; registration refuses larger records (registry.ts), so none is ever skipped.
 */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** The revision is an integer: a longer value is not one. */
const MAX_REVISION_BYTES = 32;

export const WEIGHTS_LIMITS: HashLimits = { maxFields: MAX_WEIGHTS_FIELDS, maxBytes: MAX_WEIGHTS_ENTRY_BYTES };

/** The revision, or null when the key holds something else (reported in `invalid`). Absent: 0. */
export async function readRevision(store: Store, invalid: InvalidKey[]): Promise<number | null> {
  const [read] = await store.readStrings([REVISION_KEY], MAX_REVISION_BYTES);
  if (!read) throw new Error("the store answered no read");
  if (!read.ok) {
    invalid.push({ key: REVISION_KEY, family: "revision", reason: read.problem, detail: read.detail, kept: true });
    return null;
  }
  if (read.value === null) return 0;
  const revision = /^-?[0-9]+$/.test(read.value) ? Number(read.value) : NaN;
  if (Number.isSafeInteger(revision)) return revision;
  const detail = `${JSON.stringify(read.value)} is not an integer`;
  invalid.push({ key: REVISION_KEY, family: "revision", reason: "unparsable", detail, kept: true });
  return null;
}

export type WeightsByName = Map<string, Map<Environment, WeightsHash>>;

/**
 * The non-empty weights hashes of `names` in every environment, in one batch. A hash that cannot be
 * read (another type, over WEIGHTS_LIMITS) keeps the one held in `held` (the last good split stays) and
 * is reported in `invalid`.
 */
export async function readWeights(
  store: Store,
  names: readonly string[],
  held: (name: string, env: Environment) => WeightsHash | undefined,
  invalid: InvalidKey[],
): Promise<WeightsByName> {
  const pairs = names.flatMap((name) => ENVIRONMENTS.map((env) => [name, env] as const));
  const reads = await store.readHashes(
    pairs.map(([name, env]) => weightsKey(env, name)),
    WEIGHTS_LIMITS,
  );
  const out: WeightsByName = new Map();
  pairs.forEach(([name, env], i) => {
    const read = reads[i];
    if (!read) throw new Error("the store answered fewer reads than asked");
    const forName = out.get(name) ?? new Map<Environment, WeightsHash>();
    out.set(name, forName);
    if (read.ok) {
      if (Object.keys(read.value).length > 0) forName.set(env, read.value);
      return;
    }
    const kept = held(name, env);
    if (kept) forName.set(env, kept);
    const key = weightsKey(env, name);
    invalid.push({ key, family: "weights", reason: read.problem, detail: read.detail, kept: kept !== undefined });
  });
  return out;
}
