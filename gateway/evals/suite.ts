// Suite files (`config/evals/<prompt>.yaml`) in a subset of promptfoo's format, loaded into cases with
// datasets expanded, `defaultTest` merged and assertion values rendered, plus our `gate:` and `online:`
// sections and the suite hash. Every error names the file, the field and the fix (SuiteFileError).
// What is accepted, ignored or refused, and why, is in README "Evaluation" and docs/evals.md.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { findForbiddenKey } from "../prompts/variables.ts";
import { canonicalJson, deepFreeze, isPlainObject } from "../support/json-value.ts";
import { buildAssertion, checkJudgeRef } from "./assertion-spec.ts";
import { parseDataset, type DatasetRow } from "./datasets.ts";
import { SuiteFileError } from "./suite-error.ts";
import type { Assertion, EvalCase, GateConfig, OnlineConfig, Suite } from "./types.ts";

export { SuiteFileError };

/** Reads a file the suite names (a dataset, a `file://` value), by its resolved path. */
export type ReadText = (path: string) => string;

/** promptfoo top-level keys a suite refuses, and why. */
const REFUSED_TOP: Readonly<Record<string, string>> = {
  env: "provider keys live in the gateway's environment and gateway.yaml, not in a suite",
  scenarios: "not supported: list the cases under tests",
  derivedMetrics: "not supported: metrics are the assertions' metric names",
  evaluateOptions: "not supported: concurrency, repeats and budgets are options of promptgate eval",
  commandLineOptions: "not supported: use the options of promptgate eval",
  outputPath: "not supported: use promptgate eval --output",
  nunjucksFilters: "loads code, which suites never do",
  extensions: "loads code, which suites never do",
  redteam: "not supported",
};

const IGNORED_TOP = ["prompts", "providers"] as const;

const rawTestSchema = z.strictObject({
  description: z.string().optional(),
  vars: z.record(z.string(), z.unknown()).optional(),
  assert: z.array(z.unknown()).optional(),
  threshold: z.number().min(0).max(1, "expected the case's pass threshold, 0..1").optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  metadata: z.unknown().optional(),
  expected: z.union([z.string(), z.number()]).optional(),
});

type RawTest = z.infer<typeof rawTestSchema>;

const gateSchema = z.strictObject({
  metrics: z
    .record(
      z.string(),
      z.strictObject({
        max_regression: z.number().min(0, "expected the largest allowed drop of the metric's mean (>= 0)"),
      }),
    )
    .refine((m) => Object.keys(m).length > 0, "name at least one metric, e.g. {quality: {max_regression: 0.02}}"),
  confidence: z.number().gt(0.5).lt(1, "expected a confidence such as 0.95 (between 0.5 and 1)").default(0.95),
});

const onlineSchema = z.strictObject({
  sample: z.number().gt(0).max(1, "expected the share of requests judged, in (0, 1], e.g. 0.05"),
  judge: z.string(),
  metric: z.string().min(1, "expected the metric name the judged scores are recorded under, e.g. quality"),
  rubric: z.string().min(1, "expected the rubric live judgements grade against").optional(),
});

