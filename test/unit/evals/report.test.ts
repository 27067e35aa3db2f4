// The eval report's shapes: the JSON object (worst cases, grader errors apart, failed calls), Markdown, a
// self-contained HTML page with every value escaped, and JUnit XML parsed back as a CI server reads it.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import type { CallDetail, ResolvedPrompt } from "../../../gateway/evals/caller.ts";
import { renderHtml } from "../../../gateway/evals/report-html.ts";
import { escapeXml, renderJunit } from "../../../gateway/evals/report-junit.ts";
import { renderMarkdown } from "../../../gateway/evals/report-markdown.ts";
import { renderReport } from "../../../gateway/evals/report-output.ts";
import { buildReport, reportFormat, worstCases, type EvalReport } from "../../../gateway/evals/report.ts";
import { WORST_CASE_TEXT } from "../../../gateway/registry/eval-records.ts";
import { createCostMeter, runEval } from "../../../gateway/evals/runner.ts";
import { parseSuite } from "../../../gateway/evals/suite.ts";
import type { GradeOutcome, JudgeInput } from "../../../gateway/evals/types.ts";
import { compilePrompt } from "../../../gateway/prompts/compile.ts";
import { parsePromptFile } from "../../../gateway/prompts/prompt-file.ts";

function resolved(version: string): ResolvedPrompt {
  const v = parsePromptFile(
    `name: greeter\nversion: ${version}\nmodel: mock/echo\nvariables: { who: { type: string, required: true } }\n` +
      `messages: [{ role: user, content: "Hello {{ who }}" }]\n`,
    "x.yaml",
  );
  return { version: v, compiled: compilePrompt(v), via: null };
}

const SUITE = `description: report test
tests:
  - { description: fine, vars: { who: ok } }
  - { description: "fails <b>", vars: { who: bad } }
  - { description: judge garbage, vars: { who: garbage } }
  - { description: down, vars: { who: down } }
  - { description: "script", vars: { who: "<script>alert(1)</script>" } }
defaultTest:
  assert:
    - { type: not-contains, value: bad }
    - { type: llm-rubric, value: polite, metric: quality }
gate: { metrics: { quality: { max_regression: 0.1 } } }
`;

/** Outputs by `who`; the baseline answers the same but scores 1 on quality. */
const OUTPUT: Record<string, string> = {
  ok: "fine [[q: 0.9]]",
  bad: "bad & worse [[q: 0.2]]",
  garbage: "something [[garbage]]",
  "<script>alert(1)</script>": "<script>alert(1)</script> ]]> [[q: 0.7]]",
};

let report: EvalReport;

beforeAll(async () => {
  const suite = parseSuite(SUITE, "evals/greeter.yaml", () => "");
  let t = Date.parse("2025-01-01T00:00:00Z");
  const run = await runEval({
    suite,
    candidate: resolved("1.1.0"),
    baseline: resolved("1.0.0"),
    meter: createCostMeter(),
    now: () => (t += 1500),
    caller: {
      call(target, vars) {
        const who = String(vars["who"]);
        const r = target as ResolvedPrompt;
        if (who === "down") return Promise.reject(new Error("provider mock answered 500"));
        const output = r.version.version === "1.0.0" ? OUTPUT[who]!.replace(/\[\[q: [0-9.]+\]\]/, "") : OUTPUT[who]!;
        const d: CallDetail = {
          output,
          latencyMs: 25,
          costUsd: 0.0002,
          prompt: { name: "greeter", version: r.version.version, hash: r.version.hash },
          model: "mock/echo",
          usage: null,
          costPico: null,
        };
        return Promise.resolve(d);
      },
    },
    grader: {
      grade(_a, input: JudgeInput): Promise<GradeOutcome> {
        if (input.output.includes("[[garbage]]")) return Promise.resolve({ kind: "error", reason: "judge said prose" });
        const m = /\[\[q: ([0-9.]+)\]\]/.exec(input.output);
        const score = m ? Number(m[1]) : 1;
        return Promise.resolve({ kind: "graded", pass: score >= 0.5, score, reason: `q ${score}` });
      },
    },
  });
  report = buildReport(run);
});

