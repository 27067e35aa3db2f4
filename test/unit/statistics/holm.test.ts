// Holm's step-down adjustment against its definition written out in test/reference/holm.py.
import { describe, expect, it } from "vitest";
import { holm } from "../../../gateway/statistics/holm.ts";
import { expectClose } from "../../support/close.ts";

// [p-values, adjusted], printed by test/reference/holm.py.
// prettier-ignore
const CASES: [number[], number[]][] = [
  [[0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]],
  [[0.2, 0.001, 0.5, 0.04, 0.04, 0.9], [0.6000000000000001, 0.006, 1.0, 0.2, 0.2, 1.0]],
  [[0.03], [0.03]],
  [[0.5, 0.6, 0.7], [1.0, 1.0, 1.0]],
  [[1e-8, 0.0125, 0.025, 0.0126], [4e-8, 0.037500000000000006, 0.037500000000000006, 0.037500000000000006]],
];

describe("holm", () => {
  it.each(CASES)("adjusts %j in the order given", (ps, expected) => {
    const adjusted = holm(ps);
    expect(adjusted).toHaveLength(expected.length);
    adjusted.forEach((a, i) => expectClose(a, expected[i]!, 1e-12));
  });

  it("handles no p-values and rejects values outside [0, 1]", () => {
    expect(holm([])).toEqual([]);
    expect(() => holm([0.1, 1.5])).toThrow(/pValues\[1\]/);
    expect(() => holm([Number.NaN])).toThrow(/pValues\[0\]/);
  });
});
