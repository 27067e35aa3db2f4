// The Helm chart promises only what exists: the rollout controller is not built yet, so its
// Deployment is off by default and its template renders nothing at all unless it is turned on.
// (Read from the files: the test machine need not have helm.)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";

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

describe("the rollout controller in the chart", () => {
  it("is disabled by default", () => {
    const values = parseYaml(read("values.yaml")) as { controller?: { enabled?: unknown } };
    expect(values.controller?.enabled).toBe(false);
  });

  it("renders nothing while disabled", () => {
    expect(wholeTemplateGuardedBy(read("templates/controller-deployment.yaml"), ".Values.controller.enabled")).toBe(
      true,
    );
  });

  it("cannot be turned on until the controller exists, and no document tells anyone to", () => {
    expect(read("templates/_helpers.tpl")).toMatch(
      /\{\{-? if \.Values\.controller\.enabled \}\}\s*\{\{-? fail "promptgate: controller\.enabled is not supported yet/,
    );
    const helmReadme = readFileSync(fileURLToPath(new URL("../helm/README.md", import.meta.url)), "utf8");
    expect(helmReadme).not.toContain("controller.enabled=true");
    expect(read("templates/NOTES.txt")).not.toContain("controller.enabled=true");
  });
});
