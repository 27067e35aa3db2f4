// Weights: edit a prompt's canary split on one environment. Every edit is checked by the gateway before it can
// be saved (POST .../weights/:env/check: the rules a save applies, sums and registered versions included), and the
// save is the admin API's PUT, recorded in the audit history under the signed-in name.
import { api, errorText, seg } from "./api.js";
import { append, h, note, replace, table } from "./dom.js";
import { shareBar } from "./widgets.js";

/**
 * @typedef {import("../../registry/weights-ops.ts").WeightsView} WeightsView
 * @typedef {import("../../registry/weights-ops.ts").WeightsChange} WeightsChange
 * @typedef {import("../../registry/prompt-ops.ts").PromptSummary} PromptSummary
 * @typedef {import("./main.js").PageContext} PageContext
 */

/** @param {PageContext} ctx */
export const title = (ctx) => `Weights · ${ctx.params[0] ?? ""}@${ctx.params[1] ?? ""}`;

/** @param {PageContext} ctx */
export async function render(ctx) {
  const [name = "", env = ""] = ctx.params;
  const base = `/prompts/${seg(name)}/weights/${seg(env)}`;
  const [current, summary] = await Promise.all([
    /** @type {Promise<WeightsView>} */ (api(base, { signal: ctx.signal })),
    /** @type {Promise<PromptSummary>} */ (api(`/prompts/${seg(name)}`, { signal: ctx.signal })),
  ]);
  const root = h(
    "section",
    { class: "page weights" },
    h("h1", {}, h("a", { href: `#/prompt/${seg(name)}` }, name), ` · weights on ${env}`),
  );
  if (current.stable === null) {
    root.append(note("info", `${name} has no ${env} label: promote a version to ${env} before setting weights.`));
    return root;
  }
  const servedNow = h("div", { class: "served-now" }, shareBar(current.shares));
  append(root, [
    h("h2", {}, "Served now"),
    servedNow,
    current.problems.length > 0 ? note("warn", `The stored weights are ignored: ${current.problems.join("; ")}`) : null,
    current.notes.map((n) => note("info", n)),
  ]);

  /** @type {Map<string, HTMLInputElement>} */
  const inputs = new Map();
  for (const v of [...summary.versions].reverse()) {
    const raw = current.raw[v];
    inputs.set(
      v,
      h("input", { type: "text", inputmode: "numeric", name: `weight-${v}`, value: raw ?? "", placeholder: "–" }),
    );
  }
  const preview = h("div", { class: "preview" });
  const result = h("div", { class: "result" });
  const save = h("button", { type: "button", class: "primary", disabled: true }, "Save weights");
  const clear = h("button", { type: "button" }, "Stop the canary (100% to the label)");

  /** The weights as typed: blank fields are left out. @returns {Record<string, number> | string} */
  const proposal = () => {
    /** @type {Record<string, number>} */
    const out = {};
    for (const [v, input] of inputs) {
      const text = input.value.trim();
      if (text === "") continue;
      const n = Number(text);
      if (!Number.isFinite(n)) return `${v}: "${text}" is not a number`;
      out[v] = n;
    }
    return out;
  };

  let checking = 0;
  const check = async () => {
    const mine = ++checking;
    save.disabled = true;
    const p = proposal();
    if (typeof p === "string") return replace(preview, note("error", p));
    try {
      const view = /** @type {WeightsView} */ (await api(`${base}/check`, { body: { weights: p } }));
      if (mine !== checking) return;
      const total = Object.values(p).reduce((s, w) => s + w, 0);
      replace(
        preview,
        note("ok", `Valid: weights sum to ${total}; the split would be:`),
        shareBar(view.shares),
        view.notes.map((n) => note("info", n)),
      );
      save.disabled = false;
    } catch (err) {
      if (mine !== checking) return;
      replace(preview, note("error", errorText(err)));
    }
  };
  for (const input of inputs.values()) input.addEventListener("input", () => void check());

  /** @param {Record<string, number>} weights */
  const write = async (weights) => {
    save.disabled = true;
    try {
      const r = /** @type {WeightsChange & { actor: string }} */ (
        await api(base, { method: "PUT", body: { weights } })
      );
      replace(
        result,
        note(
          "ok",
          r.changed
            ? `Saved, and recorded in the audit history as ${r.actor}. Every replica serves it within a second.`
            : "Nothing changed: the weights were already these.",
        ),
      );
      replace(servedNow, shareBar(r.shares));
    } catch (err) {
      replace(result, note("error", errorText(err)));
    }
  };
  save.addEventListener("click", () => {
    const p = proposal();
    if (typeof p !== "string") void write(p);
  });
  clear.addEventListener("click", () => void write({}));

  root.append(
    h("h2", {}, "Edit the split"),
    h(
      "p",
      { class: "muted" },
      `Integer weights, normalised by the gateway; the label's version (${current.stable}) is the stable one. `,
      "Leave a version blank to leave it out.",
    ),
    table(
      ["Version", "Weight"],
      [...inputs].map(([v, input]) => [v === current.stable ? `${v} (label)` : v, input]),
      "weights-form",
    ),
    preview,
    h("div", { class: "row" }, save, clear),
    result,
  );
  void check();
  return root;
}
