// Every prompt at a glance, for the console's first page (`GET /admin/overview`): its versions, what each
// environment's label points at, the live canary split, the requests, errors and cost of the last window, and its
// latest eval run. Each figure comes from the function the CLI prints it with (listPrompts, getWeights,
// readVersionStats, the eval records).
import { ENVIRONMENTS, type Environment } from "../registry/environments.ts";
import { listPrompts, type Labels } from "../registry/prompt-ops.ts";
import type { Registry } from "../registry/registry.ts";
import { getWeights, type WeightShare } from "../registry/weights-ops.ts";
import type { Store } from "../store/store.ts";
import { formatUsd } from "../telemetry/cost.ts";
import { minuteWindow, readVersionStats } from "./aggregate-stats.ts";

export interface EnvironmentOverview {
  readonly env: Environment;
  /** The label's version; null when the label points nowhere. */
  readonly version: string | null;
  /** The split every replica serves (label's version first); empty without a label. */
  readonly shares: readonly WeightShare[];
  /** Why the stored weights are not applied, if they are not. */
  readonly problems: readonly string[];
  /** Over the window, every version together. */
  readonly requests: number;
  readonly errors: number;
  /** Exact decimal USD of the priced requests. */
  readonly cost_usd: string;
  readonly priced_requests: number;
}

export interface LastEval {
  readonly id: string;
  readonly version: string;
  readonly passed: boolean;
  readonly finished_at: string;
  readonly cases: number;
  readonly suite: string;
}

export interface PromptOverview {
  readonly name: string;
  readonly versions: readonly string[];
  readonly labels: Labels;
  readonly environments: readonly EnvironmentOverview[];
  /** The most recent eval run of any version; null when none was recorded. */
  readonly last_eval: LastEval | null;
}

export interface Overview {
  readonly from: string;
  readonly to: string;
  readonly prompts: readonly PromptOverview[];
}

export async function promptsOverview(
  store: Store,
  registry: Registry,
  windowMs: number,
  now: number,
): Promise<Overview> {
  const { from, to } = minuteWindow(now, windowMs);
  const summaries = await listPrompts(registry);
  const prompts = await Promise.all(
    summaries.map(async (p): Promise<PromptOverview> => {
      const [environments, evals] = await Promise.all([
        Promise.all(
          ENVIRONMENTS.map(async (env): Promise<EnvironmentOverview> => {
            const [weights, stats] = await Promise.all([
              getWeights(store, registry, p.name, env),
              readVersionStats(store, { env, name: p.name, from, to }),
            ]);
            const costPico = stats.reduce((sum, s) => sum + s.costPico, 0n);
            return {
              env,
              version: p.labels[env]?.version ?? null,
              shares: weights.shares,
              problems: weights.problems,
              requests: stats.reduce((sum, s) => sum + s.requests, 0),
              errors: stats.reduce((sum, s) => sum + s.errors, 0),
              cost_usd: formatUsd(costPico),
              priced_requests: stats.reduce((sum, s) => sum + s.priced, 0),
            };
          }),
        ),
        registry.evals(p.name),
      ]);
      const last = evals.at(-1);
      return {
        name: p.name,
        versions: p.versions,
        labels: p.labels,
        environments,
        last_eval:
          last === undefined
            ? null
            : {
                id: last.id,
                version: last.version,
                passed: last.passed,
                finished_at: last.finished_at,
                cases: last.cases,
                suite: last.suite,
              },
      };
    }),
  );
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), prompts };
}
