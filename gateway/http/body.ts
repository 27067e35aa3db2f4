// Reads a request body with the size limit enforced before parsing, chunked or not.
import type { IncomingMessage } from "node:http";
import { GatewayError } from "../errors/gateway-error.ts";

export function readBody(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(incoming.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  // Usually the whole body arrived with the headers: take it now instead of a tick later.
  if (incoming.complete && incoming.readableLength <= limit) {
    const chunk: unknown = incoming.readableLength === 0 ? null : incoming.read();
    return Promise.resolve(Buffer.isBuffer(chunk) ? chunk : EMPTY);
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop buffering: the 413's lingering close reads the rest away (lingering-close.ts).
        incoming.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new GatewayError("invalid_request", "the request body could not be read", { cause: err }));
    };
    const onClose = (): void => {
      if (incoming.complete) return;
      cleanup();
      reject(new GatewayError("invalid_request", "the client closed the connection before sending the whole body"));
    };
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  });
}

const EMPTY = Buffer.alloc(0);

function tooLarge(limit: number): GatewayError {
  return new GatewayError("body_too_large", `Request body exceeds the ${limit}-byte limit`);
}
