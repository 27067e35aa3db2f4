// What an alert is: the JSON body POSTed to ALERT_WEBHOOK_URL for a rollout's transitions and for a
// production regression. Plain data, built by the rollout controller and the regression watch; the
// sender (webhook-sender.ts) only delivers it.

export const ALERT_TYPES = [
  "started",
  "advanced",
  "paused",
  "resumed",
  "rolled_back",
  "succeeded",
  "aborted",
  "production_regression",
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/** What the alert concludes: the guardrail or detector's reading, in one word. */
export type AlertVerdict = "pass" | "fail" | "worse" | "no_data" | "operator" | "info";

/** A figure of the alert: a number, or null where the statistic is undefined (no data yet). */
export type AlertNumber = number | null;

export interface AlertLinks {
  /** The CLI command that shows the numbers behind the alert. */
  readonly stats: string;
  /** The admin API path of the same readout (relative to the gateway's base URL). */
  readonly admin: string;
}

export interface AlertEvent {
  readonly type: AlertType;
  readonly prompt: string;
  readonly env: string;
  /** `stable`: the label's version; `canary`: the version rolled out (or, for a regression, the live version). */
  readonly versions: { readonly stable: string | null; readonly canary: string | null };
  /** The metric at fault (`error_rate`, `p95_latency`, `cost_per_request`, `quality`, `thumbs_down_rate`). */
  readonly metric?: string;
  readonly numbers: Readonly<Record<string, AlertNumber>>;
  readonly verdict: AlertVerdict;
  /** One sentence a person can act on. */
  readonly reason: string;
  /** ISO time the event happened. */
  readonly at: string;
  readonly links: AlertLinks;
}

/** A window for the `stats` link: whole minutes, hours or days covering `ms` (at least 1 minute, at most 14 days). */
export function sinceOf(ms: number): string {
  const minutes = Math.min(14 * 24 * 60, Math.max(1, Math.ceil(ms / 60_000)));
  if (minutes % (24 * 60) === 0) return `${minutes / (24 * 60)}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}m`;
}

/** The links of an alert: the `stats` command and the admin path over the window `sinceMs` before `at`. */
export function alertLinks(prompt: string, env: string, sinceMs: number): AlertLinks {
  const since = sinceOf(sinceMs);
  return {
    stats: `promptgate stats ${prompt} --env ${env} --since ${since}`,
    admin: `/admin/prompts/${encodeURIComponent(prompt)}/stats?env=${encodeURIComponent(env)}&since=${since}`,
  };
}

export interface AlertInput {
  readonly type: AlertType;
  readonly prompt: string;
  readonly env: string;
  readonly stable: string | null;
  readonly canary: string | null;
  readonly metric?: string;
  readonly numbers?: Readonly<Record<string, AlertNumber>>;
  readonly verdict: AlertVerdict;
  readonly reason: string;
  /** Epoch ms. */
  readonly at: number;
  /** The window the `stats` link covers (the step's or the detector's); default 1 hour. */
  readonly sinceMs?: number;
}

/** Builds an alert event; numbers that are not finite become null (JSON has no NaN). */
export function alertEvent(input: AlertInput): AlertEvent {
  const numbers: Record<string, AlertNumber> = {};
  for (const [k, v] of Object.entries(input.numbers ?? {})) numbers[k] = v !== null && Number.isFinite(v) ? v : null;
  return {
    type: input.type,
    prompt: input.prompt,
    env: input.env,
    versions: { stable: input.stable, canary: input.canary },
    ...(input.metric === undefined ? {} : { metric: input.metric }),
    numbers,
    verdict: input.verdict,
    reason: input.reason,
    at: new Date(input.at).toISOString(),
    links: alertLinks(input.prompt, input.env, input.sinceMs ?? 60 * 60_000),
  };
}
