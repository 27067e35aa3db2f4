// Judges as registered prompts, end to end in one process: the shipped judge prompts pushed to a
// registry on the embedded store, resolved by version and by label, called through CONFIG_DIR's
// gateway.yaml (the repository's config/) on mock/judge, with the judge cache on disk.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPromptCaller, registryResolver, type OpenedCaller } from "../gateway/evals/caller.ts";
import { judgeCachePath, openJudgeCache } from "../gateway/evals/judge-cache.ts";
import { createModelGrader, type JudgeCall } from "../gateway/evals/model-graded.ts";
import { loadPromptDir } from "../gateway/prompts/prompt-file.ts";
import { pushVersions } from "../gateway/registry/prompt-ops.ts";
import { createRegistry, type Registry } from "../gateway/registry/registry.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";

const CONFIG = fileURLToPath(new URL("../config", import.meta.url));

let dir: string;
let store: Store;
let registry: Registry;
let opened: OpenedCaller;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "evals-judges-"));
  store = createSqliteStore({ path: join(dir, "state.db"), prefix: "promptgate:", logger: silentLogger });
  registry = createRegistry(store, systemClock);
  const outcomes = await pushVersions(registry, await loadPromptDir(join(CONFIG, "prompts")), "test");
  expect(outcomes.every((o) => o.status === "created")).toBe(true);
  await registry.promote("judge-rubric", "1.0.0", "staging", { approvedBy: "test" });
  opened = await openPromptCaller({ configDir: CONFIG, env: {}, resolve: registryResolver(registry, "prod") });
});
afterAll(async () => {
  await opened.close();
  await store.close();
});

describe("judges called in process through the registry and gateway.yaml", () => {
  it("calls the prompt under test and grades it with a registered judge by version and by label", async () => {
    const answer = await opened.caller.call(
      "summarization@1.1.0",
      { text: "Ada met Charles. [[score: 0.4]]" },
      { model: "mock/echo" },
    );
    expect(answer.output).toContain("user: Ada met Charles. [[score: 0.4]]");

    const grader = createModelGrader({ caller: opened.caller });
    const rubric = { type: "llm-rubric", negate: false, value: "Two sentences", weight: 1, metric: "quality" };
    const judged = { output: answer.output, vars: { text: "Ada met Charles." }, expected: null };
    expect(await grader.grade(rubric, judged)).toMatchObject({ kind: "graded", pass: false, score: 0.4 });
    expect(await grader.grade({ ...rubric, judge: "judge-rubric@staging" }, judged)).toMatchObject({ score: 0.4 });
    expect(grader.judges()).toEqual(["judge-rubric@1.0.0"]);
    const noLabel = await grader.grade({ ...rubric, judge: "judge-rubric@prod" }, judged);
    expect(noLabel).toMatchObject({
      kind: "error",
      reason: expect.stringMatching(/no version on label prod/) as unknown,
    });
  });

  it("answers a second run from the cache file beside the store", async () => {
    const path = judgeCachePath(join(dir, "state.db"));
    const run = async (): Promise<JudgeCall[]> => {
      const cache = openJudgeCache(path);
      const calls: JudgeCall[] = [];
      const grader = createModelGrader({ caller: opened.caller, cache, onCall: (c) => calls.push(c) });
      const input = { output: "Paris [[category: A]]", vars: {}, expected: "Paris is the capital of France." };
      await grader.grade({ type: "factuality", negate: false, weight: 1, metric: null }, input);
      cache.close();
      return calls;
    };
    expect((await run()).map((c) => c.cached)).toEqual([false]);
    expect((await run()).map((c) => c.cached)).toEqual([true]);
  });
});
