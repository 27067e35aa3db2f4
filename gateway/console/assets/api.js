// The console's only way to the gateway: /admin/* with the admin token in the Authorization header. The token is
// kept in sessionStorage (this tab only, gone when it closes), never in a URL, a cookie or a log.

const TOKEN_KEY = "promptgate.console.token";
const ACTOR_KEY = "promptgate.console.actor";

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {string | null} code
   * @param {string | null} param
   */
  constructor(status, message, code, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);

/** Who the console's writes are recorded as (the audit's actor, a promotion's approver). */
export const actor = () => sessionStorage.getItem(ACTOR_KEY) ?? "console";

/** @param {string} value @param {string} who */
export function signIn(value, who) {
  sessionStorage.setItem(TOKEN_KEY, value);
  sessionStorage.setItem(ACTOR_KEY, who);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ACTOR_KEY);
}

/** Fired on window when the gateway refuses the token: the page goes back to the sign-in form. */
export const REFUSED_EVENT = "console:token-refused";

/**
 * Calls the admin API; JSON in and out. Failures throw ApiError with the gateway's message.
 * @template T
 * @param {string} path under /admin, starting with /
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal, tokenOverride?: string }} [opts]
 * @returns {Promise<T>}
 */
export async function api(path, opts = {}) {
  const secret = opts.tokenOverride ?? token();
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", "x-actor": actor() };
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  /** @type {RequestInit} */
  const init = { method: opts.method ?? (opts.body === undefined ? "GET" : "POST"), headers, cache: "no-store" };
  if (opts.signal) init.signal = opts.signal;
  if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const res = await fetch(`/admin${path}`, init);
  /** @type {unknown} */
  const json = await res.json().catch(() => null);
  if (res.ok) return /** @type {T} */ (json);
  const error = errorOf(json);
  if (res.status === 401 && opts.tokenOverride === undefined) window.dispatchEvent(new Event(REFUSED_EVENT));
  throw new ApiError(res.status, error.message ?? `the gateway answered ${res.status}`, error.code, error.param);
}

/** @param {unknown} json @returns {{ message: string | null, code: string | null, param: string | null }} */
function errorOf(json) {
  const e = json !== null && typeof json === "object" && "error" in json ? json.error : null;
  if (e === null || typeof e !== "object") return { message: null, code: null, param: null };
  /** @param {string} k */
  const str = (k) =>
    k in e && typeof (/** @type {Record<string, unknown>} */ (e)[k]) === "string"
      ? String(/** @type {Record<string, unknown>} */ (e)[k])
      : null;
  return { message: str("message"), code: str("code"), param: str("param") };
}

/** The path segment for a name (prompt names are plain, but never trusted to be). @param {string} s */
export const seg = (s) => encodeURIComponent(s);

/** A failure in words, for a note on the page. @param {unknown} err */
export function errorText(err) {
  if (err instanceof ApiError) return `${err.message} (HTTP ${err.status})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * A GET that answers null when the route is not there (404 for the route itself, not for a named thing): for
 * features a gateway may not have yet, such as rollouts.
 * @template T
 * @param {string} path
 * @param {AbortSignal} [signal]
 * @returns {Promise<T | null>}
 */
export async function optional(path, signal) {
  try {
    return await api(path, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}
