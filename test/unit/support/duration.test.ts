// Durations as typed on a command line or sent in a JSON body, and back.
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../gateway/support/duration.ts";

describe("parseDuration", () => {
  it("reads whole amounts of ms, s, m, h and d", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration(" 2h ")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses anything else", () => {
    for (const text of ["", "30", "1.5h", "-5m", "5 m", "5min", "h", "2H", "99999999999999999d"]) {
      expect(parseDuration(text)).toBeNull();
    }
  });
});

describe("formatDuration", () => {
  it("uses the largest unit that divides exactly, and reads back", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(1_500)).toBe("1500ms");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(5_400_000)).toBe("90m");
    expect(formatDuration(7_200_000)).toBe("2h");
    expect(formatDuration(86_400_000)).toBe("1d");
    for (const ms of [0, 1, 999, 61_000, 3_600_000, 90_000_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
