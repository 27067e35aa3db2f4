// What the soak reads from the gateway process, without any debug route in the gateway: descriptors
// and sockets from /proc (Linux), handles, heap and stream outcomes from its own /metrics, and a full
// GC forced through the inspector it was started with (--inspect on 127.0.0.1) before heap is read.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { StreamKind } from "./soak-plan.ts";
import { kindOfModel } from "./soak-plan.ts";

// ---- /proc ----

export interface TcpEntry {
  readonly localPort: number;
  readonly remotePort: number;
  /** The kernel's state code: 01 established, 0A listening, 06 time-wait... */
  readonly state: string;
}

/** /proc/<pid>/net/tcp or tcp6, by socket inode. https://docs.kernel.org/networking/proc_net_tcp.html */
export function parseTcpTable(text: string): Map<string, TcpEntry> {
  const out = new Map<string, TcpEntry>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const [local, remote, state, inode] = [f[1], f[2], f[3], f[9]];
    if (local === undefined || remote === undefined || state === undefined || inode === undefined) continue;
    const port = (addr: string): number => parseInt(addr.slice(addr.lastIndexOf(":") + 1), 16);
    out.set(inode, { localPort: port(local), remotePort: port(remote), state });
  }
  return out;
}

export interface SocketCounts {
  /** Connections from clients to the gateway's port. */
  readonly client: number;
  /** Connections from the gateway to the provider's port. */
  readonly upstream: number;
  readonly listening: number;
  /** Anything else (the inspector's, Unix sockets). */
  readonly other: number;
}

export interface Ports {
  readonly gateway: number;
  readonly upstream: number;
}

const LISTEN = "0A";

/** Sorts a process's socket inodes by what they connect. */
export function classifySockets(
  inodes: readonly string[],
  table: ReadonlyMap<string, TcpEntry>,
  ports: Ports,
): SocketCounts {
  let client = 0;
  let upstream = 0;
  let listening = 0;
  let other = 0;
  for (const inode of inodes) {
    const e = table.get(inode);
    if (e === undefined) other++;
    else if (e.state === LISTEN) listening++;
    else if (e.localPort === ports.gateway) client++;
    else if (e.remotePort === ports.upstream) upstream++;
    else other++;
  }
  return { client, upstream, listening, other };
}

export interface ProcFigures {
  readonly fds: number;
  readonly sockets: SocketCounts;
}

/** The process's open descriptors and its TCP sockets, sorted. */
export function readProcFigures(pid: number, ports: Ports): ProcFigures {
  const inodes: string[] = [];
  let fds = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed between the listing and now
    }
    fds++;
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.push(m[1]!);
  }
  const table = new Map<string, TcpEntry>();
  for (const file of ["tcp", "tcp6"]) {
    try {
      for (const [k, v] of parseTcpTable(readFileSync(`/proc/${pid}/net/${file}`, "utf8"))) table.set(k, v);
    } catch {
      // no IPv6 on this machine
    }
  }
  return { fds, sockets: classifySockets(inodes, table, ports) };
}

// ---- /metrics ----

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const UNESCAPE: Readonly<Record<string, string>> = { n: "\n", '"': '"', "\\": "\\" };

/** The samples of a Prometheus text exposition (comments skipped). https://prometheus.io/docs/instrumenting/exposition_formats/ */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    const labels: Record<string, string> = {};
    let rest: string;
    let name: string;
    if (brace !== -1 && (space === -1 || brace < space)) {
      name = line.slice(0, brace);
      let i = brace + 1;
      while (i < line.length && line[i] !== "}") {
        const eq = line.indexOf('="', i);
        if (eq === -1) break;
        const key = line.slice(i, eq).replace(/^,/, "").trim();
        let value = "";
        i = eq + 2;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === "\\" && i + 1 < line.length) {
            value += UNESCAPE[line[i + 1]!] ?? line[i + 1];
            i += 2;
          } else value += line[i++];
        }
        labels[key] = value;
        i++; // the closing quote
        if (line[i] === ",") i++;
      }
      rest = line.slice(i + 1).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const value = Number(rest.split(/\s+/)[0]);
    if (name !== "" && !Number.isNaN(value)) out.push({ name, labels, value });
  }
  return out;
}

/** The gateway's default Node.js metrics (prom-client's, under its `promptgate_` prefix). */
export const PROCESS_METRICS = {
  activeHandles: "promptgate_nodejs_active_handles_total",
  heapUsed: "promptgate_nodejs_heap_size_used_bytes",
  rss: "promptgate_process_resident_memory_bytes",
  openFds: "promptgate_process_open_fds",
} as const;

const REQUESTS = "promptgate_requests_total";
const INTERRUPTED = "promptgate_streams_interrupted_total";

/** The one value of an unlabelled metric; throws with what is missing, so a renamed metric is not read as 0. */
export function single(samples: readonly Sample[], name: string): number {
  const s = samples.find((x) => x.name === name);
  if (s === undefined) throw new Error(`the gateway's /metrics has no ${name} (are the default metrics registered?)`);
  return s.value;
}

/** What the gateway counted for the soak's streams of one kind. */
export interface KindCounters {
  /** promptgate_requests_total by its status label. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** promptgate_streams_interrupted_total, all error types. */
  readonly interrupted: number;
}

export type OutcomeCounters = Readonly<Record<StreamKind, KindCounters>>;

