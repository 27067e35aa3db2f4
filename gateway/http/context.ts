// The Hono environment every route shares: the raw Node request/response (for streaming and
// size-limited body reads) and the request id.
import type { HttpBindings } from "@hono/node-server";
import type { Span } from "@opentelemetry/api";
import type { ServerResponse } from "node:http";
import type { RequestRecord } from "../telemetry/request-record.ts";

export type AppEnv = { Bindings: HttpBindings; Variables: { requestId: string; record: RequestRecord; span: Span } };

/** An AbortSignal that fires the moment the client goes away before its answer is complete. */
export function clientGone(outgoing: ServerResponse): AbortSignal {
  const ac = new AbortController();
  if (outgoing.destroyed) ac.abort();
  else
    outgoing.once("close", () => {
      if (!outgoing.writableFinished) ac.abort();
    });
  return ac.signal;
}
