// Token usage as providers report it: in a JSON body, in the final chat/completions stream chunk
// (stream_options.include_usage), or in the Responses API's `response.completed` event.
import type { Endpoint } from "../proxy/request-schema.ts";
import { newResponseMeta, scanResponseMeta, type ResponseMeta } from "./response-meta.ts";
import type { StreamTranscript } from "../telemetry/message-content.ts";
import type { SseEvent } from "./sse.ts";

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
}

/** No single call comes near this many tokens; a larger count is a provider's bug, not usage. */
export const MAX_TOKENS = 1_000_000_000;

const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** A count that is left out is 0; one that is not a whole number from 0 to MAX_TOKENS is NaN. */
const count = (v: unknown): number => {
  if (v === undefined || v === null) return 0;
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS ? v : NaN;
};

/**
 * Reads either usage shape: chat/completions (`prompt_tokens`) or responses (`input_tokens`). Null
 * when there is none, or when a count is not a whole number from 0 to MAX_TOKENS: the counts are summed
 * exactly (integer pico-dollars, HINCRBY), so a faulty provider's usage counts as unknown, like none.
 */
export function readUsage(value: unknown): Usage | null {
  const u = obj(value);
  if (!u) return null;
  const responses = "input_tokens" in u || "output_tokens" in u;
  const usage: Usage = responses
    ? {
        inputTokens: count(u["input_tokens"]),
        outputTokens: count(u["output_tokens"]),
        cachedInputTokens: count(obj(u["input_tokens_details"])?.["cached_tokens"]),
      }
    : {
        inputTokens: count(u["prompt_tokens"]),
        outputTokens: count(u["completion_tokens"]),
        cachedInputTokens: count(obj(u["prompt_tokens_details"])?.["cached_tokens"]),
      };
  return Number.isNaN(usage.inputTokens + usage.outputTokens + usage.cachedInputTokens) ? null : usage;
}

/**
 * Usage from a complete JSON response body, or null when it has none. Providers put `usage` after the
 * choices, so only the object after the last `"usage":` is parsed; anything unexpected falls back to
 * parsing the whole body.
 */
export function usageFromBody(body: Buffer): Usage | null {
  const at = body.lastIndexOf('"usage"');
  if (at === -1) return null;
  const start = body.indexOf("{", at);
  const end = start === -1 ? -1 : matchingBrace(body, start);
  if (end !== -1) {
    try {
      return readUsage(JSON.parse(body.toString("utf8", start, end + 1)));
    } catch {
      // fall through to the whole body
    }
  }
  try {
    const root = obj(JSON.parse(body.toString("utf8")));
    return root ? readUsage(root["usage"]) : null;
  } catch {
    return null;
  }
}

/** Index of the `}` closing the object that opens at `start`, skipping braces inside strings. */
function matchingBrace(buf: Buffer, start: number): number {
  let depth = 0;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x22 /* " */) {
      i = stringEnd(buf, i);
      if (i === -1) return -1;
    } else if (c === 0x7b /* { */) depth++;
    else if (c === 0x7d /* } */ && --depth === 0) return i;
  }
  return -1;
}

const USAGE_KEY = Buffer.from('"usage":');
const EVENT_END = Buffer.from("\n\n");
const LF = 0x0a;
const DATA = Buffer.from("data:");
const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/;

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Index of the `"` closing the JSON string whose opening quote is at `start`, or -1. */
function stringEnd(buf: Buffer, start: number): number {
  for (let i = start + 1; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x5c /* \\ */) i++;
    else if (c === 0x22 /* " */) return i;
  }
  return -1;
}

const USAGE_NAME = Buffer.from("usage");

/**
 * Index of the `}` closing the object under a `"usage"` key `depth` containers deep in the JSON of one
 * SSE event (1: a member of the root object, as in a chat chunk; 2: of an object in it, as the Responses
 * API's `response.usage`), or -1. The scan starts at the first `{` after `data:`, and skips strings, so
 * neither the answer's text nor a `usage` property deeper down (a tool's schema) can be taken for it.
 */
