// Message contents for spans, only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true
// (the GenAI semantic conventions' opt-in): what was sent upstream (the rendered prompt included) as
// `gen_ai.input.messages`, and the answer as `gen_ai.output.messages`, JSON, cut at MAX_CHARS.
import { isPlainObject } from "../support/json-value.ts";
import { SseParser } from "../openai/sse.ts";

export const MAX_CHARS = 16 * 1024;
/** Stream bytes kept to rebuild the answer's text at the end. */
const MAX_STREAM_BYTES = 256 * 1024;

const obj = (v: unknown): Record<string, unknown> | null => (isPlainObject(v) ? v : null);

const cut = (text: string): string => (text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)}…[truncated]` : text);

/** The input of a request body as sent upstream: chat messages, a completion prompt, Responses input, embeddings input. */
export function inputMessages(body: Readonly<Record<string, unknown>>): string | null {
  const parts: Record<string, unknown> = {};
  for (const key of ["messages", "instructions", "input", "prompt"])
    if (body[key] !== undefined) parts[key] = body[key];
  if (Object.keys(parts).length === 0) return null;
  return cut(JSON.stringify("messages" in parts && Object.keys(parts).length === 1 ? parts["messages"] : parts));
}

/** The answer's messages from a buffered chat/completions/responses body. */
export function outputMessages(answer: Buffer): string | null {
  let root: Record<string, unknown> | null;
  try {
    root = obj(JSON.parse(answer.toString("utf8")));
  } catch {
    return null;
  }
  if (!root) return null;
  if (Array.isArray(root["choices"])) {
    return cut(
      JSON.stringify(
        root["choices"].map((c: unknown) => {
          const choice = obj(c);
          return choice?.["message"] ?? { role: "assistant", content: choice?.["text"] ?? null };
        }),
      ),
    );
  }
  if (Array.isArray(root["output"])) return cut(JSON.stringify(root["output"]));
  return null;
}

/** The answer's text from a buffered chat/completions/responses body (the first choice); null when none. */
export function outputText(answer: Buffer): string | null {
  let root: Record<string, unknown> | null;
  try {
    root = obj(JSON.parse(answer.toString("utf8")));
  } catch {
    return null;
  }
  const choice = Array.isArray(root?.["choices"]) ? obj(root["choices"][0]) : null;
  if (choice) {
    const content = obj(choice["message"])?.["content"] ?? choice["text"];
    return typeof content === "string" ? content : null;
  }
  if (typeof root?.["output_text"] === "string") return root["output_text"];
  const texts: string[] = [];
  for (const item of Array.isArray(root?.["output"]) ? root["output"] : []) {
    for (const part of Array.isArray(obj(item)?.["content"]) ? (obj(item)?.["content"] as unknown[]) : []) {
      const text = obj(part)?.["text"];
      if (typeof text === "string") texts.push(text);
    }
  }
  return texts.length > 0 ? texts.join("") : null;
}

/** Collects a stream's bytes (bounded) and rebuilds the answer's text per choice at the end. */
export class StreamTranscript {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #truncated = false;

  add(chunk: Buffer): void {
    if (this.#size >= MAX_STREAM_BYTES) {
      this.#truncated = true;
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  /** `[{"role":"assistant","content":"..."}]`, one per choice index; Responses streams use their text deltas. */
  messages(): string | null {
    const texts = this.texts();
    if (texts.length === 0) return null;
    const out = JSON.stringify([...texts].map((content) => ({ role: "assistant", content: content ?? "" })));
    return cut(this.#truncated ? `${out}…[truncated]` : out);
  }

  /** Whether bytes past the bound were left out. */
  get truncated(): boolean {
    return this.#truncated;
  }

  /** The answer's text per choice index (Responses streams: their text deltas as choice 0). */
  texts(): (string | undefined)[] {
    const parser = new SseParser();
    const events = [...parser.push(Buffer.concat(this.#chunks).toString("utf8")), ...parser.flush()];
    const texts: string[] = [];
    for (const ev of events) {
      if (!ev.hasData || ev.data === "[DONE]") continue;
      let data: Record<string, unknown> | null;
      try {
        data = obj(JSON.parse(ev.data));
      } catch {
        continue;
      }
      if (data?.["type"] === "response.output_text.delta" && typeof data["delta"] === "string")
        texts[0] = (texts[0] ?? "") + data["delta"];
      for (const c of Array.isArray(data?.["choices"]) ? data["choices"] : []) {
        const choice = obj(c);
        const index = typeof choice?.["index"] === "number" ? choice["index"] : 0;
        const piece = obj(choice?.["delta"])?.["content"] ?? choice?.["text"];
        if (typeof piece === "string") texts[index] = (texts[index] ?? "") + piece;
      }
    }
    return texts;
  }
}
