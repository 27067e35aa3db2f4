// `promptgate rollout`: starts, watches and steers canary rollouts (rollouts/rollout-service.ts). The records it writes
// are carried out by the controller (`promptgate controller`), which moves the weights step by step.
import { defaultActor } from "./context.ts";
import { environmentArg, UsageError, type Args } from "./args.ts";
import { emit } from "./output.ts";
import { canaryWeight, describeRollout, evaluationTable, rolloutTable, stepText } from "./rollout-text.ts";
import type { Verb } from "./verb.ts";
import { RegistryError } from "../registry/registry-error.ts";
import type { RolloutCommand } from "../rollouts/machine.ts";
import type { RolloutRecord } from "../rollouts/record.ts";
import type { StartRollout } from "../rollouts/rollout-service.ts";
import { formatDuration, parseDuration } from "../support/duration.ts";

const SUBCOMMANDS = ["start", "status", "pause", "resume", "abort", "promote", "list"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** The arguments each subcommand takes after its name, and the options it accepts. */
const SHAPES: Readonly<Record<Subcommand, { readonly args: readonly string[]; readonly options: readonly string[] }>> =
  {
    start: { args: ["<name>", "<version>"], options: ["env", "steps", "hold", "min-users", "max-duration", "by"] },
    status: { args: ["<name>"], options: ["env", "evaluations"] },
    pause: { args: ["<name>"], options: ["env", "by"] },
    resume: { args: ["<name>"], options: ["env", "by"] },
    abort: { args: ["<name>"], options: ["env", "by"] },
    promote: { args: ["<name>"], options: ["env", "by"] },
    list: { args: [], options: ["env", "all"] },
  };

const OPTIONS = ["env", "steps", "hold", "min-users", "max-duration", "by", "all", "evaluations"] as const;
const FLAGS: ReadonlySet<string> = new Set(["all", "evaluations"]);

const DONE: Readonly<Record<RolloutCommand, string>> = {
  pause: "paused",
  resume: "resumed",
  abort: "aborted",
  promote: "promoted",
};

/** What each command leaves the controller to do, for the line printed after it. */
const NEXT: Readonly<Record<RolloutCommand, string>> = {
  pause: "the weights stay as they are until it is resumed or aborted",
  resume: "the controller writes the step's weights again and starts the step afresh",
  abort: "the controller sets the canary's weight to 0 (the label is untouched), then the rollout ends aborted",
  promote: "the controller moves the label to the canary and clears the weights, skipping the remaining steps",
};

function subcommandOf(args: Args): Subcommand {
  const sub = args.positional(0);
  const found = SUBCOMMANDS.find((s) => s === sub);
  if (found === undefined) throw new UsageError(`unknown subcommand "${sub}": use one of ${SUBCOMMANDS.join(", ")}`);
  const shape = SHAPES[found];
  const given = args.positionals.length - 1;
  if (given !== shape.args.length) {
    const usage = `rollout ${found}${shape.args.map((a) => ` ${a}`).join("")}`;
    throw new UsageError(
      given < shape.args.length ? `missing arguments: expected ${usage}` : `unexpected arguments: expected ${usage}`,
    );
  }
  for (const option of OPTIONS) {
    const used = FLAGS.has(option) ? args.flag(option) : args.string(option) !== undefined;
    if (used && !shape.options.includes(option)) {
      throw new UsageError(`--${option} does not apply to rollout ${found}`);
    }
  }
  return found;
}

/** `--steps 5,25,50,100`: whole percentages; the service checks that they increase and stay within 1..100. */
export function parseSteps(text: string): number[] {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.some((p) => !/^[0-9]+$/.test(p)))
    throw new UsageError(`--steps expects comma-separated whole percentages such as 5,25,50,100, got "${text}"`);
  return parts.map(Number);
}

function durationArg(args: Args, option: string): number | undefined {
  const text = args.string(option);
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null) throw new UsageError(`--${option} expects a duration such as 90s, 30m, 2h or 1d, got "${text}"`);
  return ms;
}

function minUsersArg(args: Args): number | undefined {
  const text = args.string("min-users");
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text.trim())) throw new UsageError(`--min-users expects a whole number, got "${text}"`);
  return Number(text);
}

function byArg(args: Args, env: NodeJS.ProcessEnv): string {
  const by = args.string("by");
  if (by === undefined) return defaultActor(env);
  if (by.trim() === "") throw new UsageError("--by must not be empty");
  return by;
}

function startInput(args: Args, env: NodeJS.ProcessEnv): StartRollout {
  const steps = args.string("steps");
  const holdMs = durationArg(args, "hold");
  const maxDurationMs = durationArg(args, "max-duration");
  const minUsers = minUsersArg(args);
  return {
    name: args.positional(1),
    version: args.positional(2),
    env: environmentArg(args.required("env"), "env"),
    by: byArg(args, env),
    ...(steps === undefined ? {} : { steps: parseSteps(steps) }),
    ...(holdMs === undefined ? {} : { holdMs }),
    ...(minUsers === undefined ? {} : { minUsers }),
    ...(maxDurationMs === undefined ? {} : { maxDurationMs }),
  };
}

function started(r: RolloutRecord): string {
  return (
    `${r.prompt}: rollout ${r.id} of ${r.canary_version} started on ${r.env} by ${r.created_by}, ` +
    `against ${r.stable_version}\n` +
    `  steps ${r.steps.join(",")}, hold ${formatDuration(r.hold_ms)}, min users ${r.min_users} on each side, ` +
    `max duration ${formatDuration(r.max_duration_ms)}\n` +
    `pending: the controller (promptgate controller) starts it at ${r.steps[0]}% on its next look\n` +
    `watch it: promptgate rollout status ${r.prompt} --env ${r.env}\n`
  );
}