const fileSchema = z.strictObject({
  description: z.string().optional(),
  prompts: z.unknown().optional(),
  providers: z.unknown().optional(),
  defaultTest: rawTestSchema.optional(),
  tests: z.union([z.string(), z.array(z.unknown()).min(1, "list at least one test case or dataset")]),
  gate: gateSchema.optional(),
  online: onlineSchema.optional(),
});

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out === "" ? "" : "."}${String(part)}`;
  return out;
}

function zodError(where: string, error: z.ZodError, prefix: readonly PropertyKey[] = []): SuiteFileError {
  const lines = error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys")
      return issue.keys.map((k) => `${where}: ${formatPath([...path, k])}: unknown field`);
    return [`${where}: ${formatPath(path) || "(root)"}: ${issue.message}`];
  });
  return new SuiteFileError(lines.join("\n"));
}

const OPTION_KEYS = new Set(["judge", "provider"]);

interface Context {
  readonly file: string;
  readonly dir: string;
  readonly read: ReadText;
  readonly warnings: Set<string>;
}

function resolvePath(ctx: Context, path: string): string {
  return isAbsolute(path) ? path : join(ctx.dir, path);
}

function readNamed(ctx: Context, path: string, where: string): string {
  try {
    return ctx.read(resolvePath(ctx, path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new SuiteFileError(`${where}: cannot read ${path} (${code}); paths are relative to the suite file`, {
      cause: err,
    });
  }
}

/** A `file://` assertion value: .json/.yaml/.yml parsed, any other file as text. */
function loadValueFile(ctx: Context, path: string, where: string): unknown {
  const text = readNamed(ctx, path, where);
  const ext = extname(path).toLowerCase();
  if (ext !== ".json" && ext !== ".yaml" && ext !== ".yml") return text;
  try {
    return ext === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SuiteFileError(
      `${where}: ${path}: invalid ${ext === ".json" ? "JSON" : "YAML"}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function checkTest(raw: unknown, where: string): RawTest {
  if (!isPlainObject(raw))
    throw new SuiteFileError(`${where}: expected a test case ({vars, assert}) or a dataset path (file://cases.csv)`);
  for (const key of ["providers", "provider", "providerOutput", "prompts"]) {
    if (key in raw)
      throw new SuiteFileError(`${where}.${key}: not supported: a suite runs the registered prompt under test`);
  }
  const parsed = rawTestSchema.safeParse(raw);
  if (!parsed.success)
    throw zodError(where.slice(0, where.indexOf(": ")), parsed.error, [where.slice(where.indexOf(": ") + 2)]);
  const test = parsed.data;
  for (const [name, value] of Object.entries(test.vars ?? {})) {
    if (typeof value === "string" && value.startsWith("file://"))
      throw new SuiteFileError(
        `${where}.vars.${name}: file:// variables are not supported; write the value inline or in a dataset`,
      );
  }
  return test;
}

function judgeOf(options: Record<string, unknown> | undefined, where: string, ctx: Context): string | null {
  if (options === undefined) return null;
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new SuiteFileError(
        `${where}.options.${key}: not supported (options are judge, and promptfoo's provider, which is ignored)`,
      );
    }
  }
  if (options.provider !== undefined)
    ctx.warnings.add(
      `${where}.options.provider: ignored: judges are registered prompts (set options.judge: <name>@<version>)`,
    );
  return options.judge === undefined ? null : checkJudgeRef(options.judge, `${where}.options.judge`);
}

function expectedOf(test: RawTest): string | null {
  if (test.expected !== undefined) return String(test.expected);
  const v = test.vars?.expected;
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

function buildCase(
  ctx: Context,
  id: string,
  where: string,
  test: RawTest,
  defaults: RawTest | undefined,
  defaultJudge: string | null,
): EvalCase {
  const vars = { ...(defaults?.vars ?? {}), ...(test.vars ?? {}) };
  const expected = expectedOf(test);
  const renderVars = expected !== null && !("expected" in vars) ? { ...vars, expected } : vars;
  const judge = judgeOf(test.options, where, ctx) ?? defaultJudge;
  const build = (raw: unknown, at: string): Assertion =>
    buildAssertion(raw, {
      where: at,
      vars: renderVars,
      judge,
      loadFile: (path, w) => loadValueFile(ctx, path, w),
      warn: (m) => ctx.warnings.add(m),
    });
  const assertions: Assertion[] = [];
  (defaults?.assert ?? []).forEach((raw, i) => {
    try {
      assertions.push(build(raw, `${ctx.file}: defaultTest.assert[${i}]`));
    } catch (err) {
      if (err instanceof SuiteFileError) throw new SuiteFileError(`${err.message} (in case ${id})`, { cause: err });
      throw err;
    }
  });
  (test.assert ?? []).forEach((raw, i) => assertions.push(build(raw, `${where}.assert[${i}]`)));
  return {
    id,
    description: test.description ?? null,
    vars,
    expected,
    assertions,
    threshold: test.threshold ?? defaults?.threshold ?? null,
  };
}

function datasetRows(ctx: Context, ref: string, where: string): DatasetRow[] {
  const path = ref.startsWith("file://") ? ref.slice("file://".length) : ref;
  if (/[*?[\]{}]/.test(path))
    throw new SuiteFileError(`${where}: glob patterns are not supported; list each dataset file`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path))
    throw new SuiteFileError(`${where}: only local dataset files are supported (file://path or a path)`);
  const rows = parseDataset(readNamed(ctx, path, where), path);
  for (const row of rows) {
    const forbidden = findForbiddenKey(row.test, "", 1);
    if (forbidden !== null)
      throw new SuiteFileError(`${ctx.file}: ${row.where}: ${forbidden.path}: ${forbidden.reason}`);
  }
  return rows;
}

/** Metric names the suite's assertions report (`metric`, else the type), sets' members included. */
export function suiteMetrics(cases: readonly EvalCase[]): Set<string> {
  const names = new Set<string>(["score"]);
  const visit = (a: Assertion): void => {
    names.add(a.metric ?? a.type);
    for (const c of a.assertions ?? []) visit(c);
  };
  for (const c of cases) for (const a of c.assertions) visit(a);
  return names;
}

/** sha256 (hex) of the canonical JSON of what grading depends on: the cases (datasets included) and the gate. */
export function suiteHash(cases: readonly EvalCase[], gate: GateConfig | null): string {
  return createHash("sha256").update(canonicalJson({ cases, gate })).digest("hex");
}

/**
 * Parses a suite's text. `file` names it in errors and anchors relative paths (datasets, `file://`
 * values), which `read` reads. Throws SuiteFileError.
 */
export function parseSuite(text: string, file: string, read: ReadText): Suite {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new SuiteFileError(`${file}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (!isPlainObject(doc))
    throw new SuiteFileError(
      `${file}: (root): expected a mapping with tests (and optionally defaultTest, gate, online)`,
    );
  const forbidden = findForbiddenKey(doc, "", 1);
  if (forbidden !== null) throw new SuiteFileError(`${file}: ${forbidden.path}: ${forbidden.reason}`);
  for (const [key, reason] of Object.entries(REFUSED_TOP)) {
    if (key in doc) throw new SuiteFileError(`${file}: ${key}: ${reason}`);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) throw zodError(file, parsed.error);
  const raw = parsed.data;
  const ctx: Context = { file, dir: dirname(file), read, warnings: new Set() };
  for (const key of IGNORED_TOP) {
    if (raw[key] !== undefined)
      ctx.warnings.add(
        `${file}: ${key}: ignored: the prompt under test is the registered version given to promptgate eval, called through gateway.yaml's routing`,
      );
  }

  const defaults = raw.defaultTest === undefined ? undefined : checkTest(raw.defaultTest, `${file}: defaultTest`);
  const defaultJudge = judgeOf(defaults?.options, `${file}: defaultTest`, ctx);
  const entries = typeof raw.tests === "string" ? [raw.tests] : raw.tests;
  const cases: EvalCase[] = [];
  entries.forEach((entry, i) => {
    const where = `${file}: tests${typeof raw.tests === "string" ? "" : `[${i}]`}`;
    if (typeof entry === "string") {
      for (const row of datasetRows(ctx, entry, where)) {
        cases.push(
          buildCase(
            ctx,
            row.id,
            `${file}: ${row.where}`,
            checkTest(row.test, `${file}: ${row.where}`),
            defaults,
            defaultJudge,
          ),
        );
      }
    } else {
      cases.push(buildCase(ctx, `tests[${i}]`, where, checkTest(entry, where), defaults, defaultJudge));
    }
  });
  if (cases.length === 0) throw new SuiteFileError(`${file}: tests: no test cases (the datasets are empty)`);

  const gate: GateConfig | null = raw.gate ?? null;
  if (gate !== null) {
    const known = suiteMetrics(cases);
    for (const name of Object.keys(gate.metrics)) {
      if (!known.has(name)) {
        throw new SuiteFileError(
          `${file}: gate.metrics.${name}: no assertion reports this metric (this suite has: ${[...known].sort().join(", ")}); set metric: ${name} on the assertions it should gate`,
        );
      }
    }
  }
  let online: OnlineConfig | null = null;
  if (raw.online !== undefined) {
    online = { ...raw.online, judge: checkJudgeRef(raw.online.judge, `${file}: online.judge`) };
  }
  return deepFreeze({
    file,
    description: raw.description ?? null,
    cases,
    gate,
    online,
    hash: suiteHash(cases, gate),
    warnings: [...ctx.warnings],
  });
}

/** Reads and parses a suite file from disk (datasets and `file://` values relative to it). */
export function loadSuite(file: string): Suite {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new SuiteFileError(`${file}: cannot read the suite (${code})`, { cause: err });
  }
  return parseSuite(text, file, (path) => readFileSync(path, "utf8"));
}

/** `config/evals/<name>.yaml` under a config folder: where a prompt's suite lives by default. */
export function suitePath(configDir: string, promptName: string): string {
  return join(configDir, "evals", `${promptName}.yaml`);
}
