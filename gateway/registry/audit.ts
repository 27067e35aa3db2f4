// The append-only audit history of every registry change, and the change signal replicas listen for.
import type { Clock } from "../support/clock.ts";
import type { Store } from "../store/store.ts";
import { auditKey, CHANGE_CHANNEL, REVISION_KEY } from "../store/keys.ts";
import { parseAuditEntry } from "./records.ts";
import type { AuditEntry } from "./records.ts";

export type NewAuditEntry = Omit<AuditEntry, "at">;

/** Appends one entry to `audit:{name}`, stamped with the clock's time; returns what was written. */
export async function appendAudit(store: Store, clock: Clock, entry: NewAuditEntry): Promise<AuditEntry> {
  const stamped: AuditEntry = { at: new Date(clock.now()).toISOString(), ...entry };
  await store.append(auditKey(entry.name), JSON.stringify(stamped));
  return stamped;
}

/** Oldest first. Entries that no longer parse (hand-edited) are skipped rather than failing the read. */
export async function readHistory(store: Store, name: string): Promise<AuditEntry[]> {
  const raw = await store.range(auditKey(name), 0, -1);
  return raw.map(parseAuditEntry).filter((entry) => entry !== null);
}

/**
 * Bumps the revision and wakes every snapshot refresher. Call after any registry write (weights
 * included, when they change through promptgate rather than redis-cli); returns the new revision.
 */
export async function notifyChange(store: Store): Promise<number> {
  const revision = await store.incrby(REVISION_KEY, 1);
  await store.publish(CHANGE_CHANNEL, String(revision));
  return revision;
}
