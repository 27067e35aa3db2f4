// Canary weights as the CLI and the admin API read and write them: the public `weights:{env}:{name}`
// hash (store/keys.ts), checked with the gateway's own rules before it is written, so what is written is
// exactly what every replica serves. They return data and throw RegistryError; printing stays with callers.
import type { Clock } from "../support/clock.ts";
import { BUCKETS } from "../split/bucket.ts";
import { buildSplit, compareVersions } from "../split/layout.ts";
import { parseWeights, validateWeights } from "../split/weights.ts";
import type { Store } from "../store/store.ts";
import { appendAudit, notifyChange } from "./audit.ts";
import { ENVIRONMENTS, isEnvironment, type Environment } from "./environments.ts";
import { weightsKey } from "../store/keys.ts";
import type { Registry } from "./registry.ts";
import { RegistryError } from "./registry-error.ts";

export interface WeightShare {
  readonly version: string;
  /** The weight in the hash; null when the version is not in it (the label's version with no hash). */
  readonly weight: number | null;
  /** Of the BUCKETS (10,000) user buckets. */
  readonly buckets: number;
  /** buckets / 100: the share of identified users, to 0.01%. */
  readonly percent: number;
}

export interface WeightsView {
  readonly name: string;
  readonly env: Environment;
  /** The label's version: what anonymous requests and every bucket not given to a canary get. */
  readonly stable: string | null;
  /** The hash as stored (version -> weight text). */
  readonly raw: Record<string, string>;
  /** Label version first, then canaries in layout order; empty when there is no label. */
  readonly shares: WeightShare[];
  /**
   * Entries the gateway ignores (a hand-edited hash). When there are any, or every weight is zero, the
   * gateway does not apply the hash and keeps its last good split; `shares` then shows 100% to the label.
   */
  readonly problems: string[];
  /** Served as written, but likely a mistake (the label's version left out of the hash). */
  readonly notes: string[];
}

export interface WeightsChange extends WeightsView {
  /** False when the hash already held exactly these weights: nothing was written or recorded. */
  readonly changed: boolean;
  /** The hash before the change. */
  readonly previous: Record<string, string>;
}

/** The weights of `name` on `env` and the split the gateway builds from them. */
export async function getWeights(store: Store, registry: Registry, name: string, env: string): Promise<WeightsView> {
  const environment = environmentOf(env);
  const [versions, label, raw] = await Promise.all([
    registry.versions(name),
    registry.label(name, environment),
    store.hgetall(weightsKey(environment, name)),
  ]);
  if (versions.length === 0) throw unknownPrompt(name);
  return view(name, environment, label?.version ?? null, new Set(versions), sortedRaw(raw));
}

/**
 * The split `weights` would give `name` on `env`, checked with the rules `setWeights` applies, without writing:
 * a RegistryError (invalid) with every reason the gateway would ignore them, as `setWeights` refuses them.
 */
export async function checkWeights(
  registry: Registry,
  name: string,
  env: string,
  weights: Readonly<Record<string, number>>,
): Promise<WeightsView> {
  const p = await proposal(registry, name, env, weights);
  return view(name, p.environment, p.stable, p.known, p.next);
}

