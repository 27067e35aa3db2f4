// The rollout state machine, pure: reconcile(record, observation, now) -> { record, actions }. The controller
// reads the store into an observation, calls reconcile, writes the new record (fenced), then carries out the
// actions (plain data). Every action is idempotent and re-derived from the record and what the store shows, so a
// controller that dies between writing the record and acting is replaced by one that does the same again.
// Operator commands (pause, resume, abort, promote) go through applyCommand. See docs/rollouts.md.
import type { AlertVerdict } from "../alerts/alert-event.ts";
import { RegistryError } from "../registry/registry-error.ts";
import { evaluateGuardrails, type GuardrailResult, type StepObservation } from "./guardrails.ts";
import {
  keepEvaluations,
  TERMINAL_STATES,
  type Decision,
  type Evaluation,
  type RolloutRecord,
  type RolloutState,
  type Weights,
} from "./record.ts";

export interface RolloutObservation {
  /** The environment label's version now; null when the label is unset. */
  readonly label: string | null;
  /** `weights:{env}:{name}` as read: version -> weight, as strings. */
  readonly weights: Readonly<Record<string, string>>;
  /** The current step's traffic per side, read from `step_started_at`; null when there is no step yet. */
  readonly step: StepObservation | null;
  /** Set when the controller could not carry out the last actions (e.g. the registry refused the promotion). */
  readonly action_error?: string | null;
}

export type AlertType = "started" | "advanced" | "paused" | "resumed" | "rolled_back" | "succeeded" | "aborted";

/** A rollout event for the webhook; the sender adds the links. */
export interface RolloutAlert {
  readonly type: AlertType;
  readonly prompt: string;
  readonly env: string;
  readonly versions: { readonly stable: string; readonly canary: string };
  readonly metric: string | null;
  readonly numbers: Readonly<Record<string, number | null>>;
  /** `worse` (a guardrail), `fail` (timed out, a promotion refused), `no_data`, `operator`, `pass`, `info`. */
  readonly verdict: AlertVerdict;
  readonly reason: string;
  readonly at: string;
}

/** One line of the audit history: a state change of the rollout. */
export interface RolloutAudit {
  readonly action: "rollout";
  readonly actor: string;
  readonly name: string;
  readonly env: string;
  readonly rollout_id: string;
  readonly version: string;
  readonly from: RolloutState;
  readonly to: RolloutState;
  readonly step_index: number;
  readonly reason: string;
}

export type RolloutAction =
  | { readonly kind: "set_weights"; readonly weights: Weights }
  | { readonly kind: "clear_weights" }
  /** Move the label to `version` through the registry's own promote (from `from`). */
  | { readonly kind: "promote_label"; readonly version: string; readonly from: string }
  | { readonly kind: "alert"; readonly alert: RolloutAlert }
  | { readonly kind: "audit"; readonly entry: RolloutAudit };

export interface ReconcileResult {
  readonly record: RolloutRecord;
  readonly actions: readonly RolloutAction[];
}

/** Who the controller writes as in transitions and the audit history. */
export const CONTROLLER_ACTOR = "controller";

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (isoTime: string): number => Date.parse(isoTime);

/** Weights as numbers; versions at 0 and unreadable values dropped, so that {a: 100, b: 0} equals {a: 100}. */
export function readWeights(raw: Readonly<Record<string, string>>): Weights | null {
  const out: Record<string, number> = {};
  for (const [version, value] of Object.entries(raw)) {
    const w = Number(value);
    if (value.trim() === "" || !Number.isFinite(w) || w < 0) return null;
    if (w > 0) out[version] = w;
  }
  return out;
}

/** Whether two weights say the same thing (zero weights and absent versions alike). */
export function sameWeights(a: Weights | null, b: Weights | null): boolean {
  if (a === null || b === null) return a === b;
  const nonZero = (w: Weights): [string, number][] => Object.entries(w).filter(([, v]) => v > 0);
  const [x, y] = [nonZero(a), nonZero(b)];
  return x.length === y.length && x.every(([k, v]) => b[k] === v);
}

