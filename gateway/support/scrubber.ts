// Takes every configured secret (provider keys, gateway keys, the admin token, the Redis password) out
// of what leaves the gateway: relayed answers and headers, log lines, spans, /metrics and the records
// admins write. compose.ts builds the one instance from config/secrets.ts; every output channel uses it.

export const REDACTED = "[redacted]";
const REDACTED_BYTES = Buffer.from(REDACTED);

/**
 * Secrets shorter than this are not scrubbed: a string that short turns up by chance, and replacing it
 * everywhere would mangle answers. compose.ts warns about them at start.
 */
export const MIN_SECRET_LENGTH = 8;

/** The start-up warnings for secrets too short to scrub, naming where each is configured. */
export function unscrubbedSecrets(secrets: readonly { readonly source: string; readonly value: string }[]): string[] {
  const sources = new Set(secrets.filter((s) => s.value.length < MIN_SECRET_LENGTH).map((s) => s.source));
  return [...sources].map(
    (source) =>
      `${source} holds a secret shorter than ${MIN_SECRET_LENGTH} characters: it is not scrubbed from answers, logs and spans (so short a string turns up by chance); use a long random value`,
  );
}

/** Where a secret was found, the label of `promptgate_secrets_redacted_total`. */
export type RedactionChannel = "response" | "stream" | "log" | "span" | "metrics" | "admin";

export interface Secret {
  readonly value: string;
  /**
   * A secret sent out of the gateway (a provider's key goes to that provider) has a scope:
   * `scope(name)` scrubs those secrets alone, for what that party sends back.
   */
  readonly scope?: string | null;
}

/**
 * A secret as it may appear: as it is, JSON-escaped (in a JSON body or a log line) and percent-encoded
 * (in a URL); longest first, so that a secret holding another is replaced whole.
 */
function needlesOf(secrets: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    out.add(s);
    out.add(JSON.stringify(s).slice(1, -1));
    out.add(encodeURIComponent(s));
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** Scrubs a stream chunk by chunk, holding back the end of a chunk that could begin a secret. */
export interface StreamScrub {
  /** The bytes of `chunk` (and of what was held back) that are safe to send now. */
  push(chunk: Buffer): Buffer;
  /** What is still held back, at the end of the stream (it never became a secret). */
  end(): Buffer;
}

export class Scrubber {
  /** No secrets configured: every method hands its input back. */
  static readonly none = new Scrubber([]);

  readonly #text: readonly string[];
  readonly #bytes: readonly Buffer[];
  /** Which byte values occur in some secret: a chunk ending in any other (an SSE event ends in \n) holds none back. */
  readonly #inSecret = new Uint8Array(256);
  readonly #counts: Map<RedactionChannel, number>;
  readonly #scopes = new Map<string, Scrubber>();
  /** Whether there is anything to scrub (callers skip the work when not). */
  readonly active: boolean;

  constructor(secrets: Iterable<Secret>, counts: Map<RedactionChannel, number> = new Map()) {
    const all = [...secrets];
    this.#text = needlesOf(all.map((s) => s.value));
    this.#bytes = this.#text.map((n) => Buffer.from(n));
    for (const needle of this.#bytes) for (const b of needle) this.#inSecret[b] = 1;
    this.#counts = counts;
    this.active = this.#text.length > 0;
    const scopes = new Map<string, string[]>();
    for (const s of all) if (s.scope != null) scopes.set(s.scope, [...(scopes.get(s.scope) ?? []), s.value]);
    for (const [scope, values] of scopes)
      this.#scopes.set(
        scope,
        new Scrubber(
          values.map((value) => ({ value })),
          counts,
        ),
      );
  }

  /** The scrubber for the secrets sent to `scope` alone (counting here too); inactive when there are none. */
  scope(scope: string): Scrubber {
    return this.#scopes.get(scope) ?? Scrubber.none;
  }

  /** How many secrets were replaced so far, by channel. */
  redactions(): ReadonlyMap<RedactionChannel, number> {
    return this.#counts;
  }

  /** `text` with every secret replaced by `[redacted]`; `text` itself when it holds none. */
  text(text: string, channel: RedactionChannel): string {
    let out = text;
    let found = 0;
    for (const needle of this.#text) {
      if (!out.includes(needle)) continue;
      const parts = out.split(needle);
      found += parts.length - 1;
      out = parts.join(REDACTED);
    }
    if (found > 0) this.#count(channel, found);
    return out;
  }

  /** `bytes` with every secret replaced by `[redacted]`; `bytes` itself when it holds none. */
  bytes(bytes: Buffer, channel: RedactionChannel): Buffer {
    let out = bytes;
    let found = 0;
    for (const needle of this.#bytes) {
      let at = out.indexOf(needle);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let pos = 0;
      while (at !== -1) {
        parts.push(out.subarray(pos, at), REDACTED_BYTES);
        found += 1;
        pos = at + needle.length;
        at = out.indexOf(needle, pos);
      }
      parts.push(out.subarray(pos));
      out = Buffer.concat(parts);
    }
    if (found > 0) this.#count(channel, found);
    return out;
  }

  /**
   * A scrubber for one stream: a secret split across chunks is caught too. Only a chunk that ends with
   * the first bytes of a secret is held back (until the next chunk says whether the secret follows), so
   * an SSE event, which ends in a blank line, is never delayed.
   */
  stream(channel: RedactionChannel): StreamScrub {
    let held: Buffer | null = null;
    return {
      push: (chunk) => {
        const data = this.bytes(held === null ? chunk : Buffer.concat([held, chunk]), channel);
        const keep = this.#partialTail(data);
        held = keep === 0 ? null : Buffer.from(data.subarray(data.length - keep));
        return keep === 0 ? data : data.subarray(0, data.length - keep);
      },
      end: () => {
        const rest = held ?? Buffer.alloc(0);
        held = null;
        return rest;
      },
    };
  }

  /** The length of the longest end of `data` that is the start of a secret (0: none). */
  #partialTail(data: Buffer): number {
    if (data.length === 0 || this.#inSecret[data[data.length - 1]!] === 0) return 0;
    let longest = 0;
    for (const needle of this.#bytes) {
      const first = needle[0]!;
      const from = Math.max(0, data.length - needle.length + 1);
      for (let i = data.indexOf(first, from); i !== -1; i = data.indexOf(first, i + 1)) {
        const n = data.length - i;
        if (n <= longest) break;
        if (needle.compare(data, i, data.length, 0, n) === 0) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }

  #count(channel: RedactionChannel, n: number): void {
    this.#counts.set(channel, (this.#counts.get(channel) ?? 0) + n);
  }
}
