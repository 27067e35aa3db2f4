// What the disk snapshot keeps beside the snapshot itself so that `promptgate restore` can bring back
// an emptied store whole: each label's full record (approvals, rollback stack, where it has been) and
// the tail of each prompt's audit history. Read off the request path, only when the disk copy is saved.
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { auditKey, labelKey } from "../store/keys.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";
import { parseAuditEntry, parseLabelRecord, type AuditEntry, type LabelRecord } from "./records.ts";
import { errorText, prepareRecordsJson } from "./snapshot-file.ts";
import type { RegistrySnapshot } from "./snapshot.ts";

export interface PromptRecords {
  readonly labels: Partial<Record<Environment, LabelRecord>>;
  /** The newest entries, oldest first: at most AUDIT_KEPT. */
  readonly audit: readonly AuditEntry[];
}

export type SnapshotRecords = ReadonlyMap<string, PromptRecords>;

/** Audit entries kept per prompt in the disk snapshot; older ones are not restored from it. */
export const AUDIT_KEPT = 200;

/** Prompts whose audit tails are read and parsed at a time: each batch is a short turn of the event loop. */
const BATCH = 10;

/**
 * The label records and audit tails of every prompt in `names`: one MGET, then LRANGEs in batches, so
 * that parsing a long history never holds up the requests being served for more than a moment.
 */
export async function readSnapshotRecords(store: Store, names: readonly string[]): Promise<SnapshotRecords> {
  const pairs = names.flatMap((name) => ENVIRONMENTS.map((env) => [name, env] as const));
  const labels = await store.mget(pairs.map(([name, env]) => labelKey(env, name)));
  const out = new Map<string, { labels: Partial<Record<Environment, LabelRecord>>; audit: AuditEntry[] }>();
  for (let i = 0; i < names.length; i += BATCH) {
    const batch = names.slice(i, i + BATCH);
    const audits = await Promise.all(batch.map((name) => store.range(auditKey(name), -AUDIT_KEPT, -1)));
    batch.forEach((name, j) => {
      out.set(name, { labels: {}, audit: (audits[j] ?? []).map(parseAuditEntry).filter((e) => e !== null) });
    });
  }
  pairs.forEach(([name, env], i) => {
    const raw = labels[i];
    const record = raw == null ? null : parseLabelRecord(raw);
    const entry = out.get(name);
    if (record && entry) entry.labels[env] = record;
  });
  return out;
}

/**
 * Reads the records for each snapshot saved, once per revision (weights moved by redis-cli do not
 * touch them). When the read fails the last records read are kept: a disk copy that lacks them still
 * restores versions, labels and weights.
 */
export function createRecordsReader(store: Store, logger: Logger): (s: RegistrySnapshot) => Promise<SnapshotRecords> {
  let last: { revision: number; names: string; records: SnapshotRecords } | null = null;
  return async (snapshot) => {
    const names = [...snapshot.prompts.keys()];
    const key = names.join("\n");
    if (last?.revision === snapshot.revision && last.names === key) return last.records;
    try {
      const records = await readSnapshotRecords(store, names);
      await prepareRecordsJson(records);
      last = { revision: snapshot.revision, names: key, records };
    } catch (err) {
      logger.warn("registry snapshot saved without fresh label records and audit", { error: errorText(err) });
    }
    return last?.records ?? new Map();
  };
}
