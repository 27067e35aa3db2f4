// The assertion types a suite may use, and how one `assert:` entry becomes an Assertion: its type
// (with `not-`), its value checked for that type and rendered with the case's variables, threshold,
// weight, metric and judge. Everything that cannot be graded is refused here, at load time, with the
// file, the field and the fix: unsupported types, code (`javascript`, `python`), a missing value, a
// regular expression or JSON Schema that does not compile. Semantics follow promptfoo's documentation
// (https://www.promptfoo.dev/docs/configuration/expected-outputs/); README "Evaluation" lists them.
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { isPlainObject } from "../support/json-value.ts";
import { renderValue } from "./render.ts";
import { SuiteFileError } from "./suite-error.ts";
import type { Assertion } from "./types.ts";

/** Types graded here, without a model. */
export const DETERMINISTIC_TYPES = [
  "equals",
  "contains",
  "icontains",
  "contains-any",
  "contains-all",
  "icontains-any",
  "icontains-all",
  "starts-with",
  "regex",
  "is-json",
  "contains-json",
  "levenshtein",
  "rouge-n",
  "latency",
  "cost",
  "sentence-count",
] as const;

/** Types a ModelGrader grades (a judge, a registered prompt). */
export const MODEL_GRADED_TYPES = [
  "llm-rubric",
  "factuality",
  "model-graded-closedqa",
  "g-eval",
  "select-best",
] as const;

export type DeterministicType = (typeof DETERMINISTIC_TYPES)[number];
export type ModelGradedType = (typeof MODEL_GRADED_TYPES)[number];

const DETERMINISTIC: ReadonlySet<string> = new Set(DETERMINISTIC_TYPES);
const MODEL_GRADED: ReadonlySet<string> = new Set(MODEL_GRADED_TYPES);

export function isModelGraded(type: string): type is ModelGradedType {
  return MODEL_GRADED.has(type);
}

/** Types that run code or call out: never run by a suite. */
const CODE_TYPES: ReadonlySet<string> = new Set(["javascript", "python", "ruby", "webhook"]);

/** Types whose score is a measure (negation gives 1 - score); the others score 1 or 0. */
export const SCORED_TYPES: ReadonlySet<string> = new Set([...MODEL_GRADED_TYPES, "rouge-n", "sentence-count"]);

/** Types `threshold` means something for, and its default. */
const THRESHOLDS: Readonly<
  Record<string, { readonly required: boolean; readonly default?: number; readonly unit: string }>
> = {
  levenshtein: { required: false, default: 5, unit: "the largest edit distance that passes" },
  "rouge-n": { required: false, default: 0.75, unit: "the smallest ROUGE-N recall that passes, 0..1" },
  latency: { required: true, unit: "milliseconds" },
  cost: { required: true, unit: "USD" },
  "llm-rubric": { required: false, unit: "the smallest judge score that passes, 0..1" },
  factuality: { required: false, unit: "the smallest judge score that passes, 0..1" },
  "model-graded-closedqa": { required: false, unit: "the smallest judge score that passes, 0..1" },
  "g-eval": { required: false, unit: "the smallest judge score that passes, 0..1" },
  "select-best": { required: false, unit: "the smallest judge score that passes, 0..1" },
  "assert-set": { required: false, unit: "the smallest weighted share of its assertions that passes, 0..1" },
};

const ALL_TYPES = [...DETERMINISTIC_TYPES, ...MODEL_GRADED_TYPES, "assert-set"].join(", ");

const REFUSED_FIELDS: Readonly<Record<string, string>> = {
  transform: "runs code on the output, which suites never do",
  contextTransform: "runs code, which suites never do",
  rubricPrompt: "judges are registered prompts: set `judge: <name>@<version>` to use another one",
  config: "is for code assertions, which suites do not run",
};
const ASSERTION_FIELDS = new Set(["type", "value", "threshold", "weight", "metric", "provider", "judge", "assert"]);

const ajv = new Ajv({ allErrors: true, strict: false });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
const schemas = new WeakMap<object, ValidateFunction>();

/** The compiled validator of a JSON Schema value (compiled once per schema object). */
export function schemaValidator(schema: object): ValidateFunction {
  let validate = schemas.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    schemas.set(schema, validate);
  }
  return validate;
}

