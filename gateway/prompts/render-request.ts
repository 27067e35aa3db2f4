// Merges a rendered prompt version into an OpenAI request body, without touching either input.
// Precedence: the version's `model` beats the request's; the request's own fields beat the version's
// `params`; rendered text comes first and the request's own messages/prompt/instructions/input follow
// (https://platform.openai.com/docs/api-reference/chat, /completions, /responses).
import { GatewayError } from "../errors/gateway-error.ts";
import { cloneJson } from "../support/json-value.ts";
import type { PromptVersion, RenderedPrompt } from "./types.ts";

export type PromptEndpoint = "chat" | "completions" | "responses" | "embeddings";

const absent = (v: unknown): v is undefined | null | "" => v === undefined || v === null || v === "";

function refuse(message: string, param: string): GatewayError {
  return new GatewayError("invalid_request", message, { param });
}

/**
 * chat: rendered messages, then the request's `messages`.
 * completions: the rendered prompt; a request's own non-empty string `prompt` follows after a newline
 * (as chat messages follow the rendered ones); an array prompt (a batch) cannot combine with a template.
 * responses: `instructions` = rendered instructions, the request's own after a blank line; rendered
 * messages go before `input` (a string input becomes one user message).
 * embeddings: a prompt template has nothing to render into: 400.
 * A version without the template an endpoint needs (e.g. no `prompt` on completions) is a 400 too.
 * `prompt_variables` is removed.
 */
export function applyPrompt(
  endpoint: PromptEndpoint,
  body: Record<string, unknown> & { model: string },
  version: PromptVersion,
  rendered: RenderedPrompt,
): Record<string, unknown> {
  const id = `${version.name}@${version.version}`;
  if (endpoint === "embeddings") {
    throw refuse(
      "X-Prompt-Ref cannot be used with /v1/embeddings: prompt templates apply to chat, completions and responses",
      "X-Prompt-Ref",
    );
  }
  const out: Record<string, unknown> = {};
  const { params } = version;
  for (const key of Object.keys(params)) out[key] = cloneJson(params[key]);
  for (const key of Object.keys(body)) {
    const value = body[key];
    // `__proto__` would set the copy's prototype instead of a field; it is no OpenAI parameter.
    if (key === "prompt_variables" || key === "__proto__" || value === undefined) continue;
    out[key] = value;
  }
  out.model = version.model ?? body.model;
  // Each render makes new message objects, so they go into the body as they are.
  const renderedMessages = rendered.messages;

  switch (endpoint) {
    case "chat": {
      if (renderedMessages.length === 0) {
        throw refuse(`prompt ${id} has no messages template, so it cannot serve /v1/chat/completions`, "X-Prompt-Ref");
      }
      const own = body.messages ?? [];
      if (!Array.isArray(own)) throw refuse("messages must be an array", "messages");
      out.messages = renderedMessages.concat(own as { role: string; content: string }[]);
      return out;
    }
    case "completions": {
      if (rendered.prompt === null)
        throw refuse(`prompt ${id} has no prompt template, so it cannot serve /v1/completions`, "X-Prompt-Ref");
      const own = body.prompt;
      if (absent(own)) out.prompt = rendered.prompt;
      else if (typeof own === "string") out.prompt = `${rendered.prompt}\n${own}`;
      else
        throw refuse(
          "with X-Prompt-Ref, prompt must be a single string (appended to the rendered prompt) or left out",
          "prompt",
        );
      return out;
    }
    case "responses": {
      if (rendered.instructions === null && renderedMessages.length === 0) {
        throw refuse(
          `prompt ${id} has neither instructions nor messages, so it cannot serve /v1/responses`,
          "X-Prompt-Ref",
        );
      }
      if (rendered.instructions !== null) {
        const own = body.instructions;
        if (absent(own)) out.instructions = rendered.instructions;
        else if (typeof own === "string") out.instructions = `${rendered.instructions}\n\n${own}`;
        else throw refuse("instructions must be a string", "instructions");
      }
      if (renderedMessages.length > 0) {
        const own = body.input;
        let items: unknown[];
        if (absent(own)) items = [];
        else if (typeof own === "string") items = [{ role: "user", content: own }];
        else if (Array.isArray(own)) items = own as unknown[];
        else throw refuse("input must be a string or an array of input items", "input");
        out.input = [...renderedMessages, ...items];
      }
      return out;
    }
  }
}
