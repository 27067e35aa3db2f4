// Serving an app over HTTP, and stopping it gracefully: readiness fails first, no new connections are
// taken, open requests and streams finish within the drain deadline; past it, each stream still open
// ends with a last error event, then everything closes.
import { createAdaptorServer } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "./app.ts";
import type { Deps } from "./deps.ts";
import { OpenStreams } from "./http/open-streams.ts";

/** How long streams ended at the drain deadline get to write their last event out. */
const STREAM_END_GRACE_MS = 1_000;

export interface RunningGateway {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** Drains and closes; resolves true when every open request finished before the deadline. */
  stop(drainMs: number): Promise<boolean>;
}

export async function startGateway(deps: Deps, port: number, host = "127.0.0.1"): Promise<RunningGateway> {
  const streams = new OpenStreams();
  const app = createApp(deps, streams);
  const server = createAdaptorServer({
    fetch: app.fetch,
    // Cheap Request objects: the routes read Node's request directly.
    overrideGlobalObjects: true,
    serverOptions: {
      maxHeaderSize: deps.config.limits.header_bytes,
      noDelay: true,
      keepAliveTimeout: 65_000,
      // Long streams are fine; only receiving the request itself is bounded.
      requestTimeout: 300_000,
    },
  }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => deps.logger.error("server error", { error: err.message }));
  server.on("clientError", (err, socket) => {
    // Malformed requests and oversized headers (431) get a plain answer; never a crash.
    const code = (err as NodeJS.ErrnoException).code;
    if (socket.writable) {
      const status = code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  const addr = server.address() as AddressInfo;
  deps.lifecycle.ready = true;

  let stopping: Promise<boolean> | null = null;
  const stop = (drainMs: number): Promise<boolean> => {
    stopping ??= (async () => {
      deps.lifecycle.draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open; busy ones are closed as their answers end.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), drainMs);
      });
      const drained = await Promise.race([closed.then(() => true as const), deadline]);
      clearInterval(sweep);
      clearTimeout(timer);
      if (!drained) {
        deps.logger.warn("drain deadline passed; ending open streams with an error event, closing open connections", {
          drain_ms: drainMs,
          streams: streams.size,
        });
        // Clients read a last `unavailable` error event rather than a cut they may take for the end.
        await streams.endAll(STREAM_END_GRACE_MS);
        server.closeAllConnections();
        await closed;
      }
      return drained;
    })();
    return stopping;
  };
  return { server, port: addr.port, url: `http://${host}:${addr.port}`, stop };
}
