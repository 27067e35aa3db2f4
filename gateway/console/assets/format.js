// How the console writes numbers, money, durations and times: presentation only.

/** @param {number | null | undefined} x @param {number} [digits] */
export const num = (x, digits = 3) =>
  x === null || x === undefined || !Number.isFinite(x) ? "–" : String(Math.round(x * 10 ** digits) / 10 ** digits);

/** A share 0..1 as a percentage. @param {number | null | undefined} x @param {number} [digits] */
export const pct = (x, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? "–" : `${(x * 100).toFixed(digits)}%`;

/** A signed difference. @param {number | null | undefined} x @param {(v: number) => string} show */
export const signed = (x, show) =>
  x === null || x === undefined ? "–" : `${x > 0 ? "+" : x < 0 ? "−" : "±"}${show(Math.abs(x))}`;

/** USD, with enough digits for a fraction of a cent. @param {number | string | null | undefined} x */
export function usd(x) {
  if (x === null || x === undefined) return "–";
  const v = typeof x === "string" ? Number(x) : x;
  if (!Number.isFinite(v)) return "–";
  if (v === 0) return "$0";
  return Math.abs(v) >= 0.01 ? `$${v.toFixed(2)}` : `$${v.toPrecision(2)}`;
}

/** @param {number | null | undefined} x */
export const ms = (x) =>
  x === null || x === undefined ? "–" : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;

/** A duration in words. @param {number} millis */
export function duration(millis) {
  const s = Math.round(millis / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const hours = Math.round(m / 6) / 10;
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 2.4) / 10} d`;
}

/** An ISO time as local date and time, to the second. @param {string | null | undefined} iso */
export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** How long ago. @param {string | null | undefined} iso */
export function ago(iso) {
  if (!iso) return "–";
  const d = Date.now() - new Date(iso).getTime();
  return d < 0 ? "just now" : `${duration(d)} ago`;
}
