// Rollout records in the store (keys in store/keys.ts): the current-or-last record of a prompt on an environment,
// the history of the finished ones it replaced, and the index that lists them all without SCAN. Every write is a
// compare-and-set over the value read, so two writers never both win; what is read back is checked (parseRollout).
// Beside each record, the complete log of its evaluations (the record keeps only the state changes and the last
// holds): whoever won a record's compare-and-set appends what that write added.
import type { Store } from "../store/store.ts";
import {
  parseRolloutIndexField,
  rolloutEvaluationsKey,
  rolloutHistoryKey,
  rolloutIndexField,
  rolloutKey,
  ROLLOUTS_INDEX_KEY,
} from "../store/keys.ts";
import { addedEvaluations, parseEvaluation, parseRollout, type Evaluation, type RolloutRecord } from "./record.ts";

/** The stored value as read, and the record it holds; `record` is null when the value does not parse. */
export interface StoredRollout {
  readonly raw: string;
  readonly record: RolloutRecord | null;
}

/** A prompt and environment that have had a rollout, with the id of the latest one started there. */
export interface IndexedRollout {
  readonly env: string;
  readonly name: string;
  readonly id: string;
}

/** The current-or-last rollout of `name` on `env`; null when there has never been one. */
export async function readRollout(store: Store, env: string, name: string): Promise<StoredRollout | null> {
  const raw = await store.get(rolloutKey(env, name));
  return raw === null ? null : { raw, record: parseRollout(raw) };
}

/**
 * Writes `record` as the new current rollout over `previous` (the value read: null when absent, else a finished
 * record, which is appended to the history), and names it in the index, in one atomic step. False when the value
 * is no longer `previous`: someone else wrote first, nothing was written.
 */
export function replaceRollout(store: Store, previous: string | null, record: RolloutRecord): Promise<boolean> {
  const { env, prompt } = record;
  return store.compareAndSetWith(rolloutKey(env, prompt), previous, JSON.stringify(record), {
    append: previous === null ? [] : [{ key: rolloutHistoryKey(env, prompt), value: previous }],
    hset: [{ key: ROLLOUTS_INDEX_KEY, fields: { [rolloutIndexField(env, prompt)]: record.id } }],
  });
}

/** Writes the same rollout's next record over the value read (`expected`); false when someone wrote first. */
export function updateRollout(store: Store, expected: string, record: RolloutRecord): Promise<boolean> {
  return store.compareAndSet(rolloutKey(record.env, record.prompt), expected, JSON.stringify(record));
}

/** The finished rollouts that were replaced, oldest first; values that no longer parse are skipped. */
export async function readRolloutHistory(store: Store, env: string, name: string): Promise<RolloutRecord[]> {
  const raw = await store.range(rolloutHistoryKey(env, name), 0, -1);
  return raw.map(parseRollout).filter((r) => r !== null);
}

/** Every prompt and environment that has had a rollout (fields that do not parse are skipped). */
export async function readRolloutIndex(store: Store): Promise<IndexedRollout[]> {
  const fields = await store.hgetall(ROLLOUTS_INDEX_KEY);
  const out: IndexedRollout[] = [];
  for (const [field, id] of Object.entries(fields)) {
    const parsed = parseRolloutIndexField(field);
    if (parsed !== null) out.push({ ...parsed, id });
  }
  return out;
}

/** The current-or-last records of the index's entries, in one round trip; missing or unreadable ones skipped. */
export async function readIndexedRollouts(
  store: Store,
  entries: readonly Pick<IndexedRollout, "env" | "name">[],
): Promise<RolloutRecord[]> {
  const raws = await store.mget(entries.map((e) => rolloutKey(e.env, e.name)));
  return raws.map((raw) => (raw == null ? null : parseRollout(raw))).filter((r) => r !== null);
}

/**
 * Appends to the rollout's evaluation log what `after` (just written over `before`) added, oldest first. Called
 * only once the compare-and-set of `after` won, so a writer that lost (a deposed leader) appends nothing. Not one
 * atomic step with that write: a process that dies between the two leaves those evaluations out of the log (they
 * are still in the record).
 */
export async function appendEvaluations(store: Store, before: RolloutRecord, after: RolloutRecord): Promise<number> {
  const added = addedEvaluations(before.evaluations, after.evaluations);
  for (const e of added) await store.append(rolloutEvaluationsKey(after.id), JSON.stringify(e));
  return added.length;
}

/** Every evaluation of the rollout `id`, oldest first; entries that no longer parse are skipped. */
export async function readEvaluations(store: Store, id: string): Promise<Evaluation[]> {
  const raw = await store.range(rolloutEvaluationsKey(id), 0, -1);
  return raw.map(parseEvaluation).filter((e) => e !== null);
}
