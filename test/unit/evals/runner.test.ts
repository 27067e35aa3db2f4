// The eval runner with a fake caller and a fake grader: the bound on cases in flight, the cost budget, the
// deadline per case (fake timers), repeats, the baseline's pairing and the gate, variables converted to the
// prompt's declared types, and the run's status (passed, failed, error).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CallDetail, CallOptions, PromptCaller, ResolvedPrompt } from "../../../gateway/evals/caller.ts";
import { repeatPolicy } from "../../../gateway/evals/model-graded.ts";
import {
  createCostMeter,
  promptVars,
  runEval,
  summarizeLatency,
  summarizeMetrics,
  type ProgressEvent,
  type RunOptions,
} from "../../../gateway/evals/runner.ts";
import { parseSuite } from "../../../gateway/evals/suite.ts";
import type {
  Assertion,
  CaseResult,
  GradeOutcome,
  JudgeInput,
  ModelGrader,
  Suite,
} from "../../../gateway/evals/types.ts";
import { compilePrompt } from "../../../gateway/prompts/compile.ts";
import { parsePromptFile } from "../../../gateway/prompts/prompt-file.ts";

const PROMPT = (version: string): string => `name: greeter
version: ${version}
model: mock/echo
variables:
  who: { type: string, required: true }
  times: { type: integer, default: 1 }
  loud: { type: boolean, default: false }
  tags: { type: array, items: string, default: [] }
messages: [{ role: user, content: "Hello {{ who }}" }]
`;

function resolved(version: string): ResolvedPrompt {
  const v = parsePromptFile(PROMPT(version), `greeter/${version}.yaml`);
  return { version: v, compiled: compilePrompt(v), via: null };
}

const suite = (yaml: string): Suite =>
  parseSuite(yaml, "evals/greeter.yaml", () => {
    throw new Error("no datasets here");
  });

/** n cases, each asserting that the output contains "ok", and a rubric under the metric quality. */
function cases(n: number, extra = ""): Suite {
  const tests = Array.from({ length: n }, (_, i) => `  - vars: { who: "w${i}" }`).join("\n");
  return suite(`defaultTest:
  assert:
    - { type: contains, value: ok }
    - { type: llm-rubric, value: polite, metric: quality }
tests:
${tests}
${extra}`);
}

type Answer = (ref: ResolvedPrompt, vars: Readonly<Record<string, unknown>>, opts: CallOptions) => Promise<string>;

/** A caller answering through `answer`, each call costing `cost` and taking 10 ms. */
function fakeCaller(answer: Answer, cost: number | null = 0.001): Pick<PromptCaller, "call"> & { calls: number } {
  const c = {
    calls: 0,
    async call(target: string | ResolvedPrompt, vars: Readonly<Record<string, unknown>>, opts: CallOptions = {}) {
      c.calls++;
      const ref = target as ResolvedPrompt;
      const output = await answer(ref, vars, opts);
      const detail: CallDetail = {
        output,
        latencyMs: 10,
        costUsd: cost,
        prompt: { name: ref.version.name, version: ref.version.version, hash: ref.version.hash },
        model: "mock/echo",
        usage: null,
        costPico: null,
      };
      return detail;
    },
  };
  return c;
}

/** A grader reading `[[q: x]]` from the output as the score (pass at 0.5), an error on `[[garbage]]`. */
function fakeGrader(): ModelGrader & { inputs: JudgeInput[] } {
  const g = {
    inputs: [] as JudgeInput[],
    grade(_a: Assertion, input: JudgeInput): Promise<GradeOutcome> {
      g.inputs.push(input);
      if (input.output.includes("[[garbage]]")) return Promise.resolve({ kind: "error", reason: "unreadable" });
      const m = /\[\[q: ([0-9.]+)\]\]/.exec(input.output);
      const score = m ? Number(m[1]) : 1;
      return Promise.resolve({ kind: "graded", pass: score >= 0.5, score, reason: `q ${score}` });
    },
  };
  return g;
}

