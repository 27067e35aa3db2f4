// Grading: every deterministic type passes, fails and negates; model-graded types go to the grader with
// threshold and negation applied here; assert-set, weights, thresholds, metrics and grader errors.
import { describe, expect, it } from "vitest";
import { buildAssertion } from "../../../gateway/evals/assertion-spec.ts";
import { gradeAssertion, gradeCase } from "../../../gateway/evals/assertions.ts";
import type { Assertion, CallResult, EvalCase, GradeOutcome, ModelGrader } from "../../../gateway/evals/types.ts";

const call = (output: string, latencyMs = 100, costUsd: number | null = 0.0005): CallResult => ({
  output,
  latencyMs,
  costUsd,
});

function assertion(raw: Record<string, unknown>, vars: Record<string, unknown> = {}): Assertion {
  return buildAssertion(raw, { where: "suite.yaml: a", vars, judge: null, loadFile: () => null, warn: () => {} });
}

const noJudge: ModelGrader = {
  grade: () => Promise.reject(new Error("no judge in this test")),
};

async function outcome(raw: Record<string, unknown>, c: CallResult, grader = noJudge): Promise<GradeOutcome> {
  return (await gradeAssertion(assertion(raw), c, { vars: {}, expected: null }, grader)).outcome;
}

async function passes(raw: Record<string, unknown>, output: string | CallResult): Promise<boolean | "error"> {
  const o = await outcome(raw, typeof output === "string" ? call(output) : output);
  return o.kind === "error" ? "error" : o.pass;
}

// [type, value/threshold fields, output that passes, output that fails]
const DETERMINISTIC: [string, Record<string, unknown>, string | CallResult, string | CallResult][] = [
  ["equals", { value: "Hello" }, "Hello", "Hello!"],
  ["equals", { value: { a: 1, b: [2] } }, '{"b":[2],"a":1}', '{"a":2}'],
  ["contains", { value: "Paris" }, "It is Paris.", "It is Lyon."],
  ["contains", { value: 0 }, "x0", "x1"],
  ["icontains", { value: "PARIS" }, "it is paris", "it is lyon"],
  ["contains-any", { value: ["a1", "b2"] }, "has b2", "has c3"],
  ["contains-all", { value: ["a1", "b2"] }, "a1 and b2", "a1 only"],
  ["icontains-any", { value: ["A1", "B2"] }, "has b2", "has c3"],
  ["icontains-all", { value: ["A1", "B2"] }, "a1 and b2", "A1 only"],
  ["starts-with", { value: "Yes" }, "Yes, indeed", "No, yes"],
  ["regex", { value: "\\d{4}" }, "in 2024", "in the 90s"],
  ["is-json", {}, '{"a": 1}', "{a: 1}"],
  ["is-json", { value: { type: "object", required: ["city"] } }, '{"city": "Oslo"}', '{"town": "Oslo"}'],
  ["contains-json", {}, 'Sure: {"a": 1} done', "no json here"],
  ["contains-json", { value: { type: "object", required: ["city"] } }, 'x {"n":1} {"city":"Oslo"}', 'x {"n":1}'],
  ["levenshtein", { value: "kitten", threshold: 3 }, "sitting", "sitting down"],
  ["levenshtein", { value: "hello world" }, "hallo world", "goodbye"],
  ["rouge-n", { value: "the cat was on a mat" }, "the cat was on the mat", "a dog"],
  ["rouge-n", { value: "the cat was on a mat", threshold: 0.6 }, "The cat sat on the mat.", "cats"],
  ["latency", { threshold: 500 }, call("x", 499), call("x", 501)],
  ["cost", { threshold: 0.001 }, call("x", 1, 0.001), call("x", 1, 0.002)],
  ["sentence-count", { value: 2 }, "One. Two.", "One. Two. Three."],
  ["sentence-count", { value: { min: 2, max: 3 } }, "One. Two. Three.", "One."],
];

