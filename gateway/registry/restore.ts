// `promptgate restore`: re-seeds a store that lost registry data (Redis restarted without persistence,
// a FLUSH, evicted keys) from a restore source (restore-source.ts), then moves the revision above the
// source's so that replicas holding that snapshot take the store as current again (store-regression.ts).
import type { Clock } from "../support/clock.ts";
import { compareVersions } from "../split/layout.ts";
import type { Store } from "../store/store.ts";
import { auditKey, CHANGE_CHANNEL, labelKey, REVISION_KEY, versionKey, weightsKey } from "../store/keys.ts";
import { appendAudit } from "./audit.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";
import { pushVersions } from "./prompt-ops.ts";
import { parseAuditEntry, parseLabelRecord, parsePromptVersion, type AuditEntry } from "./records.ts";
import { createRegistry } from "./registry.ts";
import type { RestorePrompt, RestoreSource } from "./restore-source.ts";
import { loadSnapshot, type RegistrySnapshot } from "./snapshot.ts";
import { storeRegression } from "./store-regression.ts";

export type LabelOutcome = "restored" | "replaced" | "unchanged" | "kept";

export interface RestoredPrompt {
  readonly name: string;
  /** Versions written back. */
  readonly restored: readonly string[];
  /** Versions the store already held with the same content. */
  readonly present: readonly string[];
  /** Versions the store holds with other content (or unreadable): left alone, the restore fails. */
  readonly conflicts: readonly string[];
  /** `replaced`: the store's label pointed elsewhere; `kept`: the store's own label was left as it was. */
  readonly labels: readonly { env: Environment; version: string; outcome: LabelOutcome; was: string | null }[];
  /** The environments whose weights hash was written back or cleared. */
  readonly weights: readonly Environment[];
  /** Audit entries put back into the store's history. */
  readonly audit: number;
}

export interface RestoreReport {
  readonly source: RestoreSource["kind"];
  readonly from: string;
  readonly sourceRevision: number;
  readonly revisionBefore: number;
  readonly revisionAfter: number;
  /** False when the store already held everything the source holds (nothing was written). */
  readonly restored: boolean;
  readonly prompts: readonly RestoredPrompt[];
}

export interface RestoreOptions {
  readonly actor: string;
  /** Restore a snapshot even when the store is not behind it. */
  readonly force?: boolean;
}

export async function restoreRegistry(
  store: Store,
  clock: Clock,
  source: RestoreSource,
  opts: RestoreOptions,
): Promise<RestoreReport> {
  const before = parseRevision(await store.get(REVISION_KEY));
  const base = { source: source.kind, from: source.from, sourceRevision: source.revision, revisionBefore: before };
  if (source.kind === "snapshot" && opts.force !== true) {
    const regression = await storeRegression(store, toSnapshot(source), await loadSnapshot(store));
    if (regression === null) return { ...base, revisionAfter: before, restored: false, prompts: [] };
  }
  const prompts: RestoredPrompt[] = [];
  for (const [name, unsorted] of [...source.prompts].sort(([a], [b]) => a.localeCompare(b))) {
    const prompt = {
      ...unsorted,
      versions: [...unsorted.versions].sort((a, b) => compareVersions(a.version, b.version)),
    };
    const versions =
      source.kind === "snapshot"
        ? await writeVersions(store, prompt)
        : await pushFiles(store, clock, prompt, opts.actor);
    const labels = await writeLabels(store, name, prompt, source.kind === "snapshot");
    const weights = prompt.weights === null ? [] : await writeWeights(store, name, prompt.weights);
    const audit = await mergeAudit(store, name, prompt.audit);
    const changed = versions.restored.length > 0 || labels.some(wrote) || weights.length > 0 || audit > 0;
    if (changed) await appendAudit(store, clock, { actor: opts.actor, action: "restore", name });
    prompts.push({ name, ...versions, labels, weights, audit });
  }
  // Prompt files the store already holds, labels it already has: nothing to tell the replicas.
  const restored = source.kind === "snapshot" || prompts.some((p) => p.restored.length > 0 || p.labels.some(wrote));
  if (!restored) return { ...base, revisionAfter: before, restored: false, prompts };
  // One bump past both the store's and the source's revision; INCRBY keeps concurrent bumps counted.
  const current = parseRevision(await store.get(REVISION_KEY));
  const after = await store.incrby(REVISION_KEY, Math.max(current, source.revision) + 1 - current);
  await store.publish(CHANGE_CHANNEL, String(after));
  return { ...base, revisionAfter: after, restored: true, prompts };
}

type VersionOutcomes = Pick<RestoredPrompt, "restored" | "present" | "conflicts">;

