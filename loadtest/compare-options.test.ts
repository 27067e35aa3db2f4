import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { pairedMedian, parseCompareArgs, type Round } from "./compare-options.ts";

describe("compare.ts options", () => {
  it("reads builds with their node flags, and the round settings", () => {
    const o = parseCompareArgs(["--rounds", "3", "--stream", "a=/tmp/a", "b=.+--cpu-prof+--cpu-prof-dir=/tmp/p"]);
    expect(o).toEqual({
      rounds: 3,
      seconds: 4,
      connections: 50,
      scenario: "stream",
      prompt: true,
      builds: [
        { name: "a", dir: "/tmp/a", nodeArgs: [] },
        { name: "b", dir: resolve("."), nodeArgs: ["--cpu-prof", "--cpu-prof-dir=/tmp/p"] },
      ],
    });
    expect(parseCompareArgs(["--plain", "a=x", "b=y"]).prompt).toBe(false);
  });

  it("refuses fewer than two builds, twice the same name, bad numbers and unknown flags", () => {
    expect(() => parseCompareArgs(["a=x"])).toThrow("name at least two builds");
    expect(() => parseCompareArgs(["a=x", "a=y"])).toThrow("each build needs its own name");
    expect(() => parseCompareArgs(["--rounds", "0", "a=x", "b=y"])).toThrow("--rounds takes a whole number");
    expect(() => parseCompareArgs(["--duration", "a=x", "b=y"])).toThrow("--duration takes a whole number");
    expect(() => parseCompareArgs(["--fast", "a=x", "b=y"])).toThrow("unknown argument --fast");
  });
});

describe("pairedMedian", () => {
  const rounds = (cpu: (number | null)[]): Round[] => cpu.map((cpuUs) => ({ rps: 1, cpuUs }));

  it("is the median of each round's ratio to the first build's same round, not a ratio of medians", () => {
    // The machine slows down round by round; the second build is always 10% dearer than the first.
    const first = rounds([100, 200, 400]);
    const second = rounds([110, 220, 440]);
    expect(pairedMedian(second, first, (r) => r.cpuUs)).toBeCloseTo(1.1, 12);
    // Unpaired, a build measured in a slow round only would look dearer or cheaper by the drift.
    expect(pairedMedian(rounds([120, 150, 400]), first, (r) => r.cpuUs)).toBeCloseTo(1.0, 12);
  });

  it("skips rounds without both figures, and is null when none has them", () => {
    expect(pairedMedian(rounds([null, 300]), rounds([100, 200]), (r) => r.cpuUs)).toBe(1.5);
    expect(pairedMedian(rounds([100]), rounds([0]), (r) => r.cpuUs)).toBeNull();
    expect(pairedMedian(rounds([100, 100]), rounds([100]), (r) => r.cpuUs)).toBe(1);
  });
});
