// How what a provider sends back is scrubbed of secrets before the caller gets it. Streamed and
// buffered answers are scanned for the secrets sent to that provider (its key), the only configured
// secrets it ever receives and so can echo: one `indexOf` per chunk on the hot path, and none at all
// when callers bring their own key. Error answers (provider-error.ts) and relayed headers are scanned
// for every configured secret: they are few and small.
import type { ProviderConfig } from "../config/gateway-config.ts";
import type { Scrubber, StreamScrub } from "../support/scrubber.ts";

export interface RelayScrub {
  /** A relayed header's value, of every configured secret. */
  readonly header: (value: string) => string;
  /** A stream scrubber for the provider's key (across chunk boundaries); null when it was sent none. */
  readonly stream: () => StreamScrub | null;
  /** A buffered answer, of the provider's key. */
  readonly body: (answer: Buffer) => Buffer;
}

export interface RelayScrubs {
  /** Every configured secret. */
  readonly all: Scrubber;
  /** The scrubbing of `provider`'s answers (made once per provider). */
  of(provider: ProviderConfig): RelayScrub;
}

const identity = <T>(value: T): T => value;

export function createRelayScrubs(all: Scrubber): RelayScrubs {
  const header = all.active ? (value: string) => all.text(value, "response") : identity;
  const made = new Map<ProviderConfig, RelayScrub>();
  return {
    all,
    of(provider) {
      let scrub = made.get(provider);
      if (scrub === undefined) {
        const own = all.scope(provider.name);
        scrub = own.active
          ? { header, stream: () => own.stream("stream"), body: (answer) => own.bytes(answer, "response") }
          : { header, stream: () => null, body: identity };
        made.set(provider, scrub);
      }
      return scrub;
    },
  };
}
