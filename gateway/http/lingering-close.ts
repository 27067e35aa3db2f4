// The answer to a request refused while the client is still sending its body (413, a JSON limit, any
// error before the body was read). Closing at once would leave unread bytes in the socket, which the
// kernel answers with a reset: undici, fetch and the openai SDK then report ECONNRESET/EPIPE instead of
// the answer, and the SDK sends the upload again. So, like nginx's lingering close
// (https://nginx.org/en/docs/http/ngx_http_core_module.html#lingering_close), the whole answer goes out
// first, the rest of the body is read and thrown away for a bounded time and size, and only then does
// the connection close.
import type { IncomingMessage, ServerResponse } from "node:http";

export interface LingerLimits {
  /** How long the rest of an upload is read after the answer (`limits.linger_ms`). */
  readonly ms: number;
  /** How many more bytes are read and thrown away (`limits.linger_bytes`). */
  readonly bytes: number;
}

/** How each lingering close ended, and the bytes thrown away; read by the metrics at scrape time. */
export interface LingerStats {
  /** The client sent the rest of its body; the connection closed cleanly. */
  complete: number;
  /** The client closed first (usually as soon as it read the answer). */
  client_closed: number;
  /** The client was still sending at the time or size bound: the connection was cut. */
  cut: number;
  discardedBytes: number;
}

export const newLingerStats = (): LingerStats => ({ complete: 0, client_closed: 0, cut: 0, discardedBytes: 0 });

/**
 * Sends `status` with the JSON `body` and `connection: close`, then discards the rest of the request
 * body until it ends, the client closes, or a bound of `limits` is reached (then the socket is cut).
 * Nothing read is kept: each chunk is counted and dropped.
 */
export function answerAndLinger(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  status: number,
  body: string,
  limits: LingerLimits,
  stats: LingerStats,
): void {
  if (outgoing.destroyed) return;
  const payload = Buffer.from(body);
  outgoing.writeHead(status, {
    "content-type": "application/json",
    "content-length": payload.length,
    connection: "close",
  });
  // All of the answer now: with its Content-Length the client has it whole even before `end()`, which
  // waits for the upload, because ending the response is what makes Node close the socket.
  outgoing.write(payload);
  if (incoming.complete || incoming.destroyed) {
    outgoing.end();
    return;
  }
  let discarded = 0;
  let done = false;
  const finish = (outcome: "complete" | "client_closed" | "cut"): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    incoming.off("data", onData);
    stats[outcome]++;
    outgoing.end();
    // The rest of the upload is still coming: a reset is the only way to stop it.
    if (outcome === "cut") outgoing.destroy();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    stats.discardedBytes += chunk.length;
    if (discarded > limits.bytes) finish("cut");
  };
  const timer = setTimeout(() => finish("cut"), limits.ms);
  incoming.on("data", onData);
  incoming.once("end", () => finish("complete"));
  incoming.once("close", () => finish(incoming.complete ? "complete" : "client_closed"));
  // A reset from the client is an ending like any other here, not an error to report.
  incoming.on("error", () => finish("client_closed"));
  incoming.resume();
}
