// Suite files: promptfoo's documented example loads and grades unchanged; datasets (CSV with
// __expected columns, JSONL, YAML); defaultTest merging and rendering; gate and online sections; the
// hash; and errors that name the file, the field and the fix.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gradeCase } from "../../../gateway/evals/assertions.ts";
import { loadSuite, parseSuite, SuiteFileError } from "../../../gateway/evals/suite.ts";
import type { ModelGrader, Suite } from "../../../gateway/evals/types.ts";

const DIR = join(import.meta.dirname, "../../support/evals");
const FILE = join(DIR, "suite.yaml");
const read = (path: string): string => readFileSync(path, "utf8");
const parse = (text: string): Suite => parseSuite(text, FILE, read);
const noJudge: ModelGrader = { grade: () => Promise.reject(new Error("no judge")) };

function error(text: string): string {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof SuiteFileError) return err.message;
    throw err;
  }
  throw new Error("expected a SuiteFileError, but the suite loaded");
}

describe("promptfoo's getting-started example", () => {
  const suite = loadSuite(join(DIR, "promptfoo-getting-started.yaml"));

  it("loads unchanged, ignoring prompts and providers with a warning", () => {
    expect(suite.description).toBe("Getting started");
    expect(suite.cases.map((c) => [c.id, c.vars])).toEqual([
      ["tests[0]", { language: "French", input: "Hello world" }],
      ["tests[1]", { language: "Spanish", input: "Where is the library?" }],
    ]);
    expect(suite.warnings.join("\n")).toMatch(/prompts: ignored[\s\S]*providers: ignored/);
  });

  it("grades as promptfoo would", async () => {
    const [french, spanish] = suite.cases;
    expect((await gradeCase(french!, { output: "Bonjour le monde", latencyMs: 1, costUsd: 0 }, noJudge)).pass).toBe(
      true,
    );
    expect((await gradeCase(french!, { output: "Salut", latencyMs: 1, costUsd: 0 }, noJudge)).pass).toBe(false);
    const s = await gradeCase(spanish!, { output: "¿DÓNDE ESTÁ LA BIBLIOTECA?", latencyMs: 1, costUsd: 0 }, noJudge);
    expect(s.pass).toBe(true);
  });
});

