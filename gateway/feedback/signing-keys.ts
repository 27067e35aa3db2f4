// The key that signs request ids, shared by every replica so that any of them verifies the ids any
// other issued, across restarts. Either the operator sets REQUEST_ID_KEYS (comma-separated: the first
// signs, all verify, which is how a key is rotated), or the first replica to start creates a random
// key in the store (set-if-absent: one wins) and every replica reads it from there at start-up.
// Reading it happens once at start (and in the background while the store is unreachable), never on
// the request path.
import { randomBytes } from "node:crypto";
import { REQUEST_ID_KEY } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import { createRequestIdCodec, type RequestIdCodec, type RequestIdKeys } from "./request-id.ts";

/** A configured key shorter than this is refused: it must be as hard to guess as the generated one. */
export const MIN_KEY_CHARS = 32;
const GENERATED_KEY_BYTES = 32;

/** REQUEST_ID_KEYS: comma-separated keys, the first signs and every one verifies. */
export function parseRequestIdKeys(text: string): RequestIdKeys {
  const keys = text
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  const [first, ...rest] = keys;
  if (first === undefined) throw new Error("REQUEST_ID_KEYS holds no key");
  const short = keys.findIndex((k) => k.length < MIN_KEY_CHARS);
  if (short !== -1)
    throw new Error(
      `REQUEST_ID_KEYS: key ${short + 1} is shorter than ${MIN_KEY_CHARS} characters (use e.g. openssl rand -base64 32)`,
    );
  return { signing: Buffer.from(first, "utf8"), previous: rest.map((k) => Buffer.from(k, "utf8")) };
}

/** The store's shared key, created by whichever replica asks first. */
export async function storeRequestIdKeys(store: Store): Promise<RequestIdKeys> {
  await store.setIfAbsent(REQUEST_ID_KEY, randomBytes(GENERATED_KEY_BYTES).toString("base64url"));
  const key = await store.get(REQUEST_ID_KEY);
  if (key === null || key.length < MIN_KEY_CHARS)
    throw new Error(`the store's ${REQUEST_ID_KEY} is missing or too short`);
  return { signing: Buffer.from(key, "utf8"), previous: [] };
}

/** The request id codec once its key is known; null until then (ids are plain, feedback answers 503). */
export interface RequestIds {
  current(): RequestIdCodec | null;
  stop(): Promise<void>;
}

export interface RequestIdsOptions {
  readonly store: Store;
  /** REQUEST_ID_KEYS, when set. */
  readonly configured: string | undefined;
  readonly maxAgeMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
}

/** A codec with fixed keys (REQUEST_ID_KEYS, tests). */
export const fixedRequestIds = (keys: RequestIdKeys, maxAgeMs: number): RequestIds => {
  const codec = createRequestIdCodec(keys, maxAgeMs);
  return { current: () => codec, stop: async () => undefined };
};

/**
 * Configured keys are used at once. Otherwise the store's key is read now; when the store does not
 * answer, the gateway starts anyway (it serves from its snapshot) and keeps trying in the background.
 */
export async function startRequestIds(opts: RequestIdsOptions): Promise<RequestIds> {
  if (opts.configured !== undefined) return fixedRequestIds(parseRequestIdKeys(opts.configured), opts.maxAgeMs);
  let codec: RequestIdCodec | null = null;
  const load = async (): Promise<void> => {
    codec = createRequestIdCodec(await storeRequestIdKeys(opts.store), opts.maxAgeMs);
  };
  try {
    await load();
    return { current: () => codec, stop: async () => undefined };
  } catch (err) {
    opts.logger.warn("request id key not read at start: ids are plain and feedback is refused until it is", {
      error: errorText(err),
    });
  }
  const abort = new AbortController();
  const done = (async () => {
    let delay = opts.firstRetryMs ?? 1_000;
    for (;;) {
      try {
        await opts.clock.sleep(delay, abort.signal);
      } catch {
        return; // stopped
      }
      try {
        await load();
        opts.logger.info("request id key read: request ids are signed again");
        return;
      } catch (err) {
        delay = Math.min(delay * 2, opts.maxRetryMs ?? 30_000);
        opts.logger.debug("request id key still not read", { error: errorText(err), retry_in_ms: delay });
      }
    }
  })();
  return {
    current: () => codec,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
