// mock/judge answers JSON read from what it is asked to judge; mock/judge-garbage answers prose.
import { describe, expect, it } from "vitest";
import { JUDGE_GARBAGE, mockJudgeAnswer } from "../../../gateway/providers/mock-judge.ts";
import { createMockProvider } from "../../../gateway/providers/mock.ts";
import { MOCK_PROVIDER } from "../../../gateway/config/gateway-config.ts";

const schema = (...props: string[]) => ({
  type: "json_schema",
  json_schema: {
    name: "v",
    strict: true,
    schema: { type: "object", properties: Object.fromEntries(props.map((p) => [p, {}])) },
  },
});
const ask = (content: string, ...props: string[]) => ({
  messages: [
    { role: "system", content: "Judge the output." },
    { role: "user", content },
  ],
  ...(props.length > 0 ? { response_format: schema(...props) } : {}),
});

describe("mockJudgeAnswer", () => {
  it("gives the verdict of the last output block's score marker, full marks without one", () => {
    expect(
      JSON.parse(mockJudgeAnswer(ask("<output>fine [[score: 0.25]]</output>", "pass", "score", "reason"))),
    ).toEqual({
      pass: false,
      score: 0.25,
      reason: "mock judge: score 0.25 read from the output",
    });
    expect(JSON.parse(mockJudgeAnswer(ask("no blocks, [[score: 0.9]] [[score: 0.6]]")))).toMatchObject({
      pass: true,
      score: 0.6,
    });
    expect(JSON.parse(mockJudgeAnswer(ask("<output>plain</output>")))).toMatchObject({ pass: true, score: 1 });
    // out of range: ignored
    expect(JSON.parse(mockJudgeAnswer(ask("<output>[[score: 7]]</output>")))).toMatchObject({ score: 1 });
  });

  it("answers a factuality category: the marker's, else C or D by score", () => {
    expect(JSON.parse(mockJudgeAnswer(ask("<output>[[category: B]]</output>", "category", "reason")))).toMatchObject({
      category: "B",
    });
    expect(JSON.parse(mockJudgeAnswer(ask("<output>[[score: 0.2]]</output>", "category", "reason")))).toMatchObject({
      category: "D",
    });
    expect(JSON.parse(mockJudgeAnswer(ask("<output>ok</output>", "category", "reason")))).toMatchObject({
      category: "C",
    });
  });

  it("picks the higher-scored block pairwise, and the first one on a tie (position bias)", () => {
    const pair = (a: string, b: string) =>
      (
        JSON.parse(mockJudgeAnswer(ask(`<output>${a}</output> <output>${b}</output>`, "choice", "reason"))) as {
          choice: string;
        }
      ).choice;
    expect(pair("[[score: 0.2]]", "[[score: 0.8]]")).toBe("B");
    expect(pair("[[score: 0.8]]", "[[score: 0.2]]")).toBe("A");
    expect(pair("same", "same")).toBe("A");
  });

  it("answers JSON of the wrong shape for an [[invalid]] marker", () => {
    expect(JSON.parse(mockJudgeAnswer(ask("<output>[[invalid]]</output>", "pass")))).toEqual({ verdict: "looks fine" });
  });
});

describe("mock/judge through the mock provider", () => {
  const send = async (model: string, body: object): Promise<string> => {
    const res = await createMockProvider(() => 0)({
      provider: MOCK_PROVIDER,
      method: "POST",
      path: "/chat/completions",
      headers: {},
      body: Buffer.from(JSON.stringify({ model, ...body })),
      signal: new AbortController().signal,
    });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    return (JSON.parse(Buffer.concat(chunks).toString()) as { choices: { message: { content: string } }[] }).choices[0]!
      .message.content;
  };

  it("answers as a judge, and judge-garbage with prose", async () => {
    expect(JSON.parse(await send("mock/judge", ask("<output>[[score: 0.4]]</output>")))).toMatchObject({ score: 0.4 });
    expect(await send("mock/judge-garbage", ask("<output>x</output>"))).toBe(JUDGE_GARBAGE);
  });
});