const wrote = (l: RestoredPrompt["labels"][number]): boolean => l.outcome === "restored" || l.outcome === "replaced";

/** Each version exactly as the snapshot holds it (content hash included), never over another. */
async function writeVersions(store: Store, prompt: RestorePrompt): Promise<VersionOutcomes> {
  const out = { restored: [] as string[], present: [] as string[], conflicts: [] as string[] };
  for (const v of prompt.versions) {
    const key = versionKey(v.name, v.version);
    if (await store.setIfAbsent(key, JSON.stringify(v))) out.restored.push(v.version);
    else {
      const raw = await store.get(key);
      const stored = raw === null ? null : parsePromptVersion(raw);
      (stored?.hash === v.hash ? out.present : out.conflicts).push(v.version);
    }
  }
  return out;
}

/** Prompt files go through registration (validated and compiled, each recorded in the history). */
async function pushFiles(store: Store, clock: Clock, prompt: RestorePrompt, actor: string): Promise<VersionOutcomes> {
  const out = { restored: [] as string[], present: [] as string[], conflicts: [] as string[] };
  for (const o of await pushVersions(createRegistry(store, clock), prompt.versions, actor)) {
    (o.status === "created" ? out.restored : o.status === "unchanged" ? out.present : out.conflicts).push(o.version);
  }
  return out;
}

/** `replace`: the source's record wins; else a label is written only where the store has none. */
async function writeLabels(
  store: Store,
  name: string,
  prompt: RestorePrompt,
  replace: boolean,
): Promise<RestoredPrompt["labels"]> {
  const out: { env: Environment; version: string; outcome: LabelOutcome; was: string | null }[] = [];
  for (const env of ENVIRONMENTS) {
    const record = prompt.labels[env];
    if (record === undefined) continue;
    const key = labelKey(env, name);
    const raw = await store.get(key);
    const was = raw === null ? null : (parseLabelRecord(raw)?.version ?? null);
    if (raw !== null && (!replace || was === record.version)) {
      out.push({ env, version: was ?? record.version, outcome: was === record.version ? "unchanged" : "kept", was });
      continue;
    }
    // Guarded like a promotion: a label someone moves meanwhile is theirs.
    const written = await store.compareAndSet(key, raw, JSON.stringify(record));
    out.push({
      env,
      version: record.version,
      outcome: !written ? "kept" : raw === null ? "restored" : "replaced",
      was,
    });
  }
  return out;
}

/** The hashes as the snapshot held them: a hash the snapshot has not is cleared (100% to the label). */
async function writeWeights(
  store: Store,
  name: string,
  weights: Partial<Record<Environment, Readonly<Record<string, string>>>>,
): Promise<Environment[]> {
  const changed: Environment[] = [];
  for (const env of ENVIRONMENTS) {
    const key = weightsKey(env, name);
    const want = weights[env] ?? {};
    const have = await store.hgetall(key);
    const same =
      Object.keys(want).length === Object.keys(have).length && Object.entries(want).every(([v, w]) => have[v] === w);
    if (same) continue;
    await store.del(key);
    if (Object.keys(want).length > 0) await store.hset(key, want);
    changed.push(env);
  }
  return changed;
}

/**
 * Puts back the entries the store's history lacks, in time order with what it holds. The history is
 * append-only everywhere else; here it is rewritten once, because what it lost is older than what it has.
 */
async function mergeAudit(store: Store, name: string, entries: readonly AuditEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const key = auditKey(name);
  const held = (await store.range(key, 0, -1)).map(parseAuditEntry).filter((e) => e !== null);
  const seen = new Set(held.map(identity));
  const missing = entries.filter((e) => !seen.has(identity(e)));
  if (missing.length === 0) return 0;
  const merged = [...missing, ...held].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  if (held.length > 0) await store.del(key);
  for (const e of merged) await store.append(key, JSON.stringify(e));
  return missing.length;
}

function identity(e: AuditEntry): string {
  return JSON.stringify([e.at, e.actor, e.action, e.name, e.env, e.from, e.to, e.version, e.forced]);
}

function toSnapshot(source: RestoreSource): RegistrySnapshot {
  const prompts = new Map(
    [...source.prompts].map(([name, p]) => [
      name,
      {
        versions: new Map(p.versions.map((v) => [v.version, v])),
        labels: new Map(
          ENVIRONMENTS.flatMap((env) => {
            const version = p.labels[env]?.version;
            return version === undefined ? [] : [[env, version] as const];
          }),
        ),
        weights: new Map(),
      },
    ]),
  );
  return { revision: source.revision, prompts };
}

function parseRevision(raw: string | null): number {
  const n = raw === null ? 0 : Number(raw);
  return Number.isSafeInteger(n) ? n : 0;
}
