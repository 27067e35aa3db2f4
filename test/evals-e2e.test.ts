// Evaluation end to end, through the real `promptgate` process on the mock provider and the embedded store:
// a judge prompt on mock/judge; a baseline run that passes and is promoted; a candidate whose quality
// regresses fails the paired gate (exit 1) and cannot be promoted; --force promotes it and the history
// says so; a judge answering prose shows as grader errors, not failures (exit 3, not recorded); and
// promptfoo's getting-started suite runs unchanged.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, cliWorkspace } from "./support/cli.ts";

const REPO = join(import.meta.dirname, "..");
const read = (path: string): string => readFileSync(join(REPO, path), "utf8");

/** A digest prompt whose answers (mock/echo echoes its messages) carry the quality the mock judge reads. */
const DIGEST = (version: string, quality: number): string => `name: digest
version: ${version}
model: mock/echo
variables:
  text: { type: string, required: true }
  sentences: { type: integer, default: 2 }
messages:
  - role: user
    content: "Digest in {{ sentences }} sentences: {{ text }} [[score: ${quality}]]"
`;

const SUITE = `description: digests
defaultTest:
  assert:
    - { type: llm-rubric, value: "A faithful digest", metric: quality }
    - { type: icontains, value: digest }
tests:
  - vars: { text: "Ada met Charles.", sentences: "1" }
  - vars: { text: "Babbage built the engine." }
  - vars: { text: "Lovelace wrote the notes." }
  - vars: { text: "The engine was never finished." }
  - vars: { text: "Punched cards held the program." }
  - vars: { text: "The notes held an algorithm." }
gate:
  metrics: { quality: { max_regression: 0.05 } }
`;

const GARBAGE_SUITE = `tests:
  - vars: { text: "Ada met Charles." }
    assert:
      - { type: icontains, value: digest }
      - { type: llm-rubric, value: "A faithful digest", judge: judge-garbage@1.0.0 }
`;

/** A translation prompt for promptfoo's example: the mock echoes the answer its template looks up. */
const TRANSLATE = `name: translate
version: 1.0.0
model: mock/echo
variables:
  language: { type: string, required: true }
  input: { type: string, required: true }
messages:
  - role: user
    content: >-
      Convert this English to {{ language }}: {{ input }}
      {% set known = { "Hello world": "Bonjour le monde", "Where is the library?": "¿Dónde está la biblioteca?" } %}
      {{ known[input] }}
`;

const { dir, env } = cliWorkspace({
  "config/gateway.yaml": 'routes:\n  - { match: "mock/*", provider: mock }\n',
  "config/pricing.yaml": read("config/pricing.yaml"),
  "config/prompts/judge-rubric/1.0.0.yaml": read("config/prompts/judge-rubric/1.0.0.yaml"),
  "config/prompts/judge-garbage/1.0.0.yaml": read("config/prompts/judge-rubric/1.0.0.yaml")
    .replace("name: judge-rubric", "name: judge-garbage")
    .replace("model: mock/judge", "model: mock/judge-garbage"),
  "config/prompts/digest/1.0.0.yaml": DIGEST("1.0.0", 0.9),
  "config/prompts/digest/1.1.0.yaml": DIGEST("1.1.0", 0.5),
  "config/prompts/translate/1.0.0.yaml": TRANSLATE,
  "config/evals/digest.yaml": SUITE,
  "garbage.yaml": GARBAGE_SUITE,
  "promptfoo.yaml": read("test/support/evals/promptfoo-getting-started.yaml"),
});

interface JsonReport {
  status: string;
  eval_id: string | null;
  judges: string[];
  counts: { total: number; passed: number; failed: number; undecided: number; errors: number };
  graderErrors: number;
  graderErrorList: { caseId: string; reason: string }[];
  metrics: Record<string, { mean: number }>;
  gate: { passed: boolean; metrics: { metric: string; verdict: string; diff: number; ci_high: number }[] } | null;
  suite: { warnings: string[] };
}

const json = (stdout: string): JsonReport => JSON.parse(stdout) as JsonReport;

