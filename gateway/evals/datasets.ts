// Dataset files a suite's `tests:` points at (`tests: file://cases.csv`, or a list mixing inline tests
// and `file://` paths), read into raw test cases shaped like inline ones. Formats, by extension:
// - `.jsonl`: one JSON object a line; `.yaml`/`.yml`/`.json`: a list of objects. A row with `vars` (or
//   `assert`) is a promptfoo test case ({description, vars, assert, threshold, options, expected});
//   a row without is plain variables (its `expected`, if any, stays a variable too).
// - `.csv`: a header row; each column is a variable, except promptfoo's special columns: `__expected`,
//   `__expected1`... (an assertion each, `type: value`), `__description`, `__threshold`, `__metric`,
//   `__config:__expected[N]:threshold|weight|metric`, `__metadata:*` (ignored). `__prefix`, `__suffix`
//   and `__providerOutput` change the prompt or skip the call, so they are refused.
import { parse as parseCsv } from "csv-parse/sync";
import { parse as parseYaml } from "yaml";
import { isPlainObject } from "../support/json-value.ts";
import { assertionFromCell } from "./assertion-spec.ts";
import { SuiteFileError } from "./suite-error.ts";

/** One raw test case read from a dataset, and its stable id (`file:line` or `file[index]`). */
export interface DatasetRow {
  readonly id: string;
  readonly where: string;
  readonly test: Record<string, unknown>;
}

const TEST_KEYS = new Set(["description", "vars", "assert", "threshold", "options", "expected", "metadata"]);

function rowToTest(row: Record<string, unknown>): Record<string, unknown> {
  if ("vars" in row || "assert" in row) return row;
  return { vars: row };
}

function fromObjects(rows: unknown, name: string): DatasetRow[] {
  if (!Array.isArray(rows)) throw new SuiteFileError(`${name}: expected a list of test cases (or rows of variables)`);
  return rows.map((row: unknown, i) => {
    const where = `${name}[${i}]`;
    if (!isPlainObject(row))
      throw new SuiteFileError(`${where}: expected a mapping (a test case or a row of variables)`);
    return { id: where, where, test: rowToTest(row) };
  });
}

function fromJsonl(text: string, name: string): DatasetRow[] {
  const out: DatasetRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${name}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new SuiteFileError(`${where}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!isPlainObject(row))
      throw new SuiteFileError(`${where}: expected a JSON object (a test case or a row of variables)`);
    out.push({ id: where, where, test: rowToTest(row) });
  });
  return out;
}

const CONFIG_KEYS = new Set(["threshold", "weight", "metric"]);

function fromCsv(text: string, name: string): DatasetRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    const parsed: unknown = parseCsv(text, {
      columns: true,
      skip_empty_lines: true,
      bom: true,
      info: true,
      trim: false,
    });
    records = parsed as typeof records;
  } catch (err) {
    throw new SuiteFileError(`${name}: invalid CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  return records.map(({ record, info }) => {
    const where = `${name}:${info.lines}`;
    const vars: Record<string, string> = {};
    const asserts: Record<string, unknown>[] = [];
    const configs: { column: string; key: string; value: string }[] = [];
    const test: Record<string, unknown> = {};
    let metric: string | undefined;
    for (const [column, value] of Object.entries(record)) {
      const at = `${where}: column ${column}`;
      if (/^__expected\d*$/.test(column)) {
        if (value.trim() !== "") asserts.push({ ...assertionFromCell(value, at), column });
      } else if (column === "__description") test.description = value;
      else if (column === "__threshold") {
        if (value.trim() === "") continue;
        const t = Number(value);
        if (!Number.isFinite(t)) throw new SuiteFileError(`${at}: expected a number (the case's pass threshold, 0..1)`);
        test.threshold = t;
      } else if (column === "__metric") metric = value.trim() === "" ? undefined : value.trim();
      else if (column.startsWith("__metadata:")) continue;
      else if (column.startsWith("__config:")) {
        const m = /^__config:(__expected\d*):(\w+)$/.exec(column);
        if (m === null || !CONFIG_KEYS.has(m[2]!)) {
          throw new SuiteFileError(`${at}: expected __config:__expected[N]:threshold|weight|metric`);
        }
        if (value.trim() !== "") configs.push({ column: m[1]!, key: m[2]!, value: value.trim() });
      } else if (column.startsWith("__")) {
        throw new SuiteFileError(
          `${at}: not supported (a suite calls the registered prompt as it is, and knows __expected, __description, __threshold, __metric, __config:*, __metadata:*)`,
        );
      } else vars[column] = value;
    }
    for (const c of configs) {
      const targets = asserts.filter((a) => c.column === "__expected" || a.column === c.column);
      const value = c.key === "metric" ? c.value : Number(c.value);
      if (typeof value === "number" && !Number.isFinite(value))
        throw new SuiteFileError(`${where}: column __config:${c.column}:${c.key}: expected a number`);
      for (const a of targets) a[c.key] = value;
    }
    const assert = asserts.map(({ column: _column, ...a }) =>
      metric !== undefined && a.metric === undefined ? { ...a, metric } : a,
    );
    return { id: where, where, test: { ...test, vars, ...(assert.length > 0 && { assert }) } };
  });
}

/** Reads one dataset's rows. `name` is the path as the suite wrote it (for ids and errors). */
export function parseDataset(text: string, name: string): DatasetRow[] {
  const lower = name.toLowerCase();
  let rows: DatasetRow[];
  if (lower.endsWith(".jsonl")) rows = fromJsonl(text, name);
  else if (lower.endsWith(".csv")) rows = fromCsv(text, name);
  else if (lower.endsWith(".json") || lower.endsWith(".yaml") || lower.endsWith(".yml")) {
    let doc: unknown;
    try {
      doc = lower.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      throw new SuiteFileError(
        `${name}: invalid ${lower.endsWith(".json") ? "JSON" : "YAML"}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    rows = fromObjects(doc, name);
  } else {
    throw new SuiteFileError(`${name}: unknown dataset format: use .jsonl, .csv, .yaml, .yml or .json`);
  }
  for (const row of rows) {
    if ("vars" in row.test || "assert" in row.test) {
      const extra = Object.keys(row.test).find((k) => !TEST_KEYS.has(k));
      if (extra !== undefined) throw new SuiteFileError(`${row.where}: ${extra}: unknown field of a test case`);
    }
  }
  return rows;
}
