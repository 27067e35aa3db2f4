// The rollout record: one canary rollout of a prompt version on an environment, as stored (JSON, snake_case,
// versioned by `schema`). The state machine (machine.ts) is the only code that changes it; anything read back is
// checked, since an operator can edit the store by hand.
import { z } from "zod";
import { RegistryError } from "../registry/registry-error.ts";
import type { GuardrailResult, GuardrailSettings } from "./guardrails.ts";
import { DEFAULT_GUARDRAILS } from "./guardrails.ts";

export const ROLLOUT_SCHEMA = 1;

export const ROLLOUT_STATES = [
  "pending",
  "step",
  "paused",
  "promoting",
  "rolling_back",
  "succeeded",
  "failed",
  "aborted",
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<RolloutState> = new Set(["succeeded", "failed", "aborted"]);
export const isActive = (r: Pick<RolloutRecord, "state">): boolean => !TERMINAL_STATES.has(r.state);

export const DEFAULT_STEPS: readonly number[] = [5, 25, 50, 100];
export const DEFAULT_HOLD_MS = 30 * 60_000;
export const DEFAULT_MIN_USERS = 100;
export const DEFAULT_MAX_DURATION_MS = 24 * 60 * 60_000;
/** How many times a step that lacks users at the end of its hold is extended by one more hold before pausing. */
export const DEFAULT_MAX_EXTENSIONS = 2;
/** Evaluations kept besides those that changed the state (which are all kept). */
export const DEFAULT_EVALUATIONS_KEPT = 50;

/** Version -> integer weight, as written to (or read back from) `weights:{env}:{name}`. */
export type Weights = Readonly<Record<string, number>>;

export type Decision =
  "start" | "hold" | "extend" | "advance" | "promote" | "pause" | "rollback" | "rewrite_weights" | "finish";

export interface Evaluation {
  readonly at: string;
  readonly state: RolloutState;
  readonly step_index: number;
  readonly canary_weight: number | null;
  readonly elapsed_ms: number | null;
  readonly users: { readonly stable: number; readonly canary: number } | null;
  readonly requests: { readonly stable: number; readonly canary: number } | null;
  readonly guardrails: readonly GuardrailResult[];
  readonly decision: Decision;
  /** True when this evaluation decided anything but `hold` (a state change, an extension, a rewrite): never dropped. */
  readonly transition: boolean;
  readonly reason: string;
}

export interface Transition {
  readonly at: string;
  readonly from: RolloutState;
  readonly to: RolloutState;
  readonly step_index: number;
  readonly by: string;
  readonly reason: string;
}

export interface RolloutRecord {
  readonly schema: typeof ROLLOUT_SCHEMA;
  readonly id: string;
  readonly prompt: string;
  readonly env: string;
  /** The environment label's version when the rollout started. */
  readonly stable_version: string;
  readonly canary_version: string;
  /** Canary percentages, strictly increasing, each 1..100; a step at 100 is the promotion itself. */
  readonly steps: readonly number[];
  readonly hold_ms: number;
  readonly min_users: number;
  readonly max_duration_ms: number;
  readonly max_extensions: number;
  readonly guardrails: GuardrailSettings;
  readonly state: RolloutState;
  readonly step_index: number;
  /** ISO time the current step's weights were written; null before the first step. */
  readonly step_started_at: string | null;
  /** Extensions of the current step so far. */
  readonly step_extensions: number;
  /** The latency guardrail's threshold, fixed for the current step once it had enough traffic. */
  readonly latency_threshold_ms: number | null;
  /** The weights the rollout last wrote ({} after clearing); null before it wrote any. */
  readonly written_weights: Weights | null;
  /** Whether `written_weights` has been read back from the store since it was written. */
  readonly weights_confirmed: boolean;
  /** The weights found before the last write (so that a write that did not land is told from a hand edit). */
  readonly previous_weights: Weights | null;
  /** How a rollback ends: `failed` (a guardrail, the maximum duration) or `aborted` (an operator). */
  readonly ending: "failed" | "aborted" | null;
  readonly evaluations: readonly Evaluation[];
  readonly transitions: readonly Transition[];
  /** Why the rollout is in its state, in words. */
  readonly reason: string;
  readonly created_by: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly finished_at: string | null;
  /** The fencing token of the controller that wrote this record last (null: not written by a controller). */
  readonly fencing_token: number | null;
}

const isoTime = z.iso.datetime({ offset: true });
const nonNegInt = z.number().int().nonnegative();
const weightsSchema = z.record(z.string().min(1), nonNegInt);
const margin = z.number().finite().nonnegative();

export const guardrailSettingsSchema = z.strictObject({
  alpha: z.number().gt(0).lt(1),
  tuning_n: z.number().int().positive(),
  min_samples: z.number().int().min(2),
  error_rate: z.strictObject({ enabled: z.boolean(), margin }),
  p95_latency: z.strictObject({
    enabled: z.boolean(),
    margin,
    quantile: z.number().gt(0).lt(1),
    threshold_min_requests: z.number().int().positive(),
  }),
  cost_per_request: z.strictObject({ enabled: z.boolean(), margin }),
  quality: z.strictObject({ enabled: z.boolean(), margin }),
  hard_limits: z.strictObject({
    error_rate: z.strictObject({ max: z.number().min(0).lt(1), min_errors: z.number().int().positive() }).nullable(),
    p95_latency: z
      .strictObject({ max_ms: z.number().positive(), min_requests: z.number().int().positive() })
      .nullable(),
  }),
}) satisfies z.ZodType<GuardrailSettings>;

const guardrailResultSchema = z.strictObject({
  metric: z.enum(["error_rate", "p95_latency", "cost_per_request", "quality"]),
  status: z.enum(["pass", "fail", "insufficient"]),
  test: z.enum(["sequential", "hard_limit"]),
  stable: z.number().nullable(),
  canary: z.number().nullable(),
  diff: z.number().nullable(),
  low: z.number().nullable(),
  high: z.number().nullable(),
  margin: z.number(),
  alpha: z.number(),
  interval_alpha: z.number(),
  stable_n: nonNegInt,
  canary_n: nonNegInt,
  reason: z.string(),
}) satisfies z.ZodType<GuardrailResult>;

const stateSchema = z.enum(ROLLOUT_STATES);
const pair = z.strictObject({ stable: nonNegInt, canary: nonNegInt }).nullable();

const evaluationSchema = z.strictObject({
  at: isoTime,
  state: stateSchema,
  step_index: nonNegInt,
  canary_weight: nonNegInt.nullable(),
  elapsed_ms: z.number().nonnegative().nullable(),
  users: pair,
  requests: pair,
  guardrails: z.array(guardrailResultSchema),
  decision: z.enum(["start", "hold", "extend", "advance", "promote", "pause", "rollback", "rewrite_weights", "finish"]),
  transition: z.boolean(),
  reason: z.string(),
}) satisfies z.ZodType<Evaluation>;

const transitionSchema = z.strictObject({
  at: isoTime,
  from: stateSchema,
  to: stateSchema,
  step_index: nonNegInt,
  by: z.string(),
  reason: z.string(),
}) satisfies z.ZodType<Transition>;

export const stepsSchema = z
  .array(z.number().int().min(1).max(100))
  .min(1)
  .max(20)
  .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), "steps must increase strictly");

