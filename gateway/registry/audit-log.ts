// The audit history across every prompt, newest first, filtered by prompt, actor and action: what the console's
// audit page and `GET /admin/audit` show. Each prompt's history is its own append-only list (registry/audit.ts).
import type { AuditEntry } from "./records.ts";
import type { Registry } from "./registry.ts";
import { RegistryError } from "./registry-error.ts";

export interface AuditFilter {
  /** Only this prompt's history. */
  readonly prompt?: string;
  /** Actors whose name contains this, case-insensitively. */
  readonly actor?: string;
  /** Only this action (`promote`, `weights`, ...). */
  readonly action?: string;
  /** At most this many entries (default 200, at most 1,000). */
  readonly limit?: number;
}

export interface AuditLog {
  /** Newest first, at most `limit`. */
  readonly entries: readonly AuditEntry[];
  /** How many entries matched before the limit. */
  readonly matched: number;
  /** What the filters can take, over the prompts read: every actor and action seen, sorted. */
  readonly actors: readonly string[];
  readonly actions: readonly string[];
  readonly prompts: readonly string[];
}

export const DEFAULT_AUDIT_LIMIT = 200;
export const MAX_AUDIT_LIMIT = 1000;

export async function auditLog(registry: Registry, filter: AuditFilter = {}): Promise<AuditLog> {
  const limit = filter.limit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT)
    throw new RegistryError("invalid", `limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`, {
      field: "limit",
    });
  const prompts = await registry.names();
  if (filter.prompt !== undefined && !prompts.includes(filter.prompt))
    throw new RegistryError("not_found", `unknown prompt "${filter.prompt}": push it first`, { field: "prompt" });
  const read = filter.prompt === undefined ? prompts : [filter.prompt];
  const all = (await Promise.all(read.map((name) => registry.history(name)))).flat();
  const actor = filter.actor?.trim().toLowerCase() ?? "";
  const matching = all
    .filter((e) => (actor === "" || e.actor.toLowerCase().includes(actor)) && (filter.action ?? e.action) === e.action)
    // ISO times sort as text; the stable sort keeps a prompt's own order for entries of the same millisecond.
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return {
    entries: matching.slice(0, limit),
    matched: matching.length,
    actors: [...new Set(all.map((e) => e.actor))].sort(),
    actions: [...new Set(all.map((e) => e.action))].sort(),
    prompts,
  };
}
