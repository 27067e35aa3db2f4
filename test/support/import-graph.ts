// The import graph of gateway/'s shipped files, folded to its top-level folders, for the architecture
// check: which folder imports which (and through which files), the cycles between folders, and imports
// that leave gateway/ for anything but a package.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import ts from "typescript";

/** A file under gateway/ as a path relative to gateway/ (`registry/registry.ts`) and its source text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** One relative import: from a file, to the path it resolves to (relative to gateway/, may start with ../). */
export interface FileImport {
  readonly from: string;
  readonly to: string;
}

/** Top-level folder -> the folders it imports -> the file imports that make that edge. */
export type FolderGraph = Map<string, Map<string, FileImport[]>>;

/** Every shipped file: the .ts files under `root`, not the unit tests beside them. */
export function shippedFiles(root: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
        out.push({ path: relative(root, full).split(sep).join("/"), text: readFileSync(full, "utf8") });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Static, `export ... from` and dynamic `import("...")` specifiers that are relative paths, resolved. */
export function relativeImports(files: readonly SourceFile[]): FileImport[] {
  const out: FileImport[] = [];
  for (const file of files) {
    for (const { fileName } of ts.preProcessFile(file.text, true, true).importedFiles) {
      if (!fileName.startsWith("./") && !fileName.startsWith("../")) continue;
      out.push({
        from: file.path,
        to: normalize(join(dirname(file.path), fileName))
          .split(sep)
          .join("/"),
      });
    }
  }
  return out;
}

/** The folder a path belongs to: its first segment (`registry`), or the file itself at the top (`app.ts`). */
export const folderOf = (path: string): string => path.split("/")[0] ?? path;

/** Imports that resolve outside gateway/ (into test/, loadtest/ or anywhere else). */
export const leavingImports = (imports: readonly FileImport[]): FileImport[] =>
  imports.filter((i) => i.to.startsWith("../"));

export function folderGraph(imports: readonly FileImport[]): FolderGraph {
  const graph: FolderGraph = new Map();
  for (const i of imports) {
    if (i.to.startsWith("../")) continue;
    const [from, to] = [folderOf(i.from), folderOf(i.to)];
    if (!graph.has(from)) graph.set(from, new Map());
    if (from === to) continue;
    const edges = graph.get(from)!;
    edges.set(to, [...(edges.get(to) ?? []), i]);
  }
  return graph;
}

/**
 * The cycles between folders, as the folders along each with the first repeated at the end: [a, b, a].
 * For each group of folders that reach each other (Tarjan's strongly connected components), the
 * shortest cycle through each of its folders and every pair that imports each other, without repeats.
 */
export function folderCycles(graph: FolderGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const targets = (n: string): string[] => [...(graph.get(n)?.keys() ?? [])].sort();
  const connect = (n: string): void => {
    index.set(n, index.size);
    low.set(n, index.get(n)!);
    stack.push(n);
    onStack.add(n);
    for (const m of targets(n)) {
      if (!index.has(m)) {
        connect(m);
        low.set(n, Math.min(low.get(n)!, low.get(m)!));
      } else if (onStack.has(m)) low.set(n, Math.min(low.get(n)!, index.get(m)!));
    }
    if (low.get(n) !== index.get(n)) return;
    const group: string[] = [];
    let m: string;
    do {
      m = stack.pop()!;
      onStack.delete(m);
      group.push(m);
    } while (m !== n);
    if (group.length > 1) groups.push(group);
  };
  for (const n of [...graph.keys()].sort()) if (!index.has(n)) connect(n);
  const cycles = new Map<string, string[]>();
  const add = (cycle: readonly string[]): void => {
    const turned = rotated(cycle);
    cycles.set(turned.join(" "), turned);
  };
  for (const group of groups.map((g) => new Set(g))) {
    for (const start of [...group].sort()) {
      add(cycleWithin(graph, group, start));
      // Every pair that imports each other, too: the most common cycle, and the plainest to read.
      for (const other of graph.get(start)?.keys() ?? []) if (graph.get(other)?.has(start)) add([start, other, start]);
    }
  }
  return [...cycles.values()].sort((a, b) => (a.join(" ") < b.join(" ") ? -1 : 1));
}

/** The same cycle starting at its first folder alphabetically: [b, a, b] -> [a, b, a]. */
function rotated(cycle: readonly string[]): string[] {
  const ring = cycle.slice(0, -1);
  const at = ring.indexOf([...ring].sort()[0]!);
  const turned = [...ring.slice(at), ...ring.slice(0, at)];
  return [...turned, turned[0]!];
}

/** A shortest path from `start` back to itself inside the group. */
function cycleWithin(graph: FolderGraph, group: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const n = queue.shift()!;
    for (const m of [...(graph.get(n)?.keys() ?? [])].sort()) {
      if (!group.has(m)) continue;
      if (m === start) {
        const path = [n];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(m)) {
        previous.set(m, n);
        queue.push(m);
      }
    }
  }
  return [start];
}

/** `a -> b -> a`, each step with one file import that makes it. */
export function describeCycle(graph: FolderGraph, cycle: readonly string[]): string {
  const steps = cycle.slice(1).map((to, i) => {
    const from = cycle[i]!;
    const example = graph.get(from)?.get(to)?.[0];
    return `  ${from} -> ${to}${example ? ` (${example.from} imports ${example.to})` : ""}`;
  });
  return `${cycle.join(" -> ")}\n${steps.join("\n")}`;
}
