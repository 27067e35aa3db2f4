// Rollouts: every prompt's current or last rollout on each environment (GET /admin/rollouts), active ones first,
// each linked to its page; `?env=` keeps one environment.
import { optional, seg } from "./api.js";
import { badge, field, h, note, select, table } from "./dom.js";
import { ago } from "./format.js";
import { stateKind } from "./widgets.js";

/**
 * @typedef {import("../../rollouts/record.ts").RolloutRecord} RolloutRecord
 * @typedef {import("./main.js").PageContext} PageContext
 */

const TERMINAL = new Set(["succeeded", "failed", "aborted"]);

export const title = () => "Rollouts";

/** @param {PageContext} ctx */
export async function render(ctx) {
  const env = ctx.query.get("env") ?? "";
  const found = /** @type {{ rollouts: RolloutRecord[] } | null} */ (
    await optional(`/rollouts?active=false${env ? `&env=${seg(env)}` : ""}`, ctx.signal)
  );
  const envSelect = select("env", [["", "every environment"], "dev", "staging", "prod"], env, (v) => {
    location.hash = v ? `#/rollouts?env=${seg(v)}` : "#/rollouts";
  });
  const root = h(
    "section",
    { class: "page rollouts" },
    h("h1", {}, "Rollouts"),
    h("div", { class: "row" }, field("Environment", envSelect)),
  );
  if (found === null) {
    root.append(note("info", "This gateway's admin API has no rollouts."));
    return root;
  }
  if (found.rollouts.length === 0) {
    root.append(
      note("info", "No rollout was ever started here: `promptgate rollout start <name> <version> --env <env>`."),
    );
    return root;
  }
  const sorted = [...found.rollouts].sort(
    (a, b) => Number(TERMINAL.has(a.state)) - Number(TERMINAL.has(b.state)) || (a.updated_at < b.updated_at ? 1 : -1),
  );
  root.append(
    table(
      ["Prompt", "Env", "Canary", "State", "Step", "Updated", "Why"],
      sorted.map((r) => [
        h("a", { href: `#/rollout/${seg(r.prompt)}/${seg(r.env)}` }, r.prompt),
        r.env,
        `${r.stable_version} → ${r.canary_version}`,
        badge(r.state, stateKind(r.state)),
        `${r.steps[r.step_index] ?? "–"}% (step ${r.step_index + 1} of ${r.steps.length})`,
        ago(r.updated_at),
        r.reason,
      ]),
      "rollouts-table",
    ),
  );
  return root;
}
