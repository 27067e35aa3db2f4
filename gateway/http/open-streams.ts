// The streams a server is relaying, so that a drain deadline ends each with a last event in OpenAI's
// error shape, which clients read as an error, instead of a socket cut mid-answer, which they may
// take for an answer that simply ended.
import type { ServerResponse } from "node:http";

export class OpenStreams {
  readonly #ends = new Map<ServerResponse, () => void>();

  /** Registers a stream and how to end it; the returned function unregisters it. */
  add(out: ServerResponse, end: () => void): () => void {
    this.#ends.set(out, end);
    return () => void this.#ends.delete(out);
  }

  get size(): number {
    return this.#ends.size;
  }

  /**
   * Ends every open stream (each writes its last event and ends its response), and resolves with how
   * many there were once each response is written out or its socket closed, or after `graceMs`.
   */
  async endAll(graceMs: number): Promise<number> {
    const open = [...this.#ends];
    this.#ends.clear();
    for (const [, end] of open) end();
    const written = open.map(([out]) => settled(out));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(written), grace]);
    clearTimeout(timer);
    return open.length;
  }
}

const settled = (out: ServerResponse): Promise<void> =>
  out.writableFinished || out.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => {
        out.once("finish", () => resolve());
        out.once("close", () => resolve());
      });