describe("parseSuite", () => {
  it("merges defaultTest into every case and renders values with the case's variables", () => {
    const suite = parse(`
defaultTest:
  vars: { target_sentences: 2, tone: formal }
  threshold: 0.5
  options: { judge: judge-rubric@1.0.0 }
  assert:
    - { type: sentence-count, value: "{{ target_sentences }}" }
    - { type: llm-rubric, value: "is {{ tone }}", metric: quality }
tests:
  - vars: { tone: casual }
    assert: [{ type: contains, value: "{{ tone | upper }}" }]
  - threshold: 1
    options: { judge: judge-strict@2.0.0 }
`);
    const [a, b] = suite.cases;
    expect(a!.vars).toEqual({ target_sentences: 2, tone: "casual" });
    expect(a!.assertions.map((x) => [x.type, x.value])).toEqual([
      ["sentence-count", 2],
      ["llm-rubric", "is casual"],
      ["contains", "CASUAL"],
    ]);
    expect(a!.assertions[1]!.judge).toBe("judge-rubric@1.0.0");
    expect(a!.threshold).toBe(0.5);
    expect(b!.threshold).toBe(1);
    expect(b!.assertions[1]).toMatchObject({ value: "is formal", judge: "judge-strict@2.0.0" });
  });

  it("expands CSV datasets with promptfoo's __expected columns", () => {
    const suite = parse("tests: file://cases.csv\n");
    const [math, geo] = suite.cases;
    expect(math).toMatchObject({ id: "cases.csv:2", description: "arithmetic", expected: "4" });
    expect(math!.vars).toEqual({ question: "What is 2+2?", expected: "4" });
    expect(math!.assertions).toMatchObject([
      { type: "equals", negate: false, value: "4", weight: 1 },
      { type: "contains", negate: true, value: "five", weight: 2 },
    ]);
    expect(geo!.assertions).toMatchObject([
      { type: "icontains-any", value: ["paris", "lutetia"] },
      { type: "rouge-n", threshold: 0.5, value: "Paris is the capital" },
    ]);
  });

  it("expands JSONL and YAML datasets: test cases and plain variable rows, mixed with inline tests", () => {
    const suite = parse(`
defaultTest:
  assert: [{ type: icontains, value: "{{ expected }}" }]
tests:
  - file://cases.jsonl
  - cases.yaml
  - vars: { question: inline, expected: x }
`);
    expect(suite.cases.map((c) => [c.id, c.expected])).toEqual([
      ["cases.jsonl:1", "Jupiter"],
      ["cases.jsonl:3", "Mercury"],
      ["cases.yaml[0]", "Mars"],
      ["cases.yaml[1]", "Saturn"],
      ["tests[2]", "x"],
    ]);
    // A test case's own `expected` is not a variable of the prompt; a plain row's is.
    expect(suite.cases[0]!.vars).toEqual({ question: "Largest planet?" });
    expect(suite.cases[1]!.vars).toEqual({ question: "Smallest planet?", expected: "Mercury" });
    expect(suite.cases[0]!.assertions.map((a) => a.value)).toEqual(["Jupiter", "Jupiter"]);
  });

  it("loads file:// JSON Schemas relative to the suite", () => {
    const suite = parse("tests:\n  - assert: [{ type: is-json, value: file://schema.json }]\n");
    expect(suite.cases[0]!.assertions[0]!.value).toMatchObject({ required: ["city"] });
  });

  it("parses gate and online, and hashes cases and gate but not online or description", () => {
    const base = "tests:\n  - assert: [{ type: llm-rubric, value: ok, metric: quality }]\n";
    const gate = "gate: { metrics: { quality: { max_regression: 0.02 } } }\n";
    const online = "online: { sample: 0.05, judge: judge-rubric@1.0.0, metric: quality }\n";
    const suite = parse(base + gate + online);
    expect(suite.gate).toEqual({ metrics: { quality: { max_regression: 0.02 } }, confidence: 0.95 });
    expect(suite.online).toEqual({ sample: 0.05, judge: "judge-rubric@1.0.0", metric: "quality" });
    expect(parse(`description: other\n${base}${gate}`).hash).toBe(suite.hash);
    expect(parse(base).hash).not.toBe(suite.hash);
    expect(parse(base.replace("ok", "fine") + gate).hash).not.toBe(suite.hash);
    expect(suite.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes the hash when a dataset's content changes", () => {
    const one = parseSuite("tests: file://d.jsonl\n", FILE, () => '{"q": 1}\n');
    const two = parseSuite("tests: file://d.jsonl\n", FILE, () => '{"q": 2}\n');
    expect(one.hash).not.toBe(two.hash);
  });
});

describe("errors name the file, the field and the fix", () => {
  const one = (assert: string): string => error(`tests:\n  - vars: { a: 1 }\n    assert: [${assert}]\n`);

  it.each([
    ["{ type: javascript, value: 'output.length > 1' }", /tests\[0\]\.assert\[0\]\.type: "javascript" runs code/],
    ["{ type: python, value: x }", /"python" runs code/],
    ["{ type: similar, value: x }", /"similar" is not a supported assertion type; supported: equals/],
    ["{ type: not-assert-set, assert: [] }", /assert-set cannot be negated/],
    ["{ type: contains }", /assert\[0\]\.value: contains needs a value/],
    ["{ type: regex, value: '(' }", /assert\[0\]\.value: regex: not a valid regular expression/],
    ["{ type: is-json, value: { type: 12 } }", /is-json: the JSON Schema does not compile/],
    ["{ type: latency }", /assert\[0\]\.threshold: latency needs a threshold \(milliseconds\)/],
    ["{ type: contains, value: x, threshold: 0.5 }", /threshold: has no meaning for contains/],
    [
      "{ type: contains, value: '{{ b }}' }",
      /value: line 1, column 4: "b" is not a variable of this case \(it has a\)/,
    ],
    ["{ type: contains, value: x, transform: 'output.trim()' }", /assert\[0\]\.transform: runs code/],
    ["{ type: contains, value: x, colour: red }", /assert\[0\]\.colour: unknown field/],
    ["{ type: sentence-count, value: two }", /sentence-count needs a whole number/],
    [
      "{ type: assert-set, assert: [{ type: assert-set, assert: [{ type: is-json }] }] }",
      /cannot hold another assert-set/,
    ],
    ["{ type: llm-rubric, value: x, judge: 'not a ref' }", /judge: expected a registered prompt ref/],
  ])("%s", (assert, message) => {
    expect(one(assert)).toMatch(message);
  });

  it("refuses promptfoo keys that cannot apply, and unknown ones", () => {
    expect(error("env: { OPENAI_API_KEY: x }\ntests: [{}]\n")).toMatch(/suite\.yaml: env: provider keys live/);
    expect(error("tests: [{}]\nfoo: 1\n")).toMatch(/suite\.yaml: foo: unknown field/);
    expect(error("tests: [{ vars: { f: 'file://x.txt' } }]\n")).toMatch(/tests\[0\]\.vars\.f: file:\/\/ variables/);
    expect(error("tests: [{ options: { transform: x } }]\n")).toMatch(/tests\[0\]\.options\.transform: not supported/);
    expect(error("tests: [{ providers: [a] }]\n")).toMatch(/tests\[0\]\.providers: not supported/);
    expect(error("tests: []\n")).toMatch(/tests: list at least one/);
  });

  it("refuses a gate on a metric no assertion reports", () => {
    expect(
      error("tests: [{ assert: [{ type: is-json }] }]\ngate: { metrics: { qualty: { max_regression: 0.1 } } }\n"),
    ).toMatch(/gate\.metrics\.qualty: no assertion reports this metric \(this suite has: is-json, score\)/);
  });

  it("names the dataset row at fault", () => {
    expect(
      error("tests: file://cases.jsonl\ndefaultTest: { assert: [{ type: contains, value: '{{ nope }}' }] }\n"),
    ).toMatch(/defaultTest\.assert\[0\]\.value: .*"nope" is not a variable .*\(in case cases\.jsonl:1\)/);
    expect(() => parseSuite("tests: d.csv\n", FILE, () => "q,__prefix\n1,x\n")).toThrow(
      /d\.csv:2: column __prefix: not supported/,
    );
    expect(() => parseSuite("tests: d.csv\n", FILE, () => "q,__expected\n1,javascript: 1\n")).toThrow(
      /d\.csv:2: column __expected: "javascript:" runs code/,
    );
    expect(() => parseSuite("tests: d.jsonl\n", FILE, () => "{bad\n")).toThrow(/d\.jsonl:1: invalid JSON/);
    expect(() => parseSuite("tests: d.txt\n", FILE, () => "")).toThrow(/d\.txt: unknown dataset format/);
    expect(() => parseSuite("tests: missing.csv\n", FILE, read)).toThrow(/tests: cannot read missing\.csv \(ENOENT\)/);
  });

  it("refuses keys that reach JavaScript internals, in the suite and in datasets", () => {
    expect(() => parseSuite("tests: d.jsonl\n", FILE, () => '{"vars": {"__proto__": {"x": 1}}}\n')).toThrow(
      /__proto__/,
    );
  });
});