describe("deterministic assertions", () => {
  it.each(DETERMINISTIC)("%s %j: passes, fails, and not- inverts both", async (type, fields, good, bad) => {
    expect(await passes({ type, ...fields }, good)).toBe(true);
    expect(await passes({ type, ...fields }, bad)).toBe(false);
    expect(await passes({ type: `not-${type}`, ...fields }, good)).toBe(false);
    expect(await passes({ type: `not-${type}`, ...fields }, bad)).toBe(true);
  });

  it("rouge-n scores the recall and not-rouge-n scores 1 - recall", async () => {
    const o = await outcome({ type: "rouge-n", value: "the cat was on a mat" }, call("The cat sat on the mat."));
    expect(o).toMatchObject({ kind: "graded", pass: false });
    expect(o.kind === "graded" && o.score).toBeCloseTo(2 / 3, 12);
    const n = await outcome({ type: "not-rouge-n", value: "the cat was on a mat" }, call("The cat sat on the mat."));
    expect(n.kind === "graded" && n.score).toBeCloseTo(1 / 3, 12);
  });

  it("sentence-count gives partial credit off target and reads its target from a variable", async () => {
    const a = assertion({ type: "sentence-count", value: "{{ target_sentences }}" }, { target_sentences: 2 });
    expect(a.value).toBe(2);
    const o = (await gradeAssertion(a, call("Only one."), { vars: {}, expected: null }, noJudge)).outcome;
    expect(o).toMatchObject({ kind: "graded", pass: false, score: 0.5 });
  });

  it("cost of an unpriced model is a grader error, for cost and not-cost alike", async () => {
    expect(await passes({ type: "cost", threshold: 1 }, call("x", 1, null))).toBe("error");
    expect(await passes({ type: "not-cost", threshold: 1 }, call("x", 1, null))).toBe("error");
  });
});

const judge = (o: GradeOutcome): ModelGrader & { seen: Assertion[] } => {
  const seen: Assertion[] = [];
  return {
    seen,
    grade: (a) => {
      seen.push(a);
      return Promise.resolve(o);
    },
  };
};

describe("model-graded assertions", () => {
  it.each(["llm-rubric", "factuality", "model-graded-closedqa", "g-eval", "select-best"])(
    "%s goes to the ModelGrader with its rendered value and the case's judge",
    async (type) => {
      const g = judge({ kind: "graded", pass: true, score: 0.9, reason: "fine" });
      const a = buildAssertion(
        { type, value: "about {{ topic }}" },
        { where: "s: a", vars: { topic: "cats" }, judge: "judge-rubric@1.0.0", loadFile: () => null, warn: () => {} },
      );
      const r = await gradeAssertion(a, call("out"), { vars: { topic: "cats" }, expected: "ref" }, g);
      expect(g.seen[0]).toMatchObject({ type, value: "about cats", judge: "judge-rubric@1.0.0" });
      expect(r.outcome).toEqual({ kind: "graded", pass: true, score: 0.9, reason: "fine" });
    },
  );

  it("applies the threshold to the judge's score and not- to pass and score", async () => {
    const g = judge({ kind: "graded", pass: true, score: 0.6, reason: "ok" });
    expect(await outcome({ type: "llm-rubric", value: "x", threshold: 0.7 }, call("o"), g)).toMatchObject({
      pass: false,
      score: 0.6,
    });
    expect(await outcome({ type: "llm-rubric", value: "x", threshold: 0.5 }, call("o"), g)).toMatchObject({
      pass: true,
    });
    const n = await outcome({ type: "not-llm-rubric", value: "x" }, call("o"), g);
    expect(n).toMatchObject({ pass: false });
    expect(n.kind === "graded" && n.score).toBeCloseTo(0.4, 12);
  });

  it("keeps a judge's error an error, negated or not, and turns a thrown error into one", async () => {
    const g = judge({ kind: "error", reason: "unreadable judge output" });
    expect(await outcome({ type: "not-factuality", value: "x" }, call("o"), g)).toEqual({
      kind: "error",
      reason: "unreadable judge output",
    });
    expect(await outcome({ type: "factuality", value: "x" }, call("o"))).toMatchObject({ kind: "error" });
  });
});

