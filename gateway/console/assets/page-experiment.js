// Experiment: the stats readout of a prompt on one environment as charts and pictures: per-version requests,
// users, quality, error rate, cost and latency over time (GET .../series), each comparison's interval drawn against
// zero with the verdict in words, and the sample-ratio check (GET .../stats). It refreshes itself.
import { api, errorText, seg } from "./api.js";
import { badge, field, h, note, replace, select, table } from "./dom.js";
import { ms, num, pct, signed, usd, when } from "./format.js";
import { lineChart } from "./chart.js";
import { intervalPlot } from "./widgets.js";

/**
 * @typedef {import("../../stats/stats-ops.ts").StatsView} StatsView
 * @typedef {import("../../stats/series.ts").StatsSeries} StatsSeries
 * @typedef {import("../../stats/series.ts").SeriesPoint} SeriesPoint
 * @typedef {import("../../stats/experiment.ts").Comparison} Comparison
 * @typedef {import("../../stats/experiment.ts").MdeReport} MdeReport
 * @typedef {import("../../stats/experiment.ts").SrmReport} SrmReport
 * @typedef {import("./main.js").PageContext} PageContext
 */

const WINDOWS = ["15m", "1h", "6h", "24h", "7d"];
const REFRESH_MS = 10_000;

/**
 * What is charted: a point's field, how it reads, and the least the y axis shows.
 * @type {[string, (p: SeriesPoint) => number | null, (v: number) => string, number][]}
 */
const CHARTS = [
  ["Requests", (p) => p.requests, (v) => String(Math.round(v)), 5],
  ["Users", (p) => p.users, (v) => String(Math.round(v)), 5],
  ["Quality (mean feedback score)", (p) => p.quality_mean, (v) => num(v, 2), 0.9],
  ["Error rate", (p) => p.error_rate, (v) => pct(v, 1), 0.05],
  ["Cost per request", (p) => p.cost_per_request_usd, (v) => usd(v), 1e-6],
  ["Latency p95", (p) => p.latency_p95_ms, (v) => ms(v), 10],
];

const METRIC_NAMES = /** @type {Record<string, string>} */ ({
  quality: "quality",
  error_rate: "error rate",
  thumbs_down_rate: "thumbs-down rate",
});

/** @param {PageContext} ctx */
export const title = (ctx) => `Experiment · ${ctx.params[0] ?? ""}@${ctx.params[1] ?? ""}`;

/** @param {PageContext} ctx */
export async function render(ctx) {
  const [name = "", env = ""] = ctx.params;
  const since = WINDOWS.includes(ctx.query.get("since") ?? "") ? /** @type {string} */ (ctx.query.get("since")) : "1h";
  const q = `env=${seg(env)}&since=${seg(since)}`;
  const load = () =>
    Promise.all([
      /** @type {Promise<StatsView>} */ (api(`/prompts/${seg(name)}/stats?${q}`, { signal: ctx.signal })),
      /** @type {Promise<StatsSeries>} */ (api(`/prompts/${seg(name)}/series?${q}`, { signal: ctx.signal })),
    ]);
  let [stats, series] = await load();

  const windowSelect = select("since", WINDOWS, since, (v) => {
    location.hash = `#/experiment/${seg(name)}/${seg(env)}?since=${seg(v)}`;
  });
  const auto = h("input", { type: "checkbox", name: "auto-refresh", checked: true });
  const updated = h("span", { class: "muted updated" });
  const versionsBox = h("div", { class: "versions-table" });
  const comparisonsBox = h("div", { class: "comparisons" });
  const srmBox = h("div", { class: "srm" });
  const chartsBox = h("div", { class: "charts" });
  const status = h("div", { class: "status" });

  const times = () => series.versions[0]?.points.map((p) => Date.parse(p.t) / 1000) ?? [];
  /** @param {(p: SeriesPoint) => number | null} pick */
  const values = (pick) => series.versions.map((v) => v.points.map(pick));
  const charts = await Promise.all(
    CHARTS.map(([label, pick, format, floor]) =>
      lineChart({
        title: label,
        versions: series.versions.map((v) => v.version),
        times: times(),
        values: values(pick),
        format,
        floor,
      }),
    ),
  );
  replace(
    chartsBox,
    charts.map((c) => c.node),
  );
  const chartedVersions = series.versions.map((v) => v.version).join(",");

  const draw = () => {
    replace(versionsBox, versionsTable(stats));
    replace(comparisonsBox, comparisons(stats), informational(stats));
    replace(srmBox, srm(stats.srm));
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  };
  draw();

  ctx.every(REFRESH_MS, async () => {
    if (!auto.checked) return;
    try {
      [stats, series] = await load();
      draw();
      // A version that starts or stops serving changes the lines: draw the page again rather than patch it.
      if (series.versions.map((v) => v.version).join(",") !== chartedVersions) return ctx.rerender();
      charts.forEach((c, i) =>
        c.update(times(), values(/** @type {(p: SeriesPoint) => number | null} */ (CHARTS[i]?.[1]))),
      );
      replace(status);
    } catch (err) {
      replace(status, note("error", errorText(err)));
    }
  });

  return h(
    "section",
    { class: "page experiment" },
    h("h1", {}, h("a", { href: `#/prompt/${seg(name)}` }, name), ` · experiment on ${env}`),
    h(
      "div",
      { class: "row" },
      field("Window", windowSelect),
      h("label", { class: "inline" }, auto, " refresh every 10 s"),
      updated,
    ),
    status,
    h(
      "p",
      { class: "muted" },
      `From ${when(stats.from)} to ${when(stats.to)}; stable: ${stats.stable ?? "none served"}; feedback metric: ${stats.metric}.`,
    ),
    versionsBox,
    h("h2", {}, "Comparisons"),
    comparisonsBox,
    h("h2", {}, "Split check"),
    srmBox,
    h("h2", {}, "Over time"),
    chartsBox,
  );
}

