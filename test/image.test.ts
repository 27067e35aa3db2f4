// What the image ships (the Dockerfile's COPY sources, less what .dockerignore keeps out of the build
// context): the gateway's code and config, never a test, test support or benchmark. .dockerignore is
// applied here as Docker applies it, so no Docker is needed: a pattern excludes what it matches and
// everything below that, the last pattern that matches decides, and `!` takes a path back in.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, matchesGlob, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

interface Rule {
  readonly pattern: string;
  readonly include: boolean;
}

function rules(text: string): Rule[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const include = line.startsWith("!");
      return { pattern: (include ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, ""), include };
    });
}

function excluded(path: string, from: readonly Rule[]): boolean {
  const parts = path.split("/");
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let out = false;
  for (const rule of from) if (prefixes.some((p) => matchesGlob(p, rule.pattern))) out = !rule.include;
  return out;
}

/** The local sources of the final stage's COPY lines (not `COPY --from=...`). */
function copySources(dockerfile: string): string[] {
  const stages = dockerfile.split(/^FROM /m);
  const final = stages[stages.length - 1] ?? "";
  return final
    .split("\n")
    .filter((line) => /^COPY\s/.test(line) && !line.includes("--from"))
    .flatMap((line) => line.trim().split(/\s+/).slice(1, -1))
    .map((src) => src.replace(/\/+$/, ""));
}

function filesUnder(path: string): string[] {
  const full = join(ROOT, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split(sep).join("/"));
}

describe("the image", () => {
  const ignore = rules(readFileSync(join(ROOT, ".dockerignore"), "utf8"));
  const sources = copySources(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
  const shipped = sources.flatMap(filesUnder).filter((f) => !excluded(f, ignore));

  it("ships the gateway's code and config", () => {
    expect(sources).toEqual(["package.json", "package-lock.json", "gateway", "config"]);
    expect(shipped).toEqual(expect.arrayContaining(["gateway/main.ts", "gateway/compose.ts", "config/gateway.yaml"]));
  });

  it("ships no test, test support or benchmark", () => {
    expect(
      filesUnder("gateway").filter((f) => f.endsWith(".test.ts")),
      "unit tests live in test/unit/",
    ).toEqual([]);
    const tests = shipped.filter((f) => f.endsWith(".test.ts") || /^(test|loadtest)\//.test(f));
    expect(tests, "add them to .dockerignore").toEqual([]);
    expect(excluded("test/support/registry-fixtures.ts", ignore)).toBe(true);
    expect(excluded("loadtest/split-bench.ts", ignore)).toBe(true);
  });
});
