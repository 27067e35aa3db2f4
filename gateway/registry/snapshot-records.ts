// What the disk snapshot keeps beside the snapshot itself so that `promptgate restore` can bring back
// an emptied store whole: each label's full record (approvals, rollback stack, where it has been) and
// the tail of each prompt's audit history. Read off the request path, only when the disk copy is saved.
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { auditKey, labelKey } from "../store/keys.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";
import { parseAuditEntry, parseLabelRecord, type AuditEntry, type LabelRecord } from "./records.ts";
import { errorText } from "./snapshot-file.ts";
import type { RegistrySnapshot } from "./snapshot.ts";

export interface PromptRecords {
  readonly labels: Partial<Record<Environment, LabelRecord>>;
  /** The newest entries, oldest first: at most AUDIT_KEPT. */
  readonly audit: readonly AuditEntry[];
}

export type SnapshotRecords = ReadonlyMap<string, PromptRecords>;

/** Audit entries kept per prompt in the disk snapshot; older ones are not restored from it. */
export const AUDIT_KEPT = 1_000;

/** The label records and audit tails of every prompt in `names`: one MGET, one LRANGE per prompt. */
export async function readSnapshotRecords(store: Store, names: readonly string[]): Promise<SnapshotRecords> {
  const pairs = names.flatMap((name) => ENVIRONMENTS.map((env) => [name, env] as const));
  const [labels, audits] = await Promise.all([
    store.mget(pairs.map(([name, env]) => labelKey(env, name))),
    Promise.all(names.map((name) => store.range(auditKey(name), -AUDIT_KEPT, -1))),
  ]);
  const out = new Map<string, { labels: Partial<Record<Environment, LabelRecord>>; audit: AuditEntry[] }>();
  names.forEach((name, i) => {
    const audit = (audits[i] ?? []).map(parseAuditEntry).filter((e) => e !== null);
    out.set(name, { labels: {}, audit });
  });
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
      last = { revision: snapshot.revision, names: key, records: await readSnapshotRecords(store, names) };
    } catch (err) {
      logger.warn("registry snapshot saved without fresh label records and audit", { error: errorText(err) });
    }
    return last?.records ?? new Map();
  };
}
