// What `serve` needs around the wiring: closing what start-up opened when a later step fails (so the
// process exits instead of idling on its timers), a listen failure in plain words, and stopping with
// the npm process that started it.
import type { Logger } from "../support/logger.ts";

/**
 * What start-up has opened so far (tracing, store, refresh timers, aggregate writer...), closed newest
 * first. Declared with `await using`, it closes everything when start-up throws; `keep()` hands the
 * lot over to the shutdown handler once the gateway listens. A failed close is logged, never thrown,
 * so the start-up error stays the one reported.
 */
export class OpenedResources implements AsyncDisposable {
  #closers: { readonly what: string; readonly close: () => unknown }[] = [];
  #closing: Promise<void> | undefined;
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers how to close something just opened; `what` names it in the log should closing fail. */
  defer(what: string, close: () => unknown): void {
    this.#closers.push({ what, close });
  }

  /** Moves everything registered so far into a new holder, which the caller closes later. */
  keep(): OpenedResources {
    const kept = new OpenedResources(this.#logger);
    kept.#closers = this.#closers.splice(0);
    return kept;
  }

  /** Closes everything, once: a second call (SIGINT during a SIGTERM drain) waits for the first. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const { what, close } of this.#closers.splice(0).reverse()) {
        try {
          await close();
        } catch (err) {
          this.#logger.warn(`closing ${what} failed`, { error: err instanceof Error ? err.message : String(err) });
        }
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Why the gateway could not listen, naming the address and what to change; other errors pass through. */
export function listenFailure(err: unknown, host: string, port: number): unknown {
  const where = `${host}:${port}`;
  const reasons: Partial<Record<string, string>> = {
    EADDRINUSE: `port ${port} is already in use (${where}): stop what listens there, or set PORT to a free port`,
    EACCES: `not allowed to listen on ${where}: use a port above 1023, or set PORT`,
    EADDRNOTAVAIL: `cannot listen on ${where}: HOST is not an address of this machine`,
  };
  const reason = reasons[(err as NodeJS.ErrnoException | null)?.code ?? ""];
  return reason === undefined ? err : new Error(reason, { cause: err });
}

/**
 * Under `npm start` or `npx promptgate serve`, npm forwards SIGTERM to the shell it ran the command in,
 * and that shell (dash, /bin/sh on Debian and in the node images) exits without passing it on: the
 * gateway would live on, orphaned. So when npm started it, the gateway stops when its parent goes
 * (a parent that exits leaves its child re-parented, with a new ppid). Not otherwise: `nohup ... &`,
 * `setsid` and daemon wrappers leave the gateway running on purpose when their shell exits.
 */
export function stopWithParent(env: NodeJS.ProcessEnv, stop: () => void, intervalMs = 500): void {
  if (env["npm_lifecycle_event"] === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, intervalMs);
  timer.unref();
}
