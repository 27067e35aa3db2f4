// What a CLI verb is: its usage, options and positional arguments as data (so --help, parsing and
// the verb list come from one place), and the function that runs it.
import type { Args } from "./args.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly description: string;
  /** Shown after a string option in --help, e.g. `<env>`. */
  readonly placeholder?: string;
}

export interface Invocation {
  readonly args: Args;
  readonly env: NodeJS.ProcessEnv;
  readonly out: Output;
  /** Opens the store and the registry on first call (REDIS_URL, else STATE_PATH); closed after the verb. */
  readonly context: () => Promise<CliContext>;
  /** Progress for people (never parsed): stderr. */
  readonly stderr: (text: string) => void;
  /** True when stderr is a terminal (a progress bar may redraw it); false for pipes, files and tests. */
  readonly stderrIsTTY: boolean;
}

export interface Verb {
  readonly name: string;
  /** One line for `promptgate --help`. */
  readonly summary: string;
  /** Everything after `promptgate <verb>` on the usage line. */
  readonly usage: string;
  /** Help paragraphs between the usage line and the options. */
  readonly details: string;
  readonly positionals: { readonly min: number; readonly max: number };
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** False for verbs that print nothing a script would parse (serve): no --json. */
  readonly json: boolean;
  /** The exit code of a failed operation (default 1); `eval` uses 3: the run could not be completed. */
  readonly failureCode?: number;
  /** Resolves to the exit code, or to nothing for 0. */
  run(inv: Invocation): Promise<void | number>;
}

/** The text `promptgate <verb> --help` prints. */
export function helpText(verb: Verb): string {
  const rows: [string, string][] = Object.entries(verb.options).map(([name, o]) => [
    `--${name}${o.type === "string" ? ` ${o.placeholder ?? "<value>"}` : ""}`,
    o.description,
  ]);
  if (verb.json) rows.push(["--json", "print JSON for scripts instead of tables"]);
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  const options = rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join("\n");
  return `Usage: promptgate ${verb.name}${verb.usage === "" ? "" : ` ${verb.usage}`}\n\n${verb.details}\n\nOptions:\n${options}\n`;
}
