// Structured JSON-lines logger. Secrets never reach it: callers pass fields, `redact` drops anything
// that looks like a credential, and `scrub` (the configured secrets, scrubber.ts) takes whatever
// secret is left out of the line before it is written.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly debug: (msg: string, fields?: LogFields) => void;
  readonly info: (msg: string, fields?: LogFields) => void;
  readonly warn: (msg: string, fields?: LogFields) => void;
  readonly error: (msg: string, fields?: LogFields) => void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /authorization|api[-_]?key|token|secret|password|cookie/i;

export function redact(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) ? "[redacted]" : v;
  return out;
}

/** The longest line the logger writes, in UTF-8 bytes: no caller can flood the log with one line. */
export const MAX_LINE_BYTES = 8 * 1024;
const MAX_FIELDS_KEPT = 50;
const MAX_KEY_CHARS = 64;

/**
 * A line over `max` bytes, rewritten to fit: still one JSON object, its fields in order with long values
 * cut (a non-string value becomes the start of its JSON text) and ending in "…", plus `truncated: true`
 * and the `original_bytes`. Keep this the last step before writing (after any scrubbing of the line),
 * so that a cut never splits something a scrubber would have recognised.
 */
export function capLine(line: string, max = MAX_LINE_BYTES): string {
  if (line.length <= max / 3 || Buffer.byteLength(line) <= max) return line; // a UTF-16 unit is at most 3 bytes
  const original = Buffer.byteLength(line);
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = null;
  }
  const entries: [string, unknown][] =
    typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? Object.entries(parsed).map(([k, v]): [string, unknown] => [k.slice(0, MAX_KEY_CHARS), v])
      : [["line", line]];
  const kept = entries.slice(0, MAX_FIELDS_KEPT);
  const dropped = entries.length - kept.length;
  const marker = { truncated: true, original_bytes: original, ...(dropped > 0 ? { fields_dropped: dropped } : {}) };
  // Each value is cut to `limit` characters; halve it until the line fits (JSON escapes and UTF-8 make
  // the bytes of a character vary, so the fit is measured, not computed).
  for (let limit = Math.floor(max / 2); limit >= 8; limit = Math.floor(limit / 2)) {
    const out = new Map<string, unknown>();
    for (const [key, value] of kept) out.set(key, cut(value, limit));
    const capped = JSON.stringify({ ...Object.fromEntries(out), ...marker });
    if (Buffer.byteLength(capped) <= max) return capped;
  }
  return JSON.stringify(marker);
}

function cut(value: unknown, limit: number): unknown {
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  const text = typeof value === "string" ? value : JSON.stringify(value); // a value of a parsed line: JSON
  if (text.length <= limit) return value;
  return `${text.slice(0, limit)}…`;
}

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stderr.write(line + "\n"),
  now: () => number = Date.now,
  scrub: (line: string) => string = (line) => line,
): Logger {
  const min = ORDER[level];
  const log = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[lvl] < min) return;
    const base = { time: new Date(now()).toISOString(), level: lvl, msg };
    // Scrubbed before it is cut, so that a cut never leaves half a secret unrecognised.
    write(capLine(scrub(JSON.stringify(fields ? { ...base, ...redact(fields) } : base))));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}

const nothing = (): void => {};
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };
