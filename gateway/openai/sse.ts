// Incremental Server-Sent Events parser, safe across arbitrary chunk boundaries and CR, LF or CRLF
// line ends (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
// Each event keeps its exact source text, so the relay can forward it byte for byte.

export interface SseEvent {
  /** The `event:` field, or null for the default "message". */
  readonly event: string | null;
  /** The `data:` lines joined with "\n"; "" when the block had none (comments, keep-alives). */
  readonly data: string;
  readonly hasData: boolean;
  /** The block exactly as received, blank line included. */
  readonly raw: string;
}

export class SseParser {
  #buf = "";
  /** Where the current block starts in #buf, and how far lines have been consumed. */
  #blockStart = 0;
  #pos = 0;
  #event: string | null = null;
  #data: string[] = [];

  /** True between blocks: nothing of an unfinished block is held. */
  get idle(): boolean {
    return this.#buf.length === 0;
  }

  /** Feeds decoded text; returns the blocks it completed. */
  push(text: string): SseEvent[] {
    this.#buf += text;
    const out: SseEvent[] = [];
    const buf = this.#buf;
    for (;;) {
      const lf = buf.indexOf("\n", this.#pos);
      const cr = buf.indexOf("\r", this.#pos);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR as the last character may be the first half of a CRLF still in flight.
        if (cr === buf.length - 1) break;
        end = cr;
        next = buf.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      const ev = this.#line(buf, this.#pos, end, next);
      this.#pos = next;
      if (ev) out.push(ev);
    }
    // Drop consumed text so the buffer holds only the block in progress.
    if (this.#blockStart > 0) {
      this.#buf = buf.slice(this.#blockStart);
      this.#pos -= this.#blockStart;
      this.#blockStart = 0;
    }
    return out;
  }

  /** At end of stream: a trailing block without its blank line still counts (as browsers do not, but
   *  providers that cut a stream short still sent real data). */
  flush(): SseEvent[] {
    const rest: SseEvent[] = [];
    const buf = this.#buf;
    if (buf.endsWith("\r") && this.#pos < buf.length) {
      // The final CR held back by push() was a line end after all.
      const ev = this.#line(buf, this.#pos, buf.length - 1, buf.length);
      if (ev) rest.push(ev);
      this.#pos = buf.length;
    }
    if (this.#pos < buf.length) this.#lineContent(buf.slice(this.#pos));
    if (this.#blockStart < buf.length && (this.#data.length > 0 || this.#event !== null)) {
      rest.push(this.#emit(buf.slice(this.#blockStart)));
    }
    this.#buf = "";
    this.#pos = 0;
    this.#blockStart = 0;
    return rest;
  }

  #line(buf: string, start: number, end: number, next: number): SseEvent | null {
    if (end === start) {
      const ev = this.#emit(buf.slice(this.#blockStart, next));
      this.#blockStart = next;
      return ev;
    }
    this.#lineContent(buf.slice(start, end));
    return null;
  }

  #lineContent(line: string): void {
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
  }

  #emit(raw: string): SseEvent {
    const ev: SseEvent = { event: this.#event, data: this.#data.join("\n"), hasData: this.#data.length > 0, raw };
    this.#event = null;
    this.#data = [];
    return ev;
  }
}