export const rolloutRecordSchema = z
  .strictObject({
    schema: z.literal(ROLLOUT_SCHEMA),
    id: z.string().min(1),
    prompt: z.string().min(1),
    env: z.string().min(1),
    stable_version: z.string().min(1),
    canary_version: z.string().min(1),
    steps: stepsSchema,
    hold_ms: nonNegInt,
    min_users: nonNegInt,
    max_duration_ms: z.number().int().positive(),
    max_extensions: nonNegInt,
    guardrails: guardrailSettingsSchema,
    state: stateSchema,
    step_index: nonNegInt,
    step_started_at: isoTime.nullable(),
    step_extensions: nonNegInt,
    latency_threshold_ms: z.number().nonnegative().nullable(),
    written_weights: weightsSchema.nullable(),
    weights_confirmed: z.boolean(),
    previous_weights: weightsSchema.nullable(),
    ending: z.enum(["failed", "aborted"]).nullable(),
    evaluations: z.array(evaluationSchema),
    transitions: z.array(transitionSchema),
    reason: z.string(),
    created_by: z.string(),
    created_at: isoTime,
    updated_at: isoTime,
    finished_at: isoTime.nullable(),
    fencing_token: z.number().int().nonnegative().nullable(),
  })
  .refine((r) => r.step_index < r.steps.length, { message: "step_index is past the last step", path: ["step_index"] })
  .refine((r) => r.stable_version !== r.canary_version, {
    message: "the canary must differ from the stable version",
    path: ["canary_version"],
  }) satisfies z.ZodType<RolloutRecord>;

const issueText = (error: z.ZodError): { message: string; field: string } => {
  const issue = error.issues[0];
  const field = issue?.path.join(".") ?? "";
  return { message: `${field === "" ? "" : `${field}: `}${issue?.message ?? "invalid"}`, field: field || "rollout" };
};

/** A stored record, checked; null when it does not parse (a hand-edited or foreign value). */
export function parseRollout(json: string): RolloutRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  const parsed = rolloutRecordSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** A stored evaluation (a line of `rollout-evaluations:{id}`), checked; null when it does not parse. */
export function parseEvaluation(json: string): Evaluation | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  const parsed = evaluationSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** Guardrail overrides, any subset of the settings, one level deep per metric. */
export interface GuardrailOverrides {
  readonly alpha?: number;
  readonly tuning_n?: number;
  readonly min_samples?: number;
  readonly error_rate?: Partial<GuardrailSettings["error_rate"]>;
  readonly p95_latency?: Partial<GuardrailSettings["p95_latency"]>;
  readonly cost_per_request?: Partial<GuardrailSettings["cost_per_request"]>;
  readonly quality?: Partial<GuardrailSettings["quality"]>;
  readonly hard_limits?: Partial<GuardrailSettings["hard_limits"]>;
}

