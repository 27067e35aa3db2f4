// The request path's view of the registry: a snapshot plus every version compiled once. Rebuilt in
// the background on each new snapshot, reusing compiled templates by content hash.
import { GatewayError } from "../http/errors.ts";
import type { Environment } from "../registry/keys.ts";
import type { PromptEntry, RegistrySnapshot } from "../registry/snapshot.ts";
import type { Logger } from "../support/logger.ts";
import { compilePrompt, type CompiledPrompt } from "./compile.ts";
import type { PromptRef } from "./ref.ts";
import type { PromptVersion } from "./types.ts";

export type Variant = "stable" | "canary" | "pinned";

export interface ServedPrompt {
  readonly version: PromptVersion;
  readonly compiled: CompiledPrompt;
  readonly variant: Variant;
  /** The label the ref resolved through; null for a pinned version. */
  readonly environment: string | null;
}

export interface PromptCatalog {
  readonly snapshot: RegistrySnapshot;
  /** By content hash; a version that failed to compile is absent (and was logged). */
  readonly compiled: ReadonlyMap<string, CompiledPrompt>;
}

export function buildCatalog(snapshot: RegistrySnapshot, previous: PromptCatalog | null, logger: Logger): PromptCatalog {
  const compiled = new Map<string, CompiledPrompt>();
  for (const entry of snapshot.prompts.values()) {
    for (const v of entry.versions.values()) {
      const known = previous?.compiled.get(v.hash);
      if (known) {
        compiled.set(v.hash, known);
        continue;
      }
      try {
        compiled.set(v.hash, compilePrompt(v));
      } catch (err) {
        logger.error("prompt version does not compile; requests for it fail", {
          prompt: v.name, version: v.version, error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }
  return { snapshot, compiled };
}

function entryOf(catalog: PromptCatalog, name: string): PromptEntry {
  const entry = catalog.snapshot.prompts.get(name);
  if (!entry) throw new GatewayError("not_found", `Unknown prompt "${name}"`, { param: "X-Prompt-Ref" });
  return entry;
}

function serve(catalog: PromptCatalog, v: PromptVersion, variant: Variant, environment: string | null): ServedPrompt {
  const compiled = catalog.compiled.get(v.hash);
  if (!compiled) throw new GatewayError("internal_error", `Prompt ${v.name}@${v.version} failed to compile; see the gateway log`);
  return { version: v, compiled, variant, environment };
}

/** The label's version (stable) or the pinned one; the canary split picks among a label's weights. */
export function resolvePrompt(catalog: PromptCatalog, ref: PromptRef): ServedPrompt {
  const entry = entryOf(catalog, ref.name);
  if (ref.kind === "version") {
    const v = entry.versions.get(ref.version);
    if (!v) throw new GatewayError("not_found", `Prompt "${ref.name}" has no version ${ref.version}`, { param: "X-Prompt-Ref" });
    return serve(catalog, v, "pinned", null);
  }
  const target = entry.labels.get(ref.label as Environment);
  const v = target === undefined ? undefined : entry.versions.get(target);
  if (!v) {
    throw new GatewayError("not_found", `Prompt "${ref.name}" has no version on label "${ref.label}"; promote one first`, { param: "X-Prompt-Ref" });
  }
  return serve(catalog, v, "stable", ref.label);
}
