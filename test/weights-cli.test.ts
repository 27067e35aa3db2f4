// `promptgate weights` as a real process on the embedded store: shows the split, sets and clears it,
// refuses what the gateway would ignore (exit 1), rejects malformed --set (exit 2), records history.
import { beforeAll, describe, expect, it } from "vitest";
import { DESIGN_EXAMPLE, EARLIER_EXAMPLE } from "./support/prompt-fixtures.ts";
import { cli, cliWorkspace } from "./support/cli.ts";
import type { WeightsView } from "../gateway/registry/weights-ops.ts";

function workspace(): Record<string, string> {
  return cliWorkspace({
    "config/prompts/summarization/1.0.0.yaml": EARLIER_EXAMPLE,
    "config/prompts/summarization/1.1.0.yaml": DESIGN_EXAMPLE,
  }).env;
}

describe("promptgate weights", () => {
  const env = workspace();
  beforeAll(async () => {
    for (const args of [
      ["push"],
      ["promote", "summarization", "1.0.0", "--to", "staging", "--approved-by", "a"],
      ["promote", "summarization", "1.0.0", "--to", "prod", "--approved-by", "a"],
    ]) {
      const run = await cli(args, env);
      expect([run.code, run.stderr]).toEqual([0, ""]);
    }
  });

  it("shows, sets, refuses, clears, and records each change in the history", async () => {
    const empty = await cli(["weights", "summarization", "--env", "prod"], env);
    expect([empty.code, empty.stderr]).toEqual([0, ""]);
    expect(empty.stdout).toMatch(/^VERSION\s+WEIGHT\s+BUCKETS\s+SHARE$/m);
    expect(empty.stdout).toMatch(/^1\.0\.0 \(label\)\s+-\s+10000\s+100%$/m);
    expect(empty.stdout).toContain("every request gets the label's version 1.0.0");

    const set = await cli(
      ["weights", "summarization", "--env", "prod", "--set", "1.0.0=90,1.1.0=10", "--actor", "sre-alice"],
      env,
    );
    expect([set.code, set.stderr]).toEqual([0, ""]);
    expect(set.stdout).toMatch(/^summarization: prod weights set by sre-alice$/m);
    expect(set.stdout).toMatch(/^1\.0\.0 \(label\)\s+90\s+9000\s+90%$/m);
    expect(set.stdout).toMatch(/^1\.1\.0\s+10\s+1000\s+10%$/m);
    expect(set.stdout).toMatch(/10% of them get 1\.1\.0; anonymous requests always get the label's version 1\.0\.0/);

    const json = await cli(["weights", "summarization", "--env", "prod", "--json"], env);
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout) as WeightsView;
    expect(shown).toMatchObject({
      name: "summarization",
      env: "prod",
      stable: "1.0.0",
      raw: { "1.0.0": "90", "1.1.0": "10" },
    });
    expect(shown.shares.map((s) => [s.version, s.weight, s.buckets, s.percent])).toEqual([
      ["1.0.0", 90, 9000, 90],
      ["1.1.0", 10, 1000, 10],
    ]);

    const unknown = await cli(["weights", "summarization", "--env", "prod", "--set", "1.0.0=90,9.9.9=10"], env);
    expect([unknown.code, unknown.stdout]).toEqual([1, ""]);
    expect(unknown.stderr).toMatch(
      /^promptgate weights: refused weights for summarization on prod: version "9\.9\.9" is not registered/,
    );
    const negative = await cli(["weights", "summarization", "--env", "prod", "--set", "1.0.0=90,1.1.0=-5"], env);
    expect([negative.code, negative.stderr]).toEqual([
      1,
      'promptgate weights: refused weights for summarization on prod: weight "-5" for 1.1.0 is negative\n',
    ]);
    const leftOut = await cli(["weights", "summarization", "--env", "prod", "--set", "1.1.0=10"], env);
    expect([leftOut.code, leftOut.stderr]).toEqual([
      1,
      expect.stringMatching(/stable version 1\.0\.0 is not in the hash/),
    ]);
    const noLabel = await cli(["weights", "summarization", "--env", "dev", "--set", "1.0.0=1"], env);
    expect([noLabel.code, noLabel.stderr]).toEqual([1, expect.stringMatching(/no dev label/)]);
    const ghost = await cli(["weights", "ghost", "--env", "prod"], env);
    expect([ghost.code, ghost.stderr]).toEqual([1, 'promptgate weights: unknown prompt "ghost": push it first\n']);
    // Still what was set before the refusals.
    expect(
      (JSON.parse((await cli(["weights", "summarization", "--env", "prod", "--json"], env)).stdout) as WeightsView).raw,
    ).toEqual({ "1.0.0": "90", "1.1.0": "10" });

    const cleared = await cli(["weights", "summarization", "--env", "prod", "--clear", "--json"], env);
    expect(cleared.code).toBe(0);
    expect(JSON.parse(cleared.stdout)).toMatchObject({
      changed: true,
      raw: {},
      previous: { "1.0.0": "90", "1.1.0": "10" },
      actor: "tester",
      shares: [{ version: "1.0.0", buckets: 10000, percent: 100 }],
    });

    const history = await cli(["history", "summarization", "--json"], env);
    const entries = (
      JSON.parse(history.stdout) as {
        entries: { action: string; actor: string; env?: string; from?: string; to?: string }[];
      }
    ).entries.filter((e) => e.action === "weights");
    expect(entries.map((e) => [e.actor, e.env, e.from, e.to])).toEqual([
      ["sre-alice", "prod", "{}", '{"1.0.0":"90","1.1.0":"10"}'],
      ["tester", "prod", '{"1.0.0":"90","1.1.0":"10"}', "{}"],
    ]);
    const table = await cli(["history", "summarization"], env);
    expect(table.stdout).toMatch(/sre-alice\s+weights\s+prod\s+\{\}\s+\{"1\.0\.0":"90","1\.1\.0":"10"\}/);
  });

  it("treats a malformed --set, --set with --clear, and a missing --env as usage errors (exit 2)", async () => {
    for (const args of [
      ["--set", "1.0.0=ninety"],
      ["--set", "1.0.0=1.5"],
      ["--set", "1.0.0"],
      ["--set", "1.0.0=90,1.0.0=10"],
      ["--set", ""],
      ["--set", "1.0.0=90", "--clear"],
    ]) {
      const run = await cli(["weights", "summarization", "--env", "prod", ...args], env);
      expect([run.code, run.stdout, run.stderr]).toEqual([
        2,
        "",
        expect.stringMatching(/^promptgate weights: .*\(see 'promptgate weights --help'\)\n$/),
      ]);
    }
    expect((await cli(["weights", "summarization"], env)).stderr).toMatch(/--env is required/);
    expect((await cli(["weights", "summarization", "--env", "qa"], env)).code).toBe(2);
    const help = await cli(["weights", "--help"], env);
    expect([help.code, help.stdout]).toEqual([
      0,
      expect.stringMatching(/^Usage: promptgate weights <name> --env <env>/),
    ]);
  });
});
