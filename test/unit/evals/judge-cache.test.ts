// The judge cache: keys from the judge's content hash, model, variables and attempt; the SQLite file
// shared by runs, bounded with the least recently used judgements going first.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { judgeCacheKey, judgeCachePath, memoryJudgeCache, openJudgeCache } from "../../../gateway/evals/judge-cache.ts";

const key = { judgeHash: "h1", model: "mock/judge", vars: { output: "o", rubric: "r" }, attempt: 0 };
const answer = (n: number) => ({ output: `{"n":${n}}`, costUsd: n === 0 ? null : n / 1000 });

describe("judgeCacheKey", () => {
  it("is the same for the same parts in any key order, and differs when any part does", () => {
    const k = judgeCacheKey(key);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(judgeCacheKey({ ...key, vars: { rubric: "r", output: "o" } })).toBe(k);
    for (const other of [
      { ...key, judgeHash: "h2" },
      { ...key, model: "gpt-4o-mini" },
      { ...key, vars: { output: "o2", rubric: "r" } },
      { ...key, attempt: 1 },
    ])
      expect(judgeCacheKey(other)).not.toBe(k);
  });

  it("lives beside the embedded store's file", () => {
    expect(judgeCachePath("./.promptgate/state.db")).toBe(".promptgate/judge-cache.db");
  });
});

describe("openJudgeCache", () => {
  it("keeps judgements across processes (a reopened file) and answers null for unknown keys", () => {
    const path = join(mkdtempSync(join(tmpdir(), "judge-cache-")), "sub", "judge-cache.db");
    const a = openJudgeCache(path);
    a.set("k1", answer(1));
    a.set("k0", answer(0));
    a.close();
    const b = openJudgeCache(path);
    expect(b.get("k1")).toEqual(answer(1));
    expect(b.get("k0")).toEqual(answer(0));
    expect(b.get("nope")).toBeNull();
    b.close();
  });

  it("is bounded: the least recently used go first", () => {
    const path = join(mkdtempSync(join(tmpdir(), "judge-cache-")), "judge-cache.db");
    const c = openJudgeCache(path, 3);
    for (let i = 1; i <= 3; i++) c.set(`k${i}`, answer(i));
    expect(c.get("k1")).not.toBeNull(); // k2 is now the least recently used
    c.set("k4", answer(4));
    c.close(); // trims to the bound
    const d = openJudgeCache(path, 3);
    expect(d.size()).toBe(3);
    expect(d.get("k2")).toBeNull();
    expect([d.get("k1"), d.get("k3"), d.get("k4")].every((v) => v !== null)).toBe(true);
    d.close();
  });
});

describe("memoryJudgeCache", () => {
  it("is bounded the same way", () => {
    const c = memoryJudgeCache(2);
    c.set("a", answer(1));
    c.set("b", answer(2));
    c.get("a");
    c.set("c", answer(3));
    expect(c.get("b")).toBeNull();
    expect(c.get("a")).toEqual(answer(1));
    expect(c.size()).toBe(2);
  });
});
