// The Helm chart's rollout controller: off by default (it needs Redis), its objects render nothing at all
// unless it is turned on, and when on it runs `promptgate controller` with the verb's own options, probes on
// the metrics port and a ServiceMonitor for its metrics. (Read from the files: the test machine need not
// have helm.)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { durationArg, VERBS } from "../gateway/cli/cli.ts";

const CHART = fileURLToPath(new URL("../helm/promptgate/", import.meta.url));
const read = (file: string): string => readFileSync(CHART + file, "utf8");

interface Action {
  text: string;
  start: number;
  end: number;
}

/** The template's actions (`{{ ... }}`, trim markers and comments dropped), in order. */
function actions(template: string): Action[] {
  return [...template.matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)]
    .map((m) => ({ text: m[1]!, start: m.index, end: m.index + m[0].length }))
    .filter((a) => !a.text.startsWith("/*"));
}

/**
 * True when the whole template is one `{{ if <condition> }} ... {{ end }}` block: nothing outside it, and
 * no `end` inside that closes it early. Such a template renders nothing when the condition is false.
 */
function wholeTemplateGuardedBy(template: string, condition: string): boolean {
  const all = actions(template);
  const first = all[0];
  const last = all.at(-1);
  if (first === undefined || last === undefined || all.length < 2) return false;
  if (first.text !== `if ${condition}` || last.text !== "end") return false;
  if (template.slice(0, first.start).trim() !== "" || template.slice(last.end).trim() !== "") return false;
  let depth = 0;
  for (const [i, a] of all.entries()) {
    if (/^(if|with|range|define|block)\b/.test(a.text)) depth += 1;
    else if (a.text === "end") depth -= 1;
    if (depth === 0 && i < all.length - 1) return false;
  }
  return depth === 0;
}

describe("wholeTemplateGuardedBy", () => {
  it("accepts a template wrapped in one if block, nested blocks included", () => {
    const t = "{{- if .Values.x }}\nkind: A\n{{- with .Values.y }}\ny: {{ . }}\n{{- end }}\n{{- end }}\n";
    expect(wholeTemplateGuardedBy(t, ".Values.x")).toBe(true);
  });

  it("refuses a block closed early, text outside it, or another condition", () => {
    expect(wholeTemplateGuardedBy("{{- if .Values.x }}\na: 1\n{{- end }}\nb: 2\n", ".Values.x")).toBe(false);
    expect(
      wholeTemplateGuardedBy("{{- if .Values.x }}\na: 1\n{{- end }}{{ if .Values.z }}{{ end }}", ".Values.x"),
    ).toBe(false);
    expect(wholeTemplateGuardedBy("a: 0\n{{- if .Values.x }}\na: 1\n{{- end }}\n", ".Values.x")).toBe(false);
    expect(wholeTemplateGuardedBy("{{- if .Values.y }}\na: 1\n{{- end }}\n", ".Values.x")).toBe(false);
  });
});

interface ControllerValues {
  enabled: boolean;
  replicaCount: number;
  interval: string;
  lease: string;
  port: number;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
}

const controllerValues = (): ControllerValues =>
  (parseYaml(read("values.yaml")) as { controller: ControllerValues }).controller;

describe("the rollout controller in the chart", () => {
  it("is disabled by default", () => {
    expect(controllerValues().enabled).toBe(false);
  });

  it("renders nothing while disabled: no Deployment, no Service, no ServiceMonitor", () => {
    for (const file of ["templates/controller-deployment.yaml", "templates/controller-service.yaml"])
      expect(wholeTemplateGuardedBy(read(file), ".Values.controller.enabled")).toBe(true);
    const monitors = read("templates/servicemonitor.yaml").split(/^---$/m);
    expect(monitors).toHaveLength(2);
    const [gateway, controller] = monitors as [string, string];
    // The gateway's document ends with its own guard; the controller's opens the second guard.
    const controllerDoc = `${gateway.slice(gateway.lastIndexOf("{{- if and"))}${controller}`;
    expect(wholeTemplateGuardedBy(controllerDoc, "and .Values.serviceMonitor.enabled .Values.controller.enabled")).toBe(
      true,
    );
  });

  it("may be turned on with Redis (the chart refuses it on the per-pod embedded store)", () => {
    const helpers = read("templates/_helpers.tpl");
    expect(helpers).not.toContain("not supported yet");
    expect(helpers).toMatch(
      /\{\{-? if and \.Values\.controller\.enabled \(not \$redis\) \}\}\s*\{\{-? fail "promptgate: controller\.enabled needs Redis/,
    );
    expect(read("templates/NOTES.txt")).not.toContain("not part of this release");
    expect(readFileSync(fileURLToPath(new URL("../helm/README.md", import.meta.url)), "utf8")).toContain(
      "controller.enabled=true",
    );
  });

  it("runs `promptgate controller` with the verb's options, its defaults valid for the verb", () => {
    const deployment = read("templates/controller-deployment.yaml");
    const args = /args:\n((?:\s+- .+\n)+)/
      .exec(deployment)?.[1]
      ?.split("\n")
      .map((l) => l.trim().replace(/^- /, ""));
    expect(args?.filter(Boolean)).toEqual([
      "gateway/main.ts",
      "controller",
      "--interval",
      "{{ .Values.controller.interval | quote }}",
      "--lease",
      "{{ .Values.controller.lease | quote }}",
      "--port",
      "{{ .Values.controller.port | quote }}",
    ]);
    const verb = VERBS.find((v) => v.name === "controller");
    for (const option of ["interval", "lease", "port"]) expect(Object.keys(verb?.options ?? {})).toContain(option);
    const values = controllerValues();
    const interval = durationArg(values.interval, "--interval");
    expect(durationArg(values.lease, "--lease")).toBeGreaterThan(interval);
    expect(values.port).toBe(9464);
    expect(deployment).toContain("replicas: {{ .Values.controller.replicaCount }}");
  });

  it("probes /healthz and /readyz on the metrics port, which it exposes and a ServiceMonitor scrapes", () => {
    const values = controllerValues();
    expect(values.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(values.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    const deployment = read("templates/controller-deployment.yaml");
    expect(deployment).toMatch(/ports:\n\s+- name: metrics\n\s+containerPort: \{\{ \.Values\.controller\.port \}\}/);
    expect(deployment).toMatch(/livenessProbe:\n\s+\{\{- toYaml \. \| nindent 12 \}\}/);
    expect(deployment).toMatch(/readinessProbe:\n\s+\{\{- toYaml \. \| nindent 12 \}\}/);
    const service = read("templates/controller-service.yaml");
    expect(service).toMatch(/- name: metrics\n\s+port: \{\{ \.Values\.controller\.port \}\}\n\s+targetPort: metrics/);
    expect(service).toContain('{{- include "promptgate.controllerSelectorLabels" . | nindent 4 }}');
    const monitor = read("templates/servicemonitor.yaml").split(/^---$/m)[1]!;
    expect(monitor).toContain('{{- include "promptgate.controllerSelectorLabels" . | nindent 6 }}');
    expect(monitor).toMatch(/- port: metrics\n\s+path: \/metrics/);
  });
});