export const describeWeights = (w: Weights | null): string =>
  w === null
    ? "unreadable weights"
    : Object.keys(w).length === 0
      ? "no weights (all to the label's version)"
      : Object.entries(w)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ");

/** The weights of a step at `percent`% for the canary. */
export const stepWeights = (r: RolloutRecord, percent: number): Weights => ({
  [r.stable_version]: 100 - percent,
  [r.canary_version]: percent,
});

/** Rolled back: everything to stable, the canary named at 0 so that the hash shows what happened. */
export const rollbackWeights = (r: RolloutRecord): Weights => ({ [r.stable_version]: 100, [r.canary_version]: 0 });

/** Steps that compare canary with stable (below 100%); they share the rollout's alpha. */
export const comparedSteps = (r: RolloutRecord): number => r.steps.filter((s) => s < 100).length;

/** A duration in words people read at a glance: `2h`, `90m`, `12m 5s`, `57s`. */
function minutes(msValue: number): string {
  if (msValue % 3_600_000 === 0) return `${msValue / 3_600_000}h`;
  if (msValue % 60_000 === 0) return `${msValue / 60_000}m`;
  const s = Math.round(msValue / 1_000);
  if (s < 60) return `${s}s`;
  return s % 60 === 0 ? `${s / 60}m` : `${Math.floor(s / 60)}m ${s % 60}s`;
}
const stepText = (r: RolloutRecord, i = r.step_index): string => `step ${i + 1} of ${r.steps.length} (${r.steps[i]}%)`;

/** What the store shows against what the rollout last wrote. */
export type WeightsCheck = "confirmed" | "not_landed" | "edited";

export function checkWeights(r: RolloutRecord, observed: Weights | null): WeightsCheck {
  if (r.written_weights === null || sameWeights(observed, r.written_weights)) return "confirmed";
  if (!r.weights_confirmed && sameWeights(observed, r.previous_weights ?? {})) return "not_landed";
  return "edited";
}

interface Change {
  readonly to: RolloutState;
  readonly reason: string;
  readonly by: string;
  readonly patch?: Partial<Mutable<RolloutRecord>>;
}
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Applies a state change: the transition, the reason, timestamps, the audit line. */
function transition(r: RolloutRecord, change: Change, now: number): { record: RolloutRecord; audit: RolloutAction } {
  const at = iso(now);
  const record: RolloutRecord = {
    ...r,
    ...change.patch,
    state: change.to,
    reason: change.reason,
    updated_at: at,
    finished_at: TERMINAL_STATES.has(change.to) ? at : null,
    transitions: [
      ...r.transitions,
      {
        at,
        from: r.state,
        to: change.to,
        step_index: change.patch?.step_index ?? r.step_index,
        by: change.by,
        reason: change.reason,
      },
    ],
  };
  return {
    record,
    audit: {
      kind: "audit",
      entry: {
        action: "rollout",
        actor: change.by,
        name: r.prompt,
        env: r.env,
        rollout_id: r.id,
        version: r.canary_version,
        from: r.state,
        to: change.to,
        step_index: record.step_index,
        reason: change.reason,
      },
    },
  };
}

interface AlertExtra {
  readonly metric?: string | null;
  readonly numbers?: Record<string, number | null>;
  readonly verdict?: AlertVerdict;
}

const DEFAULT_VERDICT: Readonly<Record<AlertType, AlertVerdict>> = {
  started: "info",
  advanced: "info",
  resumed: "operator",
  paused: "operator",
  rolled_back: "fail",
  succeeded: "pass",
  aborted: "operator",
};

function alert(r: RolloutRecord, type: AlertType, reason: string, now: number, extra: AlertExtra = {}): RolloutAction {
  return {
    kind: "alert",
    alert: {
      type,
      prompt: r.prompt,
      env: r.env,
      versions: { stable: r.stable_version, canary: r.canary_version },
      metric: extra.metric ?? null,
      numbers: { step: r.step_index + 1, canary_weight: r.steps[r.step_index] ?? null, ...extra.numbers },
      verdict: extra.verdict ?? DEFAULT_VERDICT[type],
      reason,
      at: iso(now),
    },
  };
}

