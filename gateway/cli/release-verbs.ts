// CLI verbs that move environment labels: promote and rollback (the registry enforces the rules).
import { access } from "node:fs/promises";
import { loadSuite, suitePath } from "../evals/suite.ts";
import { actorArg, environmentArg } from "./args.ts";
import { emit } from "./output.ts";
import type { Verb } from "./verb.ts";

export const promote: Verb = {
  name: "promote",
  summary: "point an environment label at a version",
  usage: "<name> <version> --to <env> --approved-by <who> [--force]",
  details:
    "Moves the label of <env> (dev, staging or prod) to <version> and records who approved it. A version\n" +
    "goes to prod only after it has been on staging. A prompt with an evaluation suite\n" +
    "($CONFIG_DIR/evals/<name>.yaml, or one evaluated before) goes to staging or prod only with a passing\n" +
    "eval record for that exact version on the suite as the file is now (see 'promptgate eval'): an edited\n" +
    "suite needs a new run. --force gets past both rules; the history records which it bypassed.",
  positionals: { min: 2, max: 2 },
  options: {
    to: { type: "string", placeholder: "<env>", description: "the environment: dev, staging or prod" },
    "approved-by": { type: "string", placeholder: "<who>", description: "who approved the promotion (recorded)" },
    force: {
      type: "boolean",
      description: "promote without the version having been on staging or passed its evaluation (audited)",
    },
  },
  json: true,
  async run({ args, out, context }) {
    const [name, version] = [args.positional(0), args.positional(1)];
    const env = environmentArg(args.required("to"), "to");
    const approvedBy = args.required("approved-by");
    const { registry, settings } = await context();
    // A suite file on disk gates the prompt even before its first recorded run, and its hash as it is now
    // decides which eval records count: an edited suite needs a new run.
    const suiteFile = suitePath(settings.configDir, name);
    const hasSuite = await access(suiteFile).then(
      () => true,
      () => false,
    );
    let suite: { hash: string | null } | undefined;
    if (hasSuite) {
      try {
        suite = { hash: loadSuite(suiteFile).hash };
      } catch (err) {
        // A suite that does not load cannot be checked; --force still records what it bypassed.
        if (!args.flag("force")) throw err;
        suite = { hash: null };
      }
    }
    const result = await registry.promote(name, version, env, {
      approvedBy,
      force: args.flag("force"),
      ...(suite === undefined ? {} : { suite }),
    });
    emit(out, { name, env, approved_by: approvedBy, ...result }, () => {
      if (!result.changed) return `${name}: ${env} already points at ${version}; nothing changed\n`;
      const past = (result.forcedPast ?? []).map((gate) => (gate === "eval" ? "the eval gate" : "the staging gate"));
      const forced = result.forced ? `, forced past ${past.join(" and ")}` : "";
      return `${name}: ${env} ${result.from ?? "(none)"} -> ${result.to}, approved by ${approvedBy}${forced}\n`;
    });
  },
};

export const rollback: Verb = {
  name: "rollback",
  summary: "move an environment label back to the version it pointed at before",
  usage: "<name> --env <env> [--actor <who>]",
  details: "Moves the label of <env> back one step; repeated rollbacks walk further back through its history.",
  positionals: { min: 1, max: 1 },
  options: {
    env: { type: "string", placeholder: "<env>", description: "the environment: dev, staging or prod" },
    actor: {
      type: "string",
      placeholder: "<who>",
      description: 'recorded in the audit history (default: $USER, else "cli")',
    },
  },
  json: true,
  async run({ args, env: processEnv, out, context }) {
    const name = args.positional(0);
    const env = environmentArg(args.required("env"), "env");
    const actor = actorArg(args, processEnv);
    const { registry } = await context();
    const result = await registry.rollback(name, env, { actor });
    emit(
      out,
      { name, env, actor, ...result },
      () => `${name}: ${env} rolled back ${result.from} -> ${result.to} by ${actor}\n`,
    );
  },
};
