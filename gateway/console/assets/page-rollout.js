// Rollout: a prompt's canary rollout on one environment: its steps on a timeline, the canary's weight now, each
// guardrail's interval against its margin from the latest evaluation, why it advanced, paused or rolled back, and
// the operator's buttons (POST .../rollouts/:env/pause|resume|abort|promote), each enabled only when the API says
// the state allows it (`allowed_commands`). It refreshes itself.
import { actor, api, errorText, optional, seg } from "./api.js";
import { badge, h, note, replace, table } from "./dom.js";
import { duration, num, pct, when } from "./format.js";
import { intervalPlot, stateKind } from "./widgets.js";

/**
 * @typedef {import("../../rollouts/machine.ts").RolloutView} RolloutView
 * @typedef {import("../../rollouts/record.ts").Evaluation} Evaluation
 * @typedef {import("../../rollouts/guardrails.ts").GuardrailResult} GuardrailResult
 * @typedef {import("./main.js").PageContext} PageContext
 */

const REFRESH_MS = 5_000;
const COMMANDS = /** @type {const} */ (["pause", "resume", "abort", "promote"]);
const TERMINAL = new Set(["succeeded", "failed", "aborted"]);

/** @param {PageContext} ctx */
export const title = (ctx) => `Rollout · ${ctx.params[0] ?? ""}@${ctx.params[1] ?? ""}`;

/** @param {PageContext} ctx */
export async function render(ctx) {
  const [name = "", env = ""] = ctx.params;
  const base = `/prompts/${seg(name)}/rollouts`;
  const load = async () => {
    const [record, history] = await Promise.all([
      /** @type {Promise<RolloutView | null>} */ (optional(`${base}/${seg(env)}`, ctx.signal)),
      /** @type {Promise<{ rollouts: RolloutView[] } | null>} */ (optional(`${base}?env=${seg(env)}`, ctx.signal)),
    ]);
    return { record, history: history?.rollouts ?? [] };
  };
  let state = await load();
  const body = h("div", { class: "rollout-body" });
  const result = h("div", { class: "result" });

  // Bumped by each command, so that a refresh that was already on its way does not draw the state before it.
  let generation = 0;
  /** @param {(typeof COMMANDS)[number]} command */
  const run = async (command) => {
    generation++;
    try {
      const r = /** @type {RolloutView} */ (await api(`${base}/${seg(env)}/${command}`, { body: { by: actor() } }));
      replace(result, note("ok", `${command}: the rollout is now ${r.state}. ${r.reason}`));
      state = { ...state, record: r };
      draw();
    } catch (err) {
      replace(result, note("error", errorText(err)));
    }
  };

  const draw = () => {
    const r = state.record;
    if (r === null) {
      replace(
        body,
        note(
          "info",
          `${name} has no rollout on ${env}. Start one with \`promptgate rollout start ${name} <version> --env ${env}\`.`,
        ),
      );
      return;
    }
    replace(
      body,
      h(
        "div",
        { class: "rollout-head" },
        badge(r.state, stateKind(r.state)),
        h("strong", {}, ` ${r.stable_version} → ${r.canary_version}`),
        h("span", { class: "muted" }, ` started ${when(r.created_at)} by ${r.created_by}`),
      ),
      h("p", { class: "reason" }, r.reason),
      h(
        "div",
        { class: "row commands" },
        COMMANDS.map((c) =>
          h(
            "button",
            {
              type: "button",
              class: c === "abort" ? "danger" : c === "promote" ? "primary" : "",
              disabled: !r.allowed_commands.includes(c),
              data: { command: c },
              on: { click: () => void run(c) },
            },
            c[0]?.toUpperCase() + c.slice(1),
          ),
        ),
      ),
      result,
      h("h2", {}, "Steps"),
      timeline(r),
      weightNow(r),
      h("h2", {}, "Guardrails"),
      guardrails(r),
      h("h2", {}, "What happened"),
      transitions(r),
      h("h2", {}, "Evaluations"),
      evaluations(r),
      state.history.length > 1
        ? [
            h("h2", {}, "Earlier rollouts"),
            table(
              ["Started", "Canary", "State", "Why"],
              state.history
                .slice(1)
                .map((x) => [
                  when(x.created_at),
                  `${x.stable_version} → ${x.canary_version}`,
                  badge(x.state, stateKind(x.state)),
                  x.reason,
                ]),
            ),
          ]
        : null,
    );
  };
  draw();
  ctx.every(REFRESH_MS, async () => {
    const asked = generation;
    const next = await load();
    if (asked !== generation) return;
    // A command's outcome is about the rollout it was given to: once another rollout has replaced it, it goes.
    if (next.record?.id !== state.record?.id) replace(result);
    state = next;
    draw();
  });
  return h(
    "section",
    { class: "page rollout" },
    h("h1", {}, h("a", { href: `#/prompt/${seg(name)}` }, name), ` · rollout on ${env}`),
    body,
  );
}