interface EvaluationInput {
  readonly decision: Decision;
  readonly transition: boolean;
  readonly reason: string;
  readonly guardrails?: readonly GuardrailResult[];
}

function withEvaluation(
  r: RolloutRecord,
  step: StepObservation | null,
  now: number,
  e: EvaluationInput,
): RolloutRecord {
  const started = r.step_started_at === null ? null : ms(r.step_started_at);
  const evaluation: Evaluation = {
    at: iso(now),
    state: r.state,
    step_index: r.step_index,
    canary_weight: r.state === "step" || r.state === "paused" ? (r.steps[r.step_index] ?? null) : null,
    elapsed_ms: started === null ? null : Math.max(0, now - started),
    users: step === null ? null : { stable: step.stable.users, canary: step.canary.users },
    requests: step === null ? null : { stable: step.stable.requests, canary: step.canary.requests },
    guardrails: e.guardrails ?? [],
    decision: e.decision,
    transition: e.transition,
    reason: e.reason,
  };
  return { ...r, evaluations: keepEvaluations(r.evaluations, evaluation), updated_at: iso(now) };
}

/** Enters step `index`: its weights written, its clock and data started afresh. */
function enterStep(
  r: RolloutRecord,
  index: number,
  observed: Weights | null,
  now: number,
): Partial<Mutable<RolloutRecord>> {
  return {
    step_index: index,
    step_started_at: iso(now),
    step_extensions: 0,
    latency_threshold_ms: null,
    written_weights: stepWeights(r, r.steps[index]!),
    weights_confirmed: false,
    previous_weights: observed ?? r.written_weights,
  };
}

/** Starts a rollback to stable (canary at 0, the label untouched), ending as `ending`. */
function startRollback(
  r: RolloutRecord,
  observed: Weights | null,
  ending: "failed" | "aborted",
  reason: string,
  by: string,
  now: number,
  alertExtra: AlertExtra = {},
): ReconcileResult {
  // An operator's hand edit is never overwritten: when the weights are not ours, leave them as found.
  const ours = checkWeights(r, observed) !== "edited";
  if (!ours) {
    const note = `${reason}; the weights were changed by hand (${describeWeights(observed)}) and are left as found`;
    const t = transition(r, { to: ending, reason: note, by, patch: { ending } }, now);
    return {
      record: t.record,
      actions: [t.audit, alert(r, ending === "aborted" ? "aborted" : "rolled_back", note, now, alertExtra)],
    };
  }
  const weights = rollbackWeights(r);
  const t = transition(
    r,
    {
      to: "rolling_back",
      reason,
      by,
      patch: {
        ending,
        written_weights: weights,
        weights_confirmed: false,
        previous_weights: observed ?? r.written_weights,
      },
    },
    now,
  );
  return {
    record: t.record,
    actions: [
      { kind: "set_weights", weights },
      t.audit,
      alert(r, ending === "aborted" ? "aborted" : "rolled_back", reason, now, alertExtra),
    ],
  };
}

function startPromotion(r: RolloutRecord, reason: string, by: string, now: number): ReconcileResult {
  const t = transition(
    r,
    {
      to: "promoting",
      reason,
      by,
      patch: { written_weights: {}, weights_confirmed: false, previous_weights: r.written_weights },
    },
    now,
  );
  return {
    record: t.record,
    actions: [
      { kind: "promote_label", version: r.canary_version, from: r.stable_version },
      { kind: "clear_weights" },
      t.audit,
    ],
  };
}

function pause(
  r: RolloutRecord,
  reason: string,
  by: string,
  now: number,
  step: StepObservation | null,
  verdict: AlertVerdict = "operator",
): ReconcileResult {
  const evaluated = withEvaluation(r, step, now, { decision: "pause", transition: true, reason });
  const t = transition(evaluated, { to: "paused", reason, by }, now);
  return { record: t.record, actions: [t.audit, alert(r, "paused", reason, now, { verdict })] };
}