const evalCase = (assertions: Assertion[], threshold: number | null = null): EvalCase => ({
  id: "tests[0]",
  description: null,
  vars: {},
  expected: null,
  assertions,
  threshold,
});

describe("gradeCase", () => {
  it("passes when every assertion passes, with the weighted mean score", async () => {
    const r = await gradeCase(
      evalCase(
        [assertion({ type: "contains", value: "a", weight: 3 }), assertion({ type: "contains", value: "zz" })],
        0.7,
      ),
      call("abc"),
      noJudge,
    );
    expect(r).toMatchObject({ pass: true, score: 0.75, graderErrors: 0 });
    const strict = await gradeCase(evalCase([...r.results.map((x) => x.assertion)]), call("abc"), noJudge);
    expect(strict).toMatchObject({ pass: false, score: 0.75 });
  });

  it("fails a weight-0 assertion's failure without a threshold, as promptfoo does, but leaves the score alone", async () => {
    const r = await gradeCase(
      evalCase([assertion({ type: "contains", value: "a" }), assertion({ type: "contains", value: "z", weight: 0 })]),
      call("abc"),
      noJudge,
    );
    expect(r).toMatchObject({ pass: false, score: 1 });
  });

  it("groups scores by metric (default: the type)", async () => {
    const g = judge({ kind: "graded", pass: true, score: 0.5, reason: "meh" });
    const r = await gradeCase(
      evalCase([
        assertion({ type: "llm-rubric", value: "x", metric: "quality" }),
        assertion({ type: "contains", value: "a", metric: "quality" }),
        assertion({ type: "icontains", value: "A" }),
      ]),
      call("abc"),
      g,
    );
    expect(r.metrics).toEqual({ quality: 0.75, icontains: 1, score: (0.5 + 1 + 1) / 3 });
  });

  it("counts grader errors apart: undecided when they could change the answer, decided when not", async () => {
    const err = judge({ kind: "error", reason: "garbage" });
    const undecided = await gradeCase(
      evalCase([assertion({ type: "contains", value: "a" }), assertion({ type: "llm-rubric", value: "x" })]),
      call("abc"),
      err,
    );
    expect(undecided).toMatchObject({ pass: null, score: 1, graderErrors: 1 });
    const failed = await gradeCase(
      evalCase([assertion({ type: "contains", value: "z" }), assertion({ type: "llm-rubric", value: "x" })]),
      call("abc"),
      err,
    );
    expect(failed).toMatchObject({ pass: false, score: 0, graderErrors: 1 });
    const enough = await gradeCase(
      evalCase(
        [assertion({ type: "contains", value: "a", weight: 3 }), assertion({ type: "llm-rubric", value: "x" })],
        0.75,
      ),
      call("abc"),
      err,
    );
    expect(enough).toMatchObject({ pass: true, graderErrors: 1 });
  });

  it("grades an assert-set: all must pass, or its threshold share", async () => {
    const set = (threshold?: number): Assertion =>
      assertion({
        type: "assert-set",
        ...(threshold !== undefined && { threshold }),
        assert: [
          { type: "latency", threshold: 200 },
          { type: "cost", threshold: 0.0001 },
        ],
      });
    const all = await gradeCase(evalCase([set()]), call("x", 100, 0.001), noJudge);
    expect(all).toMatchObject({ pass: false, score: 0.5 });
    expect(all.results[0]!.children).toHaveLength(2);
    const half = await gradeCase(evalCase([set(0.5)]), call("x", 100, 0.001), noJudge);
    expect(half).toMatchObject({ pass: true, score: 0.5 });
    const errors = await gradeCase(evalCase([set(0.6)]), call("x", 100, null), noJudge);
    expect(errors).toMatchObject({ pass: null, graderErrors: 1 });
  });

  it("passes a case without assertions with score 1", async () => {
    expect(await gradeCase(evalCase([]), call("x"), noJudge)).toMatchObject({ pass: true, score: 1 });
  });
});