function options(over: Partial<RunOptions> & Pick<RunOptions, "suite" | "caller">): RunOptions {
  let t = Date.parse("2025-01-01T00:00:00Z");
  return {
    candidate: resolved("1.1.0"),
    grader: fakeGrader(),
    meter: createCostMeter(),
    now: () => (t += 1000),
    ...over,
  };
}

afterEach(() => void vi.useRealTimers());

describe("promptVars", () => {
  it("keeps the declared variables and converts text to their types", () => {
    const v = resolved("1.0.0").version.variables;
    expect(promptVars(v, { who: "Ada", times: "3", loud: "TRUE", tags: '["a","b"]', expected: "x" })).toEqual({
      who: "Ada",
      times: 3,
      loud: true,
      tags: ["a", "b"],
    });
    expect(promptVars(v, { who: "Ada", times: "", tags: "a, b" })).toEqual({ who: "Ada", tags: ["a", "b"] });
    // What cannot be converted is left for the prompt's own validation to name.
    expect(promptVars(v, { who: 7, times: "three", loud: "maybe" })).toEqual({
      who: 7,
      times: "three",
      loud: "maybe",
    });
  });
});

describe("runEval", () => {
  it("passes when every case passes, and sends only converted, declared variables", async () => {
    const seen: Readonly<Record<string, unknown>>[] = [];
    const caller = fakeCaller((_r, vars) => {
      seen.push(vars);
      return Promise.resolve("ok [[q: 0.9]]");
    });
    const s = suite(`tests:
  - vars: { who: Ada, times: "2", note: unused }
    assert: [{ type: contains, value: ok }]
`);
    const run = await runEval(options({ suite: s, caller }));
    expect(run.status).toBe("passed");
    expect(run.reasons).toEqual([]);
    expect(seen).toEqual([{ who: "Ada", times: 2 }]);
    expect(run.cases[0]!.vars).toEqual({ who: "Ada", times: 2 });
    expect(run.counts).toEqual({ total: 1, passed: 1, failed: 0, undecided: 0, errors: 0 });
    expect(run.startedAt).toBe("2025-01-01T00:00:01.000Z");
    expect(run.finishedAt).toBe("2025-01-01T00:00:02.000Z");
    expect(run.cost).toMatchObject({ promptUsd: 0.001, totalUsd: 0.001, budgetExceeded: false });
  });

  it("keeps at most `concurrency` cases in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    const caller = fakeCaller(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      return "ok";
    });
    const running = runEval(options({ suite: cases(10), caller, concurrency: 3 }));
    let released = 0;
    while (released < 10) {
      await vi.waitFor(() => expect(waiting.length).toBeGreaterThan(0));
      expect(inFlight).toBeLessThanOrEqual(3);
      waiting.shift()!();
      released++;
    }
    const run = await running;
    expect(most).toBe(3);
    expect(run.cases).toHaveLength(10);
    expect(run.status).toBe("passed");
  });

  it("stops starting cases once the budget is spent, and calls the run an error", async () => {
    const caller = fakeCaller(() => Promise.resolve("ok"), 0.01);
    const events: ProgressEvent[] = [];
    const run = await runEval(
      options({ suite: cases(10), caller, concurrency: 1, maxCostUsd: 0.025, onProgress: (e) => events.push(e) }),
    );
    // $0.01 per case: after 3 cases $0.03 >= $0.025, so the 4th never starts.
    expect(caller.calls).toBe(3);
    expect(run.skipped).toBe(7);
    expect(run.status).toBe("error");
    expect(run.reasons[0]).toMatch(/cost budget of \$0\.025 was reached after \$0\.030000: 7 of 10 cases were not run/);
    expect(run.cost).toMatchObject({ budgetUsd: 0.025, budgetExceeded: true, totalUsd: 0.03 });
    expect(events[0]).toEqual({ kind: "start", total: 10 });
    expect(events.filter((e) => e.kind === "case").map((e) => e.kind === "case" && e.done)).toEqual([1, 2, 3]);
    expect(events.at(-1)).toEqual({ kind: "budget", spentUsd: 0.03, budgetUsd: 0.025, skipped: 7 });
  });

  it("counts judge calls in the budget, cached ones at no cost", () => {
    const meter = createCostMeter();
    meter.call(0.5);
    meter.judge({ judge: "judge-rubric@1.0.0", cached: false, costUsd: 0.25, latencyMs: 3 });
    meter.judge({ judge: "judge-rubric@1.0.0", cached: true, costUsd: 0, latencyMs: 0 });
    meter.judge({ judge: "judge-rubric@1.0.0", cached: false, costUsd: null, latencyMs: 3 });
    expect(meter.spent()).toBe(0.75);
    expect(meter.totals()).toEqual({
      promptUsd: 0.5,
      judgeUsd: 0.25,
      unpricedCalls: 1,
      judgeCalls: 3,
      judgeCacheHits: 1,
    });
  });

  it("ends a case at its deadline, aborting its call", async () => {
    vi.useFakeTimers();
    let aborted = 0;
    const caller = fakeCaller(
      (_r, _v, opts) =>
        new Promise<string>((_resolve, reject) => {
          opts.signal?.addEventListener("abort", () => {
            aborted++;
            reject(new Error("aborted"));
          });
        }),
    );
    const running = runEval(options({ suite: cases(2), caller, caseTimeoutMs: 5000, concurrency: 2 }));
    await vi.advanceTimersByTimeAsync(4999);
    expect(aborted).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    const run = await running;
    expect(aborted).toBe(2);
    expect(run.cases.map((c) => c.candidate.error)).toEqual([
      "the case timed out after 5000 ms",
      "the case timed out after 5000 ms",
    ]);
    expect(run.status).toBe("error");
    expect(run.reasons[0]).toMatch(/^every case's call failed/);
  });

  it("judges each model-graded assertion k times with --repeat, passing on the minimum count", async () => {
    const caller = fakeCaller(() => Promise.resolve("ok"));
    let n = 0;
    // Attempts 0 and 1 pass, attempt 2 fails.
    const grader: ModelGrader = {
      grade: (_a, input) => {
        n++;
        const pass = (input.attempt ?? 0) < 2;
        return Promise.resolve({ kind: "graded", pass, score: pass ? 1 : 0, reason: "" });
      },
    };
    const two = await runEval(options({ suite: cases(2), caller, grader, repeat: repeatPolicy(3, 2) }));
    expect(n).toBe(6);
    expect(two.status).toBe("passed");
    expect(two.repeat).toEqual({ k: 3, minPass: 2 });
    const three = await runEval(options({ suite: cases(2), caller, grader, repeat: repeatPolicy(3, 3) }));
    expect(three.status).toBe("failed");
  });

  it("runs the baseline on the same cases, hands each side the other's output, and gates the pair", async () => {
    // The candidate scores 0.6 on quality where the baseline scores 0.9: a regression beyond 0.02.
    const caller = fakeCaller((r, vars) =>
      Promise.resolve(`ok ${String(vars["who"])} ${r.version.version === "1.1.0" ? "[[q: 0.6]]" : "[[q: 0.9]]"}`),
    );
    const grader = fakeGrader();
    const s = cases(6, "gate: { metrics: { quality: { max_regression: 0.02 } } }");
    const run = await runEval(options({ suite: s, caller, grader, baseline: resolved("1.0.0") }));
    expect(run.baseline).toMatchObject({ name: "greeter", version: "1.0.0" });
    expect(caller.calls).toBe(12);
    // Paired by case: each side's judge input carries the other side's output for the same case.
    for (const input of grader.inputs) {
      const who = /ok (w\d)/.exec(input.output)![1]!;
      expect(input.alternative).toContain(`ok ${who} `);
      expect(input.alternative).not.toBe(input.output);
    }
    expect(run.gate?.passed).toBe(false);
    const quality = run.gate!.metrics.find((m) => m.metric === "quality")!;
    expect(quality).toMatchObject({ n: 6, verdict: "regressed", max_regression: 0.02 });
    expect(quality.diff).toBeCloseTo(-0.3, 12);
    expect(run.status).toBe("failed");
    expect(run.reasons).toEqual([quality.reason]);
    expect(run.baselineMetrics?.["quality"]?.mean).toBeCloseTo(0.9, 12);
    expect(run.metrics["quality"]?.mean).toBeCloseTo(0.6, 12);
  });

  it("passes the gate when the candidate holds up against the baseline", async () => {
    const caller = fakeCaller(() => Promise.resolve("ok [[q: 0.8]]"));
    const s = cases(4, "gate: { metrics: { quality: { max_regression: 0.02 } } }");
    const run = await runEval(options({ suite: s, caller, baseline: resolved("1.0.0") }));
    expect(run.gate).toMatchObject({ passed: true });
    expect(run.status).toBe("passed");
  });

  it("calls grader errors undecided: an error when they decide, a failure when something else failed", async () => {
    const garbage = fakeCaller((_r, vars) => Promise.resolve(vars["who"] === "w0" ? "ok [[garbage]]" : "ok"));
    const undecided = await runEval(options({ suite: cases(3), caller: garbage }));
    expect(undecided.graderErrors).toBe(1);
    expect(undecided.counts).toMatchObject({ passed: 2, failed: 0, undecided: 1 });
    expect(undecided.status).toBe("error");
    expect(undecided.reasons[0]).toMatch(/1 of 3 cases could not be decided \(1 by grader errors, 0 by failed/);

    const alsoFailing = fakeCaller((_r, vars) =>
      Promise.resolve(vars["who"] === "w0" ? "ok [[garbage]]" : vars["who"] === "w1" ? "no" : "ok"),
    );
    const failed = await runEval(options({ suite: cases(3), caller: alsoFailing }));
    expect(failed.status).toBe("failed");
    expect(failed.reasons).toEqual(["1 of 3 cases failed"]);
  });

  it("calls a run whose calls all failed an error, and one whose calls partly failed undecided", async () => {
    const down = fakeCaller(() => Promise.reject(new Error("provider unreachable")));
    const run = await runEval(options({ suite: cases(2), caller: down }));
    expect(run.status).toBe("error");
    expect(run.reasons).toEqual(["every case's call failed (first: provider unreachable)"]);
    expect(run.cost.promptUsd).toBe(0);

    const flaky = fakeCaller((_r, vars) =>
      vars["who"] === "w0" ? Promise.reject(new Error("503")) : Promise.resolve("ok"),
    );
    const partly = await runEval(options({ suite: cases(2), caller: flaky }));
    expect(partly.status).toBe("error");
    expect(partly.counts).toMatchObject({ passed: 1, errors: 1 });
  });
});

