// Reading the rollouts the controller looks after: the `rollouts-index` hash lists every prompt and environment
// that has had a rollout (`{env}:{name}` -> the latest rollout's id), and `rollout:{env}:{name}` holds the
// current or last one (store/keys.ts).
import { ROLLOUTS_INDEX_KEY, rolloutKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";

export interface RolloutEntry {
  /** `rollout:{env}:{name}` */
  readonly key: string;
  /** The stored record as written (null: listed in the index, not stored). */
  readonly raw: string | null;
}

/** Every rollout of the index with its stored value, in the index's `{env}:{name}` order (sorted). */
export async function listRolloutKeys(store: Store): Promise<RolloutEntry[]> {
  const listed = Object.keys(await store.hgetall(ROLLOUTS_INDEX_KEY)).sort();
  const keys = listed.flatMap((field) => {
    const colon = field.indexOf(":");
    return colon > 0 ? [rolloutKey(field.slice(0, colon), field.slice(colon + 1))] : [];
  });
  const values = await store.mget(keys);
  return keys.map((key, i) => ({ key, raw: values[i] ?? null }));
}
