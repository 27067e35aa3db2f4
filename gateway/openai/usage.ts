// Token usage as providers report it: in a JSON body, in the final chat/completions stream chunk
// (stream_options.include_usage), or in the Responses API's `response.completed` event.

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
const DATA = Buffer.from("data:");

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
