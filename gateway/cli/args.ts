// Command-line arguments for one verb, parsed strictly with node:util parseArgs: unknown options,
// missing values and wrong argument counts are usage errors (exit 2), reported before any I/O.
import { parseArgs } from "node:util";
import { ENVIRONMENTS, isEnvironment, type Environment } from "../registry/environments.ts";
import { defaultActor } from "./context.ts";
import type { Verb } from "./verb.ts";

/** A mistake in how the command was typed: exit 2, with a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface Args {
  readonly positionals: readonly string[];
  readonly json: boolean;
  /** The i-th positional argument; the verb's `positionals.min` guarantees the required ones. */
  positional(i: number): string;
  string(name: string): string | undefined;
  /** A string option that must be given. */
  required(name: string): string;
  flag(name: string): boolean;
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

export function parseVerbArgs(verb: Verb, argv: readonly string[]): Args {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, o] of Object.entries(verb.options)) options[name] = { type: o.type };
  if (verb.json) options["json"] = { type: "boolean" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (err) {
    // parseArgs explains itself ("Unknown option '--x'", "Option '--to <value>' argument missing"),
    // then adds a long hint about '--' that does not help here.
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(message.split(/\. To specify|\n/)[0] ?? message);
  }
  const { values, positionals } = parsed;
  if (positionals.length < verb.positionals.min) throw new UsageError(`missing arguments: expected ${verb.usage}`);
  if (positionals.length > verb.positionals.max) {
    throw new UsageError(
      `unexpected argument "${positionals[verb.positionals.max] ?? ""}": expected ${verb.usage || "no arguments"}`,
    );
  }
  const string = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === "string" ? v : undefined;
  };
  return {
    positionals,
    json: values["json"] === true,
    positional: (i) => positionals[i] ?? "",
    string,
    required(name) {
      const v = string(name);
      if (v === undefined || v.trim() === "") throw new UsageError(`--${name} is required`);
      return v;
    },
    flag: (name) => values[name] === true,
  };
}

/**
 * Runs a check of an option's value that lives with the operation (a duration, say), reporting its
 * refusal as a usage error: `prefix` + its message. The value is wrong whatever the store holds.
 */
export function asUsageError<T>(check: () => T, prefix = ""): T {
  try {
    return check();
  } catch (err) {
    throw new UsageError(prefix + (err instanceof Error ? err.message : String(err)));
  }
}

/** `--actor <who>`, recorded in the history: $USER (else "cli") when not given, never empty. */
export function actorArg(args: Args, env: NodeJS.ProcessEnv): string {
  const actor = args.string("actor");
  if (actor === undefined) return defaultActor(env);
  if (actor.trim() === "") throw new UsageError("--actor must not be empty");
  return actor;
}

/** An environment named on the command line; anything else is a usage error. */
export function environmentArg(value: string, option: string): Environment {
  if (!isEnvironment(value))
    throw new UsageError(`--${option} must be one of ${ENVIRONMENTS.join(", ")}, got "${value}"`);
  return value;
}

/** `--vars '{"text": "..."}'`: a JSON object of template variables. */
export function varsArg(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new UsageError(`--vars is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new UsageError("--vars must be a JSON object of template variables");
  return parsed as Record<string, unknown>;
}
