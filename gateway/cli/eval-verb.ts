// `promptgate eval`: runs a prompt version's evaluation suite in this process, through CONFIG_DIR's
// routing (no gateway needed), optionally against a baseline version with the paired regression gate,
// writes the report, records the run in the registry, and exits 0 (passed), 1 (a threshold or the gate
// failed) or 3 (the run could not be completed).
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { SingleBar } from "cli-progress";
import type { ProgressEvent } from "../evals/runner.ts";
import { reportFormat, type ReportFormat } from "../evals/report.ts";
import { actorArg, UsageError, type Args } from "./args.ts";
import { describeEval } from "./eval-text.ts";
import type { Verb } from "./verb.ts";

/** Exit codes of eval beyond 0 and 2. */
export const EVAL_FAILED = 1;
export const EVAL_INCOMPLETE = 3;

function intOption(args: Args, name: string, min: number, max: number): number | undefined {
  const raw = args.string(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function costOption(args: Args): number | null {
  const raw = args.string("max-cost-usd");
  if (raw === undefined) return null;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--max-cost-usd must be an amount in USD above 0, such as 0.50, got "${raw}"`);
  }
  return n;
}

interface EvalOptions {
  readonly ref: string;
  readonly suite: string | undefined;
  readonly baseline: string | undefined;
  readonly concurrency: number | undefined;
  readonly repeat: number;
  readonly minPass: number | undefined;
  readonly maxCostUsd: number | null;
  readonly timeoutMs: number | undefined;
  readonly model: string | undefined;
  readonly output: { readonly path: string; readonly format: ReportFormat } | null;
  readonly noCache: boolean;
}

/** Everything the command line says, checked before any I/O (usage errors exit 2). */
function evalOptions(args: Args): EvalOptions {
  const output = args.string("output");
  let out: EvalOptions["output"] = null;
  if (output !== undefined) {
    const format = reportFormat(output);
    if (format === null) {
      throw new UsageError(`--output must end in .json, .md, .html or .xml (JUnit), got "${output}"`);
    }
    out = { path: output, format };
  }
  const repeat = intOption(args, "repeat", 1, 100) ?? 1;
  const minPass = intOption(args, "min-pass", 1, 100);
  if (minPass !== undefined && minPass > repeat) {
    throw new UsageError(`--min-pass ${minPass} is more than --repeat ${repeat}`);
  }
  for (const name of ["suite", "baseline", "model"]) {
    const v = args.string(name);
    if (v !== undefined && v.trim() === "") throw new UsageError(`--${name} must not be empty`);
  }
  const baseline = args.string("baseline");
  if (baseline?.includes("@")) {
    throw new UsageError(`--baseline takes a version or a label of the same prompt (1.0.0, prod), got "${baseline}"`);
  }
  return {
    ref: args.positional(0),
    suite: args.string("suite"),
    baseline,
    concurrency: intOption(args, "concurrency", 1, 64),
    repeat,
    minPass,
    maxCostUsd: costOption(args),
    timeoutMs: intOption(args, "timeout-ms", 1, 3_600_000),
    model: args.string("model"),
    output: out,
    noCache: args.flag("no-cache"),
  };
}

/** Progress on stderr: a bar on a terminal, one plain line per case otherwise. */
function progress(stderr: (text: string) => void, tty: boolean): { event: (e: ProgressEvent) => void; stop(): void } {
  if (tty) {
    const bar = new SingleBar({
      format: "eval [{bar}] {value}/{total} cases | {failed} failed | ${spent}",
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    });
    let failed = 0;
    return {
      event(e) {
        if (e.kind === "start") bar.start(e.total, 0, { failed, spent: "0" });
        else if (e.kind === "case") {
          if (e.outcome !== "pass") failed++;
          bar.update(e.done, { failed, spent: e.spentUsd.toFixed(4) });
        }
      },
      stop: () => bar.stop(),
    };
  }
  return {
    event(e) {
      if (e.kind === "case") {
        stderr(`eval: ${e.done}/${e.total} ${e.caseId} ${e.outcome} (spent $${e.spentUsd.toFixed(4)})\n`);
      } else if (e.kind === "budget") {
        stderr(`eval: budget $${e.budgetUsd} reached at $${e.spentUsd.toFixed(4)}: ${e.skipped} cases not run\n`);
      }
    },
    stop: () => undefined,
  };
}

export const evalVerb: Verb = {
  name: "eval",
  summary: "run a prompt version's evaluation suite (optionally gated against a baseline)",
  usage:
    "<ref> [--suite <file>] [--baseline <version|label>] [--concurrency N] [--repeat k] [--max-cost-usd X] " +
    "[--timeout-ms T] [--model M] [--output report.{json,md,html,xml}]",
  details:
    "Runs the suite ($CONFIG_DIR/evals/<name>.yaml unless --suite names one) against <ref> (name@1.2.0,\n" +
    "name@staging, or name for GATEWAY_ENV's label), in this process through CONFIG_DIR's gateway.yaml and\n" +
    "pricing.yaml: no gateway needs to run. Judges of model-graded assertions are registered prompts; their\n" +
    "answers are cached beside STATE_PATH (judge-cache.db), so a re-run costs nothing for them.\n" +
    "With --baseline, that version of the same prompt runs on the same cases and the paired regression gate\n" +
    "of the suite's gate: section decides. The run is recorded in the registry against the exact version and\n" +
    "suite (what 'promptgate promote' checks), unless it could not be completed.\n" +
    "Exit status: 0 passed; 1 a threshold or the gate failed; 2 the command line is wrong; 3 the run could\n" +
    "not be completed (suite error, unknown version, provider unreachable for every case, budget reached,\n" +
    "grader errors or failed calls that decide the outcome).",
  positionals: { min: 1, max: 1 },
  options: {
    suite: {
      type: "string",
      placeholder: "<file>",
      description: "the suite file (default $CONFIG_DIR/evals/<name>.yaml)",
    },
    baseline: {
      type: "string",
      placeholder: "<version|label>",
      description: "compare with this version of the prompt (1.0.0, or a label: prod)",
    },
    concurrency: { type: "string", placeholder: "<N>", description: "cases in flight at once (default 4)" },
    repeat: {
      type: "string",
      placeholder: "<k>",
      description: "judge each model-graded assertion k times (default 1)",
    },
    "min-pass": {
      type: "string",
      placeholder: "<m>",
      description: "with --repeat: judgements that must pass (default: a majority of k)",
    },
    "max-cost-usd": {
      type: "string",
      placeholder: "<X>",
      description: "stop starting cases once prompt and judge calls cost this much (exit 3)",
    },
    "timeout-ms": {
      type: "string",
      placeholder: "<T>",
      description: "deadline of each case, its calls and judgements (default 120000)",
    },
    model: { type: "string", placeholder: "<M>", description: "the model for versions that pin none (e.g. mock/echo)" },
    output: {
      type: "string",
      placeholder: "<file>",
      description: "write the report: .json, .md, .html or .xml (JUnit, for CI)",
    },
    "no-cache": { type: "boolean", description: "call every judge again instead of reading the judge cache" },
    actor: { type: "string", placeholder: "<who>", description: 'recorded as who ran it (default: $USER, else "cli")' },
  },
  json: true,
  failureCode: EVAL_INCOMPLETE,
  async run({ args, env, out, context, stderr, stderrIsTTY }) {
    const opts = evalOptions(args);
    const by = actorArg(args, env);
    // Loaded on demand: the other verbs need neither the providers nor the judges.
    const [{ parsePromptRef }, suiteMod, callerMod, cacheMod, gradedMod, runnerMod, reportMod, outputMod] =
      await Promise.all([
        import("../prompts/ref.ts"),
        import("../evals/suite.ts"),
        import("../evals/caller.ts"),
        import("../evals/judge-cache.ts"),
        import("../evals/model-graded.ts"),
        import("../evals/runner.ts"),
        import("../evals/report.ts"),
        import("../evals/report-output.ts"),
      ]);
    const { registry, settings } = await context();
    const name = parsePromptRef(opts.ref, settings.gatewayEnv).name;
    const suite = suiteMod.loadSuite(opts.suite ?? suiteMod.suitePath(settings.configDir, name));
    const opened = await callerMod.openPromptCaller({
      configDir: settings.configDir,
      env,
      resolve: callerMod.registryResolver(registry, settings.gatewayEnv),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
    const cache = opts.noCache ? null : cacheMod.openJudgeCache(cacheMod.judgeCachePath(settings.statePath));
    const bar = progress(stderr, stderrIsTTY && !out.json);
    try {
      const candidate = await opened.caller.resolve(opts.ref);
      const baseline = opts.baseline === undefined ? null : await opened.caller.resolve(`${name}@${opts.baseline}`);
      const meter = runnerMod.createCostMeter();
      const grader = gradedMod.createModelGrader({
        caller: opened.caller,
        cache,
        ...(opts.model === undefined ? {} : { model: opts.model }),
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        onCall: (c) => meter.judge(c),
      });
      const run = await runnerMod.runEval({
        suite,
        candidate,
        baseline,
        caller: opened.caller,
        grader,
        meter,
        repeat: opts.repeat > 1 ? gradedMod.repeatPolicy(opts.repeat, opts.minPass) : null,
        maxCostUsd: opts.maxCostUsd,
        ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
        ...(opts.timeoutMs === undefined ? {} : { caseTimeoutMs: opts.timeoutMs }),
        ...(opts.model === undefined ? {} : { model: opts.model }),
        onProgress: bar.event,
      });
      bar.stop();
      const report = reportMod.buildReport(run);

      // A run that could not decide is not evidence either way: it is reported, never recorded.
      let evalId: string | null = null;
      if (run.status !== "error") {
        const record = await registry.recordEval({
          prompt: run.prompt.name,
          version: run.prompt.version,
          content_hash: run.prompt.hash,
          suite: suite.file,
          suite_hash: suite.hash,
          judges: grader.judges(),
          baseline: run.baseline === null ? null : { version: run.baseline.version, content_hash: run.baseline.hash },
          started_at: run.startedAt,
          finished_at: run.finishedAt,
          passed: run.status === "passed",
          cases: run.counts.total,
          grader_errors: run.graderErrors,
          cost_usd: run.cost.totalUsd,
          metrics: run.metrics,
          gate: run.gate,
          by,
          worst_cases: reportMod.worstCases(report),
        });
        evalId = record.id;
      }
      if (opts.output !== null) {
        await mkdir(dirname(opts.output.path), { recursive: true });
        await writeFile(opts.output.path, outputMod.renderReport(report, opts.output.format));
      }
      const recorded =
        evalId === null
          ? "not recorded: the run could not be completed"
          : `recorded as eval ${evalId}${opts.output === null ? "" : `; report: ${opts.output.path}`}`;
      out.write(
        out.json
          ? `${JSON.stringify({ ...report, eval_id: evalId, judges: grader.judges() }, null, 2)}\n`
          : describeEval(report, recorded),
      );
      return run.status === "passed" ? 0 : run.status === "failed" ? EVAL_FAILED : EVAL_INCOMPLETE;
    } finally {
      bar.stop();
      cache?.close();
      await opened.close();
    }
  },
};
