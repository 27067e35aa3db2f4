// Turns a scenario's raw runs into the figures the team reports (medians of interleaved rounds, the
// gateway/bare ratios, with --prompt the gateway-prompt/bare one and gateway-prompt/gateway as info, with
// --otel the gateway-otel/gateway one, and their verdicts) and renders them as markdown.
import { OTEL_TARGET, PROMPT_TARGET, TARGETS, type CoreTargetName, type RunResult, type TargetName } from "./bench.ts";
import type { ScenarioName } from "./options.ts";
import type { ReceiverStats } from "./otlp-receiver.ts";
import { median, ratio } from "./stats.ts";

/** The targets: throughput at least 0.8x bare's; added p50 latency at most 1.3x bare's. */
export const THROUGHPUT_TARGET = 0.8;
export const ADDED_LATENCY_TARGET = 1.3;
/** With span export on, throughput at least 0.9x the gateway's without: telemetry costs under 10%. */
export const TELEMETRY_THROUGHPUT_TARGET = 0.9;
/**
 * With a prompt on every request, the spine's throughput target still holds within 10%: gateway-prompt
 * req/s at least 0.72x bare's (THROUGHPUT_TARGET * 0.9, rounded to two decimals, since 0.8 * 0.9 is
 * 0.7200000000000001 in floating point and an exact 0.72 would fail it).
 */
export const PROMPT_THROUGHPUT_TARGET = Math.round(THROUGHPUT_TARGET * 0.9 * 100) / 100;

/** A measured run, with the CPU time its server (bare proxy, gateway, or the fake for direct) spent per request. */
export interface MeasuredRun extends RunResult {
  readonly cpuUsPerRequest: number | null;
}

export interface ScenarioRuns {
  readonly scenario: ScenarioName;
  /** Measured runs, one array per round, in the order they ran. */
  readonly throughput: readonly (readonly MeasuredRun[])[];
  readonly latency: readonly (readonly MeasuredRun[])[];
  /** Non-2xx responses and errors seen during warm-ups (not measured, but they still spoil a run). */
  readonly warmupFailures: number;
}

export interface TargetSummary {
  readonly rps: number;
  readonly rpsPerRound: readonly number[];
  /** p50 latency at concurrency 1, ms. */
  readonly p50: number;
  readonly p50PerRound: readonly number[];
  /** CPU microseconds the answering process spent per request in the throughput runs (median; Linux only). */
  readonly cpuUsPerRequest: number | null;
  /** p50 minus direct's p50 (medians of rounds), ms; null for direct itself. */
  readonly addedP50: number | null;
  readonly non2xx: number;
  readonly errors: number;
}

export type Verdict = "PASS" | "FAIL" | "N/A";

/** One target's median req/s over another's. */
export interface Ratio {
  readonly value: number | null;
  /** The same ratio within each round, to show how much the machine's noise moves it. */
  readonly perRound: readonly (number | null)[];
}

/** A ratio with a target and the verdict on it. */
export interface Check extends Ratio {
  readonly target: number;
  readonly verdict: Verdict;
}

/** Every target of every run, and gateway-prompt (--prompt) and gateway-otel (--otel) when they were measured. */
export type TargetSummaries = Readonly<Record<CoreTargetName, TargetSummary>> & {
  readonly [PROMPT_TARGET]?: TargetSummary;
  readonly [OTEL_TARGET]?: TargetSummary;
};

export interface ScenarioSummary {
  readonly scenario: ScenarioName;
  readonly targets: TargetSummaries;
  /** Median gateway req/s over median bare req/s (higher is better). */
  readonly throughputRatio: Check;
  /** Gateway's added p50 over bare's added p50 at concurrency 1 (lower is better). */
  readonly addedLatencyRatio: Check;
  readonly gatewayOverDirect: number | null;
  /** Gateway CPU per request over bare's (lower is better; info, steadier than req/s on a busy machine). */
  readonly cpuPerRequestRatio: number | null;
  /**
   * Median gateway-prompt req/s over median bare req/s (higher is better): the spine's throughput target
   * within 10% with a prompt on every request; null without gateway-prompt.
   */
  readonly promptThroughputRatio: Check | null;
  /** Median gateway-prompt req/s over median gateway req/s, prompt on / off (info); null without gateway-prompt. */
  readonly promptOnOff: Ratio | null;
  /** gateway-prompt CPU per request over the gateway's (info); null without gateway-prompt. */
  readonly promptCpuRatio: number | null;
  /** Median gateway-otel req/s over median gateway req/s (higher is better); null without gateway-otel. */
  readonly telemetryThroughputRatio: Check | null;
  /** gateway-otel CPU per request over the gateway's (info); null without gateway-otel. */
  readonly telemetryCpuRatio: number | null;
  /** No non-2xx answers and no errors anywhere in the scenario. */
  readonly clean: boolean;
}

