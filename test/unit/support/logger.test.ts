// The logger's line cap: whatever a caller passes, a line stays one JSON object of at most MAX_LINE_BYTES.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capLine, createLogger, MAX_LINE_BYTES } from "../../../gateway/support/logger.ts";

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger(
      "debug",
      (line) => lines.push(line),
      () => 0,
    ),
  };
}

const bytes = (line: string): number => Buffer.byteLength(line);

describe("log line cap", () => {
  it("writes ordinary lines unchanged", () => {
    const { lines, logger } = capture();
    logger.warn("canary weights ignored", { prompt: "summ", problems: ["x".repeat(2_000)] });
    expect(JSON.parse(lines[0]!)).toEqual({
      time: "1970-01-01T00:00:00.000Z",
      level: "warn",
      msg: "canary weights ignored",
      prompt: "summ",
      problems: ["x".repeat(2_000)],
    });
  });

  it("cuts a 7 MB field to a bounded line that keeps time, level, msg and the other fields", () => {
    const { lines, logger } = capture();
    const weights = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`9.9.${i}`, "1"]));
    logger.warn("canary weights ignored; the last good split stays", { prompt: "summ", env: "prod", weights });
    const line = lines[0]!;
    expect(bytes(line)).toBeLessThanOrEqual(MAX_LINE_BYTES);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      time: "1970-01-01T00:00:00.000Z",
      level: "warn",
      msg: "canary weights ignored; the last good split stays",
      prompt: "summ",
      env: "prod",
      truncated: true,
      original_bytes: bytes(JSON.stringify({ ...parsed, weights, truncated: undefined, original_bytes: undefined })),
    });
    expect(parsed.weights).toMatch(/^\{"9\.9\.0":"1","9\.9\.1":"1",.*…$/);
  });

  it("bounds lines of multi-byte text, escapes, many fields or a long message", () => {
    const cases: Record<string, string>[] = [
      { text: "✓".repeat(10_000) },
      { text: '"\u0001'.repeat(10_000) },
      Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`field-${i}`, "value"])),
      { ["k".repeat(50_000)]: "v" },
    ];
    for (const fields of cases) {
      const { lines, logger } = capture();
      logger.error("m".repeat(20_000), fields);
      expect(bytes(lines[0]!)).toBeLessThanOrEqual(MAX_LINE_BYTES);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", truncated: true });
    }
    const many = JSON.parse(capLine(JSON.stringify(cases[2]))) as Record<string, unknown>;
    expect(many).toMatchObject({ "field-0": "value", "field-49": "value", fields_dropped: 4_950 });
  });

  it("fits any line in the cap as valid JSON, and leaves lines under it alone", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.integer({ min: 64, max: 2_048 }), (fields, max) => {
        const line = JSON.stringify({ time: "t", level: "info", msg: "m", ...fields });
        const capped = capLine(line, max);
        expect(bytes(capped)).toBeLessThanOrEqual(max);
        expect(() => JSON.parse(capped) as unknown).not.toThrow();
        if (bytes(line) <= max) expect(capped).toBe(line);
      }),
    );
  });
});
