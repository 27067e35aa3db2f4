// The soak's verdict, from figures read before and after: resources back to the baseline (within the
// tolerance), every stream ended as planned for the client and in the gateway's own counters. Pure:
// soak.ts gathers the facts, this decides and renders.
import type { Observed, StreamResult } from "./soak-client.ts";
import { STREAM_KINDS, type StreamKind } from "./soak-plan.ts";
import type { Figures, KindCounters, OutcomeCounters } from "./soak-probe.ts";

/** The status label a client abort carries in promptgate_requests_total (never the `4xx` class). */
export const CLIENT_CLOSED_STATUSES: readonly string[] = ["499"];

/** What the client should have seen, by kind: a provider reset is a cut stream (or a 502 before any byte). */
export const EXPECTED: Readonly<Record<StreamKind, readonly Observed[]>> = {
  complete: ["complete"],
  abort: ["aborted"],
  reset: ["interrupted", "http-502"],
};

export interface SoakFacts {
  /** Streams planned for the soak (the warm-up not included), by kind. */
  readonly planned: Readonly<Record<StreamKind, number>>;
  readonly results: readonly StreamResult[];
  /** Planned streams that never started: the time limit came first. */
  readonly notStarted: number;
  readonly baseline: Figures;
  readonly after: Figures;
  /** Whether the gateway's sockets came back to the baseline within the settle time. */
  readonly settled: boolean;
  /** What the gateway counted over the soak (after - before). */
  readonly counters: OutcomeCounters;
  readonly tolerance: number;
}

