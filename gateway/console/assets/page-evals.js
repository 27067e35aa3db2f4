// Evals: a prompt's eval runs per version, newest first, with their pass rates, the baseline comparison (the
// paired regression gate) and the worst cases (GET /admin/prompts/:name/evals).
import { api, seg } from "./api.js";
import { badge, h, note, table } from "./dom.js";
import { ago, num, pct, usd, when } from "./format.js";

/**
 * @typedef {import("../../registry/prompt-ops.ts").PromptEvals} PromptEvals
 * @typedef {import("../../registry/eval-records.ts").EvalRecord} EvalRecord
 * @typedef {import("../../evals/gate.ts").GateResult} GateResult
 * @typedef {import("./main.js").PageContext} PageContext
 */

/** @param {PageContext} ctx */
export const title = (ctx) => `Evals · ${ctx.params[0] ?? ""}`;

/** @param {PageContext} ctx */
export async function render(ctx) {
  const name = ctx.params[0] ?? "";
  const data = /** @type {PromptEvals} */ (await api(`/prompts/${seg(name)}/evals`, { signal: ctx.signal }));
  const root = h(
    "section",
    { class: "page evals" },
    h("h1", {}, h("a", { href: `#/prompt/${seg(name)}` }, name), " · eval runs"),
    data.suite === null
      ? note("info", `${name} has no evaluation suite: its promotions are not gated on evaluations.`)
      : h(
          "p",
          { class: "muted" },
          `Promotions to staging and prod need a passing run on suite ${data.suite.hash.slice(0, 12)} (set ${ago(data.suite.at)} by ${data.suite.by}).`,
        ),
  );
  if (data.evals.length === 0) {
    root.append(note("info", "No eval run was recorded: run `promptgate eval` for a version."));
    return root;
  }
  const runs = [...data.evals].reverse();
  const versions = [...new Set(runs.map((r) => r.version))];
  root.append(
    h("h2", {}, "Latest run per version"),
    table(
      ["Version", "Result", "When", "Cases", "Pass rates", "Baseline"],
      versions.map((v) => {
        const r = /** @type {EvalRecord} */ (runs.find((x) => x.version === v));
        return [v, resultBadge(r), ago(r.finished_at), String(r.cases), passRates(r), r.baseline?.version ?? "–"];
      }),
      "eval-versions",
    ),
    h("h2", {}, "Runs"),
    h(
      "div",
      { class: "runs" },
      runs.map((r) => runCard(r)),
    ),
  );
  return root;
}

/** @param {EvalRecord} r */
const resultBadge = (r) => badge(r.passed ? "passed" : "failed", r.passed ? "ok" : "bad");

/** @param {EvalRecord} r */
function passRates(r) {
  return h(
    "div",
    { class: "pass-rates" },
    Object.entries(r.metrics).map(([m, s]) =>
      h(
        "div",
        { class: "pass-rate" },
        h("span", { class: "metric" }, m),
        h("span", { class: "meter" }, h("span", { style: { width: pct(s.pass_rate ?? 0) } })),
        h("span", {}, `${pct(s.pass_rate)} (mean ${num(s.mean)})`),
      ),
    ),
  );
}

/** @param {EvalRecord} r */
function runCard(r) {
  const gate = /** @type {GateResult | null} */ (r.gate);
  return h(
    "details",
    { class: "run-card", data: { version: r.version } },
    h(
      "summary",
      {},
      resultBadge(r),
      ` ${r.version} · ${when(r.finished_at)} · ${r.cases} cases`,
      r.grader_errors > 0 ? ` · ${r.grader_errors} grader errors` : "",
      ` · ${usd(r.cost_usd)} · by ${r.by}`,
    ),
    h("p", { class: "muted" }, `Suite ${r.suite}; judges: ${r.judges.join(", ") || "none"}.`),
    passRates(r),
    gate === null
      ? h("p", { class: "muted" }, "No baseline comparison in this run.")
      : h(
          "div",
          { class: "gate" },
          h("h4", {}, `Against ${r.baseline?.version ?? "the baseline"}: gate ${gate.passed ? "passed" : "failed"}`),
          table(
            ["Metric", "Test", "Pairs", "Baseline", "Candidate", "Diff", "Interval", "Verdict"],
            (gate.metrics ?? []).map((m) => [
              m.metric,
              m.test,
              String(m.n),
              num(m.baseline_mean),
              num(m.candidate_mean),
              num(m.diff),
              m.ci_low === null || m.ci_high === null ? "–" : `${num(m.ci_low)} .. ${num(m.ci_high)}`,
              h("span", { title: m.reason }, m.verdict.replaceAll("_", " ")),
            ]),
          ),
          (gate.failures ?? []).map((f) => note("warn", f)),
        ),
    (r.worst_cases ?? []).length === 0
      ? null
      : h(
          "div",
          { class: "worst" },
          h("h4", {}, "Worst cases"),
          table(
            ["Case", "Score", "Result", "Variables", "Output", "Reason"],
            (r.worst_cases ?? []).map((c) => [
              c.case_id,
              num(c.score),
              c.passed === null ? "undecided" : c.passed ? "passed" : "failed",
              h("code", {}, c.vars),
              h("pre", { class: "clip" }, c.output),
              c.reason,
            ]),
          ),
        ),
  );
}