function byTarget(round: readonly MeasuredRun[], target: TargetName): MeasuredRun | undefined {
  return round.find((r) => r.target === target);
}

function perRound(
  rounds: readonly (readonly MeasuredRun[])[],
  target: TargetName,
  pick: (r: MeasuredRun) => number,
): number[] {
  return rounds.map((round) => {
    const run = byTarget(round, target);
    return run ? pick(run) : Number.NaN;
  });
}

function verdict(value: number | null, target: number, atLeast: boolean): Verdict {
  if (value === null) return "N/A";
  return (atLeast ? value >= target : value <= target) ? "PASS" : "FAIL";
}

/** a's req/s over b's: the ratio of the medians, with the ratio within each round beside it. */
function rpsRatio(a: TargetSummary, b: TargetSummary): Ratio {
  return {
    value: ratio(a.rps, b.rps),
    perRound: a.rpsPerRound.map((v, i) => ratio(v, b.rpsPerRound[i] ?? Number.NaN)),
  };
}

/** rpsRatio judged against a minimum. */
function rpsCheck(a: TargetSummary, b: TargetSummary, target: number): Check {
  const r = rpsRatio(a, b);
  return { ...r, target, verdict: verdict(r.value, target, true) };
}

const cpuRatio = (a: TargetSummary, b: TargetSummary): number | null =>
  ratio(a.cpuUsPerRequest ?? Number.NaN, b.cpuUsPerRequest ?? Number.NaN);

export function summarizeScenario(runs: ScenarioRuns): ScenarioSummary {
  const all = [...runs.throughput, ...runs.latency].flat();
  const p50 = (t: TargetName): number[] => perRound(runs.latency, t, (r) => r.latencyMs.p50);
  const directP50 = median(p50("direct"));
  const summary = (t: TargetName): TargetSummary => {
    const rpsPerRound = perRound(runs.throughput, t, (r) => r.rps);
    const p50PerRound = p50(t);
    const mine = all.filter((r) => r.target === t);
    const cpu = median(perRound(runs.throughput, t, (r) => r.cpuUsPerRequest ?? Number.NaN));
    return {
      cpuUsPerRequest: Number.isFinite(cpu) ? cpu : null,
      rps: median(rpsPerRound),
      rpsPerRound,
      p50: median(p50PerRound),
      p50PerRound,
      addedP50: t === "direct" ? null : median(p50PerRound) - directP50,
      non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
      errors: mine.reduce((n, r) => n + r.errors, 0),
    };
  };
  const core = Object.fromEntries(TARGETS.map((t) => [t, summary(t)])) as Record<CoreTargetName, TargetSummary>;
  const { direct, bare, gateway } = core;
  const measured = (t: TargetName): TargetSummary | null => (all.some((r) => r.target === t) ? summary(t) : null);
  const prompt = measured(PROMPT_TARGET);
  const otel = measured(OTEL_TARGET);
  const targets: TargetSummaries = {
    ...core,
    ...(prompt === null ? {} : { [PROMPT_TARGET]: prompt }),
    ...(otel === null ? {} : { [OTEL_TARGET]: otel }),
  };

  const added = ratio(gateway.addedP50 ?? Number.NaN, bare.addedP50 ?? Number.NaN);
  const addedPerRound = runs.latency.map((_round, i) => {
    const d = direct.p50PerRound[i] ?? Number.NaN;
    return ratio((gateway.p50PerRound[i] ?? Number.NaN) - d, (bare.p50PerRound[i] ?? Number.NaN) - d);
  });
  return {
    scenario: runs.scenario,
    targets,
    throughputRatio: rpsCheck(gateway, bare, THROUGHPUT_TARGET),
    addedLatencyRatio: {
      value: added,
      target: ADDED_LATENCY_TARGET,
      verdict: verdict(added, ADDED_LATENCY_TARGET, false),
      perRound: addedPerRound,
    },
    gatewayOverDirect: ratio(gateway.rps, direct.rps),
    cpuPerRequestRatio: cpuRatio(gateway, bare),
    promptThroughputRatio: prompt === null ? null : rpsCheck(prompt, bare, PROMPT_THROUGHPUT_TARGET),
    promptOnOff: prompt === null ? null : rpsRatio(prompt, gateway),
    promptCpuRatio: prompt === null ? null : cpuRatio(prompt, gateway),
    telemetryThroughputRatio: otel === null ? null : rpsCheck(otel, gateway, TELEMETRY_THROUGHPUT_TARGET),
    telemetryCpuRatio: otel === null ? null : cpuRatio(otel, gateway),
    clean: runs.warmupFailures === 0 && all.every((r) => r.non2xx === 0 && r.errors === 0),
  };
}

