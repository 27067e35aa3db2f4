// The ways the README tells users to run the CLI, run as a user would: from a shell whose `node` may be
// older than the project's (no node_modules/.bin on PATH, no npm_* variables), scripts reading the JSON
// on stdout. npx and `npm run -s` must leave stdout to promptgate alone; npm's warnings (EBADENGINE on
// an older Node.js) belong on stderr.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runProcess, type Run } from "./support/cli.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STATE_DIR = mkdtempSync(join(tmpdir(), "promptgate-npx-"));

/** The environment of a user's shell: the machine's PATH without npm's additions, no npm_* variables. */
function userShellEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^npm_/i.test(name)) continue;
    env[name] = value;
  }
  env["PATH"] = (process.env["PATH"] ?? "")
    .split(delimiter)
    .filter((dir) => !dir.includes("node_modules") && !dir.includes("node-gyp-bin"))
    .join(delimiter);
  // The embedded store in a file of this test's own, and the repository's prompt files.
  delete env["REDIS_URL"];
  env["STATE_PATH"] = join(STATE_DIR, "state.db");
  env["CONFIG_DIR"] = join(ROOT, "config");
  return env;
}

function run(command: string, args: readonly string[]): Promise<Run> {
  return runProcess(command, args, { cwd: ROOT, env: userShellEnv() });
}

afterAll(() => rmSync(STATE_DIR, { recursive: true, force: true }));

describe("running the CLI as the README says", () => {
  it("npx promptgate ... --json prints only JSON on stdout", { timeout: 60_000 }, async () => {
    const r = await run("npx", ["promptgate", "list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ prompts: [] });
    expect(r.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|SyntaxError/);
  });

  it("npm run -s promptgate -- ... --json prints only JSON on stdout", { timeout: 60_000 }, async () => {
    const r = await run("npm", ["run", "-s", "promptgate", "--", "list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ prompts: [] });
  });

  it("npx promptgate reports a usage error with exit code 2 and nothing on stdout", { timeout: 60_000 }, async () => {
    const r = await run("npx", ["promptgate", "list", "extra-argument"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("promptgate list:");
  });
});

describe("the promptgate command in git", () => {
  // npm makes a bin executable when it links it (npx does on its first run): committed without the
  // executable bit, the file would show as modified in every clone where someone ran npx promptgate.
  it("is committed executable, so that running it leaves the clone clean", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
    const bins = Object.values(pkg.bin);
    expect(bins.length).toBeGreaterThan(0);
    for (const bin of bins) {
      const entry = execFileSync("git", ["ls-files", "--stage", "--", bin], { cwd: ROOT, encoding: "utf8" });
      expect(entry, bin).toMatch(/^100755 /);
    }
  });
});
