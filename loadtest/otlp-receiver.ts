// A stand-in OTLP/HTTP collector for `npm run loadtest -- --otel`: it takes every POST /v1/traces
// (reads the body, answers 200 at once) and counts what arrived, so the run can show that gateway-otel
// really exported its spans. It decodes nothing; a real collector would cost more, on its own CPU.
// Run: `node loadtest/otlp-receiver.ts` (PORT, default 0) prints `{"port":N,"pid":N}` on stdout.
// GET /stats answers `{"requests":N,"bytes":N,"spans":N}`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceiverStats {
  /** POST /v1/traces requests received (export calls). */
  requests: number;
  /** Their body bytes, as sent (compressed if the exporter compresses). */
  bytes: number;
  /** Spans, counted in uncompressed OTLP/JSON bodies only (0 with OTEL_EXPORTER_OTLP_COMPRESSION=gzip). */
  spans: number;
}

/** `"spanId"` as a key: `"parentSpanId"` does not match (case-sensitive), links would (the gateway sets none). */
const SPAN_ID_KEY = Buffer.from('"spanId"');

/** How many spans an OTLP/JSON export body holds, found without parsing it. */
export function countJsonSpans(body: Buffer): number {
  let n = 0;
  for (let at = body.indexOf(SPAN_ID_KEY); at !== -1; at = body.indexOf(SPAN_ID_KEY, at + SPAN_ID_KEY.length)) n++;
  return n;
}

const JSON_OK = Buffer.from("{}");

export function createOtlpReceiver(): { server: Server; stats: ReceiverStats } {
  const stats: ReceiverStats = { requests: 0, bytes: 0, spans: 0 };

  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    if (req.method === "GET" && req.url === "/stats") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(stats));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":"not found"}');
      return;
    }
    stats.requests++;
    stats.bytes += body.length;
    // The gateway's exporter (@opentelemetry/exporter-trace-otlp-http) sends JSON, gzipped only if
    // OTEL_EXPORTER_OTLP_COMPRESSION=gzip; spans are counted in plain bodies.
    if ((req.headers["content-encoding"] ?? "identity") === "identity") stats.spans += countJsonSpans(body);
    res.writeHead(200, { "content-type": "application/json", "content-length": String(JSON_OK.length) });
    res.end(JSON_OK);
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => answer(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
  return { server, stats };
}

if (import.meta.main) {
  const { server } = createOtlpReceiver();
  server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ port, pid: process.pid }) + "\n");
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
}
