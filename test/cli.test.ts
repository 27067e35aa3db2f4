// The `promptgate` registry verbs as real processes on the embedded store (and once on Redis):
// tables and --json on stdout, one line on stderr, exit 0 / 1 (failed) / 2 (usage).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { VERBS } from "../gateway/cli/cli.ts";
import { DESIGN_EXAMPLE, EARLIER_EXAMPLE } from "./support/prompt-fixtures.ts";
import { cli, cliWorkspace, type Run } from "./support/cli.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";

/** Runs every command concurrently (two at a time: each process is mostly start-up work). */
async function all(runs: readonly (readonly string[])[], env: Record<string, string>): Promise<Run[]> {
  const out: Run[] = new Array<Run>(runs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < runs.length; i = next++) out[i] = await cli(runs[i]!, env);
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/** The prompt files the tests push (their own, so edits to config/prompts never break them). */
const FILES: Record<string, string> = {
  "summarization/1.0.0.yaml": EARLIER_EXAMPLE,
  "summarization/1.1.0.yaml": DESIGN_EXAMPLE,
  "greeter/1.0.0.yaml":
    "name: greeter\nversion: 1.0.0\nvariables: { who: { type: string, required: true } }\nmessages: [{ role: system, content: 'Greet {{ who }}.' }]\n",
};

function workspace(): Record<string, string> {
  return cliWorkspace(Object.fromEntries(Object.entries(FILES).map(([f, text]) => [`config/prompts/${f}`, text]))).env;
}

describe("promptgate registry verbs on the embedded store", () => {
  const env = workspace();
  beforeAll(async () => {
    const pushed = await cli(["push"], env);
    expect([pushed.code, pushed.stderr]).toEqual([0, ""]);
    expect(pushed.stdout).toMatch(/summarization\s+1\.1\.0\s+created/);
  });

  it("pushes again as unchanged, and lists, shows, diffs and renders", async () => {
    const [again, list, listJson, show, diff, render] = await all(
      [
        ["push", "--json"],
        ["list"],
        ["list", "--json"],
        ["show", "summarization@1.1.0"],
        ["diff", "summarization", "1.0.0", "1.1.0"],
        ["render", "summarization@1.1.0", "--vars", JSON.stringify({ text: "{{ 7*7 }}", target_sentences: 3 })],
      ],
      env,
    );
    expect((JSON.parse(again!.stdout) as { results: { status: string }[] }).results.map((r) => r.status)).toEqual([
      "unchanged",
      "unchanged",
      "unchanged",
    ]);
    expect(list!.stdout.split("\n")[0]).toMatch(/^NAME\s+VERSIONS\s+DEV\s+STAGING\s+PROD$/);
    expect(list!.stdout).toMatch(/summarization\s+1\.0\.0, 1\.1\.0\s+-\s+-\s+-/);
    expect((JSON.parse(listJson!.stdout) as { prompts: { name: string }[] }).prompts.map((p) => p.name)).toEqual([
      "greeter",
      "summarization",
    ]);
    expect(show!.stdout).toMatch(/^summarization@1\.1\.0 {2}labels: none {2}hash: [0-9a-f]{64}\n/);
    expect(show!.stdout).toContain('  target_sentences: {"default":2,"required":false,"type":"integer"}');
    expect(diff!.stdout).toMatch(/^--- summarization@1\.0\.0\n\+\+\+ summarization@1\.1\.0\n/);
    expect(diff!.stdout).toContain("\n+    Summarize in exactly {{ target_sentences }} sentence");
    expect(render!.stdout).toContain("--- system\nSummarize in exactly 3 sentences.\n");
    expect(render!.stdout).toContain("--- user\n{{ 7*7 }}\n");
    expect(render!.stdout).not.toContain("49");
    for (const r of [again, list, listJson, show, diff, render]) expect([r!.code, r!.stderr]).toEqual([0, ""]);
  });

  it("promotes through staging (or --force), rolls back, and shows it all in the history", async () => {
    const refused = await cli(["promote", "summarization", "1.1.0", "--to", "prod", "--approved-by", "carol"], env);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      expect.stringMatching(/^promptgate promote: .*never been on staging.*\n$/),
    ]);
    const forced = await cli(
      ["promote", "summarization", "1.1.0", "--to", "prod", "--approved-by", "dave", "--force", "--json"],
      env,
    );
    expect([forced.code, JSON.parse(forced.stdout)]).toEqual([
      0,
      expect.objectContaining({ from: null, to: "1.1.0", forced: true }),
    ]);
    expect(
      (await cli(["promote", "summarization", "1.0.0", "--to", "staging", "--approved-by", "carol"], env)).code,
    ).toBe(0);
    const prod = await cli(["promote", "summarization", "1.0.0", "--to", "prod", "--approved-by", "carol"], env);
    expect(prod.stdout).toBe("summarization: prod 1.1.0 -> 1.0.0, approved by carol\n");
    const back = await cli(["rollback", "summarization", "--env", "prod", "--actor", "erin"], env);
    expect(back.stdout).toBe("summarization: prod rolled back 1.0.0 -> 1.1.0 by erin\n");
    const [nothing, history, historyJson, show] = await all(
      [
        ["rollback", "summarization", "--env", "dev"],
        ["history", "summarization"],
        ["history", "summarization", "--json"],
        ["show", "summarization"],
      ],
      env,
    );
    expect([nothing!.code, nothing!.stderr]).toEqual([
      1,
      "promptgate rollback: summarization has no dev label: nothing to roll back\n",
    ]);
    expect(history!.stdout.split("\n")[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+ENV\s+FROM\s+TO$/);
    expect(history!.stdout).toMatch(/dave\s+promote \(forced: staging\)\s+prod\s+-\s+1\.1\.0/);
    expect(history!.stdout).toMatch(/erin\s+rollback\s+prod\s+1\.0\.0\s+1\.1\.0/);
    const entries = JSON.parse(historyJson!.stdout).entries as { action: string; actor: string }[];
    expect(entries.map((e) => `${e.action}:${e.actor}`)).toEqual([
      "register:tester",
      "register:tester",
      "promote:dave",
      "promote:carol",
      "promote:carol",
      "rollback:erin",
    ]);
    expect(show!.stdout).toMatch(/^summarization@1\.1\.0 {2}labels: prod /);
  });

  it("refuses invalid prompt files naming file and field, and reports templates that do not compile", async () => {
    const bad = mkdtempSync(join(tmpdir(), "pg-cli-bad-"));
    mkdirSync(join(bad, "typo"));
    writeFileSync(
      join(bad, "typo", "1.0.0.yaml"),
      "name: typo\nversion: 1.0.0\nvariables: { text: { type: strng } }\nmessages: [{ role: user, content: hi }]\n",
    );
    const broken = mkdtempSync(join(tmpdir(), "pg-cli-broken-"));
    mkdirSync(join(broken, "fine"));
    mkdirSync(join(broken, "oops"));
    writeFileSync(
      join(broken, "fine", "1.0.0.yaml"),
      "name: fine\nversion: 1.0.0\nmessages: [{ role: user, content: hi }]\n",
    );
    // Parses (so the folder loads) but does not compile: push reports it and registers the rest.
    writeFileSync(
      join(broken, "oops", "1.0.0.yaml"),
      "name: oops\nversion: 1.0.0\nmessages: [{ role: user, content: '{{ 1 | nosuchfilter }}' }]\n",
    );
    const [typo, partial] = await all(
      [
        ["push", bad],
        ["push", broken],
      ],
      env,
    );
    expect(typo!.code).toBe(1);
    expect(typo!.stderr).toMatch(
      /^promptgate push: .*typo\/1\.0\.0\.yaml: variables\.text\.type: expected one of string\|integer/,
    );
    expect(typo!.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(partial!.code).toBe(1);
    expect(partial!.stdout).toMatch(/fine\s+1\.0\.0\s+created/);
    expect(partial!.stdout).toMatch(
      /oops\s+1\.0\.0\s+error: prompt oops@1\.0\.0: messages\[0\]\.content: .*unknown filter "nosuchfilter"/,
    );
    expect(partial!.stderr).toBe("promptgate push: 1 of 2 versions were not registered\n");
  });

  it("prints --help for every verb (exit 0) and exits 2 on usage errors", async () => {
    const names = VERBS.map((v) => v.name);
    const usage = [
      ["promote", "summarization", "1.1.0", "--to", "qa", "--approved-by", "x"],
      ["list", "--bogus"],
      ["diff", "summarization"],
      ["render", "summarization", "--vars", "{"],
      ["nope"],
      [],
    ];
    const runs = await all([["--help"], ...names.map((n) => [n, "--help"]), ...usage], env);
    const [top, ...rest] = runs;
    expect(top!.code).toBe(0);
    for (const n of names) expect(top!.stdout).toMatch(new RegExp(`^  ${n} `, "m"));
    names.forEach((n, i) => {
      const r = rest[i]!;
      expect([n, r.code, r.stdout.startsWith(`Usage: promptgate ${n}`), r.stdout.includes("-h, --help")]).toEqual([
        n,
        0,
        true,
        true,
      ]);
    });
    for (const r of rest.slice(names.length)) expect(r.code).toBe(2);
    const [badEnv, unknownFlag] = rest.slice(names.length);
    expect(badEnv!.stderr).toBe(
      "promptgate promote: --to must be one of dev, staging, prod, got \"qa\" (see 'promptgate promote --help')\n",
    );
    expect(unknownFlag!.stderr).toMatch(/^promptgate list: Unknown option '--bogus'/);
  });
});

describe("promptgate on Redis", () => {
  const prefix = uniquePrefix("cli");
  afterAll(async () => {
    const store = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
    for (const key of await store.keys("")) await store.del(key);
    await store.close();
  });

  it("pushes and lists through REDIS_URL, and exits promptly", async () => {
    const env = { ...workspace(), REDIS_URL: redisUrl(), REDIS_PREFIX: prefix };
    const t0 = performance.now();
    const pushed = await cli(["push", "--json"], env);
    expect([pushed.code, pushed.stderr]).toEqual([0, ""]);
    expect(performance.now() - t0).toBeLessThan(5_000);
    const listed = await cli(["list", "--json"], env);
    expect(JSON.parse(listed.stdout).prompts).toEqual([
      { name: "greeter", versions: ["1.0.0"], labels: { dev: null, staging: null, prod: null } },
      { name: "summarization", versions: ["1.0.0", "1.1.0"], labels: { dev: null, staging: null, prod: null } },
    ]);
    const store = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
    expect((await store.keys("prompts:")).sort()).toEqual([
      "prompts:greeter:1.0.0",
      "prompts:summarization:1.0.0",
      "prompts:summarization:1.1.0",
    ]);
    await store.close();
  });
});
