// Canary rollouts as operators see them, shared by the CLI and the admin API: start one (checked against the
// registry), read it, its history and the list of all, and command it (pause, resume, abort, promote). It writes
// records only; the controller (a lease holder) carries out what they say: the weights, the promotion. Every start
// and command is a compare-and-set on the record and lands in the prompt's audit history. No HTTP here.
import { randomUUID } from "node:crypto";
import { appendAudit, type NewAuditEntry } from "../registry/audit.ts";
import { ENVIRONMENTS, isEnvironment, type Environment } from "../registry/environments.ts";
import type { AuditAction } from "../registry/records.ts";
import type { Registry } from "../registry/registry.ts";
import { RegistryError } from "../registry/registry-error.ts";
import { rolloutKey, weightsKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import { formatDuration } from "../support/duration.ts";
import { applyCommand, comparedSteps, ROLLOUT_COMMANDS, type RolloutAudit, type RolloutCommand } from "./machine.ts";
import {
  DEFAULT_HOLD_MS,
  DEFAULT_MAX_DURATION_MS,
  DEFAULT_MIN_USERS,
  DEFAULT_STEPS,
  isActive,
  newRollout,
  stepsSchema,
  type Evaluation,
  type GuardrailOverrides,
  type RolloutRecord,
} from "./record.ts";
import {
  appendEvaluations,
  readIndexedRollouts,
  readEvaluations,
  readRollout,
  readRolloutHistory,
  readRolloutIndex,
  replaceRollout,
  updateRollout,
  type StoredRollout,
} from "./rollout-records.ts";

export interface StartRollout {
  readonly name: string;
  /** The canary: a registered version other than the environment label's. */
  readonly version: string;
  readonly env: string;
  /** Canary percentages, strictly increasing, 1..100 (default 5, 25, 50, 100). */
  readonly steps?: readonly number[];
  readonly holdMs?: number;
  readonly minUsers?: number;
  readonly maxDurationMs?: number;
  readonly guardrails?: GuardrailOverrides;
  /** Who started it, recorded in the record and the audit history. */
  readonly by: string;
}

export interface RolloutFilter {
  readonly env?: string;
  /** Only rollouts that have not finished. */
  readonly active?: boolean;
}

export interface RolloutService {
  /** A pending rollout (the controller takes it from there); RegistryError when it cannot start. */
  start(input: StartRollout): Promise<RolloutRecord>;
  /** The current-or-last rollout of `name` on `env`; null when there is none, a conflict when it is unreadable. */
  get(name: string, env: string): Promise<RolloutRecord | null>;
  /** The current-or-last rollout and the finished ones before it, newest first; every environment when none given. */
  history(name: string, env?: string): Promise<RolloutRecord[]>;
  /**
   * Every evaluation of the current-or-last rollout of `name` on `env`, oldest first (the record keeps only its
   * state changes and last holds); RegistryError not_found when there is none.
   */
  evaluations(name: string, env: string): Promise<{ rollout: RolloutRecord; evaluations: Evaluation[] }>;
  /** The current-or-last rollout of every prompt and environment, newest first. */
  list(filter?: RolloutFilter): Promise<RolloutRecord[]>;
  /** An operator's command; RegistryError conflict (with the state) when it does not apply, not_found when none. */
  command(name: string, env: string, command: RolloutCommand, by: string): Promise<RolloutRecord>;
}

export interface RolloutServiceDeps {
  readonly store: Store;
  readonly registry: Registry;
  readonly clock: Clock;
  /** Rollout ids (default: random UUIDs). */
  readonly newId?: () => string;
}

/** Compare-and-sets lost to another writer (the controller looking, another operator) before giving up. */
const MAX_ATTEMPTS = 5;
const MAX_MIN_USERS = 10_000_000;

const PAST: Readonly<Record<RolloutCommand, AuditAction>> = {
  pause: "rollout_paused",
  resume: "rollout_resumed",
  abort: "rollout_aborted",
  promote: "rollout_promoted",
};

export function createRolloutService(deps: RolloutServiceDeps): RolloutService {
  const { store, registry, clock } = deps;
  const newId = deps.newId ?? randomUUID;

  async function history(name: string, env: Environment): Promise<RolloutRecord[]> {
    const [stored, finished] = await Promise.all([readRollout(store, env, name), readRolloutHistory(store, env, name)]);
    const current = stored?.record ?? null;
    return [...(current === null ? [] : [current]), ...finished.reverse()];
  }

  return {
    async start(input) {
      const env = environmentOf(input.env);
      const by = actorOf(input.by);
      const settings = checkSettings(input);
      const [versions, label] = await Promise.all([registry.versions(input.name), registry.label(input.name, env)]);
      if (versions.length === 0) throw unknownPrompt(input.name);
      if (!versions.includes(input.version)) {
        throw new RegistryError("not_found", `prompt ${input.name} has no registered version ${input.version}`, {
          field: "version",
        });
      }
      if (label === null) {
        throw new RegistryError(
          "conflict",
          `${input.name} has no ${env} label: a rollout moves ${env} traffic from the label's version to another, ` +
            `so promote a version to ${env} first`,
          { field: "env" },
        );
      }
      if (label.version === input.version) {
        throw new RegistryError(
          "conflict",
          `${input.name}@${input.version} is already the ${env} label's version: nothing to roll out`,
          { field: "version" },
        );
      }
      // One rollout at a time comes first: it is what stops any start, whatever the version (checked again when
      // writing, against a concurrent start).
      const current = await readRollout(store, env, input.name);
      const active = current === null ? null : readable(current, input.name, env);
      if (active !== null && isActive(active)) throw activeConflict(active);

      // The last step is the registry's own promote: a rollout it would refuse now is refused here, rather than
      // walking its steps for hours to pause at the end. A refusal arising later (a failing eval recorded
      // meanwhile) still pauses the rollout when the controller promotes.
      const check = await registry.checkPromotion(input.name, input.version, env);
      const refused = check.gates.filter((g) => g.status === "refused");
      if (refused.length > 0) {
        throw new RegistryError(
          "conflict",
          `a rollout of ${input.name}@${input.version} would end in a promotion to ${env} that is refused: ` +
            refused.map((g) => g.message).join("; "),
          { field: "version" },
        );
      }

      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const stored = await readRollout(store, env, input.name);
        const previous = stored === null ? null : readable(stored, input.name, env);
        if (previous !== null && isActive(previous)) throw activeConflict(previous);
        const record = newRollout(
          {
            id: newId(),
            prompt: input.name,
            env,
            stable_version: label.version,
            canary_version: input.version,
            ...settings,
            ...(input.guardrails === undefined ? {} : { guardrails: input.guardrails }),
            created_by: by,
          },
          clock.now(),
        );
        if (await replaceRollout(store, stored?.raw ?? null, record)) {
          await appendAudit(store, clock, {
            actor: by,
            action: "rollout_started",
            name: input.name,
            env,
            from: record.stable_version,
            to: record.canary_version,
            version: record.canary_version,
            rolloutId: record.id,
            reason: describeSettings(record),
          });
          return record;
        }
      }
      throw raced(input.name, env);
    },

    async get(name, env) {
      const environment = environmentOf(env);
      const stored = await readRollout(store, environment, name);
      return stored === null ? null : readable(stored, name, environment);
    },

    async history(name, env) {
      if (env !== undefined) return history(name, environmentOf(env));
      const all = await Promise.all(ENVIRONMENTS.map((e) => history(name, e)));
      return all.flat().sort(newestFirst);
    },

    async evaluations(name, env) {
      const environment = environmentOf(env);
      const stored = await readRollout(store, environment, name);
      if (stored === null) throw noRollout(name, environment);
      const rollout = readable(stored, name, environment);
      return { rollout, evaluations: await readEvaluations(store, rollout.id) };
    },

    async list(filter = {}) {
      const env = filter.env === undefined ? undefined : environmentOf(filter.env);
      const index = (await readRolloutIndex(store)).filter((e) => env === undefined || e.env === env);
      const records = await readIndexedRollouts(store, index);
      return records.filter((r) => filter.active !== true || isActive(r)).sort(newestFirst);
    },

    async command(name, env, command, by) {
      const environment = environmentOf(env);
      const actor = actorOf(by);
      if (!ROLLOUT_COMMANDS.includes(command)) {
        throw new RegistryError("invalid", `unknown command "${String(command)}": use ${ROLLOUT_COMMANDS.join(", ")}`, {
          field: "command",
        });
      }
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const [stored, weights] = await Promise.all([
          readRollout(store, environment, name),
          store.hgetall(weightsKey(environment, name)),
        ]);
        if (stored === null) throw noRollout(name, environment);
        const current = readable(stored, name, environment);
        const result = applyCommand(current, command, { weights }, clock.now(), actor);
        if (await updateRollout(store, stored.raw, result.record)) {
          // A pause records an evaluation too: the log has it as well.
          await appendEvaluations(store, current, result.record);
          const audit = result.actions.find((a) => a.kind === "audit");
          if (audit !== undefined) await appendAudit(store, clock, auditEntry(audit.entry, PAST[command]));
          return result.record;
        }
      }
      throw raced(name, environment);
    },
  };
}