/** Formats the validator's errors in one line. */
export function schemaErrors(validate: ValidateFunction): string {
  return ajv.errorsText(validate.errors, { dataVar: "json" });
}

/** What building an assertion needs besides the raw entry. */
export interface AssertionContext {
  /** `file: tests[2].assert[0]`: where errors point. */
  readonly where: string;
  /** The case's variables (and `expected`), for rendering values. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** The case's judge (`options.judge`), for model-graded types that name none. */
  readonly judge: string | null;
  /** Loads a `file://` value (a JSON Schema, a long rubric) relative to the suite. */
  readonly loadFile: (path: string, where: string) => unknown;
  readonly warn: (message: string) => void;
}

const fail = (where: string, reason: string): never => {
  throw new SuiteFileError(`${where}: ${reason}`);
};

function checkNumber(value: unknown, where: string, what: string, min = 0, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    fail(where, `expected ${what}${max === Number.POSITIVE_INFINITY ? ` (a number >= ${min})` : ` (${min}..${max})`}`);
  }
  return value as number;
}

const JUDGE_REF = /^[a-z0-9][a-z0-9_-]*(?:@[A-Za-z0-9][A-Za-z0-9.+_-]*)?$/;

/** Checks a judge reference (`judge-rubric@1.0.0`, `judge-rubric@prod`, `judge-rubric`). */
export function checkJudgeRef(value: unknown, where: string): string {
  if (typeof value !== "string" || !JUDGE_REF.test(value))
    fail(where, "expected a registered prompt ref such as judge-rubric@1.0.0");
  return value as string;
}

/** Renders strings, and strings inside lists, with the case's variables; other values stay as written. */
function renderDeep(value: unknown, ctx: AssertionContext, where: string): unknown {
  if (typeof value === "string") return renderValue(value, ctx.vars, where);
  if (Array.isArray(value)) return value.map((v: unknown, i) => renderDeep(v, ctx, `${where}[${i}]`));
  return value;
}

function loadIfFile(value: unknown, ctx: AssertionContext, where: string): unknown {
  if (typeof value === "string" && value.startsWith("file://"))
    return ctx.loadFile(value.slice("file://".length), where);
  return value;
}

function stringValue(value: unknown, where: string, type: string): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string" || value === "") fail(where, `${type} needs a value: the text to compare with`);
  return value as string;
}

function listValue(value: unknown, where: string, type: string): string[] {
  // A rendered list variable arrives as "a,b"; promptfoo splits strings on commas too.
  const items = typeof value === "string" ? value.split(",").map((s) => s.trim()) : value;
  if (!Array.isArray(items) || items.length === 0)
    fail(where, `${type} needs a value: a list of strings (or one comma-separated string)`);
  return (items as unknown[]).map((v, i) => stringValue(v, `${where}[${i}]`, type));
}

function schemaValue(value: unknown, where: string, type: string): object | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  let schema: unknown = value;
  if (typeof value === "string") {
    try {
      schema = JSON.parse(value) as unknown;
    } catch {
      fail(where, `${type}: the value is a JSON Schema (a mapping, or file://schema.json)`);
    }
  }
  if (!isPlainObject(schema)) fail(where, `${type}: the value is a JSON Schema (a mapping, or file://schema.json)`);
  try {
    schemaValidator(schema as object);
  } catch (err) {
    fail(where, `${type}: the JSON Schema does not compile: ${err instanceof Error ? err.message : String(err)}`);
  }
  return schema as object;
}

function sentenceValue(value: unknown, where: string): number | { min: number; max: number } {
  const asInt = (v: unknown, at: string): number => {
    const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
      fail(at, 'sentence-count needs a whole number of sentences >= 1 (e.g. 2 or "{{ target_sentences }}")');
    return n as number;
  };
  if (isPlainObject(value)) {
    const extra = Object.keys(value).find((k) => k !== "min" && k !== "max");
    if (extra !== undefined) fail(`${where}.${extra}`, "unknown field (a range is {min, max})");
    const min = value.min === undefined ? 1 : asInt(value.min, `${where}.min`);
    const max = value.max === undefined ? Number.MAX_SAFE_INTEGER : asInt(value.max, `${where}.max`);
    if (min > max) fail(`${where}.min`, "is greater than max");
    return { min, max };
  }
  return asInt(value, where);
}

