// The small HTTP server of the worker processes (`promptgate controller`, `promptgate evaluator`): /healthz
// (the process answers), /readyz (the store answers, and the worker is not stopping), /metrics (Prometheus).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry as MetricsRegistry } from "prom-client";
import type { Store } from "../store/store.ts";
import type { Logger } from "../support/logger.ts";
import { listenFailure } from "./serve-lifecycle.ts";

/** How long /readyz waits for the store. */
const READY_TIMEOUT_MS = 1_000;

export interface ProbeServerOptions {
  readonly host: string;
  /** 0: any free one (the caller logs which). */
  readonly port: number;
  readonly store: Pick<Store, "ping">;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
  /** True once the worker is shutting down: /readyz answers 503 from then on. */
  readonly stopping: () => boolean;
  /** Names the worker in the log line of a failed probe. */
  readonly worker: string;
}

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens, or throws listenFailure's error (the port taken, the host unknown). */
export async function startProbeServer(opts: ProbeServerOptions): Promise<ProbeServer> {
  const { store, metrics, logger } = opts;
  const server = createServer((req, res) => void answer(req, res));
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
      if (path === "/healthz") return reply(200, "ok\n");
      if (path === "/readyz") {
        if (opts.stopping()) return reply(503, "stopping\n");
        const answered = await Promise.race([
          store.ping().then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), READY_TIMEOUT_MS).unref()),
        ]).catch(() => false);
        return answered ? reply(200, "ready\n") : reply(503, "the store does not answer\n");
      }
      if (path === "/metrics") return reply(200, await metrics.metrics(), metrics.contentType);
      return reply(404, "not found: /healthz, /readyz, /metrics\n");
    } catch (err) {
      logger.error(`${opts.worker} probe failed`, { path, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) reply(500, "internal error\n");
    }
  }

  let port: number;
  try {
    port = await listen(server, opts.port, opts.host);
  } catch (err) {
    throw listenFailure(err, opts.host, opts.port);
  }
  return {
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
