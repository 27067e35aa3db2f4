// Relays the provider's answer: buffered answers are read whole (usage is in them, and a buffer is
// the cheapest thing to hand back), streams are written to the socket event by event as they arrive.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GatewayError, errorBody } from "../errors/gateway-error.ts";
import type { OpenStreams } from "../http/open-streams.ts";
import { SseParser, type SseEvent } from "../openai/sse.ts";
import type { StreamScrub } from "../support/scrubber.ts";

/**
 * Closes an upstream body we no longer want. undici's body emits an AbortError when destroyed
 * unread, and an `error` event nobody listens to would take the process down.
 */
export function discard(body: Readable): void {
  if (body.destroyed) return;
  body.on("error", ignore);
  body.destroy();
}

const ignore = (): void => undefined;

/** Reads a whole upstream body, refusing one larger than `limit`. */
export function readAll(body: Readable, limit: number): Promise<Buffer> {
  // Plain events rather than an async iterator: this runs on every buffered answer.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        body.off("data", onData);
        body.off("end", onEnd);
        discard(body);
        reject(new GatewayError("upstream_error", `the provider's answer exceeds the ${limit}-byte limit`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    body.once("end", onEnd);
    body.once("error", reject);
    // What has already arrived is taken now rather than a tick later, when flowing mode starts.
    readBuffered(body, onData);
    if (!body.destroyed) body.on("data", onData);
  });
}

/**
 * Hands `onData` what `body` already holds (the provider's whole answer, often, by the time its
 * headers are seen), in one chunk.
 */
function readBuffered(body: Readable, onData: (chunk: Buffer) => void): void {
  if (body.readableLength === 0) return;
  const chunk: unknown = body.read();
  if (Buffer.isBuffer(chunk)) onData(chunk);
}

/** Sends a stream's headers; `relaySse` flushes them with the first events, or alone if none come. */
export function startStream(out: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  out.writeHead(status, {
    ...headers,
    "cache-control": "no-cache",
    // Tell buffering reverse proxies (nginx) in front of the gateway to pass events straight through.
    "x-accel-buffering": "no",
  });
}

export interface StreamOutcome {
  /** The provider failed mid-stream (a client that left is not an error here). */
  readonly error: GatewayError | null;
  /** Milliseconds from start to the first event written, or null if none was. */
  readonly firstEventAt: number | null;
}

/**
 * Relays an SSE body event by event. `meter` takes the whole events at the start of a chunk as they
 * came (parsing only a usage object), and sees every other event, parsed, and says what the client
 * gets of it (the event as it came, the usage event with its cost added, or nothing).
 * A provider failure mid-stream becomes a final `error` event in OpenAI's shape, then the end; so does
 * the server's drain deadline, through `streams`.
 * `scrub` (the provider's key, when the gateway sent one) sees every byte before anything else does.
 */
