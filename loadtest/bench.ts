// One load run against one target, through autocannon's programmatic API. Throughput comes from
// autocannon's counters; latency at concurrency 1 from every response's own timing, because
// autocannon's histogram keeps whole milliseconds and these latencies are fractions of one.
import autocannon from "autocannon";
import { percentileSorted } from "./stats.ts";

/** The targets of every run, in round-1 order. */
export const TARGETS = ["direct", "bare", "gateway"] as const;
/**
 * With --prompt: the same gateway process as `gateway`, asked for a prompt (X-Prompt-Ref, X-Prompt-Vars,
 * X-User-Id), so the difference between the two is what the prompt features cost.
 */
export const PROMPT_TARGET = "gateway-prompt";
/** With --otel: the gateway with OpenTelemetry span export on, measured against `gateway` (export off). */
export const OTEL_TARGET = "gateway-otel";
export type CoreTargetName = (typeof TARGETS)[number];
export type TargetName = CoreTargetName | typeof PROMPT_TARGET | typeof OTEL_TARGET;

/** The optional targets a run adds (the --prompt and --otel flags). */
export interface ExtraTargets {
  readonly prompt: boolean;
  readonly otel: boolean;
}

/** The targets of a run, in round-1 order: gateway-prompt, then gateway-otel, when measured, right after gateway. */
export function targetNames(extra: ExtraTargets): readonly TargetName[] {
  const names: TargetName[] = [...TARGETS];
  if (extra.prompt) names.push(PROMPT_TARGET);
  if (extra.otel) names.push(OTEL_TARGET);
  return names;
}

export interface Target {
  readonly name: TargetName;
  /** Full URL of the chat completions endpoint. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** What the preflight requires beyond a whole 200 answer; none for most targets. */
  readonly expect?: ExpectedAnswer;
}

/** Proof that a target did the work it is there to measure, which a plain 200 does not show. */
export interface ExpectedAnswer {
  /** Response headers the answer must carry, lower-case name to exact value. */
  readonly headers: Readonly<Record<string, string>>;
  /** Added to any preflight failure of the target: what it needs and what to fix. */
  readonly hint: string;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  /** "samples": exact, from each 2xx response; "histogram": autocannon's whole-millisecond buckets. */
  readonly source: "samples" | "histogram";
}

export interface RunResult {
  readonly target: TargetName;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly non2xx: number;
  /** Connection errors, timeouts included. */
  readonly errors: number;
  readonly timeouts: number;
  readonly latencyMs: LatencySummary;
}

export interface RunSpec {
  readonly target: Target;
  readonly body: string;
  readonly connections: number;
  readonly seconds: number;
  /** Record each response's latency (exact percentiles; costs the load generator a little). */
  readonly sampleLatency: boolean;
}

let current: autocannon.Instance | null = null;
let stopped = false;

/** Stops the run in progress and refuses new ones (SIGINT, watchdog, a crashed server). */
export function stopAllRuns(): void {
  stopped = true;
  current?.stop();
}

export function runLoad(spec: RunSpec): Promise<RunResult> {
  if (stopped) return Promise.reject(new Error("the load test was stopped"));
  const samples: number[] = [];
  return new Promise<RunResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.target.url,
        method: "POST",
        headers: { "content-type": "application/json", ...spec.target.headers },
        body: spec.body,
        connections: spec.connections,
        pipelining: 1,
        duration: spec.seconds,
        timeout: 10,
      },
      (err: unknown, result) => {
        current = null;
        if (err !== null && err !== undefined) {
          reject(err instanceof Error ? err : new Error("autocannon failed", { cause: err }));
          return;
        }
        resolve(summarize(spec, result, samples));
      },
    );
    current = instance;
    if (spec.sampleLatency) {
      instance.on("response", (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) samples.push(ms);
      });
    }
  });
}

function summarize(spec: RunSpec, r: autocannon.Result, samples: number[]): RunResult {
  const requests = r.requests.total;
  return {
    target: spec.target.name,
    connections: spec.connections,
    seconds: r.duration,
    requests,
    rps: r.duration > 0 ? requests / r.duration : 0,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: samples.length > 0 ? fromSamples(samples) : fromHistogram(r.latency),
  };
}

function fromSamples(samples: number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    mean: sum / sorted.length,
    source: "samples",
  };
}

function fromHistogram(h: autocannon.Histogram): LatencySummary {
  return { p50: h.p50, p90: h.p90, p99: h.p99, mean: h.mean, source: "histogram" };
}