export function usageObjectEnd(event: Buffer, depth: number): number {
  const data = event.indexOf(DATA);
  let level = 0;
  for (let i = data === -1 ? -1 : event.indexOf(0x7b /* { */, data); i !== -1 && i < event.length; i++) {
    const c = event[i];
    if (c === 0x22 /* " */) {
      const end = stringEnd(event, i);
      if (end === -1) return -1;
      if (level === depth && end - i === 6 && event.subarray(i + 1, end).equals(USAGE_NAME)) {
        let j = end + 1;
        while (isSpace(event[j])) j++;
        if (event[j] === 0x3a /* : */) {
          j++;
          while (isSpace(event[j])) j++;
          if (event[j] === 0x7b) return matchingBrace(event, j);
        }
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b /* [ */) level++;
    else if (c === 0x7d || c === 0x5d /* ] */) level--;
  }
  return -1;
}

/**
 * `event` (one SSE event, as received) with `"cost_usd":<usd>` added as the last member of its usage
 * object (see `usageObjectEnd` for `depth`), every other byte as it was; null when it has no usage
 * object. `usd` is written as given: the decimal digits of a JSON number (formatUsd's).
 */
export function withCostUsd(event: Buffer, usd: string, depth: number): Buffer | null {
  const close = usageObjectEnd(event, depth);
  if (close === -1) return null;
  let last = close - 1;
  while (isSpace(event[last])) last--;
  const field = `${event[last] === 0x7b ? "" : ","}"cost_usd":${usd}`;
  return Buffer.concat([event.subarray(0, close), Buffer.from(field), event.subarray(close)]);
}

/** The cost of a call's usage in USD as exact decimal digits, or null when its model is unpriced. */
export type PriceOf = (usage: Usage) => string | null;

/**
 * Where the first `"usage":` followed by an object starts in `chunk` at or after `from` (chunk.length
 * when none): one scan, skipping the `"usage":null` that OpenAI puts in every chunk of a stream that
 * asked for usage.
 */
export function usageObjectAt(chunk: Buffer, from = 0): number {
  for (let at = chunk.indexOf(USAGE_KEY, from); at !== -1; at = chunk.indexOf(USAGE_KEY, at + USAGE_KEY.length)) {
    let i = at + USAGE_KEY.length;
    while (isSpace(chunk[i])) i++;
    if (chunk[i] === 0x7b /* { */) return at;
  }
  return chunk.length;
}

/**
 * Watches a relayed stream: notes usage as it passes and decides which events the client sees. The
 * gateway always asks for usage, so a client that did not ask must not get the usage-only chunk; a
 * client that did gets it with the call's cost added (`usage.cost_usd`, when the model is priced), as
 * does every Responses API client in `response.completed` (that API always sends usage there).
 */
export class StreamMeter {
  usage: Usage | null = null;
  /** The answer's id, model and finish reasons, noted from every chunk as it passes. */
  readonly response: ResponseMeta = newResponseMeta();
  readonly #endpoint: Endpoint;
  readonly #clientWantsUsage: boolean;

  readonly #transcript: StreamTranscript | null;
  readonly #priceOf: PriceOf | null;

  /**
   * `transcript` keeps the stream's bytes for message capture (off unless asked for); `priceOf` prices
   * the usage the client gets (called only for that event).
   */
  constructor(
    endpoint: Endpoint,
    clientWantsUsage: boolean,
    transcript: StreamTranscript | null = null,
    priceOf: PriceOf | null = null,
  ) {
    this.#endpoint = endpoint;
    this.#clientWantsUsage = clientWantsUsage;
    this.#transcript = transcript;
    this.#priceOf = priceOf;
  }

  /**
   * Consumes the whole LF-framed events at the start of `chunk` (which starts at an event boundary)
   * without the SSE parser, pushing what the client gets to `out` as slices of `chunk`: events pass as
   * the bytes they came in, and the event carrying a usage object (a single `data:` line) is read here
   * and left out when it is the usage-only chunk of a client that did not ask for usage (priced when it
   * did: a new buffer, the one thing not a slice). Returns how many bytes it consumed; the caller parses
   * the rest (a partial event, CRLF framing, the Responses API).
   */
  consume(chunk: Buffer, out: Buffer[]): number {
    if (this.#endpoint === "responses") return 0;
    let pos = 0;
    for (;;) {
      const usageAt = usageObjectAt(chunk, pos);
      // Whole events up to the usage object's event (or the last complete event).
      const boundary = usageAt === 0 ? -1 : chunk.lastIndexOf(EVENT_END, usageAt - 1);
      const start = boundary < pos ? pos : boundary + 2;
      if (start > pos) out.push(chunk.subarray(pos, start));
      if (usageAt === chunk.length) return start;
      const stop = chunk.indexOf(EVENT_END, usageAt);
      const end = stop + 2;
      // Anything but one complete `data:` line goes to the parser.
      if (stop === -1 || chunk.indexOf(LF, start) !== stop || !chunk.subarray(start, start + 5).equals(DATA))
        return start;
      const event = chunk.subarray(start, end);
      // As in `observe`: unreadable usage is unknown, and its chunk is still the usage chunk.
      const usage = usageFromBody(event);
      if (usage) this.usage = usage;
      if (this.#clientWantsUsage) out.push(usage ? this.#priced(event, usage) : event);
      else if (!EMPTY_CHOICES.test(event.toString("latin1"))) out.push(event);
      pos = end;
    }
  }

  /** Notes what a chunk of the stream says about the answer (before `consume` or the parser see it). */
  note(chunk: Buffer): void {
    scanResponseMeta(this.response, chunk);
    this.#transcript?.add(chunk);
  }

  /** The text the client gets for a parsed event (`ev.raw`, or the priced usage event), or null for none. */
  observe(ev: SseEvent): string | null {
    if (!ev.hasData) return ev.raw;
    if (this.#endpoint === "responses") {
      if (ev.event === "response.completed" || ev.data.includes('"response.completed"')) {
        const root = parse(ev.data);
        const usage = readUsage(obj(root?.["response"])?.["usage"]);
        if (usage) {
          this.usage = usage;
          return this.#pricedText(ev.raw, usage);
        }
      }
      return ev.raw;
    }
    // Only a chunk that carries a usage object is worth reading, and then only that object; most
    // events do not even name usage, and need no copy to bytes to say so.
    if (!ev.data.includes('"usage"')) return ev.raw;
    const data = Buffer.from(ev.data);
    if (usageObjectAt(data) === data.length) return ev.raw;
    // A usage object that cannot be read (bad JSON, impossible counts) is unknown usage, but its
    // chunk is still the usage chunk: a client that did not ask for usage does not get it either way.
    const usage = usageFromBody(data);
    if (usage) this.usage = usage;
    if (this.#clientWantsUsage) return usage ? this.#pricedText(ev.raw, usage) : ev.raw;
    // `"choices":[]` cannot occur inside a JSON string (its quotes would be escaped).
    return EMPTY_CHOICES.test(ev.data) ? null : ev.raw;
  }

  /** The usage event with `cost_usd` in its usage object; as it came for an unpriced model. */
  #priced(event: Buffer, usage: Usage): Buffer {
    const usd = this.#priceOf?.(usage) ?? null;
    return usd === null ? event : (withCostUsd(event, usd, this.#usageDepth()) ?? event);
  }

  /** `#priced` for a parsed event's text (copied to bytes only when there is a cost to add). */
  #pricedText(raw: string, usage: Usage): string {
    const usd = this.#priceOf?.(usage) ?? null;
    return usd === null ? raw : (withCostUsd(Buffer.from(raw), usd, this.#usageDepth())?.toString("utf8") ?? raw);
  }

  /** Chat and completions chunks carry `usage` at their root, `response.completed` in `response`. */
  #usageDepth(): number {
    return this.#endpoint === "responses" ? 2 : 1;
  }
}

function parse(data: string): Record<string, unknown> | null {
  try {
    return obj(JSON.parse(data));
  } catch {
    return null;
  }
}
