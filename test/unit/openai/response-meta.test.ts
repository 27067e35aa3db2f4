import { describe, expect, it } from "vitest";
import { newResponseMeta, responseMetaOf, scanResponseMeta } from "../../../gateway/openai/response-meta.ts";

describe("response meta", () => {
  it("reads id, model and finish reasons from a chat completion", () => {
    const body = JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      model: "gpt-4o-mini-2024-07-18",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: 'say "finish_reason":"x"', tool_calls: [{ id: "call_1" }] },
          finish_reason: "tool_calls",
        },
        { index: 1, message: { role: "assistant", content: "b" }, finish_reason: "stop" },
        { index: 2, message: { role: "assistant", content: "c" }, finish_reason: "stop" },
      ],
    });
    expect(responseMetaOf(Buffer.from(body))).toEqual({
      id: "chatcmpl-1",
      model: "gpt-4o-mini-2024-07-18",
      finishReasons: ["tool_calls", "stop"],
    });
  });

  it("finds the model at the end of an embeddings answer and decodes escapes", () => {
    const body = `{"object":"list","data":[{"embedding":[${"0.1,".repeat(2000)}0.2]}],"model":"text-embed\\u0021","usage":{"prompt_tokens":3}}`;
    expect(responseMetaOf(Buffer.from(body))).toEqual({ id: null, model: "text-embed!", finishReasons: [] });
  });

  it("collects across stream chunks, ignoring finish_reason null until the last", () => {
    const meta = newResponseMeta();
    scanResponseMeta(
      meta,
      Buffer.from('data: {"id":"c-2","model":"m","choices":[{"delta":{"content":"a"},"finish_reason":null}]}\n\n'),
    );
    scanResponseMeta(
      meta,
      Buffer.from(
        'data: {"id":"c-2","model":"m","choices":[{"delta":{},"finish_reason": "length"}]}\n\ndata: [DONE]\n\n',
      ),
    );
    expect(meta).toEqual({ id: "c-2", model: "m", finishReasons: ["length"] });
  });
});
