// Time-series charts with uPlot (served from node_modules at /console/vendor/uplot.js, loaded on first use):
// one line per version, gaps where a step had no data.
import { h } from "./dom.js";
import { colour } from "./widgets.js";

/**
 * @typedef {typeof import("uplot")} UPlotClass
 * @typedef {import("uplot")} UPlot
 * @typedef {import("uplot").AlignedData} AlignedData
 */

const UPLOT_URL = "/console/vendor/uplot.js";
/** @type {Promise<UPlotClass> | null} */
let loading = null;

/** @returns {Promise<UPlotClass>} */
function uPlotClass() {
  loading ??= /** @type {Promise<{ default: UPlotClass }>} */ (import(UPLOT_URL)).then((m) => m.default);
  return loading;
}

/**
 * A chart of one quantity per version over time, and a function that gives it new data.
 * @param {{ title: string, versions: readonly string[], times: readonly number[], values: readonly (readonly (number | null)[])[],
 *   format: (v: number) => string, floor?: number }} o  `floor`: the y axis runs from 0 to at least this
 * @returns {Promise<{ node: HTMLElement, update: (times: readonly number[], values: readonly (readonly (number | null)[])[]) => void }>}
 */
export async function lineChart(o) {
  const UPlot = await uPlotClass();
  const target = h("div", { class: "chart-body" });
  const node = h("figure", { class: "chart", data: { chart: o.title } }, h("figcaption", {}, o.title), target);
  /** @param {readonly number[]} times @param {readonly (readonly (number | null)[])[]} values */
  const data = (times, values) => /** @type {AlignedData} */ ([[...times], ...values.map((v) => [...v])]);
  const plot = new UPlot(
    {
      // Sized to the figure once it is on the page, and again whenever the figure changes size.
      width: 300,
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        // Counts, rates, scores, money and times are never negative: start at zero, so that a flat line reads flat.
        y: { range: (_u, _min, max) => [0, Math.max(max ?? 0, o.floor ?? 1) * 1.1] },
      },
      axes: [
        // Time labels ("12:50pm") need more room between ticks than uPlot's default, or they run together.
        { stroke: "#555", grid: { stroke: "#eee" }, space: 70 },
        {
          stroke: "#555",
          grid: { stroke: "#eee" },
          // Wide enough for the longest label drawn (money in millionths of a dollar is ten characters).
          size: (_u, labels) => 24 + 7 * Math.max(4, ...(labels ?? []).map((l) => String(l).length)),
          values: (_u, ticks) => ticks.map((t) => o.format(t)),
        },
      ],
      series: [
        {},
        ...o.versions.map((v, i) => ({
          label: v,
          stroke: colour(i),
          width: 2,
          spanGaps: false,
          points: { show: true, size: 4 },
          value: (/** @type {UPlot} */ _u, /** @type {number | null} */ x) => (x === null ? "–" : o.format(x)),
        })),
      ],
    },
    data(o.times, o.values),
    target,
  );
  new ResizeObserver(() => {
    const width = Math.floor(target.clientWidth);
    if (width > 0 && width !== plot.width) plot.setSize({ width, height: 180 });
  }).observe(target);
  return { node, update: (times, values) => plot.setData(data(times, values)) };
}
