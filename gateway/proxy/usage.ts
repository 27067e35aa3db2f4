// Token usage as providers report it: in a JSON body, in the final chat/completions stream chunk
// (stream_options.include_usage), or in the Responses API's `response.completed` event.
import type { Endpoint } from "./request-schema.ts";
import { newResponseMeta, scanResponseMeta, type ResponseMeta } from "./response-meta.ts";
import type { StreamTranscript } from "../telemetry/message-content.ts";
import type { SseEvent } from "./sse.ts";

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** Reads either usage shape: chat/completions (`prompt_tokens`) or responses (`input_tokens`). */
export function readUsage(value: unknown): Usage | null {
  const u = obj(value);
  if (!u) return null;
  if ("input_tokens" in u || "output_tokens" in u) {
    return {
      inputTokens: num(u["input_tokens"]),
      outputTokens: num(u["output_tokens"]),
      cachedInputTokens: num(obj(u["input_tokens_details"])?.["cached_tokens"]),
    };
  }
  return {
    inputTokens: num(u["prompt_tokens"]),
    outputTokens: num(u["completion_tokens"]),
    cachedInputTokens: num(obj(u["prompt_tokens_details"])?.["cached_tokens"]),
  };
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
  let inString = false;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c /* \\ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */) depth++;
    else if (c === 0x7d /* } */ && --depth === 0) return i;
  }
  return -1;
}

const USAGE_KEY = Buffer.from('"usage":');
const EVENT_END = Buffer.from("\n\n");
const LF = 0x0a;
const DATA = Buffer.from("data:");
const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/;

/**
 * Where the first `"usage":` followed by an object starts in `chunk` at or after `from` (chunk.length
 * when none): one scan, skipping the `"usage":null` that OpenAI puts in every chunk of a stream that
 * asked for usage.
 */
export function usageObjectAt(chunk: Buffer, from = 0): number {
  for (let at = chunk.indexOf(USAGE_KEY, from); at !== -1; at = chunk.indexOf(USAGE_KEY, at + USAGE_KEY.length)) {
    let i = at + USAGE_KEY.length;
    while (chunk[i] === 0x20 || chunk[i] === 0x09 || chunk[i] === 0x0a || chunk[i] === 0x0d) i++;
    if (chunk[i] === 0x7b /* { */) return at;
  }
  return chunk.length;
}

/**
 * Watches a relayed stream: notes usage as it passes and decides which events the client sees. The
 * gateway always asks for usage, so a client that did not ask must not get the usage-only chunk.
 */
export class StreamMeter {
  usage: Usage | null = null;
  /** The answer's id, model and finish reasons, noted from every chunk as it passes. */
  readonly response: ResponseMeta = newResponseMeta();
  readonly #endpoint: Endpoint;
  readonly #clientWantsUsage: boolean;

  readonly #transcript: StreamTranscript | null;

  /** `transcript` keeps the stream's bytes for message capture (off unless asked for). */
  constructor(endpoint: Endpoint, clientWantsUsage: boolean, transcript: StreamTranscript | null = null) {
    this.#endpoint = endpoint;
    this.#clientWantsUsage = clientWantsUsage;
    this.#transcript = transcript;
  }

  /**
   * Consumes the whole LF-framed events at the start of `chunk` (which starts at an event boundary)
   * without the SSE parser, pushing what the client gets to `out` as slices of `chunk`: events pass as
   * the bytes they came in, and the event carrying a usage object (a single `data:` line) is read here
   * and left out when it is the usage-only chunk of a client that did not ask for usage. Returns how
   * many bytes it consumed; the caller parses the rest (a partial event, CRLF framing, the Responses API).
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
      if (stop === -1 || chunk.indexOf(LF, start) !== stop || !chunk.subarray(start, start + 5).equals(DATA)) return start;
      const event = chunk.subarray(start, end);
      const usage = usageFromBody(event);
      if (usage) this.usage = usage;
      if (!usage || this.#clientWantsUsage || !EMPTY_CHOICES.test(event.toString("latin1"))) out.push(event);
      pos = end;
    }
  }

  /** Notes what a chunk of the stream says about the answer (before `consume` or the parser see it). */
  note(chunk: Buffer): void {
    scanResponseMeta(this.response, chunk);
    this.#transcript?.add(chunk);
  }

  /** True when the event goes on to the client. */
  observe(ev: SseEvent): boolean {
    if (!ev.hasData) return true;
    if (this.#endpoint === "responses") {
      if (ev.event === "response.completed" || ev.data.includes('"response.completed"')) {
        const root = parse(ev.data);
        const usage = readUsage(obj(root?.["response"])?.["usage"]);
        if (usage) this.usage = usage;
      }
      return true;
    }
    // Only a chunk that carries a usage object is worth reading, and then only that object; most
    // events do not even name usage, and need no copy to bytes to say so.
    if (!ev.data.includes('"usage"')) return true;
    const data = Buffer.from(ev.data);
    if (usageObjectAt(data) === data.length) return true;
    const usage = usageFromBody(data);
    if (!usage) return true;
    this.usage = usage;
    // `"choices":[]` cannot occur inside a JSON string (its quotes would be escaped).
    return this.#clientWantsUsage || !EMPTY_CHOICES.test(ev.data);
  }
}

function parse(data: string): Record<string, unknown> | null {
  try {
    return obj(JSON.parse(data));
  } catch {
    return null;
  }
}
