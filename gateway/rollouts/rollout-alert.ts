// A rollout's alert (machine.ts `alert` actions) as the event the webhook receives (alerts/alert-event.ts).
import { alertEvent, type AlertEvent } from "../alerts/alert-event.ts";
import type { RolloutAlert } from "./machine.ts";
import type { RolloutRecord } from "./record.ts";

/** The shortest window the alert's `stats` link covers. */
const MIN_LINK_MS = 5 * 60_000;

/**
 * The webhook's event for `alert`, with `stats` links over the rollout's current step (from its start to the
 * alert, at least five minutes), or the whole rollout before the first step.
 */
export function rolloutAlertEvent(
  alert: RolloutAlert,
  r: Pick<RolloutRecord, "created_at" | "step_started_at">,
): AlertEvent {
  const at = Date.parse(alert.at);
  const since = Date.parse(r.step_started_at ?? r.created_at);
  return alertEvent({
    type: alert.type,
    prompt: alert.prompt,
    env: alert.env,
    stable: alert.versions.stable,
    canary: alert.versions.canary,
    ...(alert.metric === null ? {} : { metric: alert.metric }),
    numbers: alert.numbers,
    verdict: alert.verdict,
    reason: alert.reason,
    at,
    sinceMs: Math.max(MIN_LINK_MS, Number.isFinite(since) ? at - since : 0),
  });
}
