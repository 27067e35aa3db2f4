// The rollout controller's reconcile loop: each interval, the process that holds the controller lease looks at
// every active rollout (machine.ts `reconcile` on what the store shows), writes the new record with a fenced
// compare-and-set, appends the look's evaluation to the rollout's log, then carries out the actions: weights
// (fenced), the label's promotion through the registry's own promote, audit entries, alerts. Every replica reads
// the records, for its metrics; only the leader acts.
// The leader also runs the production-regression check (stats/regression-watch.ts) of every live version every
// few minutes, and sends its alerts.
// No HTTP here: the `controller` verb (cli/controller.ts) runs it and serves its probes and metrics.
import type { AlertEvent } from "../alerts/alert-event.ts";
import { appendAudit, notifyChange } from "../registry/audit.ts";
import { ENVIRONMENTS } from "../registry/environments.ts";
import type { Registry } from "../registry/registry.ts";
import { RegistryError } from "../registry/registry-error.ts";
import {
  REGRESSION_WATCH_DEFAULTS,
  watchRegressions,
  type RegressionWatchSettings,
} from "../stats/regression-watch.ts";
import { CONTROLLER_LEASE, rolloutKey, weightsKey } from "../store/keys.ts";
import type { FencedWrite, Lease, Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import { CONTROLLER_ACTOR, reconcile, type RolloutAction, type RolloutAudit } from "./machine.ts";
import { isActive, parseRollout, type RolloutRecord, type Weights } from "./record.ts";
import { rolloutAlertEvent } from "./rollout-alert.ts";
import { appendEvaluations, readRolloutIndex } from "./rollout-records.ts";
import { auditEntry } from "./rollout-service.ts";
import { readStepObservation } from "./step-observation.ts";

/** Where alerts go: the webhook sender (alerts/webhook-sender.ts), which queues and never blocks. */
export interface AlertSink {
  send(event: AlertEvent): boolean;
}

export interface ControllerOptions {
  readonly store: Store;
  readonly registry: Pick<Registry, "label" | "promote" | "names" | "evals">;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Null: alerts are not sent (no ALERT_WEBHOOK_URL). */
  readonly alerts: AlertSink | null;
  /** Who this process is, in the lease (`{token}:{owner}`): unique per process. */
  readonly owner: string;
  /** The lease's time to live; renewed at every tick, so it must be longer than the interval. */
  readonly leaseMs: number;
  /**
   * The production-regression check of every prompt's live versions: how often (default every 5 minutes) and with
   * what settings; null turns it off.
   */
  readonly regressions?: { readonly everyMs: number; readonly settings?: RegressionWatchSettings } | null;
}

export const REGRESSION_CHECK_EVERY_MS = 5 * 60_000;

/** How one look at one rollout ended. */
export type LookOutcome =
  /** Nothing to write (a paused or finished rollout). */
  | "unchanged"
  /** The record was written and its actions carried out. */
  | "written"
  /** Someone else (an operator) wrote the record since it was read: decided again at the next tick. */
  | "conflict"
  /** The lease was lost before or while writing: nothing more is done until it is held again. */
  | "lease_lost"
  /** The record was written, and an action failed (retried, or reported to the machine, at the next tick). */
  | "action_failed"
  /** The store did not answer, or the record does not parse. */
  | "error";

export interface Look {
  readonly key: string;
  readonly id: string | null;
  readonly outcome: LookOutcome;
  readonly from: RolloutRecord["state"] | null;
  readonly to: RolloutRecord["state"] | null;
}

export interface TickReport {
  /** Whether this process held the lease at the end of the tick. */
  readonly leader: boolean;
  readonly looks: readonly Look[];
}

export interface ControllerStatus {
  readonly leader: boolean;
  /** The lease's fencing token while leader. */
  readonly fence: number | null;
  /** Every rollout of the index as last read (current or last one per prompt and environment). */
  readonly rollouts: readonly RolloutRecord[];
  /** Epoch ms (the controller's clock) of the last tick that read the store. */
  readonly lastReadAt: number | null;
}

export interface RolloutController {
  /** One pass: keep or take the lease, read every rollout, reconcile the active ones when leader. */
  tick(): Promise<TickReport>;
  /** Ticks every `intervalMs` until `signal` aborts, then releases the lease. Never rejects on a failed tick. */
  run(intervalMs: number, signal: AbortSignal): Promise<void>;
  /** Gives the lease up (at shutdown), so another replica takes over without waiting for the expiry. */
  release(): Promise<void>;
  status(): ControllerStatus;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Weights as the hash stores them. */
const weightFields = (w: Weights): Record<string, string> =>
  Object.fromEntries(Object.entries(w).map(([version, weight]) => [version, String(weight)]));

/** Every rollout of the index (sorted by key) with its stored value as read (null: listed, not stored). */
async function readRollouts(store: Store): Promise<{ key: string; raw: string | null }[]> {
  const keys = (await readRolloutIndex(store)).map((e) => rolloutKey(e.env, e.name)).sort();
  const raws = await store.mget(keys);
  return keys.map((key, i) => ({ key, raw: raws[i] ?? null }));
}

/** The weights hash's fields, or, when it cannot be read as one (another type), a value that reads as unreadable. */
async function readWeightsHash(store: Store, key: string): Promise<Record<string, string>> {
  const [read] = await store.readHashes([key], { maxFields: 1_000, maxBytes: 1_024 });
  if (read?.ok) return read.value;
  return { [`(${read?.detail ?? "unreadable"})`]: "unreadable" };
}

export function createRolloutController(opts: ControllerOptions): RolloutController {
  const { store, registry, clock, logger, alerts, owner, leaseMs } = opts;
  const regressions = opts.regressions === undefined ? { everyMs: REGRESSION_CHECK_EVERY_MS } : opts.regressions;
  let lastRegressionCheck: number | null = null;
  let lease: Lease | null = null;
  let rollouts: RolloutRecord[] = [];
  let lastReadAt: number | null = null;
  /** Per rollout id: why its last actions failed (the registry refused the promotion), for the next look. */
  const actionErrors = new Map<string, string>();
  /**
   * Per rollout id: how many of its transitions this leader has seen, so that an operator's pause, resume or abort
   * (written by the CLI or the admin API, which send no alerts) is alerted once, by the leader that sees it.
   */
  const seenTransitions = new Map<string, number>();
  /** Unreadable records already logged (by key and value), so a hand-edited record is not logged every tick. */
  const unreadable = new Set<string>();

  const lostLease = (why: string): void => {
    if (lease === null) return;
    logger.warn("lost the controller lease; stopping until it is held again", { fence: lease.token, why });
    lease = null;
  };

  /**
   * Alerts the state changes an operator made since this leader last looked: `paused`, `resumed`, `aborted`. A
   * rollout seen for the first time (a new leader) is taken as it stands: what happened before is not alerted
   * again, at the price of an operator's change made while no leader looked.
   */
  const alertOperatorChanges = (r: RolloutRecord): void => {
    const seen = seenTransitions.get(r.id);
    seenTransitions.set(r.id, r.transitions.length);
    if (seen === undefined || alerts === null) return;
    for (const t of r.transitions.slice(seen)) {
      if (t.by === CONTROLLER_ACTOR) continue;
      const type =
        t.to === "paused"
          ? "paused"
          : t.to === "step" && t.from === "paused"
            ? "resumed"
            : t.to === "rolling_back" || t.to === "aborted"
              ? "aborted"
              : null;
      if (type === null) continue;
      const event = rolloutAlertEvent(
        {
          type,
          prompt: r.prompt,
          env: r.env,
          versions: { stable: r.stable_version, canary: r.canary_version },
          metric: null,
          numbers: { step: t.step_index + 1, canary_weight: r.steps[t.step_index] ?? null },
          verdict: "operator",
          reason: t.reason,
          at: t.at,
        },
        r,
      );
      alerts.send(event);
    }
  };

  /** Keeps the lease (renewal) or takes it when free; the store's failures leave this process a follower. */
  const holdLease = async (): Promise<void> => {
    try {
      if (lease !== null && !(await store.renewLease(lease, leaseMs))) lostLease("another holder, or it expired");
      if (lease === null) {
        lease = await store.acquireLease(CONTROLLER_LEASE, owner, leaseMs);
        if (lease !== null) {
          logger.info("holding the controller lease: acting on rollouts", { fence: lease.token, owner });
          // Another leader may have acted and alerted meanwhile: take every rollout as it stands now.
          seenTransitions.clear();
        }
      }
    } catch (err) {
      // Without an answer the lease may expire under us: act only once it has been renewed again.
      if (lease !== null) lostLease(`the store did not answer: ${errorText(err)}`);
      logger.warn("controller lease not checked", { error: errorText(err) });
    }
  };

  const writeWeights = async (held: Lease, r: RolloutRecord, weights: Weights): Promise<FencedWrite> => {
    const outcome = await store.fencedReplaceHash(held, weightsKey(r.env, r.prompt), weightFields(weights));
    // Replicas poll the hash anyway; the change signal makes them read it at once.
    if (outcome === "written") await notifyChange(store);
    return outcome;
  };

  const audit = async (entry: RolloutAudit): Promise<void> => {
    await appendAudit(store, clock, auditEntry(entry));
  };

  /**
   * Carries out a look's actions in order. Weights are written fenced; the promotion (not a fenced write) only
   * after the lease was renewed. Stops at the first failure: everything is re-derived at the next look.
   */
  const act = async (
    held: Lease,
    before: RolloutRecord,
    after: RolloutRecord,
    actions: readonly RolloutAction[],
  ): Promise<LookOutcome> => {
    for (const action of actions) {
      switch (action.kind) {
        case "set_weights":
        case "clear_weights": {
          const outcome = await writeWeights(held, after, action.kind === "set_weights" ? action.weights : {});
          if (outcome !== "written") {
            lostLease("a fenced weights write was refused");
            return "lease_lost";
          }
          break;
        }
        case "promote_label": {
          if (!(await store.renewLease(held, leaseMs))) {
            lostLease("it expired before the promotion");
            return "lease_lost";
          }
          try {
            await registry.promote(after.prompt, action.version, after.env, { approvedBy: CONTROLLER_ACTOR });
          } catch (err) {
            if (!(err instanceof RegistryError)) throw err;
            // A refusal (an eval gate, a conflict) is the machine's business: it pauses and says why.
            actionErrors.set(after.id, err.message);
            logger.warn("promotion refused", { prompt: after.prompt, env: after.env, error: err.message });
            return "action_failed";
          }
          break;
        }
        case "audit":
          await audit(action.entry);
          break;
        case "alert":
          alerts?.send(rolloutAlertEvent(action.alert, before));
          break;
      }
    }
    return "written";
  };

  /** One look at one rollout, as leader. */
  const look = async (held: Lease, key: string, raw: string): Promise<Look> => {
    const record = parseRollout(raw);
    if (record === null) {
      if (!unreadable.has(key + raw)) {
        unreadable.add(key + raw);
        logger.error("rollout record does not parse; left alone", { key });
      }
      return { key, id: null, outcome: "error", from: null, to: null };
    }
    const base = { key, id: record.id, from: record.state };
    alertOperatorChanges(record);
    if (!isActive(record)) return { ...base, outcome: "unchanged", to: record.state };
    const now = clock.now();
    const [label, weights, step] = await Promise.all([
      registry.label(record.prompt, record.env),
      readWeightsHash(store, weightsKey(record.env, record.prompt)),
      record.state === "step" ? readStepObservation(store, record, now) : Promise.resolve(null),
    ]);
    const actionError = actionErrors.get(record.id) ?? null;
    const result = reconcile(record, { label: label?.version ?? null, weights, step, action_error: actionError }, now);
    if (result.record === record && result.actions.length === 0)
      return { ...base, outcome: "unchanged", to: record.state };

    // Written even when unchanged but with actions to redo: the compare proves that no operator wrote since.
    const next: RolloutRecord = { ...result.record, fencing_token: held.token };
    const written = await store.fencedCompareAndSet(held, key, raw, JSON.stringify(next));
    if (written === "lease_lost") {
      lostLease("a fenced record write was refused");
      return { ...base, outcome: "lease_lost", to: null };
    }
    if (written === "conflict") {
      logger.info("rollout changed while it was looked at; deciding again at the next tick", {
        prompt: record.prompt,
        env: record.env,
      });
      return { ...base, outcome: "conflict", to: null };
    }
    actionErrors.delete(record.id);
    seenTransitions.set(record.id, next.transitions.length);
    // Only after the fenced write won: a deposed leader's evaluations never reach the log. A failed append loses
    // those log entries (the record has them) and does not hold up the actions.
    try {
      await appendEvaluations(store, record, next);
    } catch (err) {
      logger.warn("rollout evaluation not logged", { prompt: record.prompt, env: record.env, error: errorText(err) });
    }
    if (next.state !== record.state) {
      logger.info("rollout moved", {
        prompt: record.prompt,
        env: record.env,
        from: record.state,
        to: next.state,
        step: next.step_index + 1,
        reason: next.reason,
      });
    }
    const outcome = await act(held, record, next, result.actions);
    return { ...base, outcome, to: next.state };
  };

  /**
   * Every live version (each prompt's label on each environment) against its own baseline; new regressions are
   * alerted once (the watch keeps which are open in the store). One prompt's failure does not stop the others.
   */
  const checkRegressions = async (): Promise<void> => {
    if (regressions === null) return;
    const now = clock.now();
    if (lastRegressionCheck !== null && now - lastRegressionCheck < regressions.everyMs) return;
    lastRegressionCheck = now;
    const settings = regressions.settings ?? REGRESSION_WATCH_DEFAULTS;
    for (const name of await registry.names()) {
      for (const env of ENVIRONMENTS) {
        try {
          const result = await watchRegressions(store, registry, name, env, now, settings);
          for (const event of result.alerts) alerts?.send(event);
          if (result.alerts.length > 0)
            logger.warn("production regression", { prompt: name, env, metrics: result.alerts.map((a) => a.metric) });
        } catch (err) {
          logger.warn("production-regression check failed", { prompt: name, env, error: errorText(err) });
        }
      }
    }
  };

  const tick = async (): Promise<TickReport> => {
    await holdLease();
    let entries: { key: string; raw: string | null }[];
    try {
      entries = await readRollouts(store);
    } catch (err) {
      logger.warn("rollouts not read", { error: errorText(err) });
      return { leader: lease !== null, looks: [] };
    }
    lastReadAt = clock.now();
    const looks: Look[] = [];
    for (const { key, raw } of entries) {
      const held = lease;
      if (held === null || raw === null) continue;
      try {
        looks.push(await look(held, key, raw));
      } catch (err) {
        logger.warn("rollout not reconciled; trying again at the next tick", { key, error: errorText(err) });
        looks.push({ key, id: null, outcome: "error", from: null, to: null });
      }
    }
    if (lease !== null) {
      try {
        await checkRegressions();
      } catch (err) {
        logger.warn("production-regression check not run", { error: errorText(err) });
      }
    }
    // What the metrics show: the records as they stand after this tick's writes.
    const after = lease === null || looks.length === 0 ? entries : await readRollouts(store).catch(() => entries);
    rollouts = after.flatMap(({ raw }) => {
      const r = raw === null ? null : parseRollout(raw);
      return r === null ? [] : [r];
    });
    // Rollouts replaced by newer ones are not looked at again: forget what was kept for them.
    const current = new Set(rollouts.map((r) => r.id));
    for (const kept of [seenTransitions, actionErrors])
      for (const id of kept.keys()) if (!current.has(id)) kept.delete(id);
    return { leader: lease !== null, looks };
  };

  const release = async (): Promise<void> => {
    const held = lease;
    lease = null;
    if (held === null) return;
    try {
      if (await store.releaseLease(held)) logger.info("released the controller lease", { fence: held.token });
    } catch (err) {
      logger.warn("controller lease not released; it expires on its own", { error: errorText(err) });
    }
  };

  return {
    tick,
    release,
    async run(intervalMs, signal) {
      while (!signal.aborted) {
        try {
          await tick();
        } catch (err) {
          logger.error("controller tick failed", { error: errorText(err) });
        }
        try {
          await clock.sleep(intervalMs, signal);
        } catch {
          break; // aborted
        }
      }
      await release();
    },
    status: () => ({ leader: lease !== null, fence: lease?.token ?? null, rollouts, lastReadAt }),
  };
}
