// The built-in `mock` provider: answers locally and deterministically so everything can be tried
// without a key or a network. mock/echo returns the messages it received, mock/slow-<ms> waits first,
// mock/fail-<percent> fails that share of calls with a 500, mock/judge answers as a judge (mock-judge.ts),
// mock/judge-garbage answers prose where JSON was asked; all stream when asked and report usage.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { JUDGE_GARBAGE, mockJudgeAnswer } from "./mock-judge.ts";
import type { LocalProvider, UpstreamResponse } from "./upstream.ts";

export const MOCK_MODELS = ["mock/echo", "mock/slow-1000", "mock/fail-50", "mock/judge", "mock/judge-garbage"] as const;

type Behaviour =
  | { kind: "echo" }
  | { kind: "slow"; ms: number }
  | { kind: "fail"; percent: number }
  | { kind: "judge"; garbage: boolean };

export function mockBehaviour(model: string): Behaviour | null {
  const name = model.startsWith("mock/") ? model.slice(5) : model;
  if (name === "echo") return { kind: "echo" };
  if (name === "judge" || name === "judge-garbage") return { kind: "judge", garbage: name === "judge-garbage" };
  const m = /^(slow|fail)-(\d+)$/.exec(name);
  if (!m) return null;
  const n = Number(m[2]);
  if (m[1] === "slow") return n <= 600_000 ? { kind: "slow", ms: n } : null;
  return n <= 100 ? { kind: "fail", percent: n } : null;
}

/** Rough token count, four characters a token, as providers' tokenizers average for English. */
export const countTokens = (text: string): number => (text.length === 0 ? 0 : Math.ceil(text.length / 4));

export function createMockProvider(random: () => number, now: () => number = Date.now): LocalProvider {
  return async (req) => {
    if (req.method === "GET" && req.path.split("?")[0] === "/models") {
      return json(200, {
        object: "list",
        data: MOCK_MODELS.map((id) => ({ id, object: "model", created: 0, owned_by: "promptgate" })),
      });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body?.toString("utf8") ?? "{}") as Record<string, unknown>;
    } catch {
      return error(400, "invalid_json", "mock: body is not JSON");
    }
    const model = typeof body["model"] === "string" ? body["model"] : "";
    const behaviour = mockBehaviour(model);
    if (!behaviour) {
      return error(
        404,
        "model_not_found",
        `mock: unknown model "${model}"; try mock/echo, mock/slow-<ms>, mock/fail-<percent> or mock/judge`,
      );
    }
    if (behaviour.kind === "slow") await sleep(behaviour.ms, undefined, { signal: req.signal });
    if (behaviour.kind === "fail" && random() * 100 < behaviour.percent) {
      return error(500, "mock_failure", `mock: ${model} failed this call on purpose`);
    }
    const created = Math.floor(now() / 1000);
    const id = `mock-${createHash("sha256")
      .update(req.body ?? "")
      .digest("hex")
      .slice(0, 24)}`;
    const judge = behaviour.kind === "judge" ? behaviour : null;
    const ctx: Ctx = { id, model, created, body, signal: req.signal, judge };
    switch (req.path.split("?")[0] ?? "") {
      case "/chat/completions":
        return chat(ctx);
      case "/completions":
        return completion(ctx);
      case "/embeddings":
        return embeddings(ctx);
      case "/responses":
        return responses(ctx);
      default:
        return error(404, "not_found", `mock: no route ${req.method} ${req.path}`);
    }
  };
}

interface Ctx {
  id: string;
  model: string;
  created: number;
  body: Record<string, unknown>;
  signal: AbortSignal;
  /** mock/judge answers chat as a judge (garbage: with prose instead of JSON). */
  judge: { garbage: boolean } | null;
}

function json(status: number, value: unknown): UpstreamResponse {
  const buf = Buffer.from(JSON.stringify(value));
  return {
    status,
    headers: { "content-type": "application/json", "content-length": String(buf.length) },
    body: Readable.from([buf]),
  };
}

function error(status: number, code: string, message: string): UpstreamResponse {
  return json(status, {
    error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code },
  });
}

function sse(events: Iterable<unknown>, signal: AbortSignal): UpstreamResponse {
  async function* gen(): AsyncGenerator<Buffer> {
    for (const ev of events) {
      if (signal.aborted) return;
      yield Buffer.from(typeof ev === "string" ? ev : `data: ${JSON.stringify(ev)}\n\n`);
      // Yield to the event loop so each event leaves as its own chunk, as a real provider's would.
      await sleep(0);
    }
  }
  return {
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    body: Readable.from(gen()),
  };
}

