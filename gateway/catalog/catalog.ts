// The request path's view of the registry: a snapshot plus every version compiled once. Rebuilt in
// the background on each new snapshot, reusing compiled templates by content hash.
import { GatewayError } from "../errors/gateway-error.ts";
import type { Environment } from "../registry/environments.ts";
import type { PromptEntry, RegistrySnapshot } from "../registry/snapshot.ts";
import type { Logger } from "../support/logger.ts";
import { compilePrompt, describeUndeclared, uncompilablePrompt, type CompiledPrompt } from "../prompts/compile.ts";
import type { PromptRef } from "../prompts/ref.ts";
import { BUCKETS, type Bucketer, type UserHasher } from "../split/bucket.ts";
import { pick } from "../split/layout.ts";
import { buildSplits, splitKey, type SplitStats, type Splits } from "../split/label-splits.ts";
import type { PromptVersion } from "../prompts/types.ts";

export type Variant = "stable" | "canary" | "pinned";

export interface ServedPrompt {
  readonly version: PromptVersion;
  readonly compiled: CompiledPrompt;
  readonly variant: Variant;
  /** The label the ref resolved through; null for a pinned version. */
  readonly environment: string | null;
  /** The user's bucket (0..9999) when a split was consulted, for telemetry; else null. */
  readonly bucket: number | null;
  /** The identified user's hash (split/bucket.ts) when a split was consulted, for distinct users; else null. */
  readonly userHash: string | null;
  /**
   * Buckets (of 10,000) per version in the split in force when this request was served: the weights
   * in force, recorded with the aggregates. Null when no split was consulted (anonymous or pinned).
   */
  readonly shares: ReadonlyMap<string, number> | null;
}

export interface PromptCatalog {
  readonly snapshot: RegistrySnapshot;
  /** By content hash; a version that failed to compile (logged) renders as its 500. */
  readonly compiled: ReadonlyMap<string, CompiledPrompt>;
  /** The content hashes among `compiled` that failed to compile. */
  readonly uncompilable: ReadonlySet<string>;
  readonly splits: Splits;
}

export function buildCatalog(
  snapshot: RegistrySnapshot,
  previous: PromptCatalog | null,
  logger: Logger,
  stats: SplitStats = { invalidChanges: 0 },
): PromptCatalog {
  const compiled = new Map<string, CompiledPrompt>();
  const uncompilable = new Set<string>();
  for (const entry of snapshot.prompts.values()) {
    for (const v of entry.versions.values()) {
      const known = previous?.compiled.get(v.hash);
      if (known) {
        compiled.set(v.hash, known);
        if (previous?.uncompilable.has(v.hash)) uncompilable.add(v.hash);
        continue;
      }
      try {
        const c = compilePrompt(v);
        compiled.set(v.hash, c);
        // Registered before registration refused undeclared names: it serves, and a render that
        // reaches one of them is the version's 500.
        for (const u of c.undeclared)
          logger.warn("prompt version reads a variable it does not declare; renders that reach it fail", {
            prompt: v.name,
            version: v.version,
            error: describeUndeclared(v, u),
          });
      } catch (err) {
        compiled.set(v.hash, uncompilablePrompt(v));
        uncompilable.add(v.hash);
        logger.error("prompt version does not compile; requests for it fail", {
          prompt: v.name,
          version: v.version,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }
  const splits = buildSplits(snapshot, previous?.splits ?? new Map(), logger, stats);
  return { snapshot, compiled, uncompilable, splits };
}

function entryOf(catalog: PromptCatalog, name: string): PromptEntry {
  const entry = catalog.snapshot.prompts.get(name);
  if (!entry) throw new GatewayError("not_found", `Unknown prompt "${name}"`, { param: "X-Prompt-Ref" });
  return entry;
}

function serve(
  catalog: PromptCatalog,
  v: PromptVersion,
  variant: Variant,
  environment: string | null,
  who: { bucket: number; userHash: string; shares: ReadonlyMap<string, number> } | null,
): ServedPrompt {
  const compiled = catalog.compiled.get(v.hash);
  if (!compiled)
    throw new GatewayError("internal_error", `Prompt ${v.name}@${v.version} failed to compile; see the gateway log`);
  return {
    version: v,
    compiled,
    variant,
    environment,
    bucket: who?.bucket ?? null,
    userHash: who?.userHash ?? null,
    shares: who?.shares ?? null,
  };
}

/** Who is asking, for the split: a user id to hash, or null (anonymous: the label's version). */
export interface Requester {
  readonly userId: string | null;
  readonly bucketer: Bucketer;
  readonly userHasher: UserHasher;
}

/**
 * A pinned version as named; for a label, the version the canary split assigns to this user's bucket
 * (the label's own version for anonymous requests and labels without weights).
 */
export function resolvePrompt(catalog: PromptCatalog, ref: PromptRef, who?: Requester): ServedPrompt {
  const entry = entryOf(catalog, ref.name);
  if (ref.kind === "version") {
    const v = entry.versions.get(ref.version);
    if (!v)
      throw new GatewayError("not_found", `Prompt "${ref.name}" has no version ${ref.version}`, {
        param: "X-Prompt-Ref",
      });
    return serve(catalog, v, "pinned", null, null);
  }
  const target = entry.labels.get(ref.label as Environment);
  const v = target === undefined ? undefined : entry.versions.get(target);
  if (!v) {
    throw new GatewayError(
      "not_found",
      `Prompt "${ref.name}" has no version on label "${ref.label}"; promote one first`,
      { param: "X-Prompt-Ref" },
    );
  }
  if (!who || who.userId === null) return serve(catalog, v, "stable", ref.label, null);
  // The bucket is on the span even without a canary: it says which users a canary would reach first.
  const bucket = who.bucketer(ref.name, who.userId);
  const userHash = who.userHasher(who.userId);
  const split = catalog.splits.get(splitKey(ref.name, ref.label));
  if (!split || split.split.table === null) {
    return serve(catalog, v, "stable", ref.label, { bucket, userHash, shares: allTo(v.version) });
  }
  const chosen = pick(split.split, bucket);
  const version = entry.versions.get(chosen.version) ?? v;
  const identified = { bucket, userHash, shares: split.split.counts };
  return serve(catalog, version, version === v ? "stable" : chosen.variant, ref.label, identified);
}

const whole = new Map<string, ReadonlyMap<string, number>>();
/** The shares of a label without weights: every bucket to its version (one map per version, reused). */
function allTo(version: string): ReadonlyMap<string, number> {
  let shares = whole.get(version);
  if (!shares) whole.set(version, (shares = new Map([[version, BUCKETS]])));
  return shares;
}
