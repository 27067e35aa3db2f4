// Model-graded assertions judged by the shipped judge prompts on mock/judge, through the in-process
// caller: strict parsing, grader errors apart from failures, pairwise in both orders, the judge cache,
// and repeats with a minimum pass count.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGatewayConfig } from "../../../gateway/config/gateway-config.ts";
import { createPromptCaller, versionsResolver } from "../../../gateway/evals/caller.ts";
import { memoryJudgeCache } from "../../../gateway/evals/judge-cache.ts";
import {
  createModelGrader,
  gradeRepeated,
  pairwiseOutcome,
  repeatedGrader,
  repeatPolicy,
  type JudgeCall,
  type ModelGraderOptions,
} from "../../../gateway/evals/model-graded.ts";
import type { Assertion, GradeOutcome, JudgeInput } from "../../../gateway/evals/types.ts";
import { loadPromptDir } from "../../../gateway/prompts/prompt-file.ts";
import type { PromptVersion } from "../../../gateway/prompts/types.ts";
import { createMockProvider } from "../../../gateway/providers/mock.ts";
import { createUpstream, type Upstream } from "../../../gateway/providers/upstream.ts";
import { parsePricing } from "../../../gateway/telemetry/pricing.ts";
import { chatJson, startFakeProvider, type FakeProvider } from "../../support/fake-provider.ts";

const PROMPTS = fileURLToPath(new URL("../../../config/prompts", import.meta.url));

let shipped: PromptVersion[];
let fake: FakeProvider;
let upstream: Upstream;
let sent: { model: string; body: Record<string, unknown> }[];

/** A shipped judge again under another name and model (a custom judge the suite names). */
const judgeOn = (base: string, name: string, model: string): PromptVersion => {
  const v = shipped.find((p) => p.name === base)!;
  return { ...v, name, model, hash: `${v.hash}-${name}` };
};

function grader(extra: Partial<ModelGraderOptions> = {}) {
  const config = parseGatewayConfig(
    `
providers:
  remote: { base_url: "${fake.url}" }
routes:
  - { match: "mock/*", provider: mock }
  - { match: "remote/*", provider: remote, strip_prefix: true }
`,
    {},
  );
  const versions = [
    ...shipped,
    judgeOn("judge-rubric", "judge-garbage", "mock/judge-garbage"),
    judgeOn("judge-rubric", "judge-remote", "remote/judge"),
    judgeOn("judge-select-best", "judge-always-a", "remote/judge"),
  ];
  const caller = createPromptCaller({
    routes: config.routes,
    limits: config.limits,
    prices: parsePricing("models: { remote/judge: { input: 1, output: 1 } }"),
    upstream,
    resolve: versionsResolver(versions),
  });
  return createModelGrader({ caller, ...extra });
}

const assertion = (type: string, value: unknown, more: Partial<Assertion> = {}): Assertion => ({
  type,
  negate: false,
  value,
  weight: 1,
  metric: null,
  ...more,
});
const input = (output: string, more: Partial<JudgeInput> = {}): JudgeInput => ({
  output,
  vars: { question: "What is the capital of France?" },
  expected: null,
  ...more,
});

beforeAll(async () => {
  shipped = await loadPromptDir(PROMPTS);
  fake = await startFakeProvider();
  const config = parseGatewayConfig('routes: [{ match: "*", provider: mock }]', {});
  const inner = createUpstream(
    config.limits,
    createMockProvider(() => 0.99),
  );
  sent = [];
  upstream = {
    send: (req) => {
      const body = JSON.parse(req.body!.toString()) as Record<string, unknown>;
      sent.push({ model: String(body["model"]), body });
      return inner.send(req);
    },
    close: () => inner.close(),
  };
});
afterAll(async () => {
  await upstream.close();
  await fake.close();
});