describe("promptgate eval end to end", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    expect(await cli(["push"], env)).toMatchObject({ code: 0 });
  });

  it("gates a regressed candidate, refuses its promotion, and audits a forced one", async () => {
    // The baseline passes on its own and may go to staging.
    const base = await cli(["eval", "digest@1.0.0", "--json"], env);
    expect(base.code).toBe(0);
    const baseReport = json(base.stdout);
    expect(baseReport).toMatchObject({ status: "passed", judges: ["judge-rubric@1.0.0"], gate: null });
    expect(baseReport.metrics["quality"]!.mean).toBeCloseTo(0.9, 12);
    expect(baseReport.eval_id).toEqual(expect.any(String));
    expect(await cli(["promote", "digest", "1.0.0", "--to", "staging", "--approved-by", "lead"], env)).toMatchObject({
      code: 0,
    });

    // The candidate's quality falls from 0.9 to 0.5 on every case: beyond the allowed 0.05.
    const xml = join(dir, "out", "report.xml");
    const cand = await cli(["eval", "digest@1.1.0", "--baseline", "staging", "--output", xml, "--json"], env);
    expect(cand.code).toBe(1);
    const report = json(cand.stdout);
    expect(report.status).toBe("failed");
    expect(report.counts).toMatchObject({ total: 6, passed: 6, failed: 0 });
    const quality = report.gate!.metrics.find((m) => m.metric === "quality")!;
    expect(quality.verdict).toBe("regressed");
    expect(quality.diff).toBeCloseTo(-0.4, 12);
    expect(report.gate!.passed).toBe(false);
    const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(
      readFileSync(xml, "utf8"),
    ) as { testsuites: { tests: string; failures: string } };
    expect(junit.testsuites).toMatchObject({ tests: "7", failures: "1" });

    const refused = await cli(["promote", "digest", "1.1.0", "--to", "staging", "--approved-by", "lead"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^promptgate promote: digest@1\.1\.0 failed its latest evaluation/);

    const forced = await cli(
      ["promote", "digest", "1.1.0", "--to", "staging", "--approved-by", "lead", "--force", "--json"],
      env,
    );
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ forced: true, forcedPast: ["eval"] });

    const history = await cli(["history", "digest", "--json"], env);
    expect(history.code).toBe(0);
    const text = history.stdout;
    expect(text).toMatch(/"forcedPast": \[\s*"eval"\s*\]/);
    expect(text).toMatch(/"action": "eval"/);
  });

  it("needs a new run when the suite file changes after a passing one", async () => {
    const { env: other } = cliWorkspace({
      "config/gateway.yaml": 'routes:\n  - { match: "mock/*", provider: mock }\n',
      "config/prompts/judge-rubric/1.0.0.yaml": read("config/prompts/judge-rubric/1.0.0.yaml"),
      "config/prompts/digest/1.0.0.yaml": DIGEST("1.0.0", 0.9),
      "config/evals/digest.yaml": SUITE,
    });
    expect(await cli(["push"], other)).toMatchObject({ code: 0 });
    expect(await cli(["eval", "digest@1.0.0"], other)).toMatchObject({ code: 0 });
    writeFileSync(join(other["CONFIG_DIR"]!, "evals", "digest.yaml"), SUITE.replace("0.05", "0.04"));
    const stale = await cli(["promote", "digest", "1.0.0", "--to", "staging", "--approved-by", "lead"], other);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/no eval record for its content .* on the current suite/);
  });

  it("shows a judge answering prose as grader errors, not failures, and records nothing", async () => {
    const r = await cli(["eval", "digest@1.0.0", "--suite", join(dir, "garbage.yaml"), "--json"], env);
    expect(r.code).toBe(3);
    const report = json(r.stdout);
    expect(report).toMatchObject({ status: "error", eval_id: null, graderErrors: 1 });
    expect(report.counts).toMatchObject({ failed: 0, undecided: 1 });
    expect(report.graderErrorList[0]!.reason).toMatch(
      /judge judge-garbage@1\.0\.0 answered something that is not JSON/,
    );

    const text = await cli(["eval", "digest@1.0.0", "--suite", join(dir, "garbage.yaml")], env);
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^ERROR \(could not decide\): digest@1\.0\.0/);
    expect(text.stdout).toContain("grader errors (not failures: these assertions could not be graded)");
    expect(text.stdout).toContain("not recorded: the run could not be completed");
  });

  it("runs promptfoo's getting-started suite unchanged", async () => {
    const md = join(dir, "promptfoo.md");
    const r = await cli(["eval", "translate@1.0.0", "--suite", join(dir, "promptfoo.yaml"), "--output", md], env);
    expect(r.stderr).toMatch(/eval: 2\/2 tests\[1\] pass|eval: 2\/2 tests\[0\] pass/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASSED: translate@1\.0\.0/);
    expect(r.stdout).toContain("warning: ");
    expect(readFileSync(md, "utf8")).toMatch(/^# PASSED: translate@1\.0\.0/);
  });

  it("runs the shipped example suite as the README does: 1.1.0 against 1.0.0 passes the gate", async () => {
    // The repository's own config: its summarization versions, judges and example suite.
    const repo = cliWorkspace({});
    const shipped = { ...repo.env, CONFIG_DIR: join(REPO, "config") };
    expect(await cli(["push"], shipped)).toMatchObject({ code: 0 });
    const suite = join(REPO, "config/evals/examples/summarization.yaml");
    const r = await cli(
      ["eval", "summarization@1.1.0", "--suite", suite, "--baseline", "1.0.0", "--model", "mock/echo", "--json"],
      shipped,
    );
    expect(r.code).toBe(0);
    const report = json(r.stdout);
    expect(report.status).toBe("passed");
    expect(report.counts).toMatchObject({ total: 6, passed: 6, failed: 0, errors: 0 });
    expect(report.gate?.passed).toBe(true);
    expect(report.gate?.metrics.find((m) => m.metric === "quality")?.verdict).toBe("non_inferior");
  });

  it("stops at the cost budget and calls the run an error", async () => {
    const r = await cli(["eval", "digest@1.0.0", "--max-cost-usd", "0.0000001", "--concurrency", "1", "--json"], env);
    expect(r.code).toBe(3);
    expect(json(r.stdout)).toMatchObject({ status: "error", eval_id: null });
    expect(r.stderr).toMatch(/eval: budget \$1e-7 reached at \$0\.0000: 5 cases not run/);
  });
});
