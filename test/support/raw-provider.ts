// A provider at the socket level, for faults an HTTP server cannot stage on cue: it reads each request
// whole (head and Content-Length body), records it, then lets the test decide what the socket does:
// answer, close, or reset.
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  readonly body: string;
  /** Which request this is on its connection: 0 for the first. */
  readonly onConnection: number;
}

/** What the provider does once it has read a whole request. */
export type RawAction = (req: RawRequest, socket: Socket) => void;

export interface RawProvider {
  readonly port: number;
  /** `http://127.0.0.1:<port>/v1`, for gateway.yaml. */
  readonly url: string;
  readonly received: RawRequest[];
  close(): Promise<void>;
}

/** Starts listening on `port` (0: any free port). */
export async function startRawProvider(act: RawAction, port = 0): Promise<RawProvider> {
  const received: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    let onConnection = 0;
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buf.subarray(0, end).toString("latin1").split("\r\n");
        const length = Number(/^content-length:\s*(\d+)$/im.exec(head.join("\n"))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const [method = "", target = ""] = (head[0] ?? "").split(" ");
        const body = buf.subarray(end + 4, end + 4 + length).toString("utf8");
        buf = buf.subarray(end + 4 + length);
        const req: RawRequest = { method, target, body, onConnection: onConnection++ };
        received.push(req);
        act(req, socket);
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}/v1`,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (just released by this process). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Answers with a JSON body over HTTP/1.1, keeping the connection open. */
export function answerJson(socket: Socket, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  socket.write(
    `HTTP/1.1 ${status} OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `keep-alive: timeout=60\r\n\r\n${body}`,
  );
}

/** Sends a TCP reset: the connection breaks with ECONNRESET on the other side. */
export const resetSocket: RawAction = (_req, socket) => void socket.resetAndDestroy();

/** Closes the connection cleanly (FIN) without answering. */
export const closeSocket: RawAction = (_req, socket) => void socket.end();
