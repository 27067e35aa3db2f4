// The shapes the registry stores as JSON, and their parsers: anything read back from the store (which
// an operator can edit by hand) is checked before it is trusted.
import { z } from "zod";
import type { PromptVersion } from "../prompts/types.ts";
import { ENVIRONMENTS, type Environment } from "./environments.ts";

/** Where an environment label points, as `label()` returns it. */
export interface Label {
  readonly version: string;
  /** The versions it pointed at before, most recent first: what `rollback` walks back through. */
  readonly previous: readonly string[];
  readonly approvedBy: string;
  /** ISO time of the last move. */
  readonly at: string;
}

/** The stored label: `everOn` lists every version this label has ever pointed at (the staging gate). */
export interface LabelRecord extends Label {
  readonly everOn: readonly string[];
}

/**
 * `restore`: `promptgate restore` re-seeded the prompt after the store lost data. `eval`: an evaluation run of
 * `version` was recorded (`passed`, `evalId`: its record in `evals:{name}`). The `rollout` actions: a canary
 * rollout of `version` (`rolloutId`) was started (`from`/`to`: the stable and the canary version), or an
 * operator's command (`rollout_paused` ...) or the controller (`rollout`) changed its state (`from`/`to`: the
 * states, `stepIndex`, `reason`).
 */
export const AUDIT_ACTIONS = [
  "register",
  "promote",
  "rollback",
  "weights",
  "restore",
  "eval",
  "rollout_started",
  "rollout_paused",
  "rollout_resumed",
  "rollout_aborted",
  "rollout_promoted",
  "rollout",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** A promotion rule `force` can bypass: the version was never on staging; no passing eval record. */
export type PromotionGate = "staging" | "eval";

export interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly action: AuditAction;
  readonly name: string;
  readonly env?: Environment;
  readonly from?: string;
  readonly to?: string;
  readonly version?: string;
  readonly forced?: boolean;
  /** With `forced`: the rules the promotion bypassed. */
  readonly forcedPast?: readonly PromotionGate[];
  /** `eval`: whether the run passed. */
  readonly passed?: boolean;
  /** `eval`: the record's id; `promote`: the passing record the promotion relied on. */
  readonly evalId?: string;
  /** The rollout actions: the rollout's id (its record in `rollout:{env}:{name}`). */
  readonly rolloutId?: string;
  /** The rollout actions but `rollout_started`: the step the rollout was at (0-based). */
  readonly stepIndex?: number;
  /** The rollout actions: why, in words. */
  readonly reason?: string;
}

const labelRecordSchema = z.object({
  version: z.string(),
  previous: z.array(z.string()),
  approvedBy: z.string(),
  at: z.string(),
  everOn: z.array(z.string()),
}) satisfies z.ZodType<LabelRecord>;

const auditEntrySchema = z.object({
  at: z.string(),
  actor: z.string(),
  action: z.enum(AUDIT_ACTIONS),
  name: z.string(),
  env: z.enum(ENVIRONMENTS).exactOptional(),
  from: z.string().exactOptional(),
  to: z.string().exactOptional(),
  version: z.string().exactOptional(),
  forced: z.boolean().exactOptional(),
  forcedPast: z.array(z.enum(["staging", "eval"])).exactOptional(),
  passed: z.boolean().exactOptional(),
  evalId: z.string().exactOptional(),
  rolloutId: z.string().exactOptional(),
  stepIndex: z.number().int().nonnegative().exactOptional(),
  reason: z.string().exactOptional(),
}) satisfies z.ZodType<AuditEntry>;

const variableTypes = ["string", "integer", "number", "boolean", "array", "object"] as const;

// Loose on purpose: the prompt compiler owns the full rules; this only guards the fields the request
// path dereferences, so a hand-edited or truncated value is skipped instead of crashing a request.
const promptVersionSchema = z.looseObject({
  name: z.string(),
  version: z.string(),
  description: z.string(),
  model: z.string().nullable(),
  params: z.record(z.string(), z.unknown()),
  variables: z.record(z.string(), z.looseObject({ type: z.enum(variableTypes), required: z.boolean() })),
  messages: z.array(z.looseObject({ role: z.string(), content: z.string() })),
  prompt: z.string().nullable(),
  instructions: z.string().nullable(),
  segment: z
    .union([
      z.object({ kind: z.enum(["enum"]), variable: z.string(), values: z.array(z.string()) }),
      z.object({ kind: z.enum(["bands"]), variable: z.string(), bands: z.array(z.number()).min(1) }),
      z.object({ kind: z.enum(["header"]), values: z.array(z.string()) }),
    ])
    .optional(),
  hash: z.string(),
});

export function isPromptVersion(value: unknown): value is PromptVersion {
  return promptVersionSchema.safeParse(value).success;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function parsePromptVersion(text: string): PromptVersion | null {
  const value = parseJson(text);
  return isPromptVersion(value) ? value : null;
}

export function parseLabelRecord(text: string): LabelRecord | null {
  const result = labelRecordSchema.safeParse(parseJson(text));
  return result.success ? result.data : null;
}

export function isLabelRecord(value: unknown): value is LabelRecord {
  return labelRecordSchema.safeParse(value).success;
}

export function isAuditEntry(value: unknown): value is AuditEntry {
  return auditEntrySchema.safeParse(value).success;
}

export function parseAuditEntry(text: string): AuditEntry | null {
  const result = auditEntrySchema.safeParse(parseJson(text));
  return result.success ? result.data : null;
}

/** The public view of a stored label (without the internal history). */
export function toLabel(record: LabelRecord): Label {
  return { version: record.version, previous: record.previous, approvedBy: record.approvedBy, at: record.at };
}
