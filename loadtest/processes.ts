// The load test's child processes: each server runs in its own Node process (this Node, so all share
// one version), announces itself, and is always stopped: on success, on error, on SIGINT, on exit.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string | null>;
  /** The last few KB of its stdout and stderr, for error messages. */
  tail(): string;
}

const TAIL_BYTES = 8192;
const live = new Set<Child>();
let stopping = false;

export interface SpawnSpec {
  readonly script: string;
  readonly args?: readonly string[];
  /** Flags for node itself, before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export function spawnNode(name: string, spec: SpawnSpec): Child {
  const argv = [...(spec.nodeArgs ?? []), spec.script, ...(spec.args ?? [])];
  const proc = spawn(process.execPath, argv, { env: spec.env, cwd: spec.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exited = new Promise<number | string | null>((resolve) => {
    proc.once("exit", (code, signal) => resolve(code ?? signal));
    proc.once("error", () => resolve(null));
  });
  const child: Child = { name, proc, exited, tail: () => tail };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** Rejects when any child exits before stopAll() was called: a crashed server invalidates the run. */
export function anyUnexpectedExit(children: readonly Child[]): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    for (const c of children) {
      void c.exited.then((code) => {
        if (!stopping) reject(new Error(`${c.name} exited unexpectedly (${String(code)}):\n${c.tail()}`));
      });
    }
  });
}

/** Waits for the `{"port":N}` line a fixture prints on stdout. */
export function announcedPort(child: Child, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`${child.name} did not announce its port within ${timeoutMs} ms:\n${child.tail()}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      out += chunk.toString("utf8");
      const nl = out.indexOf("\n");
      if (nl === -1) return;
      child.proc.stdout?.off("data", onData);
      clearTimeout(timer);
      try {
        const port = (JSON.parse(out.slice(0, nl)) as { port?: unknown }).port;
        if (typeof port !== "number") throw new Error("no port in it");
        resolve(port);
      } catch (err) {
        reject(new Error(`${child.name} printed an unexpected first line "${out.slice(0, nl)}": ${String(err)}`));
      }
    };
    child.proc.stdout?.on("data", onData);
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${String(code)}) before announcing its port:\n${child.tail()}`));
    });
  });
}

/** Polls a readiness URL until it answers 200. */
export async function waitReady(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | string | null | undefined;
  void child.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined)
      throw new Error(`${child.name} exited (${String(exitCode)}) before it was ready:\n${child.tail()}`);
    try {
      // No keep-alive: an idle connection left open here would count as one of the server's sockets.
      const res = await fetch(url, { headers: { connection: "close" }, signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms:\n${child.tail()}`);
}

/** A port that was free a moment ago, for a server that cannot announce its own (the gateway at LOG_LEVEL=warn). */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM every live child (so --cpu-prof profiles get written), then SIGKILL what is left after graceMs. */
export async function stopAll(graceMs: number): Promise<void> {
  stopping = true;
  const children = [...live];
  for (const c of children) c.proc.kill("SIGTERM");
  const all = Promise.all(children.map((c) => c.exited));
  const grace = new AbortController();
  const timedOut = await Promise.race([
    all.then(() => false),
    sleep(graceMs, undefined, { signal: grace.signal }).then(
      () => true,
      () => false,
    ),
  ]);
  grace.abort();
  if (timedOut) for (const c of live) c.proc.kill("SIGKILL");
  await all;
}

/** Last resort on process exit: synchronous, so it also runs from process.on("exit"). */
export function killAllNow(): void {
  stopping = true;
  for (const c of live) c.proc.kill("SIGKILL");
}

let ticksPerSecond: number | undefined;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. CPU per
 * request moves less than req/s when other work competes for the machine.
 */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined || process.platform !== "linux") return null;
  try {
    ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces: utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** The config and state folder of the running script, removed however it ends. */
let scratchDir: string | null = null;

/** Names the folder `runScript` removes when the script ends, fails or is interrupted. */
export function setScratch(dir: string): void {
  scratchDir = dir;
}

export function removeScratch(): void {
  if (scratchDir !== null) rmSync(scratchDir, { recursive: true, force: true });
}

/**
 * Runs a load script's `main` as its exit code: the servers it started are killed on exit, SIGINT and
 * SIGTERM stop them gracefully (after `onInterrupt`) and exit 130, and a failure is logged as one line.
 */
export async function runScript(
  main: () => Promise<number>,
  log: (msg: string) => void,
  onInterrupt: () => void,
): Promise<void> {
  process.on("exit", killAllNow);
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      log(`${signal}: stopping the servers`);
      onInterrupt();
      void stopAll(3000).finally(() => {
        removeScratch();
        process.exit(130);
      });
    });
  }
  try {
    process.exitCode = await main();
  } catch (err) {
    if (!interrupted) {
      log(`failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
}

/** The short commit of the checkout at `root`, for the results file; null outside a git checkout. */
export function gitCommit(root: string): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}