/** A state change of a rollout as a line of the prompt's audit history (`rollout` for the controller's). */
export function auditEntry(entry: RolloutAudit, action: AuditAction = "rollout"): NewAuditEntry {
  return {
    actor: entry.actor,
    action,
    name: entry.name,
    ...(isEnvironment(entry.env) ? { env: entry.env } : {}),
    from: entry.from,
    to: entry.to,
    version: entry.version,
    rolloutId: entry.rollout_id,
    stepIndex: entry.step_index,
    reason: entry.reason,
  };
}

/** Steps, hold, minimum users and maximum duration, checked; each refusal names its field as the API and CLI do. */
function checkSettings(input: StartRollout): {
  steps: readonly number[];
  hold_ms: number;
  min_users: number;
  max_duration_ms: number;
} {
  const steps = input.steps ?? DEFAULT_STEPS;
  if (!stepsSchema.safeParse(steps).success) {
    throw new RegistryError(
      "invalid",
      `steps must be 1 to 20 canary percentages, whole numbers from 1 to 100 that increase strictly ` +
        `(e.g. 5,25,50,100), got ${steps.join(",") || "none"}`,
      { field: "steps" },
    );
  }
  const hold = input.holdMs ?? DEFAULT_HOLD_MS;
  if (!Number.isSafeInteger(hold) || hold < 0) {
    throw new RegistryError("invalid", `hold must be a duration of whole ms, 0 or more, got ${hold}`, {
      field: "hold",
    });
  }
  const minUsers = input.minUsers ?? DEFAULT_MIN_USERS;
  if (!Number.isSafeInteger(minUsers) || minUsers < 0 || minUsers > MAX_MIN_USERS) {
    throw new RegistryError("invalid", `min_users must be a whole number from 0 to ${MAX_MIN_USERS}, got ${minUsers}`, {
      field: "min_users",
    });
  }
  const max = input.maxDurationMs ?? DEFAULT_MAX_DURATION_MS;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RegistryError("invalid", `max_duration must be a positive duration of whole ms, got ${max}`, {
      field: "max_duration",
    });
  }
  const compared = steps.filter((s) => s < 100).length;
  if (hold * compared > max) {
    throw new RegistryError(
      "invalid",
      `max_duration ${formatDuration(max)} is shorter than the hold ${formatDuration(hold)} of each of the ` +
        `${compared} steps below 100%: the rollout would run out of time before it could finish`,
      { field: "max_duration" },
    );
  }
  return { steps, hold_ms: hold, min_users: minUsers, max_duration_ms: max };
}

