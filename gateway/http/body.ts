// Reads a request body with the size limit enforced before parsing, chunked or not; a JSON body is
// also held to its shape limits (json-limits.ts) chunk by chunk, so that a hostile one is refused at
// its first bytes past a limit instead of after all 10 MB have been buffered.
import type { IncomingMessage } from "node:http";
import { GatewayError } from "../errors/gateway-error.ts";
import {
  JsonShapeScanner,
  jsonLimitError,
  type BoundedJson,
  type JsonLimitNames,
  type JsonLimits,
} from "./json-limits.ts";

/** Looks at each chunk as it arrives; an error it returns refuses the body at once. */
type Inspect = (chunk: Buffer) => GatewayError | null;

export function readBody(incoming: IncomingMessage, limit: number, inspect?: Inspect): Promise<Buffer> {
  const declared = Number(incoming.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  // Usually the whole body arrived with the headers: take it now instead of a tick later.
  if (incoming.complete && incoming.readableLength <= limit) {
    const chunk: unknown = incoming.readableLength === 0 ? null : incoming.read();
    const body = Buffer.isBuffer(chunk) ? chunk : EMPTY;
    const refused = inspect?.(body) ?? null;
    return refused === null ? Promise.resolve(body) : Promise.reject(refused);
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
    // Stop buffering: the error's answer reads the rest away in a lingering close (lingering-close.ts).
    const refuse = (err: GatewayError): void => {
      cleanup();
      incoming.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      const refused = size > limit ? tooLarge(limit) : (inspect?.(chunk) ?? null);
      if (refused === null) chunks.push(chunk);
      else refuse(refused);
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

/** A JSON body: size-limited as readBody, and refused (400 naming the limit) past a shape limit. */
export async function readJsonBody(
  incoming: IncomingMessage,
  limit: number,
  json: JsonLimits,
  names: JsonLimitNames = {},
): Promise<BoundedJson> {
  const scanner = new JsonShapeScanner(json);
  const inspect: Inspect = (chunk) => {
    const exceeded = scanner.feed(chunk);
    return exceeded === null ? null : jsonLimitError(exceeded, json, "The request body", names);
  };
  return (await readBody(incoming, limit, inspect)) as BoundedJson;
}

const EMPTY = Buffer.alloc(0);

function tooLarge(limit: number): GatewayError {
  return new GatewayError("body_too_large", `Request body exceeds the ${limit}-byte limit`);
}
