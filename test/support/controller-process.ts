// `promptgate controller` as a real child process, its probes and metrics read over HTTP, killed after each test;
// and a webhook receiver (a real HTTP server on port 0) that keeps what the controller POSTs.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { AlertEvent } from "../../gateway/alerts/alert-event.ts";
import { announcedUrl, killAfterTest } from "./serve-process.ts";

export interface ControllerProcess {
  readonly child: ChildProcess;
  /** Where its probes and /metrics answer. */
  readonly url: string;
  readonly exited: Promise<number | null>;
  stderr(): string;
  /** The value of one metric series (its name and labels as in the text format), or null when absent. */
  metric(series: string): Promise<number | null>;
  /** The fencing token it took the lease with, from its log; null while it has not held the lease. */
  fence(): number | null;
}

export async function startController(
  args: readonly string[],
  env: Record<string, string>,
): Promise<ControllerProcess> {
  const child = spawn(process.execPath, ["gateway/main.ts", "controller", "--port", "0", ...args], {
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  killAfterTest(child);
  const { url, exited, stderr } = await announcedUrl(child, "controller");
  return {
    child,
    url,
    exited,
    stderr,
    async metric(series) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? null : Number(line.slice(series.length + 1));
    },
    fence() {
      const m = /"msg":"holding the controller lease[^\n]*"fence":(\d+)/.exec(stderr());
      return m ? Number(m[1]) : null;
    },
  };
}

export interface WebhookReceiver {
  readonly url: string;
  readonly events: AlertEvent[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const events: AlertEvent[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      events.push(JSON.parse(body) as AlertEvent);
      res.writeHead(204).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/rollouts`,
    events,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
