// What start-up has opened, closed again in reverse order: when a later step fails (so the process
// exits instead of idling on its timers), or at shutdown.
import type { Logger } from "./logger.ts";

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