/**
 * Whether a scenario met every target it checked (what --check exits 2 on): gateway/bare throughput
 * and added latency, gateway-prompt/bare throughput and gateway-otel/gateway throughput when they were
 * measured (prompt on / off is info, not a target). N/A is not a pass: a ratio that cannot be computed
 * proves nothing.
 */
export function metAllTargets(s: ScenarioSummary): boolean {
  const checks = [s.throughputRatio, s.addedLatencyRatio, s.promptThroughputRatio, s.telemetryThroughputRatio];
  return checks.every((c) => c === null || c.verdict === "PASS");
}

const fmtRps = (v: number): string => (Number.isFinite(v) ? String(Math.round(v)) : "n/a");
const fmtMs = (v: number | null): string => (v !== null && Number.isFinite(v) ? v.toFixed(3) : "-");
const fmtX = (v: number | null): string => (v === null ? "n/a" : `${v.toFixed(2)}x`);
/** Verdict values get a third decimal, so 0.797 never shows as a failing "0.80x". */
const fmtCheck = (v: number | null): string => (v === null ? "n/a" : `${v.toFixed(3)}x`);

/** The ratio within each round, in round order: how far the machine's noise moves it. */
function spread(values: readonly (number | null)[]): string {
  if (values.length < 2) return "";
  return `; per round ${values.map((v) => (v === null ? "n/a" : v.toFixed(2))).join(" / ")}`;
}

/** A throughput row: with its target and verdict for a Check, info (neither) for a plain Ratio. */
function throughputRow(label: string, r: Ratio | Check): string {
  const measured = `${fmtCheck(r.value)}${spread(r.perRound)}`;
  return "verdict" in r
    ? `| throughput ${label} | ${measured} | >= ${fmtX(r.target)} | ${r.verdict} |`
    : `| throughput ${label} | ${measured} | | |`;
}

/** The rows of a gateway variant against the gateway: throughput (a check or info, as given), p50 and CPU (info). */
function overheadRows(
  name: TargetName,
  label: string,
  variant: TargetSummary,
  gateway: TargetSummary,
  tput: Ratio | Check,
  cpu: number | null,
): string[] {
  const diff = variant.p50 - gateway.p50;
  const signed = Number.isFinite(diff) ? ` (${diff >= 0 ? "+" : ""}${diff.toFixed(3)} ms)` : "";
  return [
    throughputRow(`${name} / gateway (${label})`, tput),
    `| p50 @c=1 ${name} vs gateway (info) | ${fmtMs(variant.p50)} vs ${fmtMs(gateway.p50)} ms${signed} | | |`,
    `| server CPU per request ${name} / gateway (info) | ${fmtX(cpu)} | | |`,
  ];
}

