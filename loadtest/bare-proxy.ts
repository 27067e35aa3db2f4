// The reference "bare passthrough" the gateway is measured against: node:http in front of one undici
// Pool with keep-alive. It forwards method, path, body (read whole) and content-type, and relays the
// status, content-type and body bytes as they arrive. Nothing else: no parsing, no headers, no limits.
// Run: `UPSTREAM_URL=http://127.0.0.1:N node loadtest/bare-proxy.ts` (PORT, default 0) prints
// `{"port":N,"pid":N}` on stdout.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { Pool } from "undici";

/** Loopback only: this is a benchmark fixture, never a proxy to anywhere else. */
export function loopbackOrigin(url: string): string {
  const u = new URL(url);
  if (u.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) {
    throw new Error(`UPSTREAM_URL must be an http://127.0.0.1 URL, got ${url}`);
  }
  return u.origin;
}

export function createBareProxy(upstreamOrigin: string): { server: Server; pool: Pool } {
  // Same pool settings as the gateway's Agent (unlimited connections per origin, long keep-alive).
  const pool = new Pool(upstreamOrigin, { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });

  const forward = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    try {
      const contentType = req.headers["content-type"];
      const up = await pool.request({
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: contentType === undefined ? {} : { "content-type": contentType },
        body: body.length === 0 ? null : body,
      });
      const headers: Record<string, string> = {};
      const upType = up.headers["content-type"];
      if (upType !== undefined) headers["content-type"] = Array.isArray(upType) ? upType.join(", ") : upType;
      res.writeHead(up.statusCode, headers);
      await pipeline(up.body, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      res.writeHead(502, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { message: `bare proxy: ${message}`, type: "upstream_error", code: "bad_gateway" } }),
      );
    }
  };

  const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => void forward(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
  return { server, pool };
}

if (import.meta.main) {
  const origin = loopbackOrigin(process.env["UPSTREAM_URL"] ?? process.argv[2] ?? "");
  const { server, pool } = createBareProxy(origin);
  server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ port, pid: process.pid }) + "\n");
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void pool.destroy().finally(() => process.exit(0)));
  }
}
