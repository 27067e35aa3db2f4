// `promptgate weights`: shows and sets a label's canary weights (the public `weights:{env}:{name}` hash),
// refusing whatever the gateway would ignore, so what is written is what every replica serves.
import { actorArg, environmentArg, UsageError } from "./args.ts";
import type { Args } from "./args.ts";
import { emit, table } from "./output.ts";
import type { Verb } from "./verb.ts";
import type { WeightsView } from "../registry/weights-ops.ts";

const ENTRY = /^([^=\s]+)=(-?[0-9]+)$/u;

/** `--set 1.0.0=90,1.1.0=10` -> { "1.0.0": 90, "1.1.0": 10 }; anything else is a usage error. */
export function parseSetArg(value: string): Record<string, number> {
  const weights: Record<string, number> = {};
  const parts = value.split(",").map((p) => p.trim());
  if (parts.every((p) => p === ""))
    throw new UsageError(
      "--set needs version=weight pairs, e.g. --set 1.0.0=90,1.1.0=10 (use --clear to stop the canary)",
    );
  for (const part of parts) {
    const match = ENTRY.exec(part);
    if (match === null)
      throw new UsageError(`--set: "${part}" is not version=weight with an integer weight, e.g. 1.1.0=10`);
    const [, version = "", weight = ""] = match;
    if (version in weights) throw new UsageError(`--set: version ${version} is given twice`);
    weights[version] = Number(weight);
  }
  return weights;
}

function change(args: Args): Record<string, number> | null {
  const set = args.string("set");
  const clear = args.flag("clear");
  if (set !== undefined && clear) throw new UsageError("--set and --clear cannot be used together");
  if (clear) return {};
  return set === undefined ? null : parseSetArg(set);
}

const percent = (p: number): string => `${Number.isInteger(p) ? p : p.toFixed(2)}%`;

/** The split as a table, and who gets what. */
export function describeSplit(v: WeightsView): string {
  if (v.stable === null)
    return `${v.name}: no ${v.env} label, so no traffic is served on ${v.env}; promote a version to ${v.env} first\n`;
  const lines = [
    `${v.name} on ${v.env}: label ${v.stable}, ${
      Object.keys(v.raw).length === 0
        ? "no canary weights (100% to the label)"
        : `weights ${Object.entries(v.raw)
            .map(([k, w]) => `${k}=${w}`)
            .join(",")}`
    }`,
  ];
  for (const p of v.problems) lines.push(`warning: ignored by the gateway (it keeps its last good split): ${p}`);
  for (const n of v.notes) lines.push(`note: ${n}`);
  const body = table(
    ["version", "weight", "buckets", "share"],
    v.shares.map((s) => [
      s.version === v.stable ? `${s.version} (label)` : s.version,
      s.weight,
      s.buckets,
      percent(s.percent),
    ]),
  );
  const canaries = v.shares.filter((s) => s.version !== v.stable && s.buckets > 0);
  const who =
    canaries.length === 0
      ? `every request gets the label's version ${v.stable}`
      : `identified users (X-User-Id, else the body's "user") are hashed to 10000 sticky buckets: ` +
        canaries.map((s) => `${percent(s.percent)} of them get ${s.version}`).join(", ") +
        `; anonymous requests always get the label's version ${v.stable}`;
  return `${lines.join("\n")}\n${body}${who}\n`;
}

export const weights: Verb = {
  name: "weights",
  summary: "show or set a label's canary weights (who gets which version)",
  usage: "<name> --env <env> [--set <version>=<weight>,...] [--clear] [--actor <who>]",
  details:
    "Without --set, shows the split of <env>: each version's weight, its buckets of 10000 and its share of\n" +
    "identified users. --set replaces the weights (integers, shares of their sum; include the label's\n" +
    "version, e.g. --set 1.0.0=90,1.1.0=10), --clear stops the canary (100% to the label's version). Weights\n" +
    "the gateway would ignore (an unregistered version, a negative weight, the label's version left out)\n" +
    "are refused with every reason. Every replica applies a change within 1 second; it is recorded in the\n" +
    "history. This writes the same hash as `redis-cli HSET {REDIS_PREFIX}weights:<env>:<name> ...`.",
  positionals: { min: 1, max: 1 },
  options: {
    env: { type: "string", placeholder: "<env>", description: "the environment: dev, staging or prod" },
    set: { type: "string", placeholder: "<v=w,...>", description: "replace the weights, e.g. 1.0.0=90,1.1.0=10" },
    clear: { type: "boolean", description: "remove the weights: 100% to the label's version" },
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
    const next = change(args);
    const actor = actorArg(args, processEnv);
    const { getWeights, setWeights } = await import("../registry/weights-ops.ts");
    const ctx = await context();
    if (next === null) {
      const shown = await getWeights(ctx.store, ctx.registry, name, env);
      emit(out, shown, () => describeSplit(shown));
      return;
    }
    const result = await setWeights(ctx.store, ctx.registry, ctx.clock, name, env, next, actor);
    emit(out, { ...result, actor }, () => {
      const head = result.changed
        ? `${name}: ${env} weights set by ${actor}`
        : `${name}: ${env} already has these weights; nothing changed`;
      return `${head}\n${describeSplit(result)}`;
    });
  },
};
