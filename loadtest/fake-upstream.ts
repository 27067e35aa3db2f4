// A zero-delay OpenAI-compatible provider for load tests: canned answers from pre-built buffers, so
// the benchmark measures the proxies in front of it, not this server. For the soak, a streaming request
// to PACED_PATH gets a paced stream that completes, holds, or resets, as its model says (see pacedPlan).
// Run: `node loadtest/fake-upstream.ts` (PORT, default 0; KEEP_ALIVE_MS, default 65000) prints
// `{"port":N,"pid":N}` on stdout.
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
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
  const chunk = (delta: Record<string, unknown>, finish: string | null): Record<string, unknown> =>
    streamChunk(delta, finish, includeUsage);
  const events: Record<string, unknown>[] = [
    chunk({ role: "assistant", content: "" }, null),
    chunk({ content: "Hello! This is" }, null),
    chunk({ content: " a canned answer" }, null),
    chunk({ content: " from the load-test provider." }, null),
    chunk({}, "stop"),
  ];
  return Buffer.from(events.map(sseEvent).join("") + streamTail(includeUsage));
}

function streamChunk(
  delta: Record<string, unknown>,
  finish: string | null,
  includeUsage: boolean,
): Record<string, unknown> {
  return {
    id: ID,
    object: "chat.completion.chunk",
    created: CREATED,
    model: MODEL,
    system_fingerprint: "fp_loadtest",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

const sseEvent = (e: Record<string, unknown>): string => `data: ${JSON.stringify(e)}\n\n`;

/** What follows the finish chunk: the usage chunk when asked, then [DONE]. */
function streamTail(includeUsage: boolean): string {
  const usage = includeUsage
    ? sseEvent({
        id: ID,
        object: "chat.completion.chunk",
        created: CREATED,
        model: MODEL,
        system_fingerprint: "fp_loadtest",
        choices: [],
        usage: USAGE,
      })
    : "";
  return usage + "data: [DONE]\n\n";
}

/** How a paced stream ends after its content events. */
export type PacedEnding =
  /** the finish chunk (and usage when asked), then [DONE] */
  | { readonly kind: "done" }
  /** nothing more: the response stays open until the peer closes it (or HOLD_MAX_MS passes) */
  | { readonly kind: "hold" }
  /** the socket is reset (RST) after `after` content events, mid-stream */
  | { readonly kind: "reset"; readonly after: number };

export interface PacedPlan {
  /** Content events, one every `gapMs` after the headers (the ending comes `gapMs` after the last). */
  readonly events: number;
  readonly gapMs: number;
  readonly ending: PacedEnding;
}

const PACED_PREFIX = "paced/";
const PACED_MODEL = /^paced\/([1-9][0-9]{0,3})x([0-9]{1,4})\/(done|hold|reset-([0-9]{1,4}))$/;

/** How long a held stream stays open at most: longer than any soak waits for the gateway to let go. */
export const HOLD_MAX_MS = 120_000;

/**
 * The plan a model name selects: `paced/<events>x<gapMs>/<ending>`, ending `done`, `hold` or
 * `reset-<k>` (k < events). Null for any other model.
 */
export function pacedPlan(model: string): PacedPlan | null {
  const m = PACED_MODEL.exec(model);
  if (m === null) return null;
  const events = Number(m[1]);
  const gapMs = Number(m[2]);
  if (m[3] === "done") return { events, gapMs, ending: { kind: "done" } };
  if (m[3] === "hold") return { events, gapMs, ending: { kind: "hold" } };
  const after = Number(m[4]);
  return after < events ? { events, gapMs, ending: { kind: "reset", after } } : null;
}

/** The model name that selects `plan` (the inverse of pacedPlan). */
export function pacedModel(plan: PacedPlan): string {
  const end = plan.ending.kind === "reset" ? `reset-${plan.ending.after}` : plan.ending.kind;
  return `${PACED_PREFIX}${plan.events}x${plan.gapMs}/${end}`;
}

/**
 * The soak's route: a provider whose base URL ends in `/paced/v1`. A path of its own keeps the
 * benchmark's routes exactly as fast as before: they never look for a paced model.
 */
export const PACED_PATH = "/paced/v1/chat/completions";

/** A paced streaming request: its plan from the model, or null when the body asks for none. */
function pacedRequest(body: Buffer): { plan: PacedPlan; includeUsage: boolean } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object" || !("model" in parsed) || typeof parsed.model !== "string")
    return null;
  const plan = pacedPlan(parsed.model);
  if (plan === null || !("stream" in parsed) || parsed.stream !== true) return null;
  const options = "stream_options" in parsed ? parsed.stream_options : null;
  const includeUsage =
    options !== null && typeof options === "object" && "include_usage" in options && options.include_usage === true;
  return { plan, includeUsage };
}

/** Writes a paced stream; every timer stops when the response closes, whoever closed it. */
function streamPaced(res: ServerResponse, plan: PacedPlan, includeUsage: boolean, headers: OutgoingHttpHeaders): void {
  res.writeHead(200, headers);
  res.flushHeaders();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  res.once("close", () => clearTimeout(timer));
  // Every step, the reset included, comes a timer tick after the last write, so the headers and the
  // events before a reset have left this process when the RST goes out.
  const next = (): void => {
    const { ending } = plan;
    if (ending.kind === "reset" && sent === ending.after) {
      res.socket?.resetAndDestroy();
      return;
    }
    if (sent < plan.events) {
      const delta = sent === 0 ? { role: "assistant", content: `w${sent}` } : { content: ` w${sent}` };
      res.write(sseEvent(streamChunk(delta, null, includeUsage)));
      sent++;
      timer = setTimeout(next, plan.gapMs);
      return;
    }
    if (ending.kind === "hold") {
      // Ended only if nobody closed it first: a proxy whose client left should have.
      timer = setTimeout(() => res.end(), HOLD_MAX_MS);
      return;
    }
    res.end(sseEvent(streamChunk({}, "stop", includeUsage)) + streamTail(includeUsage));
  };
  timer = setTimeout(next, plan.gapMs);
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

export interface FakeUpstreamOptions {
  /** How long an idle keep-alive connection stays open (the soak shortens it so idle pools drain). */
  readonly keepAliveMs?: number;
}

export function createFakeUpstream(opts: FakeUpstreamOptions = {}): Server {
  const completion = completionBody();
  const streamPlain = streamBody(false);
  const streamUsage = streamBody(true);
  const jsonHeaders = { "content-type": "application/json", "content-length": String(completion.length) };
  const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
  const notFound = Buffer.from(
    JSON.stringify({ error: { message: "unknown route", type: "invalid_request_error", code: "not_found" } }),
  );

  const badPaced = Buffer.from(
    JSON.stringify({
      error: {
        message: "a paced request streams and names a paced/<events>x<gapMs>/<done|hold|reset-k> model",
        type: "invalid_request_error",
        code: "bad_paced_request",
      },
    }),
  );

  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      const paced = req.method === "POST" && req.url === PACED_PATH ? pacedRequest(body) : null;
      if (paced !== null) return streamPaced(res, paced.plan, paced.includeUsage, sseHeaders);
      if (req.url === PACED_PATH) {
        res.writeHead(400, { "content-type": "application/json", "content-length": String(badPaced.length) });
        res.end(badPaced);
        return;
      }
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

  const keepAliveTimeout = opts.keepAliveMs ?? 65_000;
  const server = createServer({ keepAliveTimeout, noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => answer(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
  return server;
}

if (import.meta.main) {
  const keepAliveMs = process.env["KEEP_ALIVE_MS"];
  const server = createFakeUpstream(keepAliveMs === undefined ? {} : { keepAliveMs: Number(keepAliveMs) });
  server.listen(Number(process.env["PORT"] ?? 0), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ port, pid: process.pid }) + "\n");
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
}