export function renderMarkdown(s: ScenarioSummary, meta: { readonly connections: number }): string {
  const lines = [
    `### ${s.scenario === "stream" ? "streaming (SSE)" : "non-streaming"}${s.clean ? "" : " -- INVALID: non-2xx answers or errors, see below"}`,
    "",
    `| target | req/s @c=${meta.connections} (median) | req/s per round | server CPU µs/req | p50 @c=1 (ms) | added p50 (ms) | non-2xx | errors |`,
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rows: [TargetName, TargetSummary][] = TARGETS.map((t) => [t, s.targets[t]]);
  const prompt = s.targets[PROMPT_TARGET];
  const otel = s.targets[OTEL_TARGET];
  // Round-1 order: gateway-prompt, then gateway-otel, after the gateway.
  if (prompt !== undefined) rows.push([PROMPT_TARGET, prompt]);
  if (otel !== undefined) rows.push([OTEL_TARGET, otel]);
  for (const [t, x] of rows) {
    const cpu = x.cpuUsPerRequest === null ? "-" : x.cpuUsPerRequest.toFixed(0);
    lines.push(
      `| ${t} | ${fmtRps(x.rps)} | ${x.rpsPerRound.map(fmtRps).join(" / ")} | ${cpu} | ${fmtMs(x.p50)} | ${fmtMs(x.addedP50)} | ${x.non2xx} | ${x.errors} |`,
    );
  }
  const { bare, gateway } = s.targets;
  lines.push(
    "",
    "| check | measured | target | result |",
    "| --- | --- | --- | --- |",
    throughputRow("gateway / bare", s.throughputRatio),
    `| added p50 @c=1 gateway / bare | ${fmtCheck(s.addedLatencyRatio.value)} (${fmtMs(gateway.addedP50)} vs ${fmtMs(bare.addedP50)} ms)${spread(s.addedLatencyRatio.perRound)} | <= ${fmtX(ADDED_LATENCY_TARGET)} | ${s.addedLatencyRatio.verdict} |`,
    `| server CPU per request gateway / bare (info) | ${fmtX(s.cpuPerRequestRatio)} | | |`,
    `| throughput gateway / direct (info) | ${fmtX(s.gatewayOverDirect)} | | |`,
  );
  if (prompt !== undefined && s.promptThroughputRatio !== null && s.promptOnOff !== null) {
    lines.push(
      throughputRow(
        `${PROMPT_TARGET} / bare (the spine's ${fmtX(THROUGHPUT_TARGET)} within 10%)`,
        s.promptThroughputRatio,
      ),
      ...overheadRows(PROMPT_TARGET, "prompt on / off, info", prompt, gateway, s.promptOnOff, s.promptCpuRatio),
    );
  }
  if (otel !== undefined && s.telemetryThroughputRatio !== null) {
    lines.push(
      ...overheadRows(
        OTEL_TARGET,
        "span export on / off",
        otel,
        gateway,
        s.telemetryThroughputRatio,
        s.telemetryCpuRatio,
      ),
    );
  }
  return lines.join("\n");
}

/** gateway-otel's own account of its spans, from its /metrics. */
export interface SpanCounters {
  readonly exported: number;
  /** Dropped because the export queue was full: that work was not done, so the overhead is under-measured. */
  readonly dropped: number;
  readonly failed: number;
}

const SPAN_METRICS = {
  exported: "promptgate_spans_exported_total",
  dropped: "promptgate_spans_dropped_total",
  failed: "promptgate_spans_export_failed_total",
} as const;

/** The span counters in a Prometheus text exposition; null when one is missing. */
export function parseSpanCounters(metrics: string): SpanCounters | null {
  const read = (name: string): number | null => {
    const line = metrics.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    const value = line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
    return Number.isFinite(value) ? value : null;
  };
  const exported = read(SPAN_METRICS.exported);
  const dropped = read(SPAN_METRICS.dropped);
  const failed = read(SPAN_METRICS.failed);
  return exported === null || dropped === null || failed === null ? null : { exported, dropped, failed };
}

/** What shows that gateway-otel really exported: read after the last measured run, before the servers stop. */
export interface TelemetryEvidence {
  /** The OTLP receiver's counters; null when /stats could not be read. */
  readonly receiver: ReceiverStats | null;
  /** gateway-otel's /metrics counters; null when they could not be read. */
  readonly gatewaySpans: SpanCounters | null;
  /** The OTEL_BSP_* settings gateway-otel ran with. */
  readonly batch: Readonly<Record<string, string>>;
}

/** A --otel run counts only if the receiver got export requests: otherwise gateway-otel measured nothing. */
export function telemetryValid(e: TelemetryEvidence): boolean {
  return e.receiver !== null && e.receiver.requests > 0 && e.receiver.bytes > 0;
}

const fmtBytes = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

export function renderTelemetry(e: TelemetryEvidence): string {
  const valid = telemetryValid(e);
  const lines = [
    `### span export (--otel)${valid ? "" : " -- INVALID: the receiver got no spans, so gateway-otel measured nothing"}`,
    "",
  ];
  const r = e.receiver;
  if (r === null) {
    lines.push("- OTLP receiver: its /stats could not be read.");
  } else {
    const spans = r.spans > 0 ? `, ${r.spans} spans` : r.requests > 0 ? " (spans not counted: compressed bodies)" : "";
    lines.push(
      `- OTLP receiver: ${r.requests} export requests, ${fmtBytes(r.bytes)} (${r.bytes} bytes)${spans}, warm-ups and preflights included.`,
    );
  }
  const g = e.gatewaySpans;
  if (g === null) {
    lines.push("- gateway-otel /metrics: span counters not found.");
  } else {
    const warn =
      g.dropped + g.failed > 0
        ? " -- spans were lost, so part of the export work was not done: the overhead is under-measured"
        : "";
    lines.push(
      `- gateway-otel /metrics: ${g.exported} spans exported, ${g.dropped} dropped (queue full), ${g.failed} failed${warn}.`,
    );
  }
  lines.push("- Spans still queued in gateway-otel when the run ended are not in these counts.");
  const batch = Object.entries(e.batch)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  if (batch !== "") lines.push(`- Batch processor: ${batch}.`);
  return lines.join("\n");
}
