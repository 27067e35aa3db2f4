// The console's entry: the sign-in form until a token is accepted, then the page the location's hash names
// (#/prompt/summarization, #/experiment/summarization/prod, ...). Pages are modules with a `render(ctx)`.
import { api, ApiError, REFUSED_EVENT, actor, errorText, signIn, signOut, token } from "./api.js";
import { field, h, note, replace } from "./dom.js";

/**
 * What a page gets: its route's parameters, the hash's query, a signal aborted when the page is left, a
 * timer that stops when it is left, and a way to draw itself again.
 * @typedef {{
 *   params: string[],
 *   query: URLSearchParams,
 *   signal: AbortSignal,
 *   every: (ms: number, run: () => Promise<void>) => void,
 *   rerender: (flash?: string) => void,
 * }} PageContext
 * @typedef {{ title: (ctx: PageContext) => string, render: (ctx: PageContext) => Promise<Node> }} Page
 */

/** @type {[RegExp, () => Promise<Page>][]} */
const ROUTES = [
  [/^\/?$/, () => import("./page-prompts.js")],
  [/^\/prompt\/([^/]+)$/, () => import("./page-prompt.js")],
  [/^\/experiment\/([^/]+)\/([^/]+)$/, () => import("./page-experiment.js")],
  [/^\/rollout\/([^/]+)\/([^/]+)$/, () => import("./page-rollout.js")],
  [/^\/rollouts$/, () => import("./page-rollouts.js")],
  [/^\/evals\/([^/]+)$/, () => import("./page-evals.js")],
  [/^\/audit$/, () => import("./page-audit.js")],
  [/^\/weights\/([^/]+)\/([^/]+)$/, () => import("./page-weights.js")],
];

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const who = /** @type {HTMLElement} */ (document.getElementById("who"));

/** @type {AbortController | null} */
let current = null;
/** @type {number[]} */
let timers = [];
/** A message to show above the page the next time it is drawn (what the last action did). @type {string | null} */
let flash = null;

function leave() {
  current?.abort();
  for (const t of timers) clearInterval(t);
  timers = [];
}

/** @param {string | null} [message] */
function showSignIn(message = null) {
  leave();
  replace(nav);
  replace(who);
  document.title = "Sign in · promptgate console";
  const secret = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const name = h("input", {
    type: "text",
    name: "actor",
    autocomplete: "username",
    required: true,
    pattern: "[ -~]{1,200}",
    value: sessionStorage.getItem("promptgate.console.last-actor") ?? "",
  });
  const status = h("div", { class: "status" }, message === null ? null : note("error", message));
  const form = h(
    "form",
    { class: "sign-in", method: "post" },
    h("h1", {}, "promptgate console"),
    h("p", {}, "Sign in with the gateway's admin token (ADMIN_TOKEN). It is kept in this tab only."),
    field("Admin token", secret),
    field("Your name (recorded in the audit history)", name),
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", (e) => {
    // Never a native submit: the token must not travel in a URL or a form post.
    e.preventDefault();
    void (async () => {
      replace(status, note("info", "Checking the token…"));
      try {
        await api("/prompts", { tokenOverride: secret.value });
      } catch (err) {
        const refused = err instanceof ApiError && err.status === 401;
        replace(status, note("error", refused ? "The gateway refused this token." : errorText(err)));
        return;
      }
      signIn(secret.value, name.value.trim());
      sessionStorage.setItem("promptgate.console.last-actor", name.value.trim());
      secret.value = "";
      void route();
    })();
  });
  replace(main, form);
  secret.focus();
}

function drawChrome() {
  replace(
    nav,
    h("a", { href: "#/" }, "Prompts"),
    h("a", { href: "#/rollouts" }, "Rollouts"),
    h("a", { href: "#/audit" }, "Audit"),
  );
  replace(
    who,
    h("span", {}, `signed in as ${actor()}`),
    h(
      "button",
      {
        type: "button",
        class: "link",
        on: {
          click: () => {
            signOut();
            showSignIn();
          },
        },
      },
      "Sign out",
    ),
  );
}

async function route() {
  if (token() === null) return showSignIn();
  leave();
  drawChrome();
  const controller = new AbortController();
  current = controller;
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path = "/", search = ""] = raw.split("?");
  const found = ROUTES.map(([re, load]) => /** @type {const} */ ([re.exec(path), load])).find(([m]) => m !== null);
  if (found === undefined) {
    replace(main, note("error", "There is no such page."), h("p", {}, h("a", { href: "#/" }, "All prompts")));
    return;
  }
  const [match, load] = found;
  /** @type {PageContext} */
  const ctx = {
    params: (match ?? []).slice(1).map(decodeSegment),
    query: new URLSearchParams(search),
    signal: controller.signal,
    every: (ms, run) => {
      if (controller.signal.aborted) return;
      timers.push(
        window.setInterval(() => {
          if (!controller.signal.aborted) void run().catch(() => undefined);
        }, ms),
      );
    },
    // Only while the page is still the one shown: a late redraw must not replace the page the user went to.
    rerender: (message) => {
      if (controller.signal.aborted) return;
      flash = message ?? null;
      void route();
    },
  };
  replace(main, h("p", { class: "loading" }, "Loading…"));
  try {
    const page = await load();
    const node = await page.render(ctx);
    if (controller.signal.aborted) return;
    document.title = `${page.title(ctx)} · promptgate console`;
    const shown = flash;
    flash = null;
    replace(main, shown === null ? null : h("div", { class: "flash" }, note("ok", shown)), node);
  } catch (err) {
    if (controller.signal.aborted) return;
    replace(main, note("error", errorText(err)));
  }
}

/** A route segment as the user meant it; a malformed escape is taken as typed rather than breaking the page. */
function decodeSegment(/** @type {string} */ s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

window.addEventListener(REFUSED_EVENT, () => {
  signOut();
  showSignIn("The gateway refused the token: sign in again.");
});
window.addEventListener("hashchange", () => void route());
void route();