/** @param {StatsView} s */
function versionsTable(s) {
  if (s.versions.length === 0) return note("info", "No version served in this window.");
  return table(
    [
      "Version",
      "Weight",
      "Users",
      "Requests",
      "Error rate",
      "Quality",
      "Thumbs up/down",
      "Cost / request",
      "p50",
      "p95",
    ],
    s.versions.map((v) => [
      h("span", {}, v.version, " ", badge(v.variant, v.variant === "stable" ? "info" : "")),
      v.weight === null ? "–" : String(v.weight),
      v.users === null ? "–" : String(v.users),
      String(v.requests),
      pct(v.error_rate),
      v.quality.n === 0 ? "–" : `${num(v.quality.mean)} (n=${v.quality.n})`,
      `${v.thumbs.up}/${v.thumbs.down}`,
      usd(v.cost_per_request_usd),
      ms(v.latency_ms.p50),
      ms(v.latency_ms.p95),
    ]),
    "stats-versions",
  );
}

/** How a metric's difference reads. @param {string} metric */
const shower = (metric) =>
  metric === "error_rate" || metric === "thumbs_down_rate"
    ? (/** @type {number} */ v) => `${signed(v * 100, (x) => x.toFixed(2))} pt`
    : (/** @type {number} */ v) => signed(v, (x) => x.toFixed(3));

/** @param {StatsView} s */
function comparisons(s) {
  if (s.stable === null) return note("info", "No stable version served in this window: nothing to compare against.");
  if (s.comparisons.length === 0)
    return note("info", `Only the stable version (${s.stable}) served: nothing to compare.`);
  return s.comparisons.map((c) => {
    const mde = s.mde.comparisons.find((m) => m.metric === c.metric && m.treatment === c.treatment);
    const show = shower(c.metric);
    return h(
      "div",
      { class: `comparison ${c.verdict}`, data: { metric: c.metric, treatment: c.treatment } },
      h(
        "div",
        { class: "comparison-head" },
        badge(
          c.verdict.replace("_", " "),
          c.verdict === "better" ? "ok" : c.verdict === "worse" ? "bad" : c.verdict === "too_early" ? "" : "info",
        ),
        h("strong", {}, ` ${c.treatment} vs ${c.control}`),
        ` on ${METRIC_NAMES[c.metric] ?? c.metric}`,
      ),
      h("p", { class: "words" }, words(c, mde)),
      intervalPlot({
        low: c.ci_low,
        high: c.ci_high,
        low2: c.seq_ci_low,
        high2: c.seq_ci_high,
        point: c.diff,
        show,
        label: `${c.metric}: difference ${c.diff ?? "unknown"} against zero`,
      }),
      h(
        "div",
        { class: "legend muted" },
        "thin: 95% interval for one look · thick: always-valid (sequential) interval · dot: difference · line: zero",
      ),
    );
  });
}

