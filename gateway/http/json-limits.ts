// Bounds on the shape of a JSON text, checked over its bytes as they arrive, before any parser sees them.
// Depth: JSON.parse of 5 MB of `[[[[...` holds the event loop for seconds, and what it builds overflows
// the stack of every recursive reader after it (JSON.stringify, template variables). Members: V8 makes a
// hidden class for every new order of keys, so 100,000 objects whose keys come in shuffled orders cost
// it seconds per MB where ordinary JSON costs milliseconds. Containers: an array or object costs the
// parser, and every reader after it, about ten times what a number does, so 10 MB of `[],[],...` held
// the event loop for over a second between JSON.parse and JSON.stringify. A text past any limit is
// refused unparsed.
import { GatewayError } from "../errors/gateway-error.ts";

export interface JsonLimits {
  /** Arrays and objects open inside one another. */
  readonly depth: number;
  /** `"name": value` pairs in all objects together. */
  readonly members: number;
  /** Arrays and objects in all, at any depth. */
  readonly containers: number;
}

export type JsonLimit = keyof JsonLimits;

declare const BOUNDED: unique symbol;
/** JSON bytes known to be within their limits: what may be given to JSON.parse. */
export type BoundedJson = Buffer & { readonly [BOUNDED]: true };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** What each byte means to the scan: most mean nothing, and one table lookup says so. */
const OTHER = 0;
const STRING = 1;
const OPEN = 2;
const CLOSE = 3;
const MEMBER = 4;
const CLASS = new Uint8Array(256);
CLASS[QUOTE] = STRING;
CLASS[0x5b] = OPEN; // [
CLASS[0x7b] = OPEN; // {
CLASS[0x5d] = CLOSE; // ]
CLASS[0x7d] = CLOSE; // }
CLASS[0x3a] = MEMBER; // : outside a string only ever follows a member's name
/** Bytes of a string read one by one before the rest is searched natively for its next quote. */
const INLINE = 64;

/**
 * Scans JSON text chunk by chunk (a string or an escape may span two chunks) and says which limit it
 * went past. Brackets and colons inside strings do not count. Malformed text is the parser's to
 * reject: the scan only ever says "past a limit".
 */
export class JsonShapeScanner {
  readonly #maxDepth: number;
  #membersLeft: number;
  #containersLeft: number;
  #depth = 0;
  #inString = false;
  /** The last chunk ended inside a string on a backslash that escapes the next chunk's first byte. */
  #escapePending = false;
  #exceeded: JsonLimit | null = null;

  constructor(limits: JsonLimits) {
    this.#maxDepth = limits.depth;
    this.#membersLeft = limits.members;
    this.#containersLeft = limits.containers;
  }

  /** The limit passed so far, or null; once past a limit, it stays so. */
  feed(text: Buffer): JsonLimit | null {
    if (this.#exceeded !== null) return this.#exceeded;
    const n = text.length;
    let i = 0;
    if (this.#inString) {
      i = this.#stringEnd(text, 0);
      if (i === -1) return null;
      i++;
    }
    for (; i < n; i++) {
      const kind = CLASS[text[i]!];
      if (kind === OTHER) continue;
      if (kind === OPEN) {
        if (++this.#depth > this.#maxDepth) return (this.#exceeded = "depth");
        if (--this.#containersLeft < 0) return (this.#exceeded = "containers");
      } else if (kind === CLOSE) {
        this.#depth--;
      } else if (kind === MEMBER) {
        if (--this.#membersLeft < 0) return (this.#exceeded = "members");
      } else {
        i = this.#stringEnd(text, i + 1);
        if (i === -1) return null;
      }
    }
    return null;
  }

  /**
   * The index of the quote that ends the string going on at `from`, or -1 when the chunk ends first
   * (the string continues in the next one). Short strings are read byte by byte; a long one is searched
   * with `indexOf` (memchr) from quote to quote, and read byte by byte again after an escaped quote, so
   * that a run of `\"` costs no more than any other text.
   */
  #stringEnd(text: Buffer, from: number): number {
    const n = text.length;
    let i = from;
    if (this.#escapePending) {
      this.#escapePending = false;
      i++;
    }
    // At `i` no escape is pending: every backslash before it has been paired with the byte it escapes.
    for (;;) {
      const stop = Math.min(n, i + INLINE);
      for (; i < stop; i++) {
        const c = text[i];
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) {
          this.#inString = false;
          return i;
        }
      }
      if (i >= n) {
        this.#inString = true;
        this.#escapePending = i > n;
        return -1;
      }
      const q = text.indexOf(QUOTE, i);
      if (q === -1) {
        this.#inString = true;
        this.#escapePending = oddRun(text, n - 1, i);
        return -1;
      }
      if (!oddRun(text, q - 1, i)) {
        this.#inString = false;
        return q;
      }
      i = q + 1;
    }
  }
}

/** Whether the run of backslashes ending at `end` (and starting no earlier than `start`) is odd. */
function oddRun(text: Buffer, end: number, start: number): boolean {
  let k = end;
  while (k >= start && text[k] === BACKSLASH) k--;
  return (end - k) % 2 === 1;
}

/** Which limit the whole of `text` goes past, or null. */
export function exceededLimit(text: Buffer, limits: JsonLimits): JsonLimit | null {
  return new JsonShapeScanner(limits).feed(text);
}

/** The gateway.yaml settings that hold the limits, named in the message when there are such. */
export interface JsonLimitNames {
  readonly depth?: string;
  readonly members?: string;
  readonly containers?: string;
  readonly param?: string;
}

/** The request path's limits live in gateway.yaml. */
export const LIMIT_SETTINGS: JsonLimitNames = {
  depth: "limits.json_depth",
  members: "limits.json_members",
  containers: "limits.json_containers",
};

/** The limits of gateway.yaml's `limits` section. */
export function jsonLimitsOf(limits: {
  readonly json_depth: number;
  readonly json_members: number;
  readonly json_containers: number;
}): JsonLimits {
  return { depth: limits.json_depth, members: limits.json_members, containers: limits.json_containers };
}

/** The 400 for a text past `exceeded`; `what` names the text ("The request body", "X-Prompt-Vars"). */
export function jsonLimitError(
  exceeded: JsonLimit,
  limits: JsonLimits,
  what: string,
  names: JsonLimitNames = {},
): GatewayError {
  const setting = names[exceeded];
  const message = {
    depth: `${what} nests arrays and objects more than ${limits.depth} levels deep`,
    members: `${what} has more than ${limits.members} object members ("name": value pairs)`,
    containers: `${what} holds more than ${limits.containers} arrays and objects`,
  }[exceeded];
  return new GatewayError(
    "invalid_request",
    setting === undefined ? message : `${message} (the limit is ${setting})`,
    names.param === undefined ? {} : { param: names.param },
  );
}

/** `text`, checked: a 400 naming the limit when it goes past one. */
export function boundedJson(text: Buffer, limits: JsonLimits, what: string, names: JsonLimitNames = {}): BoundedJson {
  const exceeded = exceededLimit(text, limits);
  if (exceeded !== null) throw jsonLimitError(exceeded, limits, what, names);
  return text as BoundedJson;
}