/** Checks and normalises the value for its type. */
function typedValue(type: string, raw: unknown, where: string): unknown {
  switch (type as DeterministicType | ModelGradedType) {
    case "equals":
      if (raw !== null && typeof raw === "object") return raw; // compared as JSON
      return stringValue(raw, where, type);
    case "contains":
    case "icontains":
    case "starts-with":
    case "levenshtein":
    case "rouge-n":
    case "llm-rubric":
    case "factuality":
    case "model-graded-closedqa":
    case "select-best":
      return stringValue(raw, where, type);
    case "contains-any":
    case "contains-all":
    case "icontains-any":
    case "icontains-all":
      return listValue(raw, where, type);
    case "regex": {
      const source = stringValue(raw, where, type);
      try {
        new RegExp(source);
      } catch (err) {
        fail(where, `regex: not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`);
      }
      return source;
    }
    case "is-json":
    case "contains-json":
      return schemaValue(raw, where, type);
    case "latency":
    case "cost":
      if (raw !== undefined) fail(where, `${type} takes no value: set threshold (${THRESHOLDS[type]!.unit})`);
      return undefined;
    case "sentence-count":
      return sentenceValue(raw, where);
    case "g-eval":
      if (Array.isArray(raw)) return listValue(raw, where, type);
      return stringValue(raw, where, type);
  }
}

/** Builds one assertion from a suite's `assert:` entry. Throws SuiteFileError. */
export function buildAssertion(raw: unknown, ctx: AssertionContext, inSet = false): Assertion {
  const { where } = ctx;
  if (!isPlainObject(raw)) return fail(where, "expected a mapping with a type (e.g. {type: contains, value: Paris})");
  for (const key of Object.keys(raw)) {
    const refused = REFUSED_FIELDS[key];
    if (refused !== undefined) fail(`${where}.${key}`, refused);
    if (!ASSERTION_FIELDS.has(key)) fail(`${where}.${key}`, "unknown field");
  }
  if (typeof raw.type !== "string" || raw.type === "") fail(`${where}.type`, `expected one of ${ALL_TYPES}`);
  const written = raw.type as string;
  const negate = written.startsWith("not-");
  const type = negate ? written.slice(4) : written;
  const at = (field: string): string => `${where}.${field}`;

  if (CODE_TYPES.has(type)) {
    fail(
      at("type"),
      `"${written}" runs code or calls out, which suites never do; express the check with a supported type (${ALL_TYPES})`,
    );
  }
  if (type !== "assert-set" && !DETERMINISTIC.has(type) && !MODEL_GRADED.has(type)) {
    fail(at("type"), `"${written}" is not a supported assertion type; supported: ${ALL_TYPES} (each also with not-)`);
  }
  if (negate && (type === "assert-set" || type === "select-best")) fail(at("type"), `${type} cannot be negated`);

  const threshold =
    raw.threshold === undefined ? undefined : checkNumber(raw.threshold, at("threshold"), "a threshold");
  const spec = THRESHOLDS[type];
  if (threshold !== undefined && spec === undefined) {
    fail(at("threshold"), `has no meaning for ${type} (it passes or fails); drop it`);
  }
  if (threshold !== undefined && spec !== undefined && spec.unit.endsWith("0..1") && threshold > 1) {
    fail(at("threshold"), `expected ${spec.unit}`);
  }
  if (threshold === undefined && spec?.required === true)
    fail(at("threshold"), `${type} needs a threshold (${spec.unit})`);
  const weight = raw.weight === undefined ? 1 : checkNumber(raw.weight, at("weight"), "a weight");
  if (raw.metric !== undefined && (typeof raw.metric !== "string" || raw.metric.trim() === ""))
    fail(at("metric"), "expected a metric name (e.g. quality)");
  if (raw.metric === "score") fail(at("metric"), '"score" is the case\'s weighted score; pick another name');
  const metric = typeof raw.metric === "string" ? raw.metric : null;
  const base = {
    type,
    negate,
    weight,
    metric,
    ...(threshold !== undefined ? { threshold } : spec?.default !== undefined ? { threshold: spec.default } : {}),
  };

  if (type === "assert-set") {
    if (inSet) fail(at("type"), "an assert-set cannot hold another assert-set; list its assertions directly");
    if (raw.value !== undefined) fail(at("value"), "an assert-set has no value: its assertions go under assert");
    if (!Array.isArray(raw.assert) || raw.assert.length === 0)
      fail(at("assert"), "an assert-set needs a non-empty list of assertions under assert");
    const assertions = (raw.assert as unknown[]).map((a, i) =>
      buildAssertion(a, { ...ctx, where: `${where}.assert[${i}]` }, true),
    );
    return { ...base, assertions };
  }
  if (raw.assert !== undefined) fail(at("assert"), "only assert-set has assert");

  const modelGraded = MODEL_GRADED.has(type);
  if (raw.provider !== undefined) {
    if (!modelGraded) fail(at("provider"), `has no meaning for ${type}`);
    ctx.warn(`${at("provider")}: ignored: judges are registered prompts (set judge: <name>@<version>)`);
  }
  if (raw.judge !== undefined && !modelGraded) fail(at("judge"), `has no meaning for ${type} (no judge grades it)`);
  const judge = modelGraded ? (raw.judge === undefined ? ctx.judge : checkJudgeRef(raw.judge, at("judge"))) : undefined;

  const loaded = loadIfFile(raw.value, ctx, at("value"));
  // JSON Schemas and JSON values are data, not templates; everything else renders with the case's variables.
  const rendered =
    type === "is-json" || type === "contains-json" || isPlainObject(loaded)
      ? loaded
      : renderDeep(loaded, ctx, at("value"));
  const value = typedValue(type, rendered, at("value"));
  return {
    ...base,
    ...(value !== undefined && { value }),
    ...(modelGraded && { judge: judge ?? null }),
  };
}