describe("summaries", () => {
  const result = (metrics: Record<string, number>, pass: boolean): CaseResult => ({
    caseId: "x",
    results: [],
    score: metrics["score"] ?? null,
    pass,
    graderErrors: 0,
    metrics,
    reason: "",
  });

  it("summarizes each metric with the sample standard deviation", () => {
    // python3 -c "import statistics as s; print(s.mean([1,0.5,0.25]), s.stdev([1,0.5,0.25]))"
    // 0.5833333333333334 0.38188130791298663
    const out = summarizeMetrics([
      result({ score: 1, quality: 0.9 }, true),
      result({ score: 0.5 }, false),
      result({ score: 0.25 }, false),
    ]);
    expect(out["score"]).toMatchObject({ n: 3, min: 0.25, max: 1, pass_rate: 1 / 3 });
    expect(out["score"]!.mean).toBeCloseTo(0.5833333333333334, 12);
    expect(out["score"]!.std).toBeCloseTo(0.38188130791298663, 12);
    expect(out["quality"]).toEqual({ n: 1, mean: 0.9, std: null, min: 0.9, max: 0.9, pass_rate: null });
  });

  it("summarizes latency with nearest-rank percentiles", () => {
    expect(summarizeLatency([])).toEqual({ n: 0, mean: null, p50: null, p95: null, max: null });
    expect(summarizeLatency([40, 10, 30, 20])).toEqual({ n: 4, mean: 25, p50: 20, p95: 40, max: 40 });
  });
});