const text = (v: unknown): string =>
  typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);

function usage(
  prompt: string,
  completion: string,
): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const p = countTokens(prompt);
  const c = countTokens(completion);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

/** Splits an answer into stream deltas of about one word each. */
const pieces = (s: string): string[] => s.match(/\S+\s*|\s+/g) ?? [];

const wantsUsage = (body: Record<string, unknown>): boolean =>
  (body["stream_options"] as { include_usage?: unknown } | null | undefined)?.include_usage === true;

function chat(ctx: Ctx): UpstreamResponse {
  const messages = Array.isArray(ctx.body["messages"])
    ? (ctx.body["messages"] as { role?: unknown; content?: unknown }[])
    : [];
  const prompt = messages.map((m) => `${text(m.role)}: ${text(m.content)}`).join("\n");
  const answer = ctx.judge === null ? prompt : ctx.judge.garbage ? JUDGE_GARBAGE : mockJudgeAnswer(ctx.body);
  const u = usage(prompt, answer);
  const base = { id: ctx.id, model: ctx.model, created: ctx.created };
  if (ctx.body["stream"] !== true) {
    return json(200, {
      ...base,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: answer, refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: u,
    });
  }
  const chunk = (delta: object, finish: string | null): object => ({
    ...base,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const events: unknown[] = [chunk({ role: "assistant", content: "" }, null)];
  for (const p of pieces(answer)) events.push(chunk({ content: p }, null));
  events.push(chunk({}, "stop"));
  if (wantsUsage(ctx.body)) events.push({ ...base, object: "chat.completion.chunk", choices: [], usage: u });
  events.push("data: [DONE]\n\n");
  return sse(events, ctx.signal);
}

function completion(ctx: Ctx): UpstreamResponse {
  const prompt = text(ctx.body["prompt"]);
  const u = usage(prompt, prompt);
  const base = { id: ctx.id, object: "text_completion", model: ctx.model, created: ctx.created };
  if (ctx.body["stream"] !== true) {
    return json(200, {
      ...base,
      choices: [{ index: 0, text: prompt, logprobs: null, finish_reason: "stop" }],
      usage: u,
    });
  }
  const events: unknown[] = pieces(prompt).map((p) => ({
    ...base,
    choices: [{ index: 0, text: p, logprobs: null, finish_reason: null }],
  }));
  events.push({ ...base, choices: [{ index: 0, text: "", logprobs: null, finish_reason: "stop" }] });
  if (wantsUsage(ctx.body)) events.push({ ...base, choices: [], usage: u });
  events.push("data: [DONE]\n\n");
  return sse(events, ctx.signal);
}

function embeddings(ctx: Ctx): UpstreamResponse {
  const inputs = Array.isArray(ctx.body["input"]) ? (ctx.body["input"] as unknown[]) : [ctx.body["input"]];
  const data = inputs.map((input, index) => {
    const digest = createHash("sha256").update(text(input)).digest();
    const embedding = Array.from({ length: 8 }, (_, i) => Number(((digest[i] ?? 0) / 255 - 0.5).toFixed(6)));
    return { object: "embedding", index, embedding };
  });
  const tokens = countTokens(inputs.map(text).join(""));
  return json(200, { object: "list", data, model: ctx.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

function responses(ctx: Ctx): UpstreamResponse {
  const prompt = [text(ctx.body["instructions"]), text(ctx.body["input"])].filter((s) => s.length > 0).join("\n");
  const u = usage(prompt, prompt);
  const responseUsage = {
    input_tokens: u.prompt_tokens,
    output_tokens: u.completion_tokens,
    total_tokens: u.total_tokens,
  };
  const item = {
    id: `msg_${ctx.id}`,
    type: "message",
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text: prompt, annotations: [] }],
  };
  const done = {
    id: ctx.id,
    object: "response",
    created_at: ctx.created,
    model: ctx.model,
    status: "completed",
    output: [item],
    usage: responseUsage,
  };
  if (ctx.body["stream"] !== true) return json(200, done);
  const inProgress = { ...done, status: "in_progress", output: [], usage: null };
  const events: string[] = [
    event("response.created", { type: "response.created", response: inProgress }),
    ...pieces(prompt).map((delta) =>
      event("response.output_text.delta", {
        type: "response.output_text.delta",
        item_id: item.id,
        output_index: 0,
        content_index: 0,
        delta,
      }),
    ),
    event("response.completed", { type: "response.completed", response: done }),
  ];
  return sse(events, ctx.signal);
}

const event = (name: string, data: object): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