function describeSettings(r: RolloutRecord): string {
  return (
    `steps ${r.steps.join(",")}, hold ${formatDuration(r.hold_ms)}, min users ${r.min_users}, ` +
    `max duration ${formatDuration(r.max_duration_ms)}; ${comparedSteps(r)} compared steps`
  );
}

function readable(stored: StoredRollout, name: string, env: Environment): RolloutRecord {
  if (stored.record !== null) return stored.record;
  throw new RegistryError(
    "conflict",
    `the rollout record of ${name} on ${env} (key ${rolloutKey(env, name)}) is not readable (edited by hand?): ` +
      "delete that key to start again",
  );
}

function activeConflict(r: RolloutRecord): RegistryError {
  const where =
    r.state === "step" || r.state === "paused"
      ? ` at step ${r.step_index + 1} of ${r.steps.length} (${r.steps[r.step_index]}%)`
      : "";
  return new RegistryError(
    "conflict",
    `${r.prompt} already has an active rollout on ${r.env}: ${r.canary_version} against ${r.stable_version}, ` +
      `${r.state}${where} (id ${r.id}, started by ${r.created_by}); abort or promote it before starting another`,
  );
}

function raced(name: string, env: Environment): RegistryError {
  return new RegistryError("conflict", `the rollout of ${name} on ${env} kept changing while this was written; retry`);
}

function noRollout(name: string, env: Environment): RegistryError {
  return new RegistryError("not_found", `${name} has no rollout on ${env}`, { field: "name" });
}

function unknownPrompt(name: string): RegistryError {
  return new RegistryError("not_found", `unknown prompt "${name}": push it first`, { field: "name" });
}

function environmentOf(env: string): Environment {
  if (!isEnvironment(env)) {
    throw new RegistryError("invalid", `env must be one of ${ENVIRONMENTS.join(", ")}, got "${env}"`, {
      field: "env",
    });
  }
  return env;
}

function actorOf(by: string): string {
  if (by.trim() === "") throw new RegistryError("invalid", "by must not be empty", { field: "by" });
  return by;
}

const newestFirst = (a: RolloutRecord, b: RolloutRecord): number =>
  b.created_at.localeCompare(a.created_at) || a.prompt.localeCompare(b.prompt) || a.env.localeCompare(b.env);
