import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIVE_RUBRIC, loadLivePrompts, sampleRates } from "../../../gateway/evals/online.ts";
import type { LogFields, Logger } from "../../../gateway/support/logger.ts";

function capture(): { logger: Logger; lines: { msg: string; fields?: LogFields }[] } {
  const lines: { msg: string; fields?: LogFields }[] = [];
  const push = (msg: string, fields?: LogFields): void => void lines.push(fields ? { msg, fields } : { msg });
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

describe("loadLivePrompts", () => {
  it("reads the online section of each suite, skips broken suites with a log line, defaults the rubric", () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-online-"));
    mkdirSync(join(dir, "evals"));
    const test = "tests:\n  - vars: { text: a }\n    assert: [{ type: contains, value: a }]\n";
    writeFileSync(
      join(dir, "evals", "a.yaml"),
      `${test}online: { sample: 0.5, judge: judge-rubric@1.0.0, metric: quality }\n`,
    );
    writeFileSync(
      join(dir, "evals", "b.yaml"),
      "tests:\n  - vars: { text: b }\n    assert: [{ type: llm-rubric, value: Is polite }]\n" +
        "online: { sample: 1, judge: judge-rubric@1.0.0, metric: politeness }\n",
    );
    writeFileSync(
      join(dir, "evals", "c.yaml"),
      `${test}online: { sample: 0.1, judge: judge-rubric@1.0.0, metric: quality, rubric: Short }\n`,
    );
    writeFileSync(join(dir, "evals", "broken.yaml"), "tests: [\n");
    writeFileSync(join(dir, "evals", "offline.yaml"), test);
    writeFileSync(
      join(dir, "evals", "bad-metric.yaml"),
      `${test}online: { sample: 1, judge: judge-rubric@1.0.0, metric: "Bad Name" }\n`,
    );
    const { logger, lines } = capture();
    const prompts = loadLivePrompts(dir, logger);
    expect([...prompts.keys()].sort()).toEqual(["a", "b", "c"]);
    expect(prompts.get("a")?.rubricText).toBe(DEFAULT_LIVE_RUBRIC);
    expect(prompts.get("b")?.rubricText).toBe("Is polite");
    expect(prompts.get("c")?.rubricText).toBe("Short");
    expect(sampleRates(prompts)).toEqual(
      new Map([
        ["a", 0.5],
        ["b", 1],
        ["c", 0.1],
      ]),
    );
    expect(lines.map((l) => l.fields?.["file"])).toEqual([
      join(dir, "evals", "bad-metric.yaml"),
      join(dir, "evals", "broken.yaml"),
    ]);
  });

  it("is off without an evals folder", () => {
    expect(loadLivePrompts(mkdtempSync(join(tmpdir(), "pg-online-")), capture().logger).size).toBe(0);
  });
});
