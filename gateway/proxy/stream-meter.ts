// Watches a relayed stream for the client: notes usage and the answer's metadata as events pass, and
// decides which events the client sees (the usage-only chunk only when it asked; priced when it did).
import type { Endpoint } from "./request-schema.ts";
import { newResponseMeta, scanResponseMeta, type ResponseMeta } from "../openai/response-meta.ts";
import type { SseEvent } from "../openai/sse.ts";
import { readUsage, usageFromBody, usageObjectAt, withCostUsd, type Usage } from "../openai/usage.ts";
import type { StreamTranscript } from "../telemetry/message-content.ts";

const EVENT_END = Buffer.from("\n\n");
const LF = 0x0a;
const DATA = Buffer.from("data:");
const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/;

const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** The cost of a call's usage in USD as exact decimal digits, or null when its model is unpriced. */
export type PriceOf = (usage: Usage) => string | null;

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