/**
 * One look at a rollout: what the store shows now decides the next state and what to do. Terminal records come
 * back unchanged with no action.
 */
export function reconcile(r: RolloutRecord, o: RolloutObservation, now: number): ReconcileResult {
  if (TERMINAL_STATES.has(r.state)) return { record: r, actions: [] };
  const observed = readWeights(o.weights);
  const by = CONTROLLER_ACTOR;

  if (r.state === "rolling_back") return finishRollback(r, observed, now);
  if (r.state === "promoting") return finishPromotion(r, o, observed, now);

  // The whole rollout is bounded in time, whatever state it waits in.
  const elapsedTotal = now - ms(r.created_at);
  if (elapsedTotal >= r.max_duration_ms) {
    const reason = `maximum duration ${minutes(r.max_duration_ms)} reached at ${stepText(r)} before the rollout finished`;
    return startRollback(r, observed, "failed", reason, by, now, {
      verdict: "fail",
      numbers: { elapsed_ms: elapsedTotal },
    });
  }
  if (r.state === "paused") return { record: r, actions: [] };

  if (o.label !== r.stable_version) {
    const reason = `the ${r.env} label moved to ${o.label ?? "nothing"} during the rollout (it was ${r.stable_version}); paused for an operator`;
    return pause(r, reason, by, now, o.step);
  }

  if (r.state === "pending") {
    const first = r.steps[0]!;
    if (first >= 100) return startPromotion(r, "the only step is 100%: promoting", by, now);
    const patch = enterStep(r, 0, observed, now);
    const reason = `started: ${r.canary_version} at ${first}% against ${r.stable_version}`;
    const t = transition(r, { to: "step", reason, by, patch }, now);
    return {
      record: withEvaluation(t.record, null, now, { decision: "start", transition: true, reason }),
      actions: [
        { kind: "set_weights", weights: patch.written_weights! },
        t.audit,
        alert(t.record, "started", reason, now),
      ],
    };
  }

  return reconcileStep(r, o, observed, now);
}

