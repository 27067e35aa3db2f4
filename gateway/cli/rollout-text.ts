// How `promptgate rollout` prints rollouts for people: the status of one (state, step, weights, the last
// evaluation's guardrails, the transitions), its full evaluation log, and the list of all. Scripts get the stored record
// with --json, plus the commands its state allows.
import type { GuardrailResult } from "../rollouts/guardrails.ts";
import type { RolloutView } from "../rollouts/machine.ts";
import type { Evaluation, RolloutRecord } from "../rollouts/record.ts";
import { formatDuration } from "../support/duration.ts";
import { table } from "./output.ts";

/** The canary's share of what the rollout last wrote, as text: `25%`, `0%`, `cleared` or `-` (nothing written yet). */
export function canaryWeight(r: RolloutRecord): string {
  const w = r.written_weights;
  if (w === null) return "-";
  const total = Object.values(w).reduce((a, b) => a + b, 0);
  if (total === 0) return "cleared";
  return `${Number((((w[r.canary_version] ?? 0) * 100) / total).toFixed(2))}%`;
}

/** `step 2 of 4 (25%)` while the rollout has a step; the state alone otherwise. */
export function stepText(r: RolloutRecord): string {
  const at = `step ${r.step_index + 1} of ${r.steps.length} (${r.steps[r.step_index]}%)`;
  switch (r.state) {
    case "step":
      return at;
    case "paused":
      return `paused at ${at}`;
    case "pending":
      return `pending, to start at ${r.steps[0]}%`;
    case "rolling_back":
    case "promoting":
    case "succeeded":
    case "failed":
    case "aborted":
      return r.state.replace("_", " ");
  }
}

const num = (n: number | null): string => {
  if (n === null) return "-";
  if (n !== 0 && Math.abs(n) < 0.001) return n.toExponential(2);
  return String(Number(n.toPrecision(4)));
};

function guardrailRow(g: GuardrailResult): string[] {
  const interval = g.low === null || g.high === null ? "-" : `[${num(g.low)}, ${num(g.high)}]`;
  return [g.metric, g.status, num(g.stable), num(g.canary), num(g.diff), interval, num(g.margin), g.reason];
}

/** `rollout status`: everything an SRE needs to decide whether to step in. */
export function describeRollout(r: RolloutView): string {
  const settings =
    `steps ${r.steps.join(",")}, hold ${formatDuration(r.hold_ms)}, min users ${r.min_users} on each side, ` +
    `max duration ${formatDuration(r.max_duration_ms)}`;
  const lines = [
    `${r.prompt} on ${r.env}: ${stepText(r)}, canary weight ${canaryWeight(r)}`,
    `  state      ${r.state}${r.ending !== null && r.state === "rolling_back" ? ` (to end ${r.ending})` : ""}`,
    `  versions   stable ${r.stable_version}, canary ${r.canary_version}`,
    `  rollout    ${r.id}, started by ${r.created_by} at ${r.created_at}, updated ${r.updated_at}` +
      (r.finished_at === null ? "" : `, finished ${r.finished_at}`),
    `  settings   ${settings}`,
    `  reason     ${r.reason}`,
    `  commands   ${r.allowed_commands.length === 0 ? `none while ${r.state}` : r.allowed_commands.join(", ")}`,
    "",
  ];
  const last = r.evaluations.at(-1);
  if (last === undefined) {
    lines.push("last evaluation: none yet (the controller evaluates each step while it runs)", "");
  } else {
    const pair = (p: { stable: number; canary: number } | null): string =>
      p === null ? "-" : `stable ${p.stable}, canary ${p.canary}`;
    lines.push(
      `last evaluation at ${last.at}: ${last.decision}; users ${pair(last.users)}; requests ${pair(last.requests)}`,
    );
    lines.push(`  ${last.reason}`);
    if (last.guardrails.length > 0) {
      lines.push(
        table(
          ["metric", "status", "stable", "canary", "diff", "interval", "margin", "reason"],
          last.guardrails.map(guardrailRow),
        ).trimEnd(),
      );
    }
    lines.push("");
  }
  lines.push("transitions:");
  if (r.transitions.length === 0) lines.push("  none yet");
  else {
    lines.push(
      table(
        ["at", "from", "to", "step", "by", "reason"],
        r.transitions.map((t) => [t.at, t.from, t.to, t.step_index + 1, t.by, t.reason]),
      ).trimEnd(),
    );
  }
  return lines.join("\n") + "\n";
}

/** `rollout list`: one line per prompt and environment. */
export function rolloutTable(rollouts: readonly RolloutRecord[]): string {
  return table(
    ["prompt", "env", "state", "step", "weight", "stable", "canary", "started by", "updated"],
    rollouts.map((r) => [
      r.prompt,
      r.env,
      r.state,
      r.state === "pending" ? "-" : `${r.step_index + 1}/${r.steps.length}`,
      canaryWeight(r),
      r.stable_version,
      r.canary_version,
      r.created_by,
      r.updated_at,
    ]),
  );
}

/** `rollout status --evaluations`: every evaluation of the rollout, oldest first, one line each. */
export function evaluationTable(r: RolloutRecord, evaluations: readonly Evaluation[]): string {
  const head = `${r.prompt} on ${r.env}: rollout ${r.id}, ${stepText(r)}; ${evaluations.length} evaluations\n`;
  if (evaluations.length === 0) return head + "  none yet (the controller evaluates each step while it runs)\n";
  return (
    head +
    table(
      ["at", "step", "decision", "users stable", "users canary", "reason"],
      evaluations.map((e) => [
        e.at,
        e.canary_weight === null ? `${e.step_index + 1}` : `${e.step_index + 1} (${e.canary_weight}%)`,
        e.decision,
        e.users === null ? "-" : e.users.stable,
        e.users === null ? "-" : e.users.canary,
        e.reason,
      ]),
    )
  );
}