/** Types a CSV `__expected` cell can name (`type:value`, `type(threshold):value`, with `not-`). */
const CELL = new RegExp(
  `^(not-)?([a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)?)(?:\\((\\d+(?:\\.\\d+)?)\\))?(?::([\\s\\S]*))?$`,
);
const CELL_TYPES: ReadonlySet<string> = new Set([
  ...DETERMINISTIC_TYPES,
  ...MODEL_GRADED_TYPES,
  ...CODE_TYPES,
  // promptfoo types a cell may name that suites refuse with a clear message rather than read as text
  "similar",
  "bleu",
  "gleu",
  "meteor",
  "perplexity",
  "perplexity-score",
  "is-xml",
  "contains-xml",
  "is-html",
  "contains-html",
  "is-sql",
  "contains-sql",
  "classifier",
  "moderation",
  "answer-relevance",
  "context-faithfulness",
  "context-recall",
  "context-relevance",
  "finish-reason",
  "word-count",
]);

/**
 * The assertion a CSV `__expected` cell spells, as promptfoo reads it: `contains: Paris`, `not-regex: ^\d`,
 * `rouge-n(0.6): text`, `grade: ...` (llm-rubric); a cell with no known type prefix is `equals`.
 * `contains-any`/`-all` split on commas. Code (`javascript:`, `fn:`, `eval:`, `python:`) is refused.
 */
export function assertionFromCell(cell: string, where: string): Record<string, unknown> {
  const text = cell.trim();
  for (const prefix of ["javascript:", "fn:", "eval:", "python:"]) {
    if (text.startsWith(prefix)) fail(where, `"${prefix}" runs code, which suites never do; use a supported type`);
  }
  if (text.startsWith("file://") && /\.(?:js|cjs|mjs|ts|py)(?::|$)/.test(text))
    fail(where, "a code file runs code, which suites never do; use a supported type");
  if (text.startsWith("grade:")) return { type: "llm-rubric", value: text.slice("grade:".length).trim() };
  const m = CELL.exec(text);
  if (m === null || !CELL_TYPES.has(m[2]!)) return { type: "equals", value: text };
  const [, not = "", type = "", threshold, value] = m;
  const out: Record<string, unknown> = { type: `${not}${type}` };
  if (value !== undefined && value.trim() !== "") {
    out.value =
      type.endsWith("contains-any") || type.endsWith("contains-all")
        ? value.split(",").map((s) => s.trim())
        : value.trim();
  }
  if (threshold !== undefined) out.threshold = Number(threshold);
  return out;
}