describe("the report object", () => {
  it("has the verdict, counts, worst cases, grader errors apart and failed calls", () => {
    expect(report.status).toBe("failed");
    expect(report.passed).toBe(false);
    expect(report.counts).toEqual({ total: 5, passed: 2, failed: 1, undecided: 1, errors: 1 });
    expect(report.graderErrors).toBe(1);
    expect(report.graderErrorList).toEqual([
      { caseId: "tests[2]", assertion: "llm-rubric (quality)", reason: "judge said prose" },
    ]);
    expect(report.caseErrors).toEqual([
      { caseId: "tests[3]", side: "candidate", error: "provider mock answered 500" },
      { caseId: "tests[3]", side: "baseline", error: "provider mock answered 500" },
    ]);
    // Lowest score first; a case that passed with a perfect score is never among the worst.
    expect(report.worst).toEqual(["tests[1]", "tests[4]", "tests[0]", "tests[2]"]);
    expect(report.metrics["quality"]).toMatchObject({ n: 3, min: 0.2, max: 0.9, pass_rate: 2 / 3 });
    expect(report.gate?.metrics[0]).toMatchObject({ metric: "quality", n: 3, verdict: "inconclusive" });
    expect(report.cost).toMatchObject({ promptUsd: 0.0016, totalUsd: 0.0016 });
    expect(report.latency).toMatchObject({ n: 4, mean: 25 });
    expect(JSON.parse(renderReport(report, "json"))).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it("gives the eval record its worst cases, in order, their texts cut short", () => {
    const kept = worstCases(report);
    expect(kept.map((c) => c.case_id)).toEqual(report.worst);
    const first = kept[0]!;
    const run = report.cases.find((c) => c.id === first.case_id)!;
    expect(first).toMatchObject({
      score: run.candidate.result!.score,
      passed: run.candidate.result!.pass,
      vars: JSON.stringify(run.vars).slice(0, WORST_CASE_TEXT),
      reason: run.candidate.result!.reason,
    });
    const long = worstCases({
      ...report,
      cases: report.cases.map((c) => ({ ...c, candidate: { ...c.candidate, output: "x".repeat(1000) } })),
    });
    for (const c of long) expect(c.output).toBe(`${"x".repeat(WORST_CASE_TEXT - 3)}...`);
  });

  it("picks the format from the --output extension", () => {
    expect(["r.json", "r.md", "r.markdown", "r.HTML", "r.htm", "r.xml", "r.txt", "r"].map(reportFormat)).toEqual([
      "json",
      "md",
      "md",
      "html",
      "html",
      "xml",
      null,
      null,
    ]);
  });
});

describe("Markdown", () => {
  it("shows the metrics, the baseline comparison, the worst cases and the grader errors", () => {
    const md = renderMarkdown(report);
    expect(md).toMatch(/^# FAILED: greeter@1\.1\.0 against greeter@1\.0\.0 on evals\/greeter\.yaml\n/);
    expect(md).toContain("| metric | n | mean | std | min | max | pass rate | baseline mean |");
    expect(md).toMatch(/\| quality \| 3 \| 0\.6 \| [0-9.]+ \| 0\.2 \| 0\.9 \| 66\.7% \| 1 \|/);
    expect(md).toMatch(/\| quality \| paired_t \| 3 \| 1 \| 0\.6 \| -0\.4 \| \[/);
    expect(md).toContain("### tests[1]: fails <b> (score 0.1, failed)");
    expect(md).toContain("## Grader errors");
    expect(md).toContain("| tests[2] | llm-rubric (quality) | judge said prose |");
    expect(md).toContain("| tests[3] | candidate | provider mock answered 500 |");
  });
});

describe("HTML", () => {
  it("is one self-contained page with every value escaped", () => {
    const html = renderHtml(report);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("fails &lt;b&gt;");
    expect(html).toContain("bad &amp; worse");
    expect(html).not.toMatch(/<(link|img|iframe)\b|src=|href=/);
    expect(html).toContain("default-src 'none'");
  });
});

describe("JUnit XML", () => {
  it("parses back with one testcase per case, failures and errors apart, and the gate", () => {
    const xml = renderJunit(report);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml) as {
      testsuites: {
        tests: string;
        failures: string;
        errors: string;
        testsuite: {
          testcase: { name: string; classname: string; failure?: { message: string }; error?: { type: string } }[];
        };
      };
    };
    expect(doc.testsuites).toMatchObject({ tests: "6", failures: "2", errors: "2" });
    const cases = doc.testsuites.testsuite.testcase;
    expect(cases.map((c) => c.name)).toEqual([
      "tests[0]: fine",
      "tests[1]: fails <b>",
      "tests[2]: judge garbage",
      "tests[3]: down",
      "tests[4]: script",
      "regression gate",
    ]);
    expect(cases[0]).not.toHaveProperty("failure");
    expect(cases[1]!.failure?.message).toMatch(/not-contains|contains/);
    expect(cases[2]!.error?.type).toBe("grader");
    expect(cases[3]!.error?.type).toBe("call");
    expect(cases[5]!.failure?.message).toMatch(/; quality: -0\.4 /);
    expect(cases[0]!.classname).toBe("greeter@1.1.0");
  });

  it("escapes markup and drops characters XML cannot hold", () => {
    expect(escapeXml(`a<b>&"c'\u0000\u0007d\ud800`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;d");
  });
});
