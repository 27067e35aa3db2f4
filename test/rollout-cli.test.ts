// `promptgate rollout` as a real process on the embedded store: start, status (with the last evaluation's guardrails
// and the transitions), list, pause, resume, abort and promote, the refusals (exit 1), the mistyped command lines
// (exit 2, before any I/O), and the audit history and the rollout history they leave.
import { beforeAll, describe, expect, it } from "vitest";
import { appendEvaluations, readRollout, updateRollout } from "../gateway/rollouts/rollout-records.ts";
import { reconcile } from "../gateway/rollouts/machine.ts";
import type { Evaluation, RolloutRecord } from "../gateway/rollouts/record.ts";
import type { ArmObservation } from "../gateway/rollouts/guardrails.ts";
import { loadSettings } from "../gateway/config/settings.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { cli, cliWorkspace } from "./support/cli.ts";
import { DESIGN_EXAMPLE, EARLIER_EXAMPLE } from "./support/prompt-fixtures.ts";

const P = "summarization";

function workspace(): Record<string, string> {
  return cliWorkspace({
    [`config/prompts/${P}/1.0.0.yaml`]: EARLIER_EXAMPLE,
    [`config/prompts/${P}/1.1.0.yaml`]: DESIGN_EXAMPLE,
    [`config/prompts/${P}/1.2.0.yaml`]: DESIGN_EXAMPLE.replace("version: 1.1.0", "version: 1.2.0"),
  }).env;
}

const arm = (users: number, errors: number): ArmObservation => ({
  users,
  requests: users,
  errors,
  latency: null,
  cost: null,
  quality: { n: 0, sum: 0, sumSq: 0 },
});

/** What the controller does on its first two looks: start the step, then evaluate its traffic (hold), logging each. */
async function controllerLooks(env: Record<string, string>): Promise<RolloutRecord> {
  const { statePath, redisPrefix } = loadSettings(env);
  const store = createSqliteStore({ path: statePath, prefix: redisPrefix, logger: silentLogger });
  try {
    const first = (await readRollout(store, "prod", P))!;
    const started = reconcile(first.record!, { label: "1.0.0", weights: {}, step: null }, Date.now());
    expect(await updateRollout(store, first.raw, started.record)).toBe(true);
    await appendEvaluations(store, first.record!, started.record);
    const weights = { "1.0.0": "90", "1.1.0": "10" };
    const step = { stable: arm(400, 4), canary: arm(60, 1) };
    const looked = reconcile(started.record, { label: "1.0.0", weights, step }, Date.now() + 60_000);
    expect(await updateRollout(store, JSON.stringify(started.record), looked.record)).toBe(true);
    await appendEvaluations(store, started.record, looked.record);
    return looked.record;
  } finally {
    await store.close();
  }
}

