// Audit: the history of every prompt, newest first, filtered by prompt, actor and action (GET /admin/audit).
import { api, seg } from "./api.js";
import { badge, field, h, note, select, table } from "./dom.js";
import { when } from "./format.js";

/**
 * @typedef {import("../../registry/audit-log.ts").AuditLog} AuditLog
 * @typedef {import("../../registry/records.ts").AuditEntry} AuditEntry
 * @typedef {import("./main.js").PageContext} PageContext
 */

export const title = () => "Audit";

/** @param {PageContext} ctx */
export async function render(ctx) {
  const filter = new URLSearchParams();
  for (const key of ["prompt", "actor", "action"]) {
    const v = ctx.query.get(key);
    if (v) filter.set(key, v);
  }
  const log = /** @type {AuditLog} */ (await api(`/audit?${filter.toString()}`, { signal: ctx.signal }));
  const prompt = select(
    "prompt",
    [["", "every prompt"], ...log.prompts.map((p) => /** @type {[string, string]} */ ([p, p]))],
    ctx.query.get("prompt") ?? "",
  );
  const action = select(
    "action",
    [["", "every action"], ...log.actions.map((a) => /** @type {[string, string]} */ ([a, a]))],
    ctx.query.get("action") ?? "",
  );
  const actor = h("input", {
    type: "search",
    name: "actor",
    value: ctx.query.get("actor") ?? "",
    placeholder: "name contains…",
  });
  const apply = () => {
    const q = new URLSearchParams();
    if (prompt.value) q.set("prompt", prompt.value);
    if (actor.value.trim()) q.set("actor", actor.value.trim());
    if (action.value) q.set("action", action.value);
    const s = q.toString();
    location.hash = `#/audit${s ? `?${s}` : ""}`;
  };
  prompt.addEventListener("change", apply);
  action.addEventListener("change", apply);
  actor.addEventListener("change", apply);
  return h(
    "section",
    { class: "page audit" },
    h("h1", {}, "Audit history"),
    h("div", { class: "row filters" }, field("Prompt", prompt), field("Actor", actor), field("Action", action)),
    h(
      "p",
      { class: "muted" },
      `${log.matched === 1 ? "1 entry matches" : `${log.matched} entries match`}${log.matched > log.entries.length ? `; the newest ${log.entries.length} are shown` : ""}.`,
    ),
    log.entries.length === 0
      ? note("info", "Nothing matches.")
      : table(
          ["When", "Prompt", "Action", "Env", "Change", "Actor"],
          log.entries.map((e) => [
            when(e.at),
            h("a", { href: `#/prompt/${seg(e.name)}` }, e.name),
            badge(e.action),
            e.env ?? "–",
            change(e),
            e.actor,
          ]),
          "audit-table",
        ),
  );
}

/** @param {AuditEntry} e */
function change(e) {
  const parts = [];
  if (e.action === "weights") parts.push(`${e.from ?? "{}"} → ${e.to ?? "{}"}`);
  else if (e.from !== undefined || e.to !== undefined) parts.push(`${e.from ?? "(none)"} → ${e.to ?? "(none)"}`);
  if (e.version !== undefined) parts.push(e.version);
  if (e.passed !== undefined) parts.push(e.passed ? "passed" : "failed");
  if (e.forced) parts.push(`forced past ${(e.forcedPast ?? []).join(", ")}`);
  return parts.join(" · ") || "–";
}
