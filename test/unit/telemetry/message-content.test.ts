import { describe, expect, it } from "vitest";
import {
  MAX_CHARS,
  StreamTranscript,
  inputMessages,
  outputMessages,
} from "../../../gateway/telemetry/message-content.ts";

describe("message contents for spans", () => {
  it("takes the input of each endpoint's body, and nothing else", () => {
    expect(inputMessages({ model: "m", messages: [{ role: "user", content: "hi" }], temperature: 1 })).toBe(
      '[{"role":"user","content":"hi"}]',
    );
    expect(inputMessages({ model: "m", prompt: "say hi" })).toBe('{"prompt":"say hi"}');
    expect(inputMessages({ model: "m", instructions: "be brief", input: "hi" })).toBe(
      '{"instructions":"be brief","input":"hi"}',
    );
    expect(inputMessages({ model: "m" })).toBeNull();
    expect(inputMessages({ model: "m", prompt: "x".repeat(MAX_CHARS + 10) })!.endsWith("…[truncated]")).toBe(true);
  });

  it("reads the answer of chat, completions and responses bodies", () => {
    const chat = { choices: [{ index: 0, message: { role: "assistant", content: "a" } }] };
    expect(outputMessages(Buffer.from(JSON.stringify(chat)))).toBe('[{"role":"assistant","content":"a"}]');
    expect(outputMessages(Buffer.from(JSON.stringify({ choices: [{ text: "done" }] })))).toBe(
      '[{"role":"assistant","content":"done"}]',
    );
    const responses = {
      output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: "r" }] }],
    };
    expect(outputMessages(Buffer.from(JSON.stringify(responses)))).toBe(JSON.stringify(responses.output));
    expect(outputMessages(Buffer.from("not json"))).toBeNull();
  });

  it("rebuilds a streamed answer per choice, however the bytes were cut", () => {
    const t = new StreamTranscript();
    const text =
      'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n' +
      'data: {"choices":[{"index":0,"delta":{"content":"Hel"}},{"index":1,"delta":{"content":"B"}}]}\n\n' +
      'data: {"choices":[{"index":0,"delta":{"content":"lo é"}}]}\n\ndata: [DONE]\n\n';
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += 7) t.add(bytes.subarray(i, i + 7));
    expect(JSON.parse(t.messages()!)).toEqual([
      { role: "assistant", content: "Hello é" },
      { role: "assistant", content: "B" },
    ]);
    const r = new StreamTranscript();
    r.add(
      Buffer.from('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n'),
    );
    expect(JSON.parse(r.messages()!)).toEqual([{ role: "assistant", content: "Hi" }]);
    expect(new StreamTranscript().messages()).toBeNull();
  });
});
