// The Grafana dashboard shipped with the Helm chart, checked against what createMetrics() registers:
// a metric or label renamed in gateway/telemetry/metrics.ts fails here instead of leaving a panel empty.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../gateway/telemetry/metrics.ts";
import { countRedactions } from "../gateway/telemetry/redaction-metric.ts";
import { Scrubber } from "../gateway/support/scrubber.ts";
import { newRecord } from "../gateway/telemetry/request-record.ts";

const CHART = fileURLToPath(new URL("../helm/promptgate/", import.meta.url));
const DASHBOARD_FILE = "dashboards/promptgate.json";
const TEMPLATE_FILE = "templates/grafana-dashboard.yaml";

/** Labels Prometheus adds to every scraped series (the target's), which the gateway never registers. */
const TARGET_LABELS: ReadonlySet<string> = new Set(["instance", "job"]);

/** Grafana's own variables, usable in any expression. */
const GRAFANA_VARIABLES: ReadonlySet<string> = new Set(["__rate_interval", "__interval", "__range"]);

const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}
interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query: string };
  definition?: string;
  multi?: boolean;
  includeAll?: boolean;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

const dashboard = JSON.parse(readFileSync(CHART + DASHBOARD_FILE, "utf8")) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== "row");

/** A registered metric: its type and, per label, the values seen after recording one request of each shape. */
interface Registered {
  type: string;
  labels: Map<string, Set<string>>;
}

/** createMetrics() as the gateway builds it, fed requests that touch every series, so every label shows up. */
async function registeredMetrics(): Promise<Map<string, Registered>> {
  // Every optional source, so every conditional metric is registered.
  const metrics = createMetrics({
    invalidWeights: () => 1,
    aggregates: { pendingKeys: () => 3, droppedRequests: () => 0, droppedFeedback: () => 0 },
    spans: { exported: 5, dropped: 1, failed: 0 },
    invalidKeys: () => [{ family: "weights", reason: "wrong_type" }],
    lingering: { complete: 1, client_closed: 0, cut: 0, discardedBytes: 10 },
    registry: () => ({ behind: false, regressions: 0 }),
  });
  const scrubber = new Scrubber([{ value: "sk-planted-secret" }]);
  scrubber.text("key sk-planted-secret", "log");
  countRedactions(metrics.registry, scrubber);
  metrics.retried("openai", "connection");
  const usage = { inputTokens: 10, outputTokens: 5, cachedInputTokens: 2 };
  const rec = {
    ...newRecord(0),
    prompt: "greet",
    version: "1.0.0",
    model: "gpt-x",
    usage,
    costPico: 1_000_000,
    ttftMs: 50,
  };
  metrics.record({ ...rec, variant: "stable" }, 200, 1000);
  metrics.record({ ...rec, variant: "canary", costPico: null, anonymous: true }, 502, 1000);
  metrics.record({ ...rec, variant: "pinned" }, 429, 1000);
  metrics.record(newRecord(0), 400, 10);
  metrics.record({ ...rec, variant: "stable", errorType: "upstream_timeout" }, 200, 1000); // a stream cut after its 200
  metrics.record({ ...rec, variant: "stable" }, 499, 1000); // the client went away
  const out = new Map<string, Registered>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    const labels = new Map<string, Set<string>>();
    for (const v of m.values) {
      for (const [k, value] of Object.entries(v.labels)) {
        const seen = labels.get(k) ?? new Set<string>();
        seen.add(String(value));
        labels.set(k, seen);
      }
    }
    out.set(m.name, { type: String(m.type), labels });
  }
  return out;
}
const registered = await registeredMetrics();

/** The registered metric a series name belongs to (`x_bucket` of histogram `x` is `x`), or null. */
function metricOf(series: string): string | null {
  if (registered.has(series)) return series;
  const base = series.replace(HISTOGRAM_SERIES, "");
  if (base !== series && registered.get(base)?.type === "histogram") return base;
  return null;
}

/** Labels of a series: the registered metric's (none for an unknown one). `le` only on `_bucket`. */
function labelsOf(series: string): Set<string> {
  const metric = metricOf(series);
  const known = metric === null ? [] : [...(registered.get(metric)?.labels.keys() ?? [])];
  return new Set(known.filter((l) => l !== "le" || series.endsWith("_bucket")));
}

interface Matcher {
  series: string;
  label: string;
  op: string;
  value: string;
}

/** `promptgate_*` series names in a PromQL expression. */
const seriesIn = (expr: string): string[] => [...new Set(expr.match(/promptgate_[a-z0-9_]+/g) ?? [])];

/** Label matchers of every `promptgate_*{...}` selector (matcher values must not contain `}`). */
function matchersIn(expr: string): Matcher[] {
  const out: Matcher[] = [];
  for (const sel of expr.matchAll(/(promptgate_[a-z0-9_]+)\s*\{([^}]*)\}/g)) {
    for (const m of sel[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      out.push({ series: sel[1]!, label: m[1]!, op: m[2]!, value: m[3]! });
    }
  }
  return out;
}

