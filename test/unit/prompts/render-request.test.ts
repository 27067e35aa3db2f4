// Merging a rendered prompt into request bodies: precedence of model and params, message order per
// endpoint, refusals, and inputs left untouched.
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { deepFreeze } from "../../../gateway/support/json-value.ts";
import { applyPrompt, type PromptEndpoint } from "../../../gateway/prompts/render-request.ts";
import { oneTemplate } from "../../support/prompt-fixtures.ts";
import type { PromptVersion, RenderedPrompt } from "../../../gateway/prompts/types.ts";

const version: PromptVersion = deepFreeze({
  ...oneTemplate("unused"),
  model: "gpt-4o-mini",
  params: { temperature: 0.3, max_tokens: 200, response_format: { type: "json_object" } },
});
const unpinned: PromptVersion = deepFreeze({ ...version, model: null });

const rendered: RenderedPrompt = deepFreeze({
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Text: hello" },
  ],
  prompt: "Summarize: hello",
  instructions: "Answer in French.",
});
const none: RenderedPrompt = deepFreeze({ messages: [], prompt: null, instructions: null });

function refusal(
  endpoint: PromptEndpoint,
  body: Record<string, unknown> & { model: string },
  v = version,
  r = rendered,
): GatewayError {
  try {
    applyPrompt(endpoint, body, v, r);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected applyPrompt to refuse");
}

describe("applyPrompt", () => {
  it("chat: rendered messages first, then the request's own; prompt_variables removed", () => {
    const body = {
      model: "gpt-4o",
      messages: [{ role: "user", content: "And another thing" }],
      prompt_variables: { text: "hello" },
    };
    expect(applyPrompt("chat", body, version, rendered)).toEqual({
      model: "gpt-4o-mini",
      temperature: 0.3,
      max_tokens: 200,
      response_format: { type: "json_object" },
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Text: hello" },
        { role: "user", content: "And another thing" },
      ],
    });
    expect(applyPrompt("chat", { model: "gpt-4o" }, version, rendered).messages).toHaveLength(2);
  });

  it("the version's model wins; the request's model stays when the version pins none", () => {
    expect(applyPrompt("chat", { model: "gpt-4o", messages: [] }, version, rendered).model).toBe("gpt-4o-mini");
    expect(applyPrompt("chat", { model: "gpt-4o", messages: [] }, unpinned, rendered).model).toBe("gpt-4o");
  });

  it("params are defaults: the request's own values win, including null and false", () => {
    const out = applyPrompt(
      "chat",
      { model: "m", temperature: 1, max_tokens: null, stream: false, messages: [] },
      version,
      rendered,
    );
    expect(out).toMatchObject({
      temperature: 1,
      max_tokens: null,
      stream: false,
      response_format: { type: "json_object" },
    });
    expect(applyPrompt("chat", { model: "m", temperature: undefined }, version, rendered).temperature).toBe(0.3);
  });

  it("completions: the rendered prompt, the request's own string after a newline", () => {
    expect(applyPrompt("completions", { model: "m" }, version, rendered).prompt).toBe("Summarize: hello");
    expect(applyPrompt("completions", { model: "m", prompt: "" }, version, rendered).prompt).toBe("Summarize: hello");
    expect(applyPrompt("completions", { model: "m", prompt: null }, version, rendered).prompt).toBe("Summarize: hello");
    expect(applyPrompt("completions", { model: "m", prompt: "Summary:" }, version, rendered).prompt).toBe(
      "Summarize: hello\nSummary:",
    );
    expect(refusal("completions", { model: "m", prompt: ["a", "b"] })).toMatchObject({ status: 400, param: "prompt" });
  });

  it("responses: instructions joined after a blank line, rendered messages before the input", () => {
    const out = applyPrompt(
      "responses",
      { model: "m", instructions: "Be kind.", input: "Hi there" },
      version,
      rendered,
    );
    expect(out.instructions).toBe("Answer in French.\n\nBe kind.");
    expect(out.input).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Text: hello" },
      { role: "user", content: "Hi there" },
    ]);
    const items = [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }];
    expect(applyPrompt("responses", { model: "m", input: items }, version, rendered).input).toEqual([
      ...rendered.messages,
      ...items,
    ]);
    const onlyInstructions = applyPrompt("responses", { model: "m", input: "Hi" }, version, {
      ...none,
      instructions: "I.",
    });
    expect(onlyInstructions).toMatchObject({ instructions: "I.", input: "Hi" });
    expect(
      applyPrompt("responses", { model: "m", instructions: "Own." }, version, { ...none, messages: rendered.messages }),
    ).toMatchObject({
      instructions: "Own.",
      input: rendered.messages,
    });
    expect(refusal("responses", { model: "m", input: 3 })).toMatchObject({ status: 400, param: "input" });
  });

  it("refuses embeddings and endpoints the version has no template for", () => {
    expect(refusal("embeddings", { model: "m", input: "x" })).toMatchObject({
      code: "invalid_request",
      status: 400,
      param: "X-Prompt-Ref",
    });
    expect(refusal("chat", { model: "m" }, version, { ...none, prompt: "p" }).message).toBe(
      "prompt t@1.0.0 has no messages template, so it cannot serve /v1/chat/completions",
    );
    expect(refusal("completions", { model: "m" }, version, { ...none, messages: rendered.messages }).message).toContain(
      "has no prompt template",
    );
    expect(refusal("responses", { model: "m" }, version, { ...none, prompt: "p" }).message).toContain(
      "has neither instructions nor messages",
    );
    expect(refusal("chat", { model: "m", messages: "hi" })).toMatchObject({ param: "messages" });
  });

  it("never mutates its inputs nor shares the version's params", () => {
    const body = deepFreeze({ model: "m", messages: [{ role: "user", content: "x" }], prompt_variables: { a: 1 } });
    const endpoints: PromptEndpoint[] = ["chat", "completions", "responses"];
    for (const endpoint of endpoints) applyPrompt(endpoint, body, version, rendered);
    const out = applyPrompt("chat", body, version, rendered);
    (out.response_format as Record<string, unknown>).type = "text";
    expect(version.params.response_format).toEqual({ type: "json_object" });
    expect(body).toEqual({ model: "m", messages: [{ role: "user", content: "x" }], prompt_variables: { a: 1 } });
  });

  it("drops a __proto__ key instead of setting the copy's prototype", () => {
    const body = JSON.parse('{"model": "m", "__proto__": {"polluted": true}}') as Record<string, unknown> & {
      model: string;
    };
    const out = applyPrompt("chat", body, version, rendered);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(false);
  });
});
