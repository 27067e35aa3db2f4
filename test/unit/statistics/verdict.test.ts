// Verdicts from the sequential interval and the metric's direction.
import { describe, expect, it } from "vitest";
import { directionOf, verdictOf } from "../../../gateway/statistics/verdict.ts";

describe("verdictOf", () => {
  it("reads the side of 0 through the metric's direction", () => {
    expect(verdictOf({ low: 0.004, high: 0.073 }, directionOf("quality"), 0.02)).toBe("better");
    expect(verdictOf({ low: -0.05, high: -0.01 }, directionOf("quality"), 0.02)).toBe("worse");
    expect(verdictOf({ low: 0.001, high: 0.02 }, directionOf("error_rate"), 0.01)).toBe("worse");
    expect(verdictOf({ low: -0.02, high: -0.001 }, directionOf("thumbs_down_rate"), 0.01)).toBe("better");
    expect(directionOf("helpfulness")).toBe("higher_is_better");
  });

  it("says no difference only when the interval rules out the effect that matters, else too early", () => {
    expect(verdictOf({ low: -0.015, high: 0.018 }, "higher_is_better", 0.02)).toBe("no_difference");
    expect(verdictOf({ low: -0.015, high: 0.025 }, "higher_is_better", 0.02)).toBe("too_early");
    expect(verdictOf({ low: -0.3, high: 0.3 }, "lower_is_better", 0.02)).toBe("too_early");
    expect(verdictOf(null, "higher_is_better", 0.02)).toBe("too_early");
  });
});