export function relaySse(
  out: ServerResponse,
  body: Readable,
  meter: {
    note(chunk: Buffer): void;
    observe(ev: SseEvent): string | null;
    consume(chunk: Buffer, out: Buffer[]): number;
  },
  signal: AbortSignal,
  now: () => number,
  toError: (err: unknown) => GatewayError,
  scrub: StreamScrub | null = null,
  streams?: OpenStreams,
): Promise<StreamOutcome> {
  const parser = new SseParser();
  // Only events the meter cannot take as raw bytes need decoding, so the decoder is made on first use.
  let decoder: TextDecoder | null = null;
  let firstEventAt: number | null = null;
  // What one turn of the event loop produced leaves in one socket write (headers, the events of an
  // upstream read, the end of the response): syscalls dominate a relay's cost. Waiting for the end of
  // the turn adds no measurable delay.
  let pending: Buffer[] = [];
  let scheduled = false;
  const take = (): Buffer | null => {
    if (pending.length === 0) return null;
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    return data;
  };
  const flush = (): void => {
    scheduled = false;
    const data = out.destroyed ? null : take();
    // A slow client: stop reading the provider until the socket drains (TCP pushes back upstream).
    if (data && !out.write(data)) {
      body.pause();
      out.once("drain", () => body.resume());
    }
  };
  /** Adds parsed events the client gets to what `meter.consume` already put in `pending`. */
  const queue = (events: readonly SseEvent[]): void => {
    let text = "";
    for (const ev of events) {
      const kept = meter.observe(ev);
      if (kept !== null) text += kept;
    }
    if (text !== "") pending.push(Buffer.from(text));
    if (pending.length === 0) return;
    firstEventAt ??= now();
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  // Plain events rather than an async iterator: this runs for every chunk of every stream.
  return new Promise<StreamOutcome>((resolve) => {
    // Raw bytes may skip the decoder only while it holds no part of a multi-byte character.
    let decoderClean = true;
    // Registered first, so that every way the relay ends unregisters it.
    const untrack = streams?.add(out, () => onShutdown());
    let finished = false;
    const finish = (outcome: StreamOutcome): void => {
      finished = true;
      untrack?.();
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      signal.removeEventListener("abort", onAbort);
      discard(body);
      const rest = take();
      if (!out.destroyed) out.end(rest ?? undefined);
      resolve(outcome);
    };
    /** Relays one chunk of the (scrubbed) stream. */
    const relay = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      try {
        meter.note(chunk);
        const n = parser.idle && decoderClean ? meter.consume(chunk, pending) : 0;
        const rest = n === 0 ? chunk : chunk.subarray(n);
        if (rest.length > 0) decoderClean = rest[rest.length - 1]! < 0x80;
        queue(rest.length === 0 ? [] : parser.push((decoder ??= new TextDecoder()).decode(rest, { stream: true })));
      } catch (err) {
        onError(err);
      }
    };
    const onData = (chunk: Buffer): void => relay(scrub === null ? chunk : scrub.push(chunk));
    const onEnd = (): void => {
      // Bytes held back as the possible start of a secret were not one: they end the stream.
      if (scrub !== null) relay(scrub.end());
      if (finished) return; // relaying them failed, and finished the relay
      queue(decoder === null ? parser.flush() : [...parser.push(decoder.decode()), ...parser.flush()]);
      finish({ error: null, firstEventAt });
    };
    const onError = (err: unknown): void => {
      if (signal.aborted) return onAbort();
      const failure = toError(err);
      pending.push(Buffer.from(`data: ${JSON.stringify(errorBody(failure))}\n\n`));
      finish({ error: failure, firstEventAt });
    };
    const onAbort = (): void => finish({ error: null, firstEventAt });
    // Whole events only ever wait in `pending`, so the last event starts on an event boundary.
    const onShutdown = (): void => {
      const failure = new GatewayError("unavailable", "The gateway is shutting down and ended this stream; retry");
      pending.push(Buffer.from(`data: ${JSON.stringify(errorBody(failure))}\n\n`));
      finish({ error: failure, firstEventAt });
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    body.once("end", onEnd);
    body.once("error", onError);
    readBuffered(body, onData);
    // The buffered part may have ended the relay (a failure, or a client already gone).
    if (body.destroyed) return;
    body.on("data", onData);
    // No events yet: the client gets the headers now rather than with the first event.
    if (pending.length === 0) {
      setImmediate(() => {
        if (pending.length === 0 && !out.headersSent && !out.destroyed) out.flushHeaders();
      });
    }
  });
}

/** Relays a body byte for byte (pass-through routes, non-SSE streams), through `scrub` when given. */
export async function relayRaw(out: ServerResponse, body: Readable, scrub: StreamScrub | null = null): Promise<void> {
  try {
    if (scrub === null) await pipeline(body, out);
    else
      await pipeline(
        body,
        new Transform({
          transform: (chunk: Buffer, _encoding, done) => done(null, scrub.push(chunk)),
          flush: (done) => done(null, scrub.end()),
        }),
        out,
      );
  } catch {
    // Either side closed early; pipeline has already destroyed both.
  }
}
