// The user's documents stay a user's documents: no commit hashes or dated runs in the README (the
// history of measurements lives in git and loadtest/RESULTS.md), and every relative link in the
// README and the docs beside it leads to a file that exists (and, within a file, to a heading).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const markdownIn = (dir: string): string[] =>
  existsSync(join(ROOT, dir))
    ? readdirSync(join(ROOT, dir))
        .filter((f) => f.endsWith(".md"))
        .map((f) => join(dir, f))
    : [];

/** The documents whose links are checked, relative to the repository root. */
const DOCUMENTS = ["README.md", ...markdownIn("docs"), ...markdownIn("loadtest"), ...markdownIn("helm")];

/** 7 to 40 hex digits with at least one digit and one letter, as a whole word: a (short) commit hash. */
const COMMIT_HASH = /\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b/g;

const MONTH = "(?:January|February|March|April|May|June|July|August|September|October|November|December)";
/** 2026-11-24, 24 November 2026, November 24, 2026. */
const DATE = new RegExp(
  [
    String.raw`\b(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b`,
    String.raw`\b\d{1,2} ${MONTH} \d{4}\b`,
    String.raw`\b${MONTH} \d{1,2}, \d{4}\b`,
  ].join("|"),
  "g",
);

function commitHashes(text: string): string[] {
  return text.match(COMMIT_HASH) ?? [];
}

function dates(text: string): string[] {
  return text.match(DATE) ?? [];
}

/** Markdown without fenced code blocks, where a `#` line is a comment, not a heading. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "");
}

/** Markdown without code, where brackets are code, not links. */
function prose(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, "");
}

/** The targets of inline links and images, `[text](target)`, and of reference definitions, `[label]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const references = [...text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!);
  return [...inline, ...references];
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative links of `file` (repository-relative) that lead nowhere, as "target (why)". */
function brokenLinks(file: string): string[] {
  const markdown = readFileSync(join(ROOT, file), "utf8");
  const broken: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (isExternal(target)) continue;
    const [path = "", fragment] = target.split("#", 2);
    const cleanPath = decodeURIComponent(path.split("?", 1)[0]!);
    if (cleanPath === "") {
      if (fragment !== undefined && !anchors(markdown).has(fragment)) broken.push(`${target} (no such heading)`);
      continue;
    }
    const resolved = join(ROOT, dirname(file), cleanPath);
    if (!existsSync(resolved)) broken.push(`${target} (no file ${relative(ROOT, resolved)})`);
  }
  return broken;
}

describe("the detectors", () => {
  it("find commit hashes, short and long, but not numbers or words", () => {
    expect(commitHashes("In the run at 26bab23 (a531c9d) and 37a09be0c3f1d5e6a7b8c9d0e1f2a3b4c5d6e7f8")).toEqual([
      "26bab23",
      "a531c9d",
      "37a09be0c3f1d5e6a7b8c9d0e1f2a3b4c5d6e7f8",
    ]);
    expect(commitHashes("body_bytes: 10485760, 0.00000585 USD, a decade, deadbeef, x-prompt-cost-usd")).toEqual([]);
  });

  it("find dated runs in any common spelling", () => {
    expect(dates("In the runs of 2026-11-24 the throughput held")).toEqual(["2026-11-24"]);
    expect(dates("measured on 24 November 2026, and again on November 25, 2026")).toEqual([
      "24 November 2026",
      "November 25, 2026",
    ]);
    expect(dates("5 rounds of 4 s, 10,000 buckets, 0.36 µs, version 1.10.0")).toEqual([]);
  });

  it("find inline links, images and reference links, but not brackets in code", () => {
    const markdown = [
      'See [the chart](helm/README.md), [design](docs/design.md#prompts) and ![x](img.png "title").',
      "[ref]: loadtest/RESULTS.md",
      "`a[0](b)` and",
      "```ts",
      "choices[0](call)",
      "```",
    ].join("\n");
    expect(linkTargets(markdown)).toEqual([
      "helm/README.md",
      "docs/design.md#prompts",
      "img.png",
      "loadtest/RESULTS.md",
    ]);
  });

  it("make GitHub's anchors from headings", () => {
    expect(anchors("## Canary weights (for SREs)\n### With the official `openai` SDK\n## Errors\n## Errors")).toEqual(
      new Set(["canary-weights-for-sres", "with-the-official-openai-sdk", "errors", "errors-1"]),
    );
  });
});

describe("the README", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  it("holds no commit hashes (history belongs in git)", () => {
    expect(commitHashes(readme)).toEqual([]);
  });

  it("holds no dated runs (the latest figures live in loadtest/RESULTS.md)", () => {
    expect(dates(readme)).toEqual([]);
  });
});

describe("relative links", () => {
  it("are checked in the README and the documents beside it", () => {
    expect(DOCUMENTS).toEqual(
      expect.arrayContaining(["README.md", "docs/design.md", "loadtest/README.md", "helm/README.md"]),
    );
  });

  it.each(DOCUMENTS)("in %s lead to files that exist", (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });
});
