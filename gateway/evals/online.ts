// Which prompts opt in to live judging: the `online:` section of their suite, `CONFIG_DIR/evals/<name>.yaml`.
// Read at start by the gateway (the sample rates) and by `promptgate evaluator` (judge, metric, rubric).
// Bounded (at most MAX_SUITES files); a suite that fails to load is named in a log line and skipped, so
// it never stops the process: that prompt is simply not judged live.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { FEEDBACK_METRIC_PATTERN } from "../config/gateway-config.ts";
import type { Logger } from "../support/logger.ts";
import { loadSuite } from "./suite.ts";
import type { OnlineConfig, Suite } from "./types.ts";

/** The most suite files read for live judging. */
export const MAX_SUITES = 1_000;

/** The rubric a live judgement grades against when the suite names none (`online.rubric`). */
export const DEFAULT_LIVE_RUBRIC =
  "The output is a correct, helpful and complete answer to the request it was given, following its instructions.";

const METRIC = new RegExp(`^${FEEDBACK_METRIC_PATTERN}$`);

/** One prompt's live judging, as the evaluator applies it. */
export interface LivePrompt extends OnlineConfig {
  readonly prompt: string;
  /** The rubric: `online.rubric`, else the suite's first `llm-rubric` value, else DEFAULT_LIVE_RUBRIC. */
  readonly rubricText: string;
}

/** The rubric a suite's live judgements use. */
export function liveRubric(suite: Suite): string {
  if (suite.online?.rubric) return suite.online.rubric;
  for (const c of suite.cases)
    for (const a of c.assertions)
      if (a.type === "llm-rubric" && typeof a.value === "string" && a.value.trim() !== "") return a.value;
  return DEFAULT_LIVE_RUBRIC;
}

/** The prompts that opt in to live judging, by name. Never throws: problems are logged and skipped. */
export function loadLivePrompts(configDir: string, logger: Logger): Map<string, LivePrompt> {
  const dir = join(configDir, "evals");
  const out = new Map<string, LivePrompt>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      logger.warn("live judging off: the evals folder cannot be read", { dir, error: errorText(err) });
    return out;
  }
  files.sort();
  if (files.length > MAX_SUITES) {
    logger.warn(`live judging reads the first ${MAX_SUITES} suites only`, { dir, files: files.length });
    files = files.slice(0, MAX_SUITES);
  }
  for (const f of files) {
    const file = join(dir, f);
    const prompt = f.replace(/\.ya?ml$/, "");
    let suite: Suite;
    try {
      suite = loadSuite(file);
    } catch (err) {
      logger.warn("suite not loaded: no live judging for its prompt", { file, error: errorText(err) });
      continue;
    }
    const online = suite.online;
    if (!online) continue;
    if (!METRIC.test(online.metric)) {
      logger.warn("suite not used for live judging: online.metric is not a feedback metric name", {
        file,
        metric: online.metric,
        expected: FEEDBACK_METRIC_PATTERN,
      });
      continue;
    }
    out.set(prompt, { ...online, prompt, rubricText: liveRubric(suite) });
  }
  return out;
}

/** The sample rate per prompt that opts in (what the gateway needs). */
export const sampleRates = (prompts: ReadonlyMap<string, LivePrompt>): Map<string, number> =>
  new Map([...prompts].map(([name, p]) => [name, p.sample]));

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
