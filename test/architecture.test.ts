// gateway/'s dependencies go one way (docs/architecture.md): each top-level folder (or module at the top)
// sits in a layer and imports only from its own layer or the ones below; folders never import each other
// in a cycle, even within a layer; no shipped file imports test code.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  describeCycle,
  folderCycles,
  folderGraph,
  folderOf,
  leavingImports,
  relativeImports,
  shippedFiles,
  type FileImport,
} from "./support/import-graph.ts";

/** Top to bottom; keep in step with docs/architecture.md. */
const LAYERS: readonly (readonly string[])[] = [
  ["main.ts", "cli"], // entry: the command line
  ["compose.ts", "server.ts", "app.ts", "deps.ts"], // composition: Deps from the environment, the app, serving
  ["admin", "console", "proxy"], // routes: /admin, /console, /v1 (with the stages only the proxy uses)
  ["http", "catalog"], // request plumbing and the prompt stage of the request path
  ["rollouts", "evals", "stats", "registry", "split", "prompts", "feedback"], // domain
  ["alerts", "telemetry", "store", "providers"], // what the gateway talks to: alert webhooks, spans and metrics, the store, providers
  ["openai", "config", "errors", "support", "statistics"], // leaves
];

const GATEWAY = join(import.meta.dirname, "..", "gateway");
const files = shippedFiles(GATEWAY);
const imports = relativeImports(files);
const graph = folderGraph(imports);
const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

const show = (i: FileImport): string => `gateway/${i.from} imports ${i.to}`;

describe("gateway/ architecture", () => {
  it("reads the imports it checks", () => {
    // A parser that found nothing would pass every check below.
    expect(files.length).toBeGreaterThan(50);
    expect(graph.get("app.ts")?.has("proxy")).toBe(true);
    expect(
      graph
        .get("cli")
        ?.get("registry")
        ?.some((i) => i.from === "cli/inspect-verbs.ts"),
    ).toBe(true); // import()
  });

  it("has no import cycle between folders", () => {
    const cycles = folderCycles(graph).map((c) => describeCycle(graph, c));
    expect(cycles, `folders that import each other:\n${cycles.join("\n")}`).toEqual([]);
  });

  it("places every folder in a layer", () => {
    const unplaced = [...new Set(files.map((f) => folderOf(f.path)))].filter((f) => !layerOf.has(f));
    expect(unplaced, "add new folders to LAYERS here and to docs/architecture.md").toEqual([]);
  });

  it("imports only from the same layer or the ones below", () => {
    const upward = [...graph].flatMap(([from, edges]) =>
      [...edges].flatMap(([to, via]) =>
        (layerOf.get(to) ?? Infinity) < (layerOf.get(from) ?? -Infinity) ? via.map(show) : [],
      ),
    );
    expect(upward, `imports against the layers of docs/architecture.md:\n${upward.join("\n")}`).toEqual([]);
  });

  it("keeps the leaves free of every other folder", () => {
    const leaves = new Set(LAYERS[LAYERS.length - 1]);
    const reaching = [...graph]
      .filter(([from]) => leaves.has(from))
      .flatMap(([, edges]) => [...edges.values()].flat().map(show));
    expect(reaching, `a leaf imports another folder:\n${reaching.join("\n")}`).toEqual([]);
  });

  it("ships no import of test code or of anything else outside gateway/", () => {
    const leaving = leavingImports(imports).map(show);
    expect(leaving, leaving.join("\n")).toEqual([]);
    const tests = imports.filter((i) => i.to.endsWith(".test.ts")).map(show);
    expect(tests, tests.join("\n")).toEqual([]);
  });
});

describe("the folder cycle check", () => {
  const graphOf = (pairs: readonly [string, string][]) =>
    folderGraph(pairs.map(([from, to]) => ({ from: `${from}/x.ts`, to: `${to}/y.ts` })));

  it("names each cycle with a file import for every step", () => {
    const g = graphOf([
      ["a", "b"],
      ["b", "c"],
      ["c", "a"],
      ["c", "d"],
      ["e", "f"],
      ["f", "e"],
    ]);
    expect(folderCycles(g).map((c) => describeCycle(g, c))).toEqual([
      "a -> b -> c -> a\n  a -> b (a/x.ts imports b/y.ts)\n  b -> c (b/x.ts imports c/y.ts)\n  c -> a (c/x.ts imports a/y.ts)",
      "e -> f -> e\n  e -> f (e/x.ts imports f/y.ts)\n  f -> e (f/x.ts imports e/y.ts)",
    ]);
  });

  it("finds none in a graph that only goes down, and ignores imports within a folder", () => {
    expect(
      folderCycles(
        graphOf([
          ["a", "b"],
          ["a", "c"],
          ["b", "c"],
          ["c", "c"],
        ]),
      ),
    ).toEqual([]);
  });
});
