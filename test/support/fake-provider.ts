// A real OpenAI-compatible HTTP server on port 0 that tests script request by request, and that
// records what it received and when each of its sockets closed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  json(): Record<string, unknown>;
}

export type Handler = (req: Received, res: ServerResponse) => void | Promise<void>;

export interface FakeProvider {
  readonly url: string;
  readonly received: Received[];
  /** Handles the next requests, in turn; the last handler stays for every later request. */
  handle(...handlers: Handler[]): void;
  /** Resolves when a socket that carried a request closes; rejects after `ms`. */
  nextSocketClose(ms?: number): Promise<number>;
  close(): Promise<void>;
}

export async function startFakeProvider(): Promise<FakeProvider> {
  const received: Received[] = [];
  let handlers: Handler[] = [chatJson("hello")];
  const closeWaiters: ((t: number) => void)[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const socket = req.socket;
    if (!sockets.has(socket)) {
      sockets.add(socket);
      socket.once("close", () => {
        sockets.delete(socket);
        const t = Date.now();
        for (const w of closeWaiters.splice(0)) w(t);
      });
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const r: Received = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body,
        json: () => JSON.parse(body) as Record<string, unknown>,
      };
      received.push(r);
      const handler = handlers.length > 1 ? handlers.shift()! : handlers[0]!;
      void Promise.resolve(handler(r, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    received,
    handle: (...hs) => {
      handlers = hs;
    },
    nextSocketClose: (ms = 5000) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no upstream socket closed within ${ms} ms`)), ms);
        closeWaiters.push((t) => {
          clearTimeout(timer);
          resolve(t);
        });
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- scripted answers ----

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    const body = JSON.stringify(value);
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  };
}

export function chatJson(
  content: string,
  usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
): Handler {
  return (req, res) => {
    const model = (req.json()["model"] as string | undefined) ?? "unknown";
    void json(
      200,
      {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 1,
        model,
        choices: [
          { index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: "stop" },
        ],
        usage,
      },
      { "x-request-id": "req_fake_1" },
    )(req, res);
  };
}

export const chunk = (content: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: "chatcmpl-fake",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-test",
  choices: content === null ? [] : [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  ...extra,
});

/** Streams chat chunks; before each event after the first, awaits `between(i)` if given. */
export function chatStream(
  contents: string[],
  opts: { between?: (i: number) => Promise<void>; usage?: boolean; eol?: string } = {},
): Handler {
  return async (req, res) => {
    const eol = opts.eol ?? "\n";
    const wantsUsage =
      (req.json()["stream_options"] as { include_usage?: boolean } | undefined)?.include_usage === true;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.flushHeaders();
    const events: string[] = contents.map((c) => JSON.stringify(chunk(c, { usage: null })));
    // As OpenAI does: a last choices chunk with an empty delta and the finish reason.
    events.push(
      JSON.stringify(
        chunk(null, { choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }], usage: null }),
      ),
    );
    if (wantsUsage && opts.usage !== false) {
      events.push(
        JSON.stringify(
          chunk(null, {
            usage: { prompt_tokens: 5, completion_tokens: contents.length, total_tokens: 5 + contents.length },
          }),
        ),
      );
    }
    events.push("[DONE]");
    for (const [i, data] of events.entries()) {
      if (i > 0 && opts.between) await opts.between(i);
      if (res.destroyed) return;
      res.write(`data: ${data}${eol}${eol}`);
    }
    res.end();
  };
}

/** Never answers (the socket stays open until the gateway gives up or the test ends). */
export const hang: Handler = () => undefined;

/** Sends headers and one chunk, then stalls. */
export const stallAfterFirstChunk: Handler = (_req, res) => {
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(`data: ${JSON.stringify(chunk("first"))}\n\n`);
};

/** Drops the connection without answering. */
export const reset: Handler = (req, res) => {
  void req;
  res.socket?.destroy();
};