function reconcileStep(
  r: RolloutRecord,
  o: RolloutObservation,
  observed: Weights | null,
  now: number,
): ReconcileResult {
  const by = CONTROLLER_ACTOR;
  const check = checkWeights(r, observed);
  if (check === "edited") {
    const reason = `weights changed by hand at ${stepText(r)}: expected ${describeWeights(r.written_weights)}, found ${describeWeights(observed)}; paused, the controller leaves them as they are`;
    return pause(r, reason, by, now, o.step);
  }
  if (check === "not_landed") {
    // Our write did not reach the store (a controller stopped in between): write again and restart the step's clock.
    const reason = `weights ${describeWeights(r.written_weights)} not found in the store; writing them again`;
    const record = withEvaluation({ ...r, step_started_at: iso(now) }, o.step, now, {
      decision: "rewrite_weights",
      transition: true,
      reason,
    });
    return { record, actions: [{ kind: "set_weights", weights: r.written_weights! }] };
  }
  const confirmed: RolloutRecord = r.weights_confirmed ? r : { ...r, weights_confirmed: true };

  const step = o.step;
  const started = ms(confirmed.step_started_at ?? confirmed.created_at);
  const elapsed = now - started;
  if (step === null) {
    const reason = `${stepText(r)}: no traffic read yet`;
    return {
      record: withEvaluation(confirmed, null, now, { decision: "hold", transition: false, reason }),
      actions: [],
    };
  }

  const verdict = evaluateGuardrails({
    step,
    settings: r.guardrails,
    comparedSteps: comparedSteps(r),
    latencyThresholdMs: r.latency_threshold_ms,
  });
  const looked: RolloutRecord = { ...confirmed, latency_threshold_ms: verdict.latencyThresholdMs };

  if (verdict.failure !== null) {
    const f = verdict.failure;
    const reason = `guardrail failed at ${stepText(r)}: ${f.reason}`;
    const evaluated = withEvaluation(looked, step, now, {
      decision: "rollback",
      transition: true,
      reason,
      guardrails: verdict.results,
    });
    return startRollback(evaluated, observed, "failed", reason, by, now, {
      metric: f.metric,
      verdict: "worse",
      numbers: {
        stable: f.stable,
        canary: f.canary,
        diff: f.diff,
        low: f.low,
        high: f.high,
        margin: f.margin,
        stable_n: f.stable_n,
        canary_n: f.canary_n,
        canary_users: step.canary.users,
      },
    });
  }

  const holdDone = elapsed >= r.hold_ms;
  const usersDone = step.stable.users >= r.min_users && step.canary.users >= r.min_users;
  const usersText = `stable ${step.stable.users}, canary ${step.canary.users} users of ${r.min_users} needed on each side`;

  if (holdDone && usersDone) {
    const next = r.step_index + 1;
    const reason = `${stepText(r)} held ${minutes(elapsed)} with ${usersText.replace(" needed on each side", "")}; no guardrail failed`;
    const evaluated = withEvaluation(looked, step, now, {
      decision: next < r.steps.length && r.steps[next]! < 100 ? "advance" : "promote",
      transition: true,
      reason,
      guardrails: verdict.results,
    });
    if (next >= r.steps.length || r.steps[next]! >= 100)
      return startPromotion(evaluated, `${reason}: promoting`, by, now);
    const patch = enterStep(evaluated, next, observed, now);
    const text = `${reason}: advancing to ${r.steps[next]}%`;
    const t = transition(evaluated, { to: "step", reason: text, by, patch }, now);
    return {
      record: t.record,
      actions: [
        { kind: "set_weights", weights: patch.written_weights! },
        t.audit,
        alert(t.record, "advanced", text, now, {
          numbers: { stable_users: step.stable.users, canary_users: step.canary.users },
        }),
      ],
    };
  }

  // Time is up without enough users: extend by one more hold, a bounded number of times, then pause.
  const deadline = r.hold_ms * (1 + r.step_extensions);
  if (holdDone && !usersDone && elapsed >= deadline) {
    if (r.step_extensions < r.max_extensions) {
      const reason = `${stepText(r)}: not enough data after ${minutes(elapsed)} (${usersText}); extended by ${minutes(r.hold_ms)} (${r.step_extensions + 1} of ${r.max_extensions})`;
      const record = withEvaluation({ ...looked, step_extensions: r.step_extensions + 1, reason }, step, now, {
        decision: "extend",
        transition: true,
        reason,
        guardrails: verdict.results,
      });
      return { record, actions: [] };
    }
    const reason = `${stepText(r)}: not enough data after ${minutes(elapsed)} and ${r.max_extensions} extensions (${usersText}); no data is not a pass, paused for an operator`;
    return pause({ ...looked }, reason, by, now, step, "no_data");
  }

  const waiting = !holdDone ? `holding ${minutes(elapsed)} of ${minutes(r.hold_ms)}` : "hold done, waiting for users";
  const reason = `${stepText(r)}: ${waiting}; ${usersText}`;
  return {
    record: withEvaluation({ ...looked, reason }, step, now, {
      decision: "hold",
      transition: false,
      reason,
      guardrails: verdict.results,
    }),
    actions: [],
  };
}

function finishRollback(r: RolloutRecord, observed: Weights | null, now: number): ReconcileResult {
  const by = CONTROLLER_ACTOR;
  const ending = r.ending ?? "failed";
  const check = checkWeights(r, observed);
  if (check === "not_landed") return { record: r, actions: [{ kind: "set_weights", weights: r.written_weights! }] };
  const note =
    check === "edited"
      ? `; the weights were then changed by hand (${describeWeights(observed)}) and are left as found`
      : "";
  const reason = `${r.reason}; rolled back to ${r.stable_version}${note}`;
  const t = transition(r, { to: ending, reason, by, patch: { weights_confirmed: check === "confirmed" } }, now);
  return { record: t.record, actions: [t.audit] };
}