describe("promptgate rollout", () => {
  const env = workspace();
  const run = (...args: string[]) => cli(["rollout", ...args], env);
  beforeAll(async () => {
    for (const args of [
      ["push"],
      ["promote", P, "1.0.0", "--to", "staging", "--approved-by", "a"],
      ["promote", P, "1.0.0", "--to", "prod", "--approved-by", "a"],
    ]) {
      const done = await cli(args, env);
      expect([done.code, done.stderr]).toEqual([0, ""]);
    }
  });

  it("has --help, and is listed among the verbs", async () => {
    const help = await run("--help");
    expect([help.code, help.stderr]).toEqual([0, ""]);
    expect(help.stdout).toMatch(/^Usage: promptgate rollout start\|status\|pause\|resume\|abort\|promote\|list/);
    expect(help.stdout).toContain("promptgate rollout pause|resume|abort|promote <name> --env <env> [--by <who>]");
    expect(help.stdout).toMatch(/--max-duration <duration>/);
    expect(help.stdout).toContain("promptgate rollout status <name> --env <env> [--evaluations]");
    expect((await cli(["--help"], env)).stdout).toMatch(/^ {2}rollout +start, watch, pause/m);
  });

  it("rejects mistyped command lines with exit 2, before opening the store", async () => {
    const cases: [string[], RegExp][] = [
      [[], /missing arguments/],
      [["begin", P], /unknown subcommand "begin": use one of start, status/],
      [["start", P, "--env", "prod"], /missing arguments: expected rollout start <name> <version>/],
      [["status", P, "1.1.0", "--env", "prod"], /unexpected arguments: expected rollout status <name>/],
      [["start", P, "1.1.0"], /--env is required/],
      [["start", P, "1.1.0", "--env", "qa"], /--env must be one of dev, staging, prod, got "qa"/],
      [["start", P, "1.1.0", "--env", "prod", "--steps", "5,x"], /--steps expects comma-separated whole/],
      [["start", P, "1.1.0", "--env", "prod", "--hold", "30"], /--hold expects a duration such as 90s, 30m/],
      [["start", P, "1.1.0", "--env", "prod", "--max-duration", "1.5h"], /--max-duration expects a duration/],
      [["start", P, "1.1.0", "--env", "prod", "--min-users", "many"], /--min-users expects a whole number/],
      [["start", P, "1.1.0", "--env", "prod", "--by", " "], /--by must not be empty/],
      [["pause", P, "--env", "prod", "--hold", "1h"], /--hold does not apply to rollout pause/],
      [["list", "--all", "--by", "x"], /--by does not apply to rollout list/],
      [["status", P, "--env", "prod", "--all"], /--all does not apply to rollout status/],
      [["pause", P, "--env", "prod", "--evaluations"], /--evaluations does not apply to rollout pause/],
      [["status", P, "--env", "prod", "--nope"], /Unknown option '--nope'/],
    ];
    // A store that cannot be opened: a command line that got as far as opening it would exit 1.
    const noStore = { ...env, STATE_PATH: "/dev/null/state.db" };
    for (const [args, message] of cases) {
      const r = await cli(["rollout", ...args], noStore);
      expect([args, r.code, r.stdout]).toEqual([args, 2, ""]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/\(see 'promptgate rollout --help'\)\n$/);
    }
  });

  it("starts, shows, lists and steers a rollout; refusals exit 1 with one line", async () => {
    const none = await run("status", P, "--env", "prod");
    expect([none.code, none.stderr]).toEqual([
      1,
      `promptgate rollout: ${P} has no rollout on prod (start one with 'promptgate rollout start')\n`,
    ]);
    expect((await run("list")).stdout).toBe("no active rollouts (--all shows finished ones too)\n");

    // The last step is the registry's promote, which takes to prod only versions that have been on staging.
    const early = await run("start", P, "1.1.0", "--env", "prod");
    expect([early.code, early.stdout]).toEqual([1, ""]);
    expect(early.stderr).toBe(
      `promptgate rollout: a rollout of ${P}@1.1.0 would end in a promotion to prod that is refused: ` +
        `${P}@1.1.0 has never been on staging: promote it to staging first, or force the promotion\n`,
    );
    // Both canaries go to staging and back: it remembers them, and its label is 1.0.0 again.
    for (const args of [
      ["promote", P, "1.1.0", "--to", "staging", "--approved-by", "a"],
      ["promote", P, "1.2.0", "--to", "staging", "--approved-by", "a"],
      ["rollback", P, "--env", "staging"],
      ["rollback", P, "--env", "staging"],
    ]) {
      const done = await cli(args, env);
      expect([args, done.code, done.stderr]).toEqual([args, 0, ""]);
    }

    const started = await run("start", P, "1.1.0", "--env", "prod", "--steps", "10,50,100", "--hold", "90s");
    expect([started.code, started.stderr]).toEqual([0, ""]);
    expect(started.stdout).toMatch(
      new RegExp(`^${P}: rollout \\S+ of 1\\.1\\.0 started on prod by tester, against 1\\.0\\.0$`, "m"),
    );
    expect(started.stdout).toContain("steps 10,50,100, hold 90s, min users 100 on each side, max duration 1d");
    expect(started.stdout).toContain(`watch it: promptgate rollout status ${P} --env prod`);

    const refusals: [string[], string][] = [
      [["start", P, "1.2.0", "--env", "prod"], "already has an active rollout on prod: 1.1.0 against 1.0.0, pending"],
      [["start", "ghost", "1.0.0", "--env", "prod"], 'unknown prompt "ghost": push it first'],
      [["start", P, "9.0.0", "--env", "staging"], `prompt ${P} has no registered version 9.0.0`],
      [["start", P, "1.1.0", "--env", "dev"], `${P} has no dev label`],
      [["start", P, "1.1.0", "--env", "staging", "--steps", "50,25"], "steps must be 1 to 20 canary percentages"],
      [["start", P, "1.1.0", "--env", "staging", "--hold", "2h", "--max-duration", "3h"], "max_duration 3h is shorter"],
      [["resume", P, "--env", "prod"], "cannot resume a rollout that is pending"],
      [["abort", P, "--env", "staging"], `${P} has no rollout on staging`],
    ];
    for (const [args, message] of refusals) {
      const r = await run(...args);
      expect([args, r.code, r.stdout]).toEqual([args, 1, ""]);
      expect(r.stderr).toContain(message);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }

    await controllerLooks(env);
    const status = await run("status", P, "--env", "prod");
    expect([status.code, status.stderr]).toEqual([0, ""]);
    const text = status.stdout;
    expect(text).toMatch(new RegExp(`^${P} on prod: step 1 of 3 \\(10%\\), canary weight 10%$`, "m"));
    expect(text).toMatch(/^ {2}state +step$/m);
    expect(text).toMatch(/^ {2}versions +stable 1\.0\.0, canary 1\.1\.0$/m);
    expect(text).toMatch(/^ {2}reason +step 1 of 3 \(10%\): holding 1m of 1m 30s; stable 400, canary 60 users/m);
    expect(text).toMatch(/^ {2}commands +pause, abort, promote$/m);
    expect(text).toMatch(
      /^last evaluation at \S+: hold; users stable 400, canary 60; requests stable 400, canary 60$/m,
    );
    expect(text).toMatch(/^METRIC +STATUS +STABLE +CANARY +DIFF +INTERVAL +MARGIN +REASON$/m);
    expect(text).toMatch(
      /^error_rate +(pass|insufficient) +0\.01 +0\.01667 +0\.006667 +\[-?[0-9.e-]+, [0-9.e-]+\] +0\.01 /m,
    );
    for (const metric of ["p95_latency", "cost_per_request", "quality"]) {
      expect(text).toMatch(new RegExp(`^${metric} +insufficient `, "m"));
    }
    expect(text).toMatch(
      /^transitions:\nAT +FROM +TO +STEP +BY +REASON\n\S+ +pending +step +1 +controller +started: 1\.1\.0 at 10%/m,
    );

    const json = await run("status", P, "--env", "prod", "--json");
    const record = JSON.parse(json.stdout) as RolloutRecord;
    expect(record).toMatchObject({
      prompt: P,
      env: "prod",
      state: "step",
      steps: [10, 50, 100],
      hold_ms: 90_000,
      allowed_commands: ["pause", "abort", "promote"],
    });
    expect(record.evaluations.at(-1)?.guardrails.map((g) => g.metric)).toEqual([
      "error_rate",
      "p95_latency",
      "cost_per_request",
      "quality",
    ]);

    // Every evaluation, oldest first: a table, or the log as JSON.
    const log = await run("status", P, "--env", "prod", "--evaluations");
    expect([log.code, log.stderr]).toEqual([0, ""]);
    expect(log.stdout).toMatch(
      new RegExp(`^${P} on prod: rollout ${record.id}, step 1 of 3 \\(10%\\); 2 evaluations$`, "m"),
    );
    expect(log.stdout).toMatch(/^AT +STEP +DECISION +USERS STABLE +USERS CANARY +REASON$/m);
    expect(log.stdout).toMatch(/^\S+ +1 \(10%\) +start +- +- +started: 1\.1\.0 at 10%/m);
    expect(log.stdout).toMatch(/^\S+ +1 \(10%\) +hold +400 +60 +step 1 of 3 \(10%\): holding/m);
    const logJson = JSON.parse((await run("status", P, "--env", "prod", "--evaluations", "--json")).stdout) as {
      rollout: string;
      evaluations: Evaluation[];
    };
    expect(logJson.rollout).toBe(record.id);
    expect(logJson.evaluations.map((e) => e.decision)).toEqual(["start", "hold"]);
    expect(logJson.evaluations).toEqual(record.evaluations);

    const paused = await run("pause", P, "--env", "prod", "--by", "sre-bob");
    expect([paused.code, paused.stderr]).toEqual([0, ""]);
    expect(paused.stdout).toBe(
      `${P} on prod: paused by sre-bob; now paused at step 1 of 3 (10%), canary weight 10%\n` +
        "  paused by sre-bob at step 1 of 3 (10%)\n" +
        "  the weights stay as they are until it is resumed or aborted\n",
    );
    const listed = await run("list", "--env", "prod");
    expect(listed.stdout).toMatch(/^PROMPT +ENV +STATE +STEP +WEIGHT +STABLE +CANARY +STARTED BY +UPDATED$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${P} +prod +paused +1/3 +10% +1\\.0\\.0 +1\\.1\\.0 +tester `, "m"));
    const resumed = await run("resume", P, "--env", "prod", "--json");
    expect((JSON.parse(resumed.stdout) as RolloutRecord).state).toBe("step");
    const aborted = await run("abort", P, "--env", "prod");
    expect(aborted.stdout).toMatch(/aborted by tester; now rolling back, canary weight 0%/);
    expect(aborted.stdout).toContain("the controller sets the canary's weight to 0");

    const again = await run("abort", P, "--env", "prod");
    expect([again.code, again.stderr]).toEqual([
      1,
      expect.stringMatching(/^promptgate rollout: cannot abort a rollout that is rolling_back \(aborted by tester/),
    ]);

    const history = await cli(["history", P, "--json"], env);
    const entries = (JSON.parse(history.stdout) as { entries: { action: string; actor: string }[] }).entries;
    expect(entries.filter((e) => e.action.startsWith("rollout_")).map((e) => [e.action, e.actor])).toEqual([
      ["rollout_started", "tester"],
      ["rollout_paused", "sre-bob"],
      ["rollout_resumed", "tester"],
      ["rollout_aborted", "tester"],
    ]);
  });

  it("lists every environment's rollout as JSON, active ones by default, and promotes", async () => {
    const started = await run("start", P, "1.2.0", "--env", "staging", "--min-users", "20", "--json");
    expect(started.code).toBe(0);
    const record = JSON.parse(started.stdout) as RolloutRecord;
    expect(record).toMatchObject({ env: "staging", canary_version: "1.2.0", min_users: 20, state: "pending" });

    const active = JSON.parse((await run("list", "--json")).stdout) as { rollouts: RolloutRecord[] };
    expect(active.rollouts.map((r) => [r.env, r.state])).toEqual([
      ["staging", "pending"],
      ["prod", "rolling_back"],
    ]);
    const promoted = await run("promote", P, "--env", "staging", "--by", "lead");
    expect(promoted.stdout).toMatch(/promoted by lead; now promoting, canary weight cleared/);
    const staging = JSON.parse((await run("list", "--env", "staging", "--all", "--json")).stdout) as {
      rollouts: RolloutRecord[];
    };
    expect(staging.rollouts.map((r) => [r.id, r.state])).toEqual([[record.id, "promoting"]]);
    expect((await run("list", "--env", "dev")).stdout).toBe(
      "no active rollouts on dev (--all shows finished ones too)\n",
    );
  });
});
