// ROUGE-N recall against the reference values of test/reference/rouge_n.py, sentence counting and
// finding JSON inside free text.
import { describe, expect, it } from "vitest";
import { countSentences, extractJsonValues, rougeNRecall, rougeTokens } from "../../../gateway/evals/text-metrics.ts";

describe("rougeNRecall", () => {
  // Computed by test/reference/rouge_n.py (python3 test/reference/rouge_n.py).
  const REFERENCE: [string, string, number, number][] = [
    ["The cat sat on the mat.", "the cat was on a mat", 1, 0.6666666666666666],
    ["the the the the", "the cat sat on the mat", 1, 0.3333333333333333],
    ["Paris is the capital of France", "The capital of France is Paris.", 1, 1.0],
    ["Paris is the capital of France", "The capital of France is Paris.", 2, 0.6],
    ["Hello, World! Hello again.", "hello world", 1, 1.0],
    ["completely different words", "nothing shared here", 1, 0.0],
  ];
  it.each(REFERENCE)("rouge(%j, %j, n=%i) = %d as the reference computes", (cand, ref, n, expected) => {
    expect(rougeNRecall(cand, ref, n)).toBeCloseTo(expected, 12);
  });

  it("tokenizes case-insensitively on letters and digits, Unicode included", () => {
    expect(rougeTokens("Dónde ESTÁ la biblioteca? 42!")).toEqual(["dónde", "está", "la", "biblioteca", "42"]);
  });

  it("scores an empty reference 0", () => {
    expect(rougeNRecall("anything", "...")).toBe(0);
  });
});

describe("countSentences", () => {
  it("counts sentences by Unicode boundaries, ignoring empty segments", () => {
    expect(countSentences("One sentence. Two sentences! Three?")).toBe(3);
    expect(countSentences("Just one")).toBe(1);
    expect(countSentences("")).toBe(0);
    expect(countSentences("  ...  ")).toBe(0);
  });
});

describe("extractJsonValues", () => {
  it("finds objects and arrays inside text, outermost first", () => {
    expect(extractJsonValues('Here: {"a": {"b": 1}} and [1, 2] but {not json}')).toEqual([{ a: { b: 1 } }, [1, 2]]);
  });
  it("keeps braces inside strings balanced", () => {
    expect(extractJsonValues('x {"s": "a } b"} y')).toEqual([{ s: "a } b" }]);
  });
  it("returns nothing for text without JSON", () => {
    expect(extractJsonValues("no json { here")).toEqual([]);
  });
});