/** The request and interrupted-stream counters of the soak's models, summed by stream kind. */
export function outcomeCounters(samples: readonly Sample[]): OutcomeCounters {
  const acc = {
    complete: { byStatus: {} as Record<string, number>, interrupted: 0 },
    abort: { byStatus: {} as Record<string, number>, interrupted: 0 },
    reset: { byStatus: {} as Record<string, number>, interrupted: 0 },
  };
  for (const s of samples) {
    if (s.name !== REQUESTS && s.name !== INTERRUPTED) continue;
    const kind = kindOfModel(s.labels["model"] ?? "");
    if (kind === null) continue;
    if (s.name === INTERRUPTED) acc[kind].interrupted += s.value;
    else {
      const status = s.labels["status"] ?? "?";
      acc[kind].byStatus[status] = (acc[kind].byStatus[status] ?? 0) + s.value;
    }
  }
  return acc;
}

/** after - before, per kind and status (counters only grow while the gateway runs). */
export function counterDelta(before: OutcomeCounters, after: OutcomeCounters): OutcomeCounters {
  const one = (b: KindCounters, a: KindCounters): KindCounters => {
    const byStatus: Record<string, number> = {};
    for (const status of new Set([...Object.keys(a.byStatus), ...Object.keys(b.byStatus)])) {
      const d = (a.byStatus[status] ?? 0) - (b.byStatus[status] ?? 0);
      if (d !== 0) byStatus[status] = d;
    }
    return { byStatus, interrupted: a.interrupted - b.interrupted };
  };
  return {
    complete: one(before.complete, after.complete),
    abort: one(before.abort, after.abort),
    reset: one(before.reset, after.reset),
  };
}

export async function scrape(url: string): Promise<Sample[]> {
  // A fresh connection that closes after the answer: the soak's own keep-alive sockets are gone by now.
  const res = await fetch(`${url}/metrics`, { headers: { connection: "close" }, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return parseMetrics(text);
}

// ---- inspector ----

/**
 * A full, precise GC in the gateway (the DevTools protocol's HeapProfiler.collectGarbage), so heap
 * readings compare live objects rather than garbage not yet collected. The inspector listens on
 * 127.0.0.1 only and no session stays attached between readings.
 * https://chromedevtools.github.io/devtools-protocol/tot/HeapProfiler/#method-collectGarbage
 */
export async function forceGc(inspectorPort: number, timeoutMs = 10_000): Promise<void> {
  const list: unknown = await (
    await fetch(`http://127.0.0.1:${inspectorPort}/json/list`, {
      headers: { connection: "close" },
      signal: AbortSignal.timeout(timeoutMs),
    })
  ).json();
  const first: unknown = Array.isArray(list) ? list[0] : undefined;
  const wsUrl =
    first !== null && typeof first === "object" && "webSocketDebuggerUrl" in first
      ? first.webSocketDebuggerUrl
      : undefined;
  if (typeof wsUrl !== "string" || !wsUrl.startsWith("ws://127.0.0.1:"))
    throw new Error(`the gateway's inspector on port ${inspectorPort} gave no loopback session URL`);
  const ws = new WebSocket(wsUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no GC within ${timeoutMs} ms`)), timeoutMs);
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error("the inspector session failed"));
      };
      ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
      ws.onmessage = (ev: MessageEvent) => {
        const msg: unknown = typeof ev.data === "string" ? JSON.parse(ev.data) : null;
        if (msg === null || typeof msg !== "object" || !("id" in msg) || msg.id !== 1) return;
        clearTimeout(timer);
        if ("error" in msg) reject(new Error(`HeapProfiler.collectGarbage failed: ${JSON.stringify(msg.error)}`));
        else resolve();
      };
    });
  } finally {
    const closed = new Promise<void>((resolve) => {
      ws.onclose = () => resolve();
      setTimeout(resolve, 2000).unref();
    });
    ws.close();
    await closed;
  }
}

// ---- one reading ----

/** The figures the verdict compares, read from one gateway process. */
export interface Figures {
  readonly fds: number;
  readonly clientSockets: number;
  readonly upstreamSockets: number;
  /** Listening and other sockets (the gateway's and the inspector's listeners): info. */
  readonly otherSockets: number;
  readonly activeHandles: number;
  readonly heapUsedBytes: number;
  /** Info: RSS does not shrink back reliably (the allocator keeps freed pages). */
  readonly rssBytes: number;
}

export interface Reading {
  readonly figures: Figures;
  readonly counters: OutcomeCounters;
}

/** /proc first (nothing of the soak's own is open then), then a GC, then /metrics. */
export async function readGateway(pid: number, url: string, ports: Ports, inspectorPort: number): Promise<Reading> {
  const proc = readProcFigures(pid, ports);
  await forceGc(inspectorPort);
  const samples = await scrape(url);
  return {
    figures: {
      fds: proc.fds,
      clientSockets: proc.sockets.client,
      upstreamSockets: proc.sockets.upstream,
      otherSockets: proc.sockets.listening + proc.sockets.other,
      activeHandles: single(samples, PROCESS_METRICS.activeHandles),
      heapUsedBytes: single(samples, PROCESS_METRICS.heapUsed),
      rssBytes: single(samples, PROCESS_METRICS.rss),
    },
    counters: outcomeCounters(samples),
  };
}