export interface Check {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ResourceRow {
  readonly resource: string;
  readonly baseline: number;
  readonly after: number;
  /** null: shown for information, not checked. */
  readonly limit: number | null;
  readonly ok: boolean;
  readonly unit: "count" | "bytes";
}

export interface StreamRow {
  readonly kind: StreamKind;
  readonly planned: number;
  readonly ran: number;
  /** Streams whose end the client saw as expected (EXPECTED). */
  readonly clientAsExpected: number;
  readonly clientSaw: Readonly<Record<string, number>>;
  /** What the gateway counted: requests by status label, and interrupted streams. */
  readonly gateway: KindCounters;
  /** Requests the gateway counted the way this kind should be counted. */
  readonly gatewayAsExpected: number;
  readonly ok: boolean;
}

export interface Verdict {
  readonly ok: boolean;
  readonly checks: readonly Check[];
  readonly resources: readonly ResourceRow[];
  readonly streams: readonly StreamRow[];
}

const CHECKED: readonly [keyof Figures, string, ResourceRow["unit"]][] = [
  ["clientSockets", "client sockets (to the gateway's port)", "count"],
  ["upstreamSockets", "upstream sockets (to the provider)", "count"],
  ["fds", "open descriptors (/proc/<pid>/fd)", "count"],
  ["activeHandles", "active handles (nodejs_active_handles_total)", "count"],
  ["heapUsedBytes", "heap used after a full GC (nodejs_heap_size_used_bytes)", "bytes"],
];
const INFO: readonly [keyof Figures, string, ResourceRow["unit"]][] = [
  ["otherSockets", "listening and other sockets (info)", "count"],
  ["rssBytes", "resident memory (info)", "bytes"],
];

export function resourceRows(baseline: Figures, after: Figures, tolerance: number): ResourceRow[] {
  const checked = CHECKED.map(([key, resource, unit]): ResourceRow => {
    const limit = baseline[key] * (1 + tolerance);
    return { resource, baseline: baseline[key], after: after[key], limit, ok: after[key] <= limit, unit };
  });
  const info = INFO.map(([key, resource, unit]): ResourceRow => ({
    resource,
    baseline: baseline[key],
    after: after[key],
    limit: null,
    ok: true,
    unit,
  }));
  return [...checked, ...info];
}

const total = (c: KindCounters): number => Object.values(c.byStatus).reduce((a, b) => a + b, 0);
const status = (c: KindCounters, ...labels: readonly string[]): number =>
  labels.reduce((sum, l) => sum + (c.byStatus[l] ?? 0), 0);

/**
 * How many of a kind's requests the gateway counted as it should: completes as 2xx and never
 * interrupted; client aborts under a client-closed status; resets as interrupted 2xx streams or 5xx.
 * Every request of the kind must be counted, once, as expected.
 */
export function gatewayAsExpected(kind: StreamKind, c: KindCounters): number {
  switch (kind) {
    case "complete":
      return c.interrupted === 0 ? status(c, "2xx") : 0;
    case "abort":
      return status(c, ...CLIENT_CLOSED_STATUSES);
    case "reset":
      return Math.min(c.interrupted, status(c, "2xx")) + status(c, "5xx", "502");
  }
}

export function streamRows(facts: Pick<SoakFacts, "planned" | "results" | "counters">): StreamRow[] {
  return STREAM_KINDS.map((kind): StreamRow => {
    const mine = facts.results.filter((r) => r.kind === kind);
    const clientSaw: Record<string, number> = {};
    for (const r of mine) clientSaw[r.observed] = (clientSaw[r.observed] ?? 0) + 1;
    const clientAsExpected = mine.filter((r) => EXPECTED[kind].includes(r.observed)).length;
    const gateway = facts.counters[kind];
    const counted = gatewayAsExpected(kind, gateway);
    return {
      kind,
      planned: facts.planned[kind],
      ran: mine.length,
      clientAsExpected,
      clientSaw,
      gateway,
      gatewayAsExpected: counted,
      ok: clientAsExpected === mine.length && counted === mine.length && total(gateway) === mine.length,
    };
  });
}

export function decide(facts: SoakFacts): Verdict {
  const resources = resourceRows(facts.baseline, facts.after, facts.tolerance);
  const streams = streamRows(facts);
  const ran = facts.results.length;
  const checks: Check[] = [
    {
      what: "every planned stream ran",
      ok: facts.notStarted === 0,
      detail:
        facts.notStarted === 0
          ? `${ran} streams`
          : `stopped by --max-seconds: ${facts.notStarted} of ${ran + facts.notStarted} never started`,
    },
    {
      what: "the gateway's sockets came back to the idle baseline",
      ok: facts.settled,
      detail: facts.settled ? "within --settle-seconds" : "not within --settle-seconds (see the sockets in the table)",
    },
    ...streams.map((s): Check => ({
      what: `${s.kind} streams ended as they should`,
      ok: s.ok,
      detail:
        `client ${s.clientAsExpected}/${s.ran} as expected (${EXPECTED[s.kind].join(" or ")}); ` +
        `gateway ${s.gatewayAsExpected}/${s.ran} as expected, ${total(s.gateway)} counted`,
    })),
    ...resources
      .filter((r) => r.limit !== null)
      .map((r): Check => ({
        what: `${r.resource} back to baseline +${Math.round(facts.tolerance * 100)}%`,
        ok: r.ok,
        detail: `${fmt(r.baseline, r.unit)} -> ${fmt(r.after, r.unit)} (limit ${fmt(r.limit ?? 0, r.unit)})`,
      })),
  ];
  return { ok: checks.every((c) => c.ok), checks, resources, streams };
}

/** The first few streams that did not end as expected, for the report. */
export function unexpected(results: readonly StreamResult[], max = 5): StreamResult[] {
  return results.filter((r) => !EXPECTED[r.kind].includes(r.observed)).slice(0, max);
}

// ---- rendering ----

export function fmt(n: number, unit: ResourceRow["unit"]): string {
  if (unit === "bytes") return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export interface Timings {
  readonly warmupSeconds: number;
  readonly soakSeconds: number;
  /** From the last stream's end to the gateway back at the baseline's sockets. */
  readonly settleSeconds: number;
}

/** The p-th percentile (0..100) of sorted values, nearest rank; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

const counts = (rec: Readonly<Record<string, number>>): string =>
  Object.entries(rec)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "none";

export function renderVerdict(v: Verdict, results: readonly StreamResult[], timings: Timings): string {
  const lines: string[] = [];
  lines.push("| resource | baseline | after | limit | ok |", "| --- | ---: | ---: | ---: | --- |");
  for (const r of v.resources)
    lines.push(
      `| ${r.resource} | ${fmt(r.baseline, r.unit)} | ${fmt(r.after, r.unit)} | ${r.limit === null ? "-" : fmt(r.limit, r.unit)} | ${r.limit === null ? "" : r.ok ? "yes" : "**NO**"} |`,
    );
  lines.push("");
  lines.push(
    "| streams | planned | ran | client saw | gateway counted (requests by status; interrupted) | p50 / p99 ms | ok |",
    "| --- | ---: | ---: | --- | --- | ---: | --- |",
  );
  for (const s of v.streams) {
    const ms = results
      .filter((r) => r.kind === s.kind)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    const p = (q: number): string => {
      const x = percentile(ms, q);
      return x === null ? "-" : x.toFixed(0);
    };
    lines.push(
      `| ${s.kind} | ${s.planned} | ${s.ran} | ${counts(s.clientSaw)} | ${counts(s.gateway.byStatus)}; interrupted ${s.gateway.interrupted} | ${p(50)} / ${p(99)} | ${s.ok ? "yes" : "**NO**"} |`,
    );
  }
  lines.push("");
  const rate = timings.soakSeconds > 0 ? results.length / timings.soakSeconds : 0;
  lines.push(
    `Warm-up ${timings.warmupSeconds.toFixed(1)} s; soak ${timings.soakSeconds.toFixed(1)} s ` +
      `(${rate.toFixed(0)} streams/s); settle ${timings.settleSeconds.toFixed(1)} s.`,
  );
  const failed = v.checks.filter((c) => !c.ok);
  for (const c of failed) lines.push(`FAILED: ${c.what}: ${c.detail}`);
  for (const r of unexpected(results))
    lines.push(`  e.g. a ${r.kind} stream: ${r.observed}${r.detail === null ? "" : ` (${r.detail})`}`);
  lines.push(v.ok ? "PASS" : "FAIL");
  return lines.join("\n");
}