/** Labels named in `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` clauses. */
function groupingLabelsIn(expr: string, clauses = "by|without|on|ignoring|group_left|group_right"): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(new RegExp(`\\b(?:${clauses})\\s*\\(([^)]*)\\)`, "g"))) {
    out.push(
      ...m[1]!
        .split(",")
        .map((l) => l.trim())
        .filter((l) => l !== ""),
    );
  }
  return out;
}

const variablesIn = (text: string): string[] => [...text.matchAll(/\$\{?(\w+)/g)].map((m) => m[1]!);

/** A label in a matcher or clause of `expr` must belong to every promptgate series in it. */
function labelProblems(where: string, expr: string): string[] {
  const problems: string[] = [];
  const series = seriesIn(expr);
  for (const m of matchersIn(expr)) {
    if (!labelsOf(m.series).has(m.label)) problems.push(`${where}: ${m.series} has no label ${m.label}`);
  }
  for (const label of groupingLabelsIn(expr)) {
    if (TARGET_LABELS.has(label)) continue;
    for (const s of series)
      if (!labelsOf(s).has(label)) problems.push(`${where}: grouping by ${label}, which ${s} does not have`);
  }
  return problems;
}

/** A literal matcher value must be one the gateway actually emits (e.g. status="5xx", not "500"). */
function valueProblems(where: string, expr: string): string[] {
  const problems: string[] = [];
  for (const m of matchersIn(expr)) {
    const metric = metricOf(m.series);
    const values = metric === null ? undefined : registered.get(metric)?.labels.get(m.label);
    if (!values || m.value.includes("$")) continue;
    const ok =
      m.op === "=" || m.op === "!="
        ? values.has(m.value)
        : [...values].some((v) => new RegExp(`^(?:${m.value})$`).test(v));
    if (!ok)
      problems.push(
        `${where}: ${m.series}{${m.label}${m.op}"${m.value}"} matches no value the gateway emits (${[...values].join(", ")})`,
      );
  }
  return problems;
}

const targetsOf = (p: Panel): Target[] => p.targets ?? [];
const where = (p: Panel, t: Target): string => `panel ${p.id} "${p.title}" ${t.refId ?? "?"}`;
const variableQuery = (v: Variable): string => (typeof v.query === "string" ? v.query : (v.query?.query ?? ""));

describe("Grafana dashboard", () => {
  it("is identified and parameterised as Grafana provisioning expects", () => {
    expect(dashboard.uid).toBe("promptgate-overview");
    expect(dashboard.title).toBe("promptgate");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.get("datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const name of ["prompt", "version", "model"]) {
      const v = vars.get(name);
      expect(v, name).toMatchObject({ type: "query", multi: true, includeAll: true });
      expect(variableQuery(v!), name).toMatch(
        new RegExp(`^label_values\\(promptgate_requests_total(\\{[^}]*\\})?,\\s*${name}\\)$`),
      );
    }
    for (const p of queryPanels) {
      expect(p.datasource?.uid, `panel ${p.id}`).toBe("${datasource}");
      for (const t of targetsOf(p)) expect(t.datasource?.uid, where(p, t)).toBe("${datasource}");
    }
  });

  it("has unique panel ids and a layout without overlaps", () => {
    const ids = allPanels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);

    const overlaps = (a: GridPos, b: GridPos): boolean =>
      a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    // Top-level panels share one grid; a collapsed row's panels share another.
    for (const group of [dashboard.panels, ...dashboard.panels.map((p) => p.panels ?? [])]) {
      for (const p of group) {
        const g = p.gridPos;
        expect([g.x, g.y, g.w, g.h].every(Number.isInteger), `panel ${p.id} gridPos`).toBe(true);
        expect(
          g.x >= 0 && g.y >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24,
          `panel ${p.id} gridPos ${JSON.stringify(g)}`,
        ).toBe(true);
      }
      const clashes: string[] = [];
      for (const [i, a] of group.entries()) {
        for (const b of group.slice(i + 1))
          if (overlaps(a.gridPos, b.gridPos)) clashes.push(`panels ${a.id} and ${b.id}`);
      }
      expect(clashes).toEqual([]);
    }
  });

  it("gives every query panel targets with an expression and a unique refId", () => {
    expect(queryPanels.length).toBeGreaterThan(0);
    for (const p of queryPanels) {
      const targets = targetsOf(p);
      expect(targets.length, `panel ${p.id} "${p.title}"`).toBeGreaterThan(0);
      for (const t of targets) {
        expect(typeof t.expr === "string" && t.expr.trim() !== "", where(p, t)).toBe(true);
        // A cheap syntax check: brackets and quotes balance.
        let depth = 0;
        for (const c of t.expr!.replace(/"(?:[^"\\]|\\.)*"/g, "")) {
          depth += "({[".includes(c) ? 1 : ")}]".includes(c) ? -1 : 0;
          expect(depth, where(p, t)).toBeGreaterThanOrEqual(0);
        }
        expect(depth, where(p, t)).toBe(0);
      }
      const refIds = targets.map((t) => t.refId);
      expect(new Set(refIds).size, `panel ${p.id} refIds`).toBe(refIds.length);
    }
  });

  it("uses only metrics that createMetrics() registers", () => {
    const exprs = [
      ...queryPanels.flatMap((p) => targetsOf(p).map((t) => t.expr ?? "")),
      ...dashboard.templating.list.map(variableQuery),
    ];
    const used = new Set(exprs.flatMap(seriesIn));
    const unknown = [...used].filter((s) => metricOf(s) === null);
    expect(unknown, "on the dashboard but not registered by createMetrics() (renamed in metrics.ts?)").toEqual([]);
    // Every core metric is on the dashboard.
    const shown = new Set([...used].map((s) => metricOf(s)));
    for (const name of [
      "promptgate_requests_total",
      "promptgate_tokens_total",
      "promptgate_cost_usd_total",
      "promptgate_request_duration_seconds",
      "promptgate_time_to_first_token_seconds",
      "promptgate_unpriced_requests_total",
      "promptgate_split_anonymous_total",
      "promptgate_weights_invalid_total",
      "promptgate_process_resident_memory_bytes",
      "promptgate_nodejs_eventloop_lag_p99_seconds",
      "promptgate_spans_dropped_total",
      "promptgate_aggregates_pending_keys",
    ]) {
      expect(shown.has(name), name).toBe(true);
    }
  });

  it("resolves _bucket, _sum and _count series to histograms only", () => {
    expect(metricOf("promptgate_requests_totals")).toBeNull();
    expect(metricOf("promptgate_requests_total_count")).toBeNull();
    const histograms = [...registered].filter(([, m]) => m.type === "histogram").map(([name]) => name);
    expect(histograms.length).toBeGreaterThan(0);
    for (const h of histograms) for (const s of ["_bucket", "_sum", "_count"]) expect(metricOf(h + s)).toBe(h);
    expect(labelsOf("promptgate_request_duration_seconds_bucket").has("le")).toBe(true);
    expect(labelsOf("promptgate_request_duration_seconds_count").has("le")).toBe(false);
  });

  it("groups, filters and labels legends only by labels the metrics have", () => {
    const problems: string[] = [];
    for (const p of queryPanels) {
      for (const t of targetsOf(p)) {
        const expr = t.expr ?? "";
        problems.push(...labelProblems(where(p, t), expr), ...valueProblems(where(p, t), expr));
        // {{label}} in a legend must survive the aggregation: in a `by` clause, or a label of the series when none.
        const by = groupingLabelsIn(expr, "by");
        const available =
          by.length > 0 ? new Set(by) : new Set([...TARGET_LABELS, ...seriesIn(expr).flatMap((s) => [...labelsOf(s)])]);
        for (const m of (t.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
          if (!available.has(m[1]!))
            problems.push(`${where(p, t)}: legend uses {{${m[1]}}}, which the query does not return`);
        }
      }
    }
    for (const v of dashboard.templating.list) {
      const q = variableQuery(v);
      const lv = /^label_values\((promptgate_[a-z0-9_]+)(\{[^}]*\})?,\s*(\w+)\)$/.exec(q);
      if (!lv) continue;
      problems.push(...labelProblems(`variable ${v.name}`, q));
      if (!labelsOf(lv[1]!).has(lv[3]!)) problems.push(`variable ${v.name}: ${lv[1]} has no label ${lv[3]}`);
    }
    expect(problems).toEqual([]);
  });

  it("refers only to variables it defines", () => {
    const defined = new Set([...dashboard.templating.list.map((v) => v.name), ...GRAFANA_VARIABLES]);
    const texts = [
      ...queryPanels.flatMap((p) => targetsOf(p).map((t) => t.expr ?? "")),
      ...dashboard.templating.list.map(variableQuery),
    ];
    const undefinedVars = [...new Set(texts.flatMap(variablesIn))].filter((v) => !defined.has(v));
    expect(undefinedVars).toEqual([]);
  });

  it("is what the Helm chart's ConfigMap ships, only when grafanaDashboard.enabled", () => {
    const template = readFileSync(CHART + TEMPLATE_FILE, "utf8");
    const files = [...template.matchAll(/\.Files\.Get\s+"([^"]+)"/g)].map((m) => m[1]!);
    expect(files).toEqual([DASHBOARD_FILE]);
    for (const f of files) expect(existsSync(CHART + f), f).toBe(true);
    expect(template).toMatch(/^\{\{-? if \.Values\.grafanaDashboard\.enabled \}\}/);
    expect(template).toContain('"grafana_dashboard" "1"');
    expect(template).toContain('include "promptgate.fullname" .');
    expect(template).toContain('include "promptgate.labels" .');

    // Every value the template reads is declared in values.yaml, and the dashboard is off by default.
    const values = parseYaml(readFileSync(CHART + "values.yaml", "utf8")) as {
      grafanaDashboard?: Record<string, unknown>;
    };
    expect(values.grafanaDashboard?.["enabled"]).toBe(false);
    for (const m of template.matchAll(/\.Values\.grafanaDashboard\.(\w+)/g)) {
      expect(values.grafanaDashboard, `values.yaml grafanaDashboard.${m[1]}`).toHaveProperty(m[1]!);
    }
  });
});
