// Pieces several pages draw: a split as a bar, an interval against zero (or a margin), a state's colour.
import { h } from "./dom.js";

/** @typedef {import("../../registry/weights-ops.ts").WeightShare} WeightShare */

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
/** A version's colour, the same on every chart of a page. @param {number} i */
export const colour = (i) => COLOURS[i % COLOURS.length] ?? "#555";

/** The share of users each version gets, as one bar with a legend. @param {readonly WeightShare[]} shares */
export function shareBar(shares) {
  return h(
    "div",
    { class: "share" },
    h(
      "div",
      { class: "share-bar", role: "img", aria: { label: shares.map((s) => `${s.version} ${s.percent}%`).join(", ") } },
      shares.map((s, i) =>
        h("span", { style: { width: `${s.percent}%`, background: colour(i) }, title: `${s.version}: ${s.percent}%` }),
      ),
    ),
    h(
      "div",
      { class: "share-legend" },
      shares.map((s, i) => h("span", {}, h("i", { style: { background: colour(i) } }), `${s.version} ${s.percent}%`)),
    ),
  );
}

/** @param {string} state */
export function stateKind(state) {
  if (state === "succeeded") return "ok";
  if (state === "failed" || state === "rolling_back" || state === "aborted") return "bad";
  if (state === "paused") return "warn";
  return "info";
}

/**
 * An interval on an axis with a reference line at zero (and one at `margin` when given): where the interval
 * lies against zero is the comparison's answer at a glance.
 * @param {{ low: number | null, high: number | null, point: number | null, low2?: number | null, high2?: number | null,
 *   margin?: number | null, show: (v: number) => string, label?: string }} o
 */
export function intervalPlot(o) {
  if (o.low === null && o.point === null && (o.low2 ?? null) === null)
    return h("div", { class: "interval none muted" }, "No interval yet: not enough data on both sides.");
  const values = [0, o.low, o.high, o.point, o.low2 ?? null, o.high2 ?? null, o.margin ?? null].filter(
    /** @returns {v is number} */ (v) => v !== null && Number.isFinite(v),
  );
  const span = Math.max(...values.map((v) => Math.abs(v)), 1e-12) * 1.15;
  /** @param {number} v */
  const at = (v) => `${((v + span) / (2 * span)) * 100}%`;
  const parts = [h("span", { class: "zero", style: { left: at(0) }, title: "0" })];
  if (o.margin !== undefined && o.margin !== null)
    parts.push(h("span", { class: "margin", style: { left: at(o.margin) }, title: `margin ${o.show(o.margin)}` }));
  if (o.low2 !== undefined && o.low2 !== null && o.high2 !== undefined && o.high2 !== null)
    parts.push(
      h("span", {
        class: "ci seq",
        style: { left: at(o.low2), width: `calc(${at(o.high2)} - ${at(o.low2)})` },
        title: `sequential ${o.show(o.low2)} .. ${o.show(o.high2)}`,
      }),
    );
  if (o.low !== null && o.high !== null)
    parts.push(
      h("span", {
        class: "ci",
        style: { left: at(o.low), width: `calc(${at(o.high)} - ${at(o.low)})` },
        title: `${o.show(o.low)} .. ${o.show(o.high)}`,
      }),
    );
  if (o.point !== null) parts.push(h("span", { class: "point", style: { left: at(o.point) } }));
  return h(
    "div",
    { class: "interval", role: "img", aria: { label: o.label ?? "interval" } },
    h("div", { class: "axis" }, parts),
    h("div", { class: "axis-labels" }, h("span", {}, o.show(-span)), h("span", {}, "0"), h("span", {}, o.show(span))),
  );
}