function commanded(r: RolloutRecord, command: RolloutCommand, by: string): string {
  return (
    `${r.prompt} on ${r.env}: ${DONE[command]} by ${by}; now ${stepText(r)}, canary weight ${canaryWeight(r)}\n` +
    `  ${r.reason}\n` +
    `  ${NEXT[command]}\n`
  );
}

export const rollout: Verb = {
  name: "rollout",
  summary: "start, watch, pause, resume, abort or promote a canary rollout",
  usage: "start|status|pause|resume|abort|promote|list [<name>] [<version>] [options]",
  details: `  promptgate rollout start <name> <version> --env <env> [--steps 5,25,50,100] [--hold 30m]
                          [--min-users N] [--max-duration 24h] [--by <who>]
  promptgate rollout status <name> --env <env> [--evaluations]
  promptgate rollout pause|resume|abort|promote <name> --env <env> [--by <who>]
  promptgate rollout list [--env <env>] [--all]

A rollout moves <env> traffic from the label's version to <version> in steps (default 5, 25, 50,
100 percent). At each step the controller ('promptgate controller') holds for --hold (default 30m)
and until both sides have --min-users users (default 100), comparing canary with stable on the
step's traffic (error rate, p95 latency, cost per request, quality); it rolls back as soon as a
guardrail fails, and promotes the label at the last step. --max-duration (default 24h) bounds the
whole rollout. Durations: 90s, 30m, 2h, 1d. One rollout at a time per prompt and environment.

  start     records a pending rollout; the controller takes it from there. Refused when the
            promotion it ends in would be refused now ('promptgate promote' rules: prod takes a
            version only after staging; a prompt with a suite needs a passing eval of it)
  status    the state, step i of n, the canary weight, the last evaluation's guardrails and why,
            and every transition; --evaluations: every evaluation the rollout made (the
            record keeps its state changes and last 50 holds, the log all of them)
  pause     stops stepping (the weights stay as they are); resume starts the step afresh
  abort     rolls back: canary weight 0, the label untouched
  promote   skips the remaining steps: the label moves to the canary, the weights are cleared
  list      the active rollouts (--all: the last one of every prompt and environment)

Every start and command is recorded in the prompt's history ('promptgate history <name>').`,
  positionals: { min: 1, max: 3 },
  options: {
    env: { type: "string", placeholder: "<env>", description: "the environment: dev, staging or prod" },
    steps: { type: "string", placeholder: "<p,p,...>", description: "start: canary percentages (default 5,25,50,100)" },
    hold: { type: "string", placeholder: "<duration>", description: "start: least time on each step (default 30m)" },
    "min-users": {
      type: "string",
      placeholder: "<n>",
      description: "start: users each side needs on a step before it advances (default 100)",
    },
    "max-duration": {
      type: "string",
      placeholder: "<duration>",
      description: "start: the longest the whole rollout may take (default 24h)",
    },
    by: {
      type: "string",
      placeholder: "<who>",
      description: 'recorded in the rollout and the audit history (default: $USER, else "cli")',
    },
    all: { type: "boolean", description: "list: finished rollouts too" },
    evaluations: { type: "boolean", description: "status: every evaluation of the rollout, oldest first" },
  },
  json: true,
  async run({ args, env: processEnv, out, context }) {
    const sub = subcommandOf(args);
    // Everything typed is checked before the store is opened: a usage error exits 2 without I/O.
    const input = sub === "start" ? startInput(args, processEnv) : null;
    const env = sub === "list" ? args.string("env") : args.required("env");
    if (env !== undefined) environmentArg(env, "env");
    const by = byArg(args, processEnv);
    const name = args.positional(1);

    const { createRolloutService } = await import("../rollouts/rollout-service.ts");
    const { rolloutView } = await import("../rollouts/machine.ts");
    const ctx = await context();
    const service = createRolloutService({ store: ctx.store, registry: ctx.registry, clock: ctx.clock });
    switch (sub) {
      case "start": {
        const r = await service.start(input!);
        emit(out, rolloutView(r), () => started(r));
        return;
      }
      case "status": {
        if (args.flag("evaluations")) {
          const log = await service.evaluations(name, env!);
          emit(out, { rollout: log.rollout.id, evaluations: log.evaluations }, () =>
            evaluationTable(log.rollout, log.evaluations),
          );
          return;
        }
        const r = await service.get(name, env!);
        if (r === null) {
          throw new RegistryError(
            "not_found",
            `${name} has no rollout on ${env} (start one with 'promptgate rollout start')`,
          );
        }
        const view = rolloutView(r);
        emit(out, view, () => describeRollout(view));
        return;
      }
      case "list": {
        const rollouts = await service.list({
          ...(env === undefined ? {} : { env }),
          active: !args.flag("all"),
        });
        emit(out, { rollouts }, () =>
          rollouts.length === 0
            ? `no ${args.flag("all") ? "" : "active "}rollouts${env === undefined ? "" : ` on ${env}`}` +
              `${args.flag("all") ? "" : " (--all shows finished ones too)"}\n`
            : rolloutTable(rollouts),
        );
        return;
      }
      case "pause":
      case "resume":
      case "abort":
      case "promote": {
        const r = await service.command(name, env!, sub, by);
        emit(out, rolloutView(r), () => commanded(r, sub, by));
        return;
      }
    }
  },
};