function finishPromotion(
  r: RolloutRecord,
  o: RolloutObservation,
  observed: Weights | null,
  now: number,
): ReconcileResult {
  const by = CONTROLLER_ACTOR;
  if (o.action_error) {
    return pause(
      r,
      `promotion of ${r.canary_version} to ${r.env} failed: ${o.action_error}; paused for an operator`,
      by,
      now,
      null,
      "fail",
    );
  }
  const labelMoved = o.label === r.canary_version;
  const cleared = observed !== null && Object.keys(observed).length === 0;
  if (labelMoved && cleared) {
    const reason = `${r.canary_version} promoted to ${r.env} and weights cleared`;
    const t = transition(r, { to: "succeeded", reason, by, patch: { weights_confirmed: true } }, now);
    return { record: t.record, actions: [t.audit, alert(r, "succeeded", reason, now)] };
  }
  const actions: RolloutAction[] = [];
  if (!labelMoved) actions.push({ kind: "promote_label", version: r.canary_version, from: r.stable_version });
  if (!cleared) actions.push({ kind: "clear_weights" });
  return { record: r, actions };
}

export type RolloutCommand = "pause" | "resume" | "abort" | "promote";
export const ROLLOUT_COMMANDS: readonly RolloutCommand[] = ["pause", "resume", "abort", "promote"];

const ALLOWED: Readonly<Record<RolloutCommand, readonly RolloutState[]>> = {
  pause: ["pending", "step"],
  resume: ["paused"],
  abort: ["pending", "step", "paused"],
  promote: ["pending", "step", "paused"],
};

/** The operator commands the rollout's state allows now (none once it has ended or is rolling back). */
export const allowedCommands = (r: Pick<RolloutRecord, "state">): RolloutCommand[] =>
  ROLLOUT_COMMANDS.filter((c) => ALLOWED[c].includes(r.state));

/** A rollout as the admin API and `rollout status --json` answer it: the record, and what may be done to it now. */
export type RolloutView = RolloutRecord & { readonly allowed_commands: readonly RolloutCommand[] };

export const rolloutView = (r: RolloutRecord): RolloutView => ({ ...r, allowed_commands: allowedCommands(r) });

/**
 * An operator's command. Resume writes the current step's weights again and starts the step afresh (traffic while
 * paused is not the step's); abort rolls back like a failed guardrail but ends `aborted`; promote skips the
 * remaining steps. A command the state does not allow is a RegistryError (conflict).
 */
export function applyCommand(
  r: RolloutRecord,
  command: RolloutCommand,
  o: Pick<RolloutObservation, "weights">,
  now: number,
  by: string,
): ReconcileResult {
  if (!ALLOWED[command].includes(r.state)) {
    throw new RegistryError("conflict", `cannot ${command} a rollout that is ${r.state} (${r.reason})`, {
      field: "state",
    });
  }
  const observed = readWeights(o.weights);
  switch (command) {
    case "pause":
      return pause(r, `paused by ${by} at ${stepText(r)}`, by, now, null);
    case "resume": {
      const patch = enterStep(r, r.step_index, observed, now);
      const reason = `resumed by ${by} at ${stepText(r)}: weights ${describeWeights(patch.written_weights!)} written, the step starts again`;
      const t = transition(r, { to: "step", reason, by, patch }, now);
      return {
        record: t.record,
        actions: [
          { kind: "set_weights", weights: patch.written_weights! },
          t.audit,
          alert(t.record, "resumed", reason, now),
        ],
      };
    }
    case "abort":
      return startRollback(r, observed, "aborted", `aborted by ${by} at ${stepText(r)}`, by, now, {
        verdict: "operator",
      });
    case "promote":
      return startPromotion(r, `promoted by ${by} at ${stepText(r)}, skipping the remaining steps`, by, now);
  }
}
