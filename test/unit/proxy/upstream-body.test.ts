import { describe, expect, it } from "vitest";
import { boundedJson } from "../../../gateway/http/json-limits.ts";
import { parseRequest } from "../../../gateway/proxy/request-schema.ts";
import { upstreamBody } from "../../../gateway/proxy/upstream-body.ts";

const send = (text: string, upstreamModel?: string, prompted = false): { raw: Buffer; out: Buffer } => {
  const raw = Buffer.from(text);
  const req = parseRequest(
    "chat",
    boundedJson(raw, { depth: 128, members: 100_000, containers: 100_000 }, "body"),
    prompted,
  );
  return { raw, out: upstreamBody(req, raw, req.body, upstreamModel ?? req.body.model) };
};
const json = (b: Buffer): unknown => JSON.parse(b.toString("utf8"));

describe("the body the provider receives", () => {
  it("is the original bytes when nothing changes", () => {
    const { raw, out } = send('{"model":"m","messages":[{"role":"user","content":"hi"}], "x_vendor": 1}');
    expect(out).toBe(raw);
    const asked = send('{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}');
    expect(asked.out).toBe(asked.raw);
  });

  it("asks a stream for usage by splicing it into the original bytes", () => {
    const { raw, out } = send('{ "model": "m", "messages": [], "stream": true, "x_vendor": {"k": "}"} }\n');
    expect(out.subarray(0, 20).equals(raw.subarray(0, 20))).toBe(true);
    expect(json(out)).toEqual({
      model: "m",
      messages: [],
      stream: true,
      x_vendor: { k: "}" },
      stream_options: { include_usage: true },
    });
  });

  it("merges the usage request into the client's own stream_options, and renames the model", () => {
    expect(
      json(send('{"model":"m","messages":[],"stream":true,"stream_options":{"include_obfuscation":false}}').out),
    ).toEqual({
      model: "m",
      messages: [],
      stream: true,
      stream_options: { include_obfuscation: false, include_usage: true },
    });
    expect(json(send('{"model":"local/llama3","messages":[],"stream":true}', "llama3").out)).toEqual({
      model: "llama3",
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
  });
});