describe("llm-rubric", () => {
  it("asks the shipped judge with the rubric, the output and the case's variables, at temperature 0 with a JSON schema", async () => {
    const g = grader();
    const out = await g.grade(assertion("llm-rubric", "Names the capital"), input("Paris [[score: 0.8]]"));
    expect(out).toEqual({
      kind: "graded",
      pass: true,
      score: 0.8,
      reason: "mock judge: score 0.8 read from the output",
    });
    const body = sent.at(-1)!.body;
    expect(body).toMatchObject({ model: "mock/judge", temperature: 0, stream: false });
    expect(body["response_format"]).toMatchObject({
      type: "json_schema",
      json_schema: { name: "verdict", strict: true },
    });
    const user = (body["messages"] as { content: string }[])[1]!.content;
    expect(user).toContain("question: What is the capital of France?");
    expect(user).toContain("<output>Paris [[score: 0.8]]</output>");
    expect(user).toContain("Names the capital");
    expect(g.judges()).toEqual(["judge-rubric@1.0.0"]);
  });

  it("fails on the judge's verdict, and a zero score is a graded failure, not an error", async () => {
    const out = await grader().grade(assertion("llm-rubric", "x"), input("bad [[score: 0]]"));
    expect(out).toMatchObject({ kind: "graded", pass: false, score: 0 });
  });

  it("makes prose, wrong-shaped JSON and a failed judge call grader errors, never a zero", async () => {
    const garbage = await grader().grade(assertion("llm-rubric", "x", { judge: "judge-garbage@1.0.0" }), input("o"));
    expect(garbage.kind).toBe("error");
    expect((garbage as { reason: string }).reason).toMatch(
      /judge judge-garbage@1.0.0 answered something that is not JSON/,
    );

    const shape = await grader().grade(assertion("llm-rubric", "x"), input("o [[invalid]]"));
    expect(shape.kind).toBe("error");
    expect((shape as { reason: string }).reason).toMatch(
      /answered JSON of the wrong shape \(pass: Invalid input: expected boolean.*Unrecognized key: "verdict"/,
    );

    fake.handle(chatJson('{"pass": true, "score": 1.5, "reason": "r"}'));
    const range = await grader().grade(assertion("llm-rubric", "x", { judge: "judge-remote@1.0.0" }), input("o"));
    expect((range as { reason: string }).reason).toMatch(/score: Too big/);

    fake.handle((_req, res) => {
      res.writeHead(500).end("{}");
    });
    const failed = await grader().grade(assertion("llm-rubric", "x", { judge: "judge-remote@1.0.0" }), input("o"));
    expect((failed as { reason: string }).reason).toMatch(/judge judge-remote@1.0.0 failed: .*answered 500/);

    const unknown = await grader().grade(assertion("llm-rubric", "x", { judge: "judge-nope@1.0.0" }), input("o"));
    expect((unknown as { reason: string }).reason).toMatch(/judge judge-nope@1.0.0 cannot be used/);
  });

  it("uses the suite's judge for the type unless the assertion names one", async () => {
    fake.handle(chatJson('{"pass": false, "score": 0.1, "reason": "remote says no"}'));
    const g = grader({ judges: { "llm-rubric": "judge-remote@1.0.0" } });
    expect(await g.grade(assertion("llm-rubric", "x"), input("o"))).toMatchObject({ reason: "remote says no" });
    expect(await g.grade(assertion("llm-rubric", "x", { judge: "judge-rubric@1.0.0" }), input("o"))).toMatchObject({
      pass: true,
    });
    expect(g.judges()).toEqual(["judge-remote@1.0.0", "judge-rubric@1.0.0"]);
  });
});

describe("factuality, closed QA and g-eval", () => {
  it("factuality: A, B, C and E pass, D fails, scored 1 or 0; the reference is the value or the case's expected", async () => {
    const g = grader();
    const grade = (output: string, value: unknown, expected: string | null = null) =>
      g.grade(assertion("factuality", value), input(output, { expected }));
    expect(await grade("[[category: B]]", "Paris is the capital")).toMatchObject({ pass: true, score: 1 });
    expect(await grade("[[category: E]]", "Paris")).toMatchObject({ pass: true, score: 1 });
    expect(await grade("[[category: D]]", "Paris")).toMatchObject({
      pass: false,
      score: 0,
      reason: "category D: mock judge: category D",
    });
    expect(await grade("[[category: A]]", undefined, "Paris")).toMatchObject({ pass: true });
    const user = (sent.at(-1)!.body["messages"] as { content: string }[])[1]!.content;
    expect(user).toContain("The expert answer:\nParis");
    expect(await grade("o", undefined, null)).toEqual({
      kind: "error",
      reason: "factuality needs a reference: a value, or the case's expected answer",
    });
  });

  it("model-graded-closedqa scores the yes-or-no verdict as 1 or 0", async () => {
    const g = grader();
    expect(await g.grade(assertion("model-graded-closedqa", "is French"), input("x [[score: 0.7]]"))).toMatchObject({
      pass: true,
      score: 1,
    });
    expect(await g.grade(assertion("model-graded-closedqa", "is French"), input("x [[score: 0.3]]"))).toMatchObject({
      pass: false,
      score: 0,
    });
  });

  it("g-eval: criteria and steps reach the judge; passes at the threshold, 0.7 by default", async () => {
    const g = grader();
    const value = { criteria: ["concise", "accurate"], steps: ["Read it", "Count the facts"] };
    expect(await g.grade(assertion("g-eval", value), input("x [[score: 0.7]]"))).toMatchObject({
      pass: true,
      score: 0.7,
    });
    const system = (sent.at(-1)!.body["messages"] as { content: string }[])[0]!.content;
    expect(system).toContain("- concise\n- accurate\n");
    expect(system).toContain("1. Read it\n2. Count the facts\n");
    expect(await g.grade(assertion("g-eval", "concise"), input("x [[score: 0.69]]"))).toMatchObject({ pass: false });
    expect(await g.grade(assertion("g-eval", "concise", { threshold: 0.5 }), input("x [[score: 0.6]]"))).toMatchObject({
      pass: true,
    });
    expect((await g.grade(assertion("g-eval", 3), input("x"))).kind).toBe("error");
  });
});

describe("select-best (pairwise, both orders)", () => {
  it("wins when chosen in both orders and loses when chosen in neither", async () => {
    const g = grader();
    const before = sent.length;
    const win = await g.grade(
      assertion("select-best", "more accurate"),
      input("new [[score: 0.9]]", { alternative: "old [[score: 0.4]]" }),
    );
    expect(win).toMatchObject({ kind: "graded", pass: true, score: 1 });
    expect(sent.length - before).toBe(2);
    const [a, b] = sent.slice(before).map((s) => (s.body["messages"] as { content: string }[])[1]!.content);
    expect(a!.indexOf("new")).toBeLessThan(a!.indexOf("old"));
    expect(b!.indexOf("old")).toBeLessThan(b!.indexOf("new"));
    const loss = await g.grade(
      assertion("select-best", "c"),
      input("new [[score: 0.1]]", { alternative: "old [[score: 0.4]]" }),
    );
    expect(loss).toMatchObject({ pass: false, score: 0 });
  });

  it("calls a judge that always picks the first position a tie", async () => {
    fake.handle(chatJson('{"choice": "A", "reason": "first looks good"}'));
    const out = await grader().grade(
      assertion("select-best", "c", { judge: "judge-always-a@1.0.0" }),
      input("new", { alternative: "old" }),
    );
    expect(out).toMatchObject({ kind: "graded", pass: true, score: 0.5 });
    expect((out as { reason: string }).reason).toMatch(/^tie: the judge's choice changed with the order/);
  });

  it("is a grader error without a baseline output, or when either order fails", async () => {
    expect((await grader().grade(assertion("select-best", "c"), input("new"))).kind).toBe("error");
    const out = await grader().grade(assertion("select-best", "c"), input("new [[invalid]]", { alternative: "old" }));
    expect(out.kind).toBe("error");
  });

  it("pairwiseOutcome: win, loss and both disagreements", () => {
    expect(pairwiseOutcome(true, true, "", "")).toMatchObject({ pass: true, score: 1 });
    expect(pairwiseOutcome(false, false, "", "")).toMatchObject({ pass: false, score: 0 });
    expect(pairwiseOutcome(true, false, "", "")).toMatchObject({ pass: true, score: 0.5 });
    expect(pairwiseOutcome(false, true, "", "")).toMatchObject({ pass: true, score: 0.5 });
  });
});

describe("the judge cache", () => {
  it("answers a re-run from the cache at no cost, keyed by judge version, inputs and attempt", async () => {
    const cache = memoryJudgeCache();
    const calls: JudgeCall[] = [];
    fake.handle(
      chatJson('{"pass": true, "score": 0.9, "reason": "fine"}', {
        prompt_tokens: 10,
        completion_tokens: 10,
        total_tokens: 20,
      }),
    );
    const run = () => grader({ cache, onCall: (c) => calls.push(c) });
    const a = assertion("llm-rubric", "r", { judge: "judge-remote@1.0.0" });
    const first = await run().grade(a, input("o"));
    const before = fake.received.length;
    const again = await run().grade(a, input("o"));
    expect(again).toEqual(first);
    expect(fake.received.length).toBe(before);
    expect(calls.map((c) => [c.judge, c.cached, c.costUsd])).toEqual([
      ["judge-remote@1.0.0", false, 0.00002],
      ["judge-remote@1.0.0", true, 0],
    ]);
    // another input, another attempt, another judge: each a new call
    await run().grade(a, input("other"));
    await run().grade(a, input("o", { attempt: 1 }));
    await run().grade(assertion("llm-rubric", "r"), input("o"));
    expect(calls.filter((c) => !c.cached)).toHaveLength(4);
    expect(cache.size()).toBe(4);
  });

  it("keeps no malformed answer: the next run asks again", async () => {
    const cache = memoryJudgeCache();
    const a = assertion("llm-rubric", "r", { judge: "judge-garbage@1.0.0" });
    expect((await grader({ cache }).grade(a, input("o"))).kind).toBe("error");
    expect(cache.size()).toBe(0);
  });
});

describe("repeats with a minimum pass count", () => {
  const graded = (pass: boolean, score = pass ? 1 : 0): GradeOutcome => ({ kind: "graded", pass, score, reason: "r" });
  const err: GradeOutcome = { kind: "error", reason: "judge broke" };
  const run = (k: number, min: number, outcomes: GradeOutcome[]) =>
    gradeRepeated(repeatPolicy(k, min), (i) => Promise.resolve(outcomes[i]!));

  it("passes with enough passing judgements, fails when even the errors could not make it, errors when they decide", async () => {
    expect(await run(3, 2, [graded(true), graded(false), graded(true)])).toMatchObject({ kind: "graded", pass: true });
    expect(await run(3, 2, [graded(true, 1), graded(false, 0.2), graded(false, 0.3)])).toMatchObject({
      pass: false,
      score: 0.5,
      reason: expect.stringMatching(/^1 of 3 judgements passed \(at least 2 needed\)/) as unknown,
    });
    expect(await run(3, 2, [graded(true), graded(true), err])).toMatchObject({ pass: true });
    expect(await run(3, 3, [graded(false), graded(true), err])).toMatchObject({ kind: "graded", pass: false });
    expect(await run(3, 2, [graded(true), graded(false), err])).toMatchObject({
      kind: "error",
      reason: expect.stringMatching(/grader errors decide it; judge broke$/) as unknown,
    });
    expect(await run(2, 1, [err, err])).toMatchObject({ kind: "error" });
  });

  it("validates the policy; a strict majority by default", () => {
    expect(repeatPolicy(5)).toEqual({ k: 5, minPass: 3 });
    expect(repeatPolicy(4)).toEqual({ k: 4, minPass: 3 });
    expect(() => repeatPolicy(0)).toThrow(/repeat must be a whole number/);
    expect(() => repeatPolicy(3, 4)).toThrow(/minimum pass count/);
  });

  it("repeatedGrader judges k distinct attempts, each cached apart", async () => {
    const cache = memoryJudgeCache();
    const g = repeatedGrader(grader({ cache }), repeatPolicy(3, 2));
    expect(await g.grade(assertion("llm-rubric", "r"), input("o [[score: 0.6]]"))).toMatchObject({
      kind: "graded",
      pass: true,
      score: 0.6,
    });
    expect(cache.size()).toBe(3);
  });
});