/** The proposal as the hash would hold it, refused (RegistryError) unless every replica would serve it. */
async function proposal(
  registry: Registry,
  name: string,
  env: string,
  weights: Readonly<Record<string, number>>,
): Promise<{ environment: Environment; stable: string; known: Set<string>; next: Record<string, string> }> {
  const environment = environmentOf(env);
  const [versions, label] = await Promise.all([registry.versions(name), registry.label(name, environment)]);
  if (versions.length === 0) throw unknownPrompt(name);
  if (label === null) {
    throw new RegistryError(
      "conflict",
      `${name} has no ${environment} label: promote a version to ${environment} before setting its canary weights`,
      { field: "env" },
    );
  }
  const known = new Set(versions);
  const next = sortedRaw(Object.fromEntries(Object.entries(weights).map(([v, w]) => [v, String(w)])));
  const checked = validateWeights(next, known, label.version);
  // A label version that is in the set but refused (say, negative) is reported once, as that problem,
  // not again as "left out of the hash".
  const leftOut = label.version in next ? new Set(parseWeights(next, known, label.version).notes) : new Set<string>();
  const reasons = checked.ok ? [] : checked.reasons.filter((r) => !leftOut.has(r));
  if (checked.ok && checked.weights === null && Object.keys(next).length > 0) {
    reasons.push(
      "every weight is zero, which the gateway ignores; give an empty set to send 100% to the label's version",
    );
  }
  if (reasons.length > 0) {
    throw new RegistryError("invalid", `refused weights for ${name} on ${environment}: ${reasons.join("; ")}`, {
      field: "weights",
    });
  }
  return { environment, stable: label.version, known, next };
}

/**
 * Replaces the hash with `weights` (version -> non-negative integer); an empty map stops the canary
 * (the hash is deleted: 100% to the label). Refuses, with every reason, whatever the gateway would
 * ignore. Records an audit entry and wakes the replicas.
 */
export async function setWeights(
  store: Store,
  registry: Registry,
  clock: Clock,
  name: string,
  env: string,
  weights: Readonly<Record<string, number>>,
  actor: string,
): Promise<WeightsChange> {
  environmentOf(env);
  if (actor.trim() === "") throw new RegistryError("invalid", "actor must not be empty", { field: "actor" });
  const { environment, stable, known, next } = await proposal(registry, name, env, weights);

  const key = weightsKey(environment, name);
  const previous = sortedRaw(await store.hgetall(key));
  const changed = !sameRaw(previous, next);
  if (changed) {
    if (Object.keys(next).length === 0) {
      await store.del(key);
    } else {
      // Set the new fields first, then drop the old ones: a refresher reading in between sees a hash
      // of registered versions, never an empty one (which would briefly send everyone to the label).
      await store.hset(key, next);
      const stale = Object.keys(previous).filter((v) => !(v in next));
      if (stale.length > 0) await store.hdel(key, stale);
    }
    await appendAudit(store, clock, {
      actor,
      action: "weights",
      name,
      env: environment,
      from: JSON.stringify(previous),
      to: JSON.stringify(next),
    });
    await notifyChange(store);
  }
  return { ...view(name, environment, stable, known, next), changed, previous };
}

function view(
  name: string,
  env: Environment,
  stable: string | null,
  known: ReadonlySet<string>,
  raw: Record<string, string>,
): WeightsView {
  if (stable === null) return { name, env, stable, raw, shares: [], problems: [], notes: [] };
  const parsed = parseWeights(raw, known, stable);
  const problems = [...parsed.problems];
  if (problems.length === 0 && parsed.weights === null && Object.keys(raw).length > 0)
    problems.push("every weight is zero");
  const applied = problems.length === 0 ? parsed.weights : null;
  const split = buildSplit(stable, applied);
  const shares = [...split.counts].map(([version, buckets]) => ({
    version,
    weight: applied?.get(version) ?? null,
    buckets,
    percent: (buckets * 100) / BUCKETS,
  }));
  return { name, env, stable, raw, shares, problems, notes: problems.length === 0 ? parsed.notes : [] };
}

function environmentOf(env: string): Environment {
  if (!isEnvironment(env))
    throw new RegistryError("invalid", `env must be one of ${ENVIRONMENTS.join(", ")}, got "${env}"`, {
      field: "env",
    });
  return env;
}

function unknownPrompt(name: string): RegistryError {
  return new RegistryError("not_found", `unknown prompt "${name}": push it first`, { field: "name" });
}

/** The hash with its fields in semver order, so JSON output and audit entries read the same every time. */
function sortedRaw(raw: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(raw).sort(([a], [b]) => compareVersions(a, b)));
}

function sameRaw(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
