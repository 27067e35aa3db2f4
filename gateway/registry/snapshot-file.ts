// The last registry snapshot on local disk, so a replica that starts while the store is down can serve
// what it served before, and `promptgate restore` can re-seed a store that lost it (with the label
// records and audit tails saved beside it, see snapshot-records.ts). Written atomically (temp file,
// fsync, rename): a reader sees old or new, never half.
import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { PromptVersion } from "../prompts/types.ts";
import type { Logger } from "../support/logger.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";
import { isAuditEntry, isLabelRecord, isPromptVersion, type LabelRecord } from "./records.ts";
import type { PromptRecords, SnapshotRecords } from "./snapshot-records.ts";
import type { PromptEntry, RegistrySnapshot } from "./snapshot.ts";

const FORMAT = 1;

const fileSchema = z.object({
  format: z.literal(FORMAT),
  savedAt: z.string(),
  revision: z.number().int(),
  prompts: z.record(
    z.string(),
    z.object({
      versions: z.record(z.string(), z.custom<PromptVersion>(isPromptVersion)),
      labels: z.partialRecord(z.enum(ENVIRONMENTS), z.string()),
      weights: z.partialRecord(z.enum(ENVIRONMENTS), z.record(z.string(), z.string())),
    }),
  ),
  // Optional: files written before restore existed lack it, and readers that predate it ignore it.
  // Checked entry by entry below: what does not read (an audit action from a newer version) is left
  // out, and never costs the replica its snapshot.
  records: z
    .record(z.string(), z.object({ labels: z.record(z.string(), z.unknown()), audit: z.array(z.unknown()) }))
    .optional()
    .catch(undefined),
});

/** A snapshot file as `promptgate restore` reads it. */
export interface SnapshotFile {
  readonly snapshot: RegistrySnapshot;
  readonly savedAt: string;
  /** Empty when the file was written without them. */
  readonly records: SnapshotRecords;
}

export function serializeSnapshot(snapshot: RegistrySnapshot, savedAt: Date, records: SnapshotRecords = NONE): string {
  const prompts: Record<string, unknown> = {};
  for (const [name, entry] of snapshot.prompts) {
    prompts[name] = {
      versions: Object.fromEntries(entry.versions),
      labels: Object.fromEntries(entry.labels),
      weights: Object.fromEntries(entry.weights),
    };
  }
  const head = JSON.stringify({ format: FORMAT, savedAt: savedAt.toISOString(), revision: snapshot.revision, prompts });
  return `${head.slice(0, -1)},"records":${recordsJson(records)}}`;
}

const NONE: SnapshotRecords = new Map();

// The records change once per revision, the snapshot also with every weights edit: their JSON (the
// bulk of the file, with the audit tails) is written once per records object, not on every save.
const recordsText = new WeakMap<SnapshotRecords, string>();

/** Builds the records' JSON ahead of the saves that use it, ten prompts per turn of the event loop. */
export async function prepareRecordsJson(records: SnapshotRecords): Promise<void> {
  if (recordsText.has(records)) return;
  const parts: string[] = [];
  for (const [name, r] of records) {
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(r)}`);
    if (parts.length % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  recordsText.set(records, `{${parts.join(",")}}`);
}

function recordsJson(records: SnapshotRecords): string {
  let text = recordsText.get(records);
  if (text === undefined) {
    text = JSON.stringify(Object.fromEntries(records));
    recordsText.set(records, text);
  }
  return text;
}

/** Null when the text is not a snapshot this version wrote (the caller then treats it as absent). */
export function deserializeSnapshot(text: string): RegistrySnapshot | null {
  return deserializeSnapshotFile(text)?.snapshot ?? null;
}

/** The snapshot with what else the file holds; null when the text is not a snapshot file. */
export function deserializeSnapshotFile(text: string): SnapshotFile | null {
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    return null;
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) return null;
  const prompts = new Map<string, PromptEntry>();
  for (const [name, entry] of Object.entries(parsed.data.prompts)) {
    prompts.set(name, {
      versions: new Map(Object.entries(entry.versions)),
      labels: envMap(entry.labels),
      weights: envMap(entry.weights),
    });
  }
  const records = new Map<string, PromptRecords>();
  for (const [name, saved] of Object.entries(parsed.data.records ?? {})) {
    const labels: Partial<Record<Environment, LabelRecord>> = {};
    for (const env of ENVIRONMENTS) {
      const record = saved.labels[env];
      if (isLabelRecord(record)) labels[env] = record;
    }
    records.set(name, { labels, audit: saved.audit.filter(isAuditEntry) });
  }
  return { snapshot: { revision: parsed.data.revision, prompts }, savedAt: parsed.data.savedAt, records };
}

function envMap<T>(record: Partial<Record<Environment, T>>): Map<Environment, T> {
  const out = new Map<Environment, T>();
  for (const env of ENVIRONMENTS) {
    const value = record[env];
    if (value !== undefined) out.set(env, value);
  }
  return out;
}

export async function writeSnapshotFile(
  path: string,
  snapshot: RegistrySnapshot,
  savedAt: Date,
  records?: SnapshotRecords,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    const file = await open(temp, "w");
    try {
      await file.writeFile(serializeSnapshot(snapshot, savedAt, records));
      await file.sync(); // the rename must never expose a file whose data is not on disk yet
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** The saved snapshot, or null when there is none or it cannot be read (logged). */
export async function readSnapshotFile(path: string, logger: Logger): Promise<RegistrySnapshot | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (!isNotFound(err)) logger.warn("registry snapshot file unreadable", { path, error: errorText(err) });
    return null;
  }
  const snapshot = deserializeSnapshot(text);
  if (!snapshot) logger.warn("registry snapshot file is not a valid snapshot; ignoring it", { path });
  return snapshot;
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && "code" in err && err.code === "ENOENT";
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