/** The steps, each with when it started. @param {RolloutView} r */
function timeline(r) {
  const started = (/** @type {number} */ i) =>
    r.transitions.find((t) => t.to === "step" && t.step_index === i)?.at ??
    r.evaluations.find((e) => e.step_index === i && (e.decision === "start" || e.decision === "advance"))?.at ??
    null;
  const done = (/** @type {number} */ i) => i < r.step_index || (i === r.step_index && r.state === "succeeded");
  return h(
    "ol",
    { class: "timeline" },
    r.steps.map((percent, i) => {
      const status = done(i)
        ? "done"
        : i === r.step_index && !TERMINAL.has(r.state)
          ? "current"
          : i === r.step_index
            ? "ended"
            : "future";
      const at = started(i);
      return h(
        "li",
        { class: `step ${status}`, data: { step: String(i), status } },
        h("div", { class: "dot" }),
        h("div", { class: "percent" }, `${percent}%`),
        h("div", { class: "muted" }, at === null ? (status === "future" ? "to come" : "–") : when(at)),
        status === "current" && r.step_started_at !== null
          ? h(
              "div",
              { class: "muted" },
              `held ${duration(Date.now() - Date.parse(r.step_started_at))} of ${duration(r.hold_ms)}`,
            )
          : null,
      );
    }),
  );
}

/** @param {RolloutView} r */
function weightNow(r) {
  const w = r.written_weights;
  if (w === null) return h("p", { class: "muted" }, "No weights written yet.");
  const total = Object.values(w).reduce((s, x) => s + x, 0);
  const canary = w[r.canary_version] ?? 0;
  return h(
    "p",
    { class: "weight-now" },
    total === 0
      ? "Weights cleared: 100% to the label's version."
      : `Canary ${r.canary_version} at ${pct(canary / total, 0)} of users (weights ${JSON.stringify(w)}).`,
    r.weights_confirmed ? "" : " Not yet read back from the store.",
  );
}

/** @param {RolloutView} r */
function guardrails(r) {
  const latest = [...r.evaluations].reverse().find((e) => e.guardrails.length > 0);
  if (latest === undefined) return note("info", "No guardrail has been evaluated yet.");
  return h(
    "div",
    {},
    h(
      "p",
      { class: "muted" },
      `Evaluated ${when(latest.at)} at step ${latest.step_index + 1} (${latest.canary_weight ?? "–"}%): ${latest.users?.stable ?? 0} stable and ${latest.users?.canary ?? 0} canary users.`,
    ),
    latest.guardrails.map((g) => guardrail(g)),
  );
}

/** @param {GuardrailResult} g */
function guardrail(g) {
  const rate = g.metric === "error_rate" || g.metric === "p95_latency";
  const show = rate
    ? (/** @type {number} */ v) => `${(v * 100).toFixed(2)} pt`
    : (/** @type {number} */ v) => num(v, 4);
  return h(
    "div",
    { class: `guardrail ${g.status}`, data: { metric: g.metric, status: g.status } },
    h(
      "div",
      { class: "comparison-head" },
      badge(g.status, g.status === "pass" ? "ok" : g.status === "fail" ? "bad" : ""),
      h("strong", {}, ` ${g.metric.replaceAll("_", " ")}`),
      h(
        "span",
        { class: "muted" },
        ` ${g.test === "hard_limit" ? "hard limit" : "sequential test"} · stable ${num(g.stable, 4)} (n=${g.stable_n}) · canary ${num(g.canary, 4)} (n=${g.canary_n})`,
      ),
    ),
    h("p", { class: "words" }, g.reason),
    intervalPlot({
      low: g.low,
      high: g.high,
      point: g.diff,
      margin: g.margin,
      show,
      label: `${g.metric} interval against its margin ${g.margin}`,
    }),
    h(
      "div",
      { class: "legend muted" },
      "bar: always-valid interval of canary − stable · dot: difference · line: zero · red line: the margin it must not cross",
    ),
  );
}

/** @param {RolloutView} r */
function transitions(r) {
  if (r.transitions.length === 0) return h("p", { class: "muted" }, "No transition yet.");
  return table(
    ["When", "From", "To", "Step", "By", "Why"],
    [...r.transitions]
      .reverse()
      .map((t) => [
        when(t.at),
        t.from,
        badge(t.to, stateKind(t.to)),
        `${r.steps[t.step_index] ?? "–"}%`,
        t.by,
        t.reason,
      ]),
    "transitions",
  );
}

/** @param {RolloutView} r */
function evaluations(r) {
  if (r.evaluations.length === 0) return h("p", { class: "muted" }, "No evaluation yet.");
  return table(
    ["When", "Step", "Users (stable/canary)", "Decision", "Why"],
    [...r.evaluations]
      .reverse()
      .slice(0, 30)
      .map((/** @type {Evaluation} */ e) => [
        when(e.at),
        `${e.canary_weight ?? "–"}%`,
        e.users === null ? "–" : `${e.users.stable}/${e.users.canary}`,
        badge(
          e.decision,
          e.decision === "rollback" ? "bad" : e.decision === "advance" || e.decision === "promote" ? "ok" : "",
        ),
        e.reason,
      ]),
    "evaluations",
  );
}
