// A prompt: its versions (templates, variables, model), a diff between any two, rendering a version with
// variables, and promotion and rollback with the gate's verdict shown before the click.
import { api, errorText, seg } from "./api.js";
import { badge, field, h, note, replace, select, table } from "./dom.js";
import { ago } from "./format.js";
import { releasePanel } from "./release.js";

/**
 * @typedef {import("../../registry/prompt-ops.ts").PromptSummary} PromptSummary
 * @typedef {import("../../registry/prompt-ops.ts").VersionDiff} VersionDiff
 * @typedef {import("../../registry/prompt-ops.ts").RenderedRef} RenderedRef
 * @typedef {import("../../prompts/types.ts").PromptVersion} PromptVersion
 * @typedef {import("./main.js").PageContext} PageContext
 */

/** @param {PageContext} ctx */
export const title = (ctx) => ctx.params[0] ?? "Prompt";

/** @param {PageContext} ctx */
export async function render(ctx) {
  const name = ctx.params[0] ?? "";
  const summary = /** @type {PromptSummary} */ (await api(`/prompts/${seg(name)}`, { signal: ctx.signal }));
  const versions = await Promise.all(
    summary.versions.map(
      (v) =>
        /** @type {Promise<PromptVersion>} */ (api(`/prompts/${seg(name)}/versions/${seg(v)}`, { signal: ctx.signal })),
    ),
  );
  const labels = Object.entries(summary.labels);
  return h(
    "section",
    { class: "page prompt" },
    h("h1", {}, name),
    h(
      "div",
      { class: "labels" },
      labels.map(([env, label]) =>
        h(
          "div",
          { class: "label-card", data: { env } },
          h("div", { class: "env" }, env),
          h("div", { class: "version" }, label?.version ?? "–"),
          label === null ? null : h("div", { class: "muted" }, `by ${label.approvedBy}, ${ago(label.at)}`),
          h(
            "div",
            { class: "env-links" },
            h("a", { href: `#/experiment/${seg(name)}/${seg(env)}` }, "experiment"),
            h("a", { href: `#/weights/${seg(name)}/${seg(env)}` }, "weights"),
            h("a", { href: `#/rollout/${seg(name)}/${seg(env)}` }, "rollout"),
          ),
        ),
      ),
      h(
        "div",
        { class: "label-card links" },
        h("a", { href: `#/evals/${seg(name)}` }, "Eval runs"),
        h("a", { href: `#/audit?prompt=${seg(name)}` }, "Audit history"),
      ),
    ),
    h("h2", {}, "Versions"),
    h(
      "div",
      { class: "versions" },
      [...versions].reverse().map((v) => versionCard(v, summary)),
    ),
    h("h2", {}, "Diff"),
    diffPanel(name, summary.versions),
    h("h2", {}, "Render"),
    renderPanel(name, versions),
    h("h2", {}, "Release"),
    releasePanel(name, summary, ctx),
  );
}

/** @param {PromptVersion} v @param {PromptSummary} summary */
function versionCard(v, summary) {
  const on = Object.entries(summary.labels)
    .filter(([, l]) => l?.version === v.version)
    .map(([env]) => badge(env, "info"));
  const vars = Object.entries(v.variables);
  return h(
    "details",
    { class: "version-card", data: { version: v.version } },
    h("summary", {}, h("strong", {}, v.version), " ", on, " ", h("span", { class: "muted" }, v.description)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Model"),
      h("dd", {}, v.model ?? "the request's"),
      h("dt", {}, "Params"),
      h("dd", {}, Object.keys(v.params).length === 0 ? "none" : JSON.stringify(v.params)),
      h("dt", {}, "Hash"),
      h("dd", { class: "mono" }, v.hash),
    ),
    vars.length === 0
      ? h("p", { class: "muted" }, "No variables.")
      : table(
          ["Variable", "Type", "Required", "Default"],
          vars.map(([k, d]) => [
            h("code", {}, k),
            d.type,
            d.required ? "yes" : "no",
            "default" in d ? JSON.stringify(d.default) : "–",
          ]),
        ),
    v.messages.map((m) =>
      h("div", { class: "template" }, h("div", { class: "role" }, m.role), h("pre", {}, m.content)),
    ),
    v.prompt === null
      ? null
      : h("div", { class: "template" }, h("div", { class: "role" }, "prompt"), h("pre", {}, v.prompt)),
    v.instructions === null
      ? null
      : h("div", { class: "template" }, h("div", { class: "role" }, "instructions"), h("pre", {}, v.instructions)),
  );
}

/** @param {string} name @param {readonly string[]} versions */
function diffPanel(name, versions) {
  const from = select("from", versions, versions.at(-2) ?? versions[0] ?? null);
  const to = select("to", versions, versions.at(-1) ?? null);
  const out = h("div", { class: "diff-out" });
  const show = async () => {
    try {
      const d = /** @type {VersionDiff} */ (
        await api(`/prompts/${seg(name)}/diff?from=${seg(from.value)}&to=${seg(to.value)}`)
      );
      if (!d.changed) return replace(out, note("info", `${d.from} and ${d.to} are the same.`));
      replace(
        out,
        h("p", {}, `Changed: ${d.fields.join(", ")}`),
        h(
          "pre",
          { class: "diff" },
          d.patch.split("\n").map((line) =>
            h(
              "span",
              {
                class: line.startsWith("@@")
                  ? "hunk"
                  : line.startsWith("+") && !line.startsWith("+++")
                    ? "add"
                    : line.startsWith("-") && !line.startsWith("---")
                      ? "del"
                      : "",
              },
              `${line}\n`,
            ),
          ),
        ),
      );
    } catch (err) {
      replace(out, note("error", errorText(err)));
    }
  };
  return h(
    "div",
    { class: "panel diff-panel" },
    h(
      "div",
      { class: "row" },
      field("From", from),
      field("To", to),
      h("button", { type: "button", on: { click: () => void show() } }, "Show diff"),
    ),
    out,
  );
}

/** @param {string} name @param {readonly PromptVersion[]} versions */
function renderPanel(name, versions) {
  const newest = versions.at(-1);
  const version = select(
    "version",
    [...versions].reverse().map((v) => v.version),
    newest?.version ?? null,
    (v) => {
      const found = versions.find((x) => x.version === v);
      if (found) vars.value = exampleVars(found);
    },
  );
  const vars = h("textarea", { name: "vars", rows: "6", class: "mono" });
  vars.value = newest === undefined ? "{}" : exampleVars(newest);
  const out = h("div", { class: "render-out" });
  const run = async () => {
    /** @type {unknown} */
    let parsed;
    try {
      parsed = JSON.parse(vars.value || "{}");
    } catch {
      return replace(out, note("error", "The variables are not valid JSON."));
    }
    try {
      const r = /** @type {RenderedRef} */ (
        await api("/render", { body: { ref: `${name}@${version.value}`, vars: parsed } })
      );
      replace(
        out,
        h("p", { class: "muted" }, `${r.name}@${r.version} · model ${r.model ?? "the request's"}`),
        (r.messages ?? []).map((m) =>
          h("div", { class: "template rendered" }, h("div", { class: "role" }, m.role), h("pre", {}, m.content)),
        ),
        r.prompt == null ? null : h("pre", { class: "rendered" }, r.prompt),
        r.instructions == null ? null : h("pre", { class: "rendered" }, r.instructions),
      );
    } catch (err) {
      replace(out, note("error", errorText(err)));
    }
  };
  return h(
    "div",
    { class: "panel render-panel" },
    h("div", { class: "row" }, field("Version", version)),
    field("Variables (JSON)", vars),
    h("button", { type: "button", on: { click: () => void run() } }, "Render"),
    out,
  );
}

/** Variables to start from: each declared one with its default, or an empty value of its type. @param {PromptVersion} v */
function exampleVars(v) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, d] of Object.entries(v.variables)) {
    if ("default" in d && d.default !== undefined) out[k] = d.default;
    else out[k] = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} }[d.type];
  }
  return JSON.stringify(out, null, 2);
}
