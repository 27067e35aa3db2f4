// Promote and roll back, with the verdict shown before the click: the promotion's rules as the registry would
// decide them now (GET .../promote) and where a rollback would move the label (GET .../rollback). The buttons
// then make the same calls the CLI makes; the registry decides again, so a verdict gone stale is still caught.
import { actor, api, errorText, seg } from "./api.js";
import { badge, field, h, note, replace, select } from "./dom.js";

/**
 * @typedef {import("../../registry/prompt-ops.ts").PromptSummary} PromptSummary
 * @typedef {import("../../registry/registry.ts").PromotionCheck} PromotionCheck
 * @typedef {import("../../registry/registry.ts").PromoteResult} PromoteResult
 * @typedef {import("../../registry/rollback-preview.ts").RollbackPreview} RollbackPreview
 * @typedef {import("./main.js").PageContext} PageContext
 */

const ENVS = ["dev", "staging", "prod"];

/** @param {string} name @param {PromptSummary} summary @param {PageContext} ctx */
export function releasePanel(name, summary, ctx) {
  return h("div", { class: "release" }, promotePanel(name, summary, ctx), rollbackPanel(name, ctx));
}

/** @param {string} name @param {PromptSummary} summary @param {PageContext} ctx */
function promotePanel(name, summary, ctx) {
  const version = select(
    "promote-version",
    [...summary.versions].reverse(),
    summary.versions.at(-1) ?? null,
    () => void check(),
  );
  const env = select("promote-env", ENVS, "staging", () => void check());
  const approver = h("input", { type: "text", name: "approved_by", value: actor(), required: true });
  const force = h("input", { type: "checkbox", name: "force" });
  const forceRow = h(
    "label",
    { class: "force", hidden: true },
    force,
    " Force past the refusing rules (recorded in the audit)",
  );
  const verdict = h("div", { class: "verdict" });
  const result = h("div", { class: "result" });
  const button = h("button", { type: "button", class: "primary", disabled: true }, "Promote");
  force.addEventListener("change", () => {
    button.disabled = !force.checked;
  });

  const check = async () => {
    button.disabled = true;
    forceRow.hidden = true;
    force.checked = false;
    replace(verdict, h("span", { class: "muted" }, "Checking…"));
    try {
      const c = /** @type {PromotionCheck} */ (
        await api(`/prompts/${seg(name)}/promote?version=${seg(version.value)}&env=${seg(env.value)}`, {
          signal: ctx.signal,
        })
      );
      const headline = !c.changes
        ? note("info", `${env.value} already points at ${c.version}: promoting changes nothing.`)
        : c.allowed
          ? note("ok", `The gate lets ${c.version} onto ${c.env}${c.from === null ? "" : ` (now ${c.from})`}.`)
          : note("warn", `The gate refuses ${c.version} on ${c.env}: only a forced promotion would go through.`);
      replace(
        verdict,
        headline,
        h(
          "ul",
          { class: "gates" },
          c.gates.map((g) =>
            h(
              "li",
              { data: { gate: g.gate, status: g.status } },
              badge(g.status.replace("_", " "), g.status === "passed" ? "ok" : g.status === "refused" ? "bad" : ""),
              ` ${g.gate} rule: ${g.message}`,
            ),
          ),
        ),
      );
      button.disabled = !(c.changes && c.allowed);
      forceRow.hidden = !c.needsForce;
    } catch (err) {
      replace(verdict, note("error", errorText(err)));
    }
  };

  onAct(button, result, check, async () => {
    const r = /** @type {PromoteResult} */ (
      await api(`/prompts/${seg(name)}/promote`, {
        body: {
          version: version.value,
          env: env.value,
          approved_by: approver.value,
          ...(force.checked ? { force: true } : {}),
        },
      })
    );
    ctx.rerender(`Promoted: ${env.value} now points at ${r.to}${r.from ? ` (was ${r.from})` : ""}.`);
  });
  void check();
  return h(
    "div",
    { class: "panel promote-panel" },
    h("h3", {}, "Promote"),
    h("div", { class: "row" }, field("Version", version), field("To", env), field("Approved by", approver)),
    verdict,
    forceRow,
    button,
    result,
  );
}

/** @param {string} name @param {PageContext} ctx */
function rollbackPanel(name, ctx) {
  const env = select("rollback-env", ENVS, "staging", () => void preview());
  const verdict = h("div", { class: "verdict" });
  const result = h("div", { class: "result" });
  const button = h("button", { type: "button", class: "danger", disabled: true }, "Roll back");
  const preview = async () => {
    button.disabled = true;
    try {
      const p = /** @type {RollbackPreview} */ (
        await api(`/prompts/${seg(name)}/rollback?env=${seg(env.value)}`, { signal: ctx.signal })
      );
      replace(verdict, note(p.allowed ? "ok" : "info", p.message));
      button.disabled = !p.allowed;
      button.textContent = p.allowed && p.to !== null ? `Roll ${p.env} back to ${p.to}` : "Roll back";
    } catch (err) {
      replace(verdict, note("error", errorText(err)));
    }
  };
  onAct(button, result, preview, async () => {
    const r = /** @type {{ from: string, to: string }} */ (
      await api(`/prompts/${seg(name)}/rollback`, { body: { env: env.value, actor: actor() } })
    );
    ctx.rerender(`Rolled back: ${env.value} now points at ${r.to} (was ${r.from}).`);
  });
  void preview();
  return h(
    "div",
    { class: "panel rollback-panel" },
    h("h3", {}, "Roll back"),
    h("div", { class: "row" }, field("Environment", env)),
    verdict,
    button,
    result,
  );
}

/**
 * What both buttons do when clicked: disable themselves and act; on a refusal show why and ask for the
 * verdict again, which enables the button as far as it allows.
 * @param {HTMLButtonElement} button @param {HTMLElement} result
 * @param {() => Promise<void>} recheck @param {() => Promise<void>} act
 */
function onAct(button, result, recheck, act) {
  button.addEventListener("click", () => {
    void (async () => {
      button.disabled = true;
      try {
        await act();
      } catch (err) {
        replace(result, note("error", errorText(err)));
        void recheck();
      }
    })();
  });
}
