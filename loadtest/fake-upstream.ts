// A zero-delay OpenAI-compatible provider for load tests: canned answers from pre-built buffers, so
// the benchmark measures the proxies in front of it, not this server.
// Run: `node loadtest/fake-upstream.ts` (PORT, default 0) prints `{"port":N,"pid":N}` on stdout.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const MODEL = "gpt-test";
const CREATED = 1_700_000_000;
const ID = "chatcmpl-loadtest";
const USAGE = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };

/** The non-streaming answer: a complete chat.completion with usage. */
export function completionBody(): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: ID,
      object: "chat.completion",
      created: CREATED,
      model: MODEL,
      system_fingerprint: "fp_loadtest",
      choices: [
        {
          index: 0,
          finish_reason: "stop",
          logprobs: null,
          message: {
            role: "assistant",
            content: "Hello! This is a canned answer from the load-test provider.",
            refusal: null,
          },
        },
      ],
      usage: USAGE,
    }),
  );
}

/**
 * The streaming answer as OpenAI sends it: a role chunk, content chunks, a finish chunk, then (when
 * the request set `stream_options.include_usage`) a chunk with empty choices and the usage, then [DONE].
 * https://platform.openai.com/docs/api-reference/chat-streaming
 */
export function streamBody(includeUsage: boolean): Buffer {
  const chunk = (delta: Record<string, unknown>, finish: string | null): Record<string, unknown> => ({
    id: ID,
    object: "chat.completion.chunk",
    created: CREATED,
    model: MODEL,
    system_fingerprint: "fp_loadtest",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const events: Record<string, unknown>[] = [
    chunk({ role: "assistant", content: "" }, null),
    chunk({ content: "Hello! This is" }, null),
    chunk({ content: " a canned answer" }, null),
    chunk({ content: " from the load-test provider." }, null),
    chunk({}, "stop"),
  ];
  if (includeUsage) {
    events.push({
      id: ID,
      object: "chat.completion.chunk",
      created: CREATED,
      model: MODEL,
      system_fingerprint: "fp_loadtest",
      choices: [],
      usage: USAGE,
    });
  }
  const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
  return Buffer.from(text);
}

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Whether a JSON body sets `"<key>": true`, found without parsing: the benchmark's bodies are small
 * and well-formed, and a quoted key followed by a colon cannot occur inside a JSON string.
 */
export function jsonFlagIsTrue(body: Buffer, key: string): boolean {
  const needle = `"${key}"`;
  for (let at = body.indexOf(needle); at !== -1; at = body.indexOf(needle, at + 1)) {
    let i = at + needle.length;
    while (i < body.length && SPACE.has(body[i]!)) i++;
    if (body[i] !== 0x3a /* : */) continue;
    i++;
    while (i < body.length && SPACE.has(body[i]!)) i++;
    if (body.toString("latin1", i, i + 4) === "true") return true;
  }
  return false;
}

export function createFakeUpstream(): Server {
  const completion = completionBody();
  const streamPlain = streamBody(false);
  const streamUsage = streamBody(true);
  const jsonHeaders = { "content-type": "application/json", "content-length": String(completion.length) };
  const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
  const notFound = Buffer.from(
    JSON.stringify({ error: { message: "unknown route", type: "invalid_request_error", code: "not_found" } }),
  );

  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "application/json", "content-length": String(notFound.length) });
      res.end(notFound);
      return;
    }
    if (!jsonFlagIsTrue(body, "stream")) {
      res.writeHead(200, jsonHeaders);
      res.end(completion);
      return;
    }
    // Chunked, like a real stream, but every event written in one go (zero delay between them).
    res.writeHead(200, sseHeaders);
    res.end(jsonFlagIsTrue(body, "include_usage") ? streamUsage : streamPlain);
  };

  const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => answer(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
  return server;
}

if (import.meta.main) {
  const server = createFakeUpstream();
  server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ port, pid: process.pid }) + "\n");
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
}
