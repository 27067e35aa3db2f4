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
    write(scrub(JSON.stringify(fields ? { ...base, ...redact(fields) } : base)));
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
