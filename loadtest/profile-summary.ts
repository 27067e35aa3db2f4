// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. the gateway child of a load test run with
// --gateway-node-arg=--cpu-prof): the functions with the most self time, and self time per file.
// Run: `node loadtest/profile-summary.ts FILE.cpuprofile [--top N]`.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

function where(url: string): string {
  if (url === "") return "(native)";
  const path = url.startsWith("file://") ? new URL(url).pathname : url;
  const rel = relative(process.cwd(), path);
  const nm = rel.lastIndexOf("node_modules/");
  return nm === -1 ? rel : rel.slice(nm + "node_modules/".length);
}

/** Self time per function and per file, from the sample timeline (the nodes' hitCounts are coarser). */
export function selfTimes(p: Profile): { functions: SelfTime[]; files: SelfTime[]; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i + 1] ?? 0;
    const node = byId.get(id);
    if (node === undefined) return;
    const f = node.callFrame;
    const loc = where(f.url);
    const name = `${f.functionName || "(anonymous)"} ${loc}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const fileKey = f.url ? loc : f.functionName;
    file.set(fileKey, (file.get(fileKey) ?? 0) + us);
    total += us;
  });
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m]
      .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { functions: rank(fn), files: rank(file), totalMs: total / 1000 };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--"));
  const topAt = args.indexOf("--top");
  const top = topAt === -1 ? 25 : Number(args[topAt + 1] ?? 25);
  if (file === undefined) {
    process.stderr.write("usage: node loadtest/profile-summary.ts FILE.cpuprofile [--top N]\n");
    process.exit(2);
  }
  const { functions, files, totalMs } = selfTimes(JSON.parse(readFileSync(file, "utf8")) as Profile);
  const row = (s: SelfTime): string =>
    `| ${s.ms.toFixed(0)} | ${(s.share * 100).toFixed(1)}% | ${s.name.replaceAll("|", "\\|")} |`;
  process.stdout.write(
    [
      `profile: ${file}, ${totalMs.toFixed(0)} ms sampled`,
      "",
      "| self ms | share | function |",
      "| ---: | ---: | --- |",
      ...functions.slice(0, top).map(row),
      "",
      "| self ms | share | file (or native bucket) |",
      "| ---: | ---: | --- |",
      ...files.slice(0, top).map(row),
    ].join("\n") + "\n",
  );
}
