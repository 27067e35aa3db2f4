// compare.ts's options and its one statistic, kept apart from the script so that they can be tested.
import { resolve } from "node:path";
import type { ScenarioName } from "./options.ts";
import { median } from "./stats.ts";

export interface Build {
  readonly name: string;
  readonly dir: string;
  readonly nodeArgs: readonly string[];
}

export interface CompareOptions {
  readonly rounds: number;
  readonly seconds: number;
  readonly connections: number;
  readonly scenario: ScenarioName;
  readonly prompt: boolean;
  readonly builds: readonly Build[];
}

export const USAGE =
  "usage: npx node loadtest/compare.ts [--rounds N] [--duration S] [--connections N] [--stream] [--plain] name=DIR[+NODE_FLAG...] name=DIR...";

export function parseCompareArgs(argv: readonly string[]): CompareOptions {
  let rounds = 8;
  let seconds = 4;
  let connections = 50;
  let scenario: ScenarioName = "nonstream";
  let prompt = true;
  const builds: Build[] = [];
  const positive = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a whole number above 0\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--rounds") rounds = positive(a, argv[++i]);
    else if (a === "--duration") seconds = positive(a, argv[++i]);
    else if (a === "--connections") connections = positive(a, argv[++i]);
    else if (a === "--stream") scenario = "stream";
    else if (a === "--plain") prompt = false;
    else if (/^[A-Za-z0-9_.-]+=./.test(a)) {
      const eq = a.indexOf("=");
      const [dir = "", ...nodeArgs] = a.slice(eq + 1).split("+");
      builds.push({ name: a.slice(0, eq), dir: resolve(dir), nodeArgs });
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (builds.length < 2) throw new Error(`name at least two builds\n${USAGE}`);
  if (new Set(builds.map((b) => b.name)).size !== builds.length) throw new Error("each build needs its own name");
  return { rounds, seconds, connections, scenario, prompt, builds };
}

export interface Round {
  readonly rps: number;
  readonly cpuUs: number | null;
}

/**
 * The median over rounds of one build's figure divided by the first build's in the same round. Builds
 * that run next to each other share the machine's drift, which cancels out of these ratios; null when
 * no round has both figures.
 */
export function pairedMedian(
  rounds: readonly Round[],
  first: readonly Round[],
  pick: (r: Round) => number | null,
): number | null {
  const ratios = rounds.flatMap((r, i) => {
    const a = pick(r);
    const f = first[i];
    const b = f === undefined ? null : pick(f);
    return a === null || b === null || b === 0 ? [] : [a / b];
  });
  return ratios.length > 0 ? median(ratios) : null;
}