/** The defaults with `overrides` laid over them, checked; a RegistryError (invalid) names the field at fault. */
export function resolveGuardrails(
  overrides: GuardrailOverrides = {},
  base: GuardrailSettings = DEFAULT_GUARDRAILS,
): GuardrailSettings {
  const merged = {
    ...base,
    ...overrides,
    error_rate: { ...base.error_rate, ...overrides.error_rate },
    p95_latency: { ...base.p95_latency, ...overrides.p95_latency },
    cost_per_request: { ...base.cost_per_request, ...overrides.cost_per_request },
    quality: { ...base.quality, ...overrides.quality },
    hard_limits: { ...base.hard_limits, ...overrides.hard_limits },
  };
  const parsed = guardrailSettingsSchema.safeParse(merged);
  if (!parsed.success) {
    const { message, field } = issueText(parsed.error);
    throw new RegistryError("invalid", `guardrails.${message}`, { field: `guardrails.${field}` });
  }
  return parsed.data;
}

export interface NewRollout {
  readonly id: string;
  readonly prompt: string;
  readonly env: string;
  /** The environment label's version now. */
  readonly stable_version: string;
  readonly canary_version: string;
  readonly steps?: readonly number[];
  readonly hold_ms?: number;
  readonly min_users?: number;
  readonly max_duration_ms?: number;
  readonly max_extensions?: number;
  readonly guardrails?: GuardrailOverrides;
  readonly created_by: string;
}

/** A pending rollout with the defaults filled in; RegistryError (invalid) on settings no rollout can run with. */
export function newRollout(input: NewRollout, now: number): RolloutRecord {
  const at = new Date(now).toISOString();
  const candidate = {
    schema: ROLLOUT_SCHEMA,
    id: input.id,
    prompt: input.prompt,
    env: input.env,
    stable_version: input.stable_version,
    canary_version: input.canary_version,
    steps: [...(input.steps ?? DEFAULT_STEPS)],
    hold_ms: input.hold_ms ?? DEFAULT_HOLD_MS,
    min_users: input.min_users ?? DEFAULT_MIN_USERS,
    max_duration_ms: input.max_duration_ms ?? DEFAULT_MAX_DURATION_MS,
    max_extensions: input.max_extensions ?? DEFAULT_MAX_EXTENSIONS,
    guardrails: resolveGuardrails(input.guardrails),
    state: "pending",
    step_index: 0,
    step_started_at: null,
    step_extensions: 0,
    latency_threshold_ms: null,
    written_weights: null,
    weights_confirmed: false,
    previous_weights: null,
    ending: null,
    evaluations: [],
    transitions: [],
    reason: `waiting for the controller to start at ${(input.steps ?? DEFAULT_STEPS)[0]}%`,
    created_by: input.created_by,
    created_at: at,
    updated_at: at,
    finished_at: null,
    fencing_token: null,
  };
  const parsed = rolloutRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    const { message, field } = issueText(parsed.error);
    throw new RegistryError("invalid", message, { field });
  }
  return parsed.data;
}

/** Appends `e`, keeping every transition and the last `kept` of the others. */
export function keepEvaluations(
  list: readonly Evaluation[],
  e: Evaluation,
  kept = DEFAULT_EVALUATIONS_KEPT,
): Evaluation[] {
  const all = [...list, e];
  let others = all.filter((x) => !x.transition).length;
  return all.filter((x) => x.transition || others-- <= kept);
}

/**
 * The evaluations `after` holds that `before` did not, oldest first, where `after` is `before`'s list with
 * evaluations appended by keepEvaluations (which may drop `before`'s oldest holds). Told apart by position, not by
 * time alone: the fewest appended entries such that what precedes them is `before` less its oldest holds. When no
 * such split exists (the record was replaced, not appended to), those later than `before`'s last one.
 */
export function addedEvaluations(before: readonly Evaluation[], after: readonly Evaluation[]): Evaluation[] {
  const was = before.map((e) => JSON.stringify(e));
  const now = after.map((e) => JSON.stringify(e));
  for (let added = 0; added <= now.length; added++) {
    const dropped = was.length + added - now.length;
    if (dropped < 0) continue;
    let holds = dropped;
    const kept = was.filter((_, i) => before[i]!.transition || holds-- <= 0);
    if (holds > 0) continue; // fewer holds than would have to be dropped
    if (kept.length === now.length - added && kept.every((k, i) => k === now[i]))
      return after.slice(now.length - added);
  }
  const last = before.at(-1)?.at;
  return last === undefined ? [...after] : after.filter((e) => Date.parse(e.at) > Date.parse(last));
}
