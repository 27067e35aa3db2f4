// What `promptgate restore` puts back into a store that lost data, from one of two sources: a replica's
// disk snapshot (versions, labels with their approvals, weights and audit, as the replica last served
// them), or the prompt files plus the audit history the store still holds (labels replayed from it).
import { readFile } from "node:fs/promises";
import type { PromptVersion } from "../prompts/types.ts";
import type { WeightsHash } from "../split/weights.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";
import type { AuditEntry, LabelRecord } from "./records.ts";
import { RegistryError } from "./registry-error.ts";
import { MAX_PREVIOUS } from "./registry.ts";
import { deserializeSnapshotFile, errorText, type SnapshotFile } from "./snapshot-file.ts";

export interface RestorePrompt {
  readonly versions: readonly PromptVersion[];
  /** The labels as they should be (records with their approvals). */
  readonly labels: Partial<Record<Environment, LabelRecord>>;
  /** The weights hashes as they should be (an env left out: no canary); null leaves the store's alone. */
  readonly weights: Partial<Record<Environment, WeightsHash>> | null;
  /** History to merge back into the store's (oldest first). */
  readonly audit: readonly AuditEntry[];
}

export interface RestoreSource {
  /**
   * `snapshot`: the store is made to hold what the snapshot holds (its labels and weights replace the
   * store's). `files`: only what the store lacks is added (versions, and labels where there are none).
   */
  readonly kind: "snapshot" | "files";
  /** Where it came from (a file or a folder), for the report. */
  readonly from: string;
  /** The source's registry revision: the restored store's ends above it (0 for files). */
  readonly revision: number;
  readonly prompts: ReadonlyMap<string, RestorePrompt>;
}

/** A replica's `registry-snapshot.json`; throws a RegistryError that names the file when it cannot. */
export async function readSnapshotSource(path: string): Promise<RestoreSource> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new RegistryError("not_found", `cannot read the snapshot file ${path}: ${errorText(err)}`, { cause: err });
  }
  const file = deserializeSnapshotFile(text);
  if (file === null)
    throw new RegistryError(
      "invalid",
      `${path} is not a registry snapshot (a replica keeps one as registry-snapshot.json beside STATE_PATH)`,
    );
  return snapshotSource(file, path);
}

/** Labels keep their saved records; a file written without them gets records dated when it was saved. */
export function snapshotSource(file: SnapshotFile, from: string): RestoreSource {
  const prompts = new Map<string, RestorePrompt>();
  for (const [name, entry] of file.snapshot.prompts) {
    const saved = file.records.get(name);
    const labels: Partial<Record<Environment, LabelRecord>> = {};
    for (const [env, version] of entry.labels) {
      const record = saved?.labels[env];
      labels[env] =
        record?.version === version
          ? record
          : { version, previous: [], approvedBy: "promptgate restore", at: file.savedAt, everOn: [version] };
    }
    prompts.set(name, {
      versions: [...entry.versions.values()],
      labels,
      weights: Object.fromEntries(entry.weights),
      audit: saved?.audit ?? [],
    });
  }
  return { kind: "snapshot", from, revision: file.snapshot.revision, prompts };
}

/** The prompt files of `dir`, each prompt's labels replayed from the history the store still holds. */
export function filesSource(
  from: string,
  versions: readonly PromptVersion[],
  history: ReadonlyMap<string, readonly AuditEntry[]>,
): RestoreSource {
  const prompts = new Map<string, RestorePrompt>();
  for (const v of versions) {
    const known = prompts.get(v.name);
    if (known) {
      prompts.set(v.name, { ...known, versions: [...known.versions, v] });
      continue;
    }
    prompts.set(v.name, { versions: [v], labels: replayLabels(history.get(v.name) ?? []), weights: null, audit: [] });
  }
  return { kind: "files", from, revision: 0, prompts };
}

/**
 * The label records an audit history leads to, moving each label as `promote` and `rollback` did
 * (registry.ts): where it points, its rollback stack, who moved it last and when, where it has been.
 */
export function replayLabels(history: readonly AuditEntry[]): Partial<Record<Environment, LabelRecord>> {
  const labels: Partial<Record<Environment, LabelRecord>> = {};
  for (const e of history) {
    if (e.env === undefined || e.to === undefined || !ENVIRONMENTS.includes(e.env)) continue;
    const current = labels[e.env];
    if (e.action === "promote") {
      labels[e.env] = {
        version: e.to,
        previous: current ? [current.version, ...current.previous].slice(0, MAX_PREVIOUS) : [],
        approvedBy: e.actor,
        at: e.at,
        everOn: current ? [...new Set([...current.everOn, e.to])] : [e.to],
      };
    } else if (e.action === "rollback") {
      const [first, ...rest] = current?.previous ?? [];
      labels[e.env] = {
        version: e.to,
        previous: first === e.to ? rest : (current?.previous ?? []),
        approvedBy: e.actor,
        at: e.at,
        everOn: [...new Set([...(current?.everOn ?? []), e.to])],
      };
    }
  }
  return labels;
}
