// Prompts: every prompt with its versions, what dev, staging and prod point at, the live canary split, active
// rollouts, the latest eval run, and the requests and cost of the last hour.
import { api, optional, seg } from "./api.js";
import { badge, h, note, table } from "./dom.js";
import { ago, pct, usd } from "./format.js";
import { shareBar, stateKind } from "./widgets.js";

/**
 * @typedef {import("../../stats/prompt-overview.ts").Overview} Overview
 * @typedef {import("../../stats/prompt-overview.ts").PromptOverview} PromptOverview
 * @typedef {import("../../stats/prompt-overview.ts").EnvironmentOverview} EnvironmentOverview
 * @typedef {import("../../rollouts/record.ts").RolloutRecord} RolloutRecord
 * @typedef {import("./main.js").PageContext} PageContext
 */

export const title = () => "Prompts";

/** @param {PageContext} ctx */
export async function render(ctx) {
  const [overview, found] = await Promise.all([
    /** @type {Promise<Overview>} */ (api("/overview?since=1h", { signal: ctx.signal })),
    /** @type {Promise<{ rollouts: RolloutRecord[] } | null>} */ (optional("/rollouts?active=true", ctx.signal)),
  ]);
  const rollouts = found?.rollouts ?? null;
  const active = new Map((rollouts ?? []).map((r) => [`${r.prompt}:${r.env}`, r]));
  const root = h("section", { class: "page prompts" }, h("h1", {}, "Prompts"));
  if (overview.prompts.length === 0) {
    root.append(note("info", "No prompt is registered yet: push one with `promptgate push` or POST /admin/prompts."));
    return root;
  }
  root.append(
    table(
      ["Prompt", "Versions", "dev", "staging", "prod", "Last hour", "Last eval"],
      overview.prompts.map((p) => [
        h("a", { href: `#/prompt/${seg(p.name)}`, class: "prompt-name" }, p.name),
        h("span", { class: "versions" }, p.versions.join(", ")),
        ...p.environments.map((e) => envCell(p, e, active.get(`${p.name}:${e.env}`))),
        lastHour(p),
        lastEval(p),
      ]),
      "overview",
    ),
  );
  root.append(h("h2", {}, "Active rollouts"));
  if (rollouts === null) root.append(note("info", "This gateway's admin API has no rollouts."));
  else if (rollouts.length === 0) root.append(h("p", { class: "muted" }, "No rollout is running."));
  else
    root.append(
      table(
        ["Prompt", "Env", "Canary", "State", "Step", "Why"],
        rollouts.map((r) => [
          h("a", { href: `#/rollout/${seg(r.prompt)}/${seg(r.env)}` }, r.prompt),
          r.env,
          `${r.stable_version} → ${r.canary_version}`,
          badge(r.state, stateKind(r.state)),
          `${r.steps[r.step_index] ?? "–"}% (step ${r.step_index + 1} of ${r.steps.length})`,
          r.reason,
        ]),
      ),
    );
  return root;
}

/**
 * @param {PromptOverview} p
 * @param {EnvironmentOverview} e
 * @param {RolloutRecord | undefined} rollout
 */
function envCell(p, e, rollout) {
  if (e.version === null) return h("span", { class: "muted" }, "–");
  return h(
    "div",
    { class: "env-cell", data: { env: e.env } },
    h("a", { class: "label-version", href: `#/prompt/${seg(p.name)}` }, e.version),
    e.shares.length > 1 ? shareBar(e.shares) : null,
    e.problems.length > 0 ? badge("weights ignored", "warn") : null,
    rollout === undefined
      ? null
      : h(
          "a",
          { href: `#/rollout/${seg(p.name)}/${seg(e.env)}`, class: "rollout-link" },
          badge(`rollout ${rollout.state} ${rollout.steps[rollout.step_index] ?? ""}%`, stateKind(rollout.state)),
        ),
    h(
      "div",
      { class: "env-links" },
      h("a", { href: `#/experiment/${seg(p.name)}/${seg(e.env)}` }, "experiment"),
      h("a", { href: `#/weights/${seg(p.name)}/${seg(e.env)}` }, "weights"),
    ),
  );
}

/** @param {PromptOverview} p */
function lastHour(p) {
  const used = p.environments.filter((e) => e.requests > 0);
  if (used.length === 0) return h("span", { class: "muted" }, "no requests");
  return h(
    "div",
    { class: "last-hour" },
    used.map((e) =>
      h(
        "div",
        {},
        `${e.env}: ${e.requests} req`,
        e.errors > 0 ? ` (${pct(e.errors / e.requests)} errors)` : "",
        e.priced_requests > 0 ? ` · ${usd(e.cost_usd)}` : "",
      ),
    ),
  );
}

/** @param {PromptOverview} p */
function lastEval(p) {
  const e = p.last_eval;
  if (e === null) return h("span", { class: "muted" }, "none");
  return h(
    "a",
    { href: `#/evals/${seg(p.name)}` },
    badge(e.passed ? "passed" : "failed", e.passed ? "ok" : "bad"),
    ` ${e.version}, ${ago(e.finished_at)}`,
  );
}