/** Mean latency and cost per request, compared for information (no verdict is drawn from them). @param {StatsView} s */
function informational(s) {
  const rows = s.informational.filter((i) => i.diff !== null);
  if (rows.length === 0) return null;
  /** @param {string} metric */
  const show = (metric) =>
    metric === "latency_ms"
      ? (/** @type {number} */ v) => `${signed(v, (x) => x.toFixed(1))} ms`
      : (/** @type {number} */ v) => signed(v, (x) => usd(x));
  return h(
    "div",
    { class: "informational" },
    h("h3", {}, "For information (no verdict is drawn from these)"),
    table(
      ["Compared", "Metric", "Control", "Treatment", "Difference (95% CI)", "p"],
      rows.map((i) => {
        const f = show(i.metric);
        return [
          `${i.treatment} vs ${i.control}`,
          i.metric === "latency_ms" ? "mean latency" : "cost per request",
          i.control_mean === null ? "–" : i.metric === "latency_ms" ? ms(i.control_mean) : usd(i.control_mean),
          i.treatment_mean === null ? "–" : i.metric === "latency_ms" ? ms(i.treatment_mean) : usd(i.treatment_mean),
          `${f(/** @type {number} */ (i.diff))}${i.ci_low === null || i.ci_high === null ? "" : ` (${f(i.ci_low)} to ${f(i.ci_high)})`}`,
          i.p_value === null ? "–" : i.p_value.toPrecision(3),
        ];
      }),
      "informational-table",
    ),
  );
}

/** The verdict in words. @param {Comparison} c @param {MdeReport | undefined} mde */
function words(c, mde) {
  const name = METRIC_NAMES[c.metric] ?? c.metric;
  const show = shower(c.metric);
  const ci = c.ci_low === null || c.ci_high === null ? "" : ` (95% CI ${show(c.ci_low)} to ${show(c.ci_high)})`;
  const seq =
    c.seq_ci_low === null || c.seq_ci_high === null
      ? ""
      : `; always-valid interval ${show(c.seq_ci_low)} to ${show(c.seq_ci_high)}`;
  const so = `${c.diff === null ? "no difference measured yet" : show(c.diff)}${ci}${seq}`;
  const effect = mde === undefined ? "" : show(mde.effect).replace(/^[+−±]/, "");
  switch (c.verdict) {
    case "better":
    case "worse":
      return `${c.treatment} is ${c.verdict} than ${c.control} on ${name}: ${so}. The always-valid interval excludes zero: this holds however often the page is looked at.`;
    case "no_difference":
      return `${c.treatment} and ${c.control} do not differ on ${name} by ${effect || "the effect that matters"} or more: ${so}.`;
    case "too_early": {
      const need =
        mde?.users_needed != null && mde.users !== null
          ? `${mde.users} of ~${mde.users_needed} users needed to see a ${effect} effect`
          : "not enough data yet";
      return `Too early to tell on ${name}: ${need}. So far ${so}.`;
    }
  }
}

/** @param {SrmReport | null} r */
function srm(r) {
  if (r === null) return note("info", "Fewer than two versions shared the traffic: there is no split to check.");
  const basis =
    r.basis === "current_step"
      ? `since the weights last changed (${when(r.since)})`
      : `over the window (since ${when(r.since)})`;
  const rows = r.versions.map((v, i) => [v, String(r.observed[i] ?? 0), String(Math.round(r.expected[i] ?? 0))]);
  return h(
    "div",
    {},
    r.p_value === null
      ? note("info", `No users counted ${basis}.`)
      : r.mismatch
        ? note(
            "error",
            `Sample ratio mismatch ${basis} (p=${r.p_value.toPrecision(3)}): the users each version saw do not fit its weight, so the comparisons are not to be trusted. Look for something in front of the gateway that drops, caches or retries one version's traffic.`,
          )
        : note("ok", `The users match the weights ${basis} (p=${r.p_value.toPrecision(3)}).`),
    table(["Version", "Users seen", "Users expected"], rows, "srm-table"),
  );
}
