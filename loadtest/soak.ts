// `npm run soak`: 20,000 streams through a real gateway process, 30% left by the client mid-stream and
// 10% reset by the provider mid-stream; then the gateway's sockets, descriptors, handles and heap must
// be back to the baseline (+10%) and every stream must have ended as it should. Not in CI: it takes
// minutes. See loadtest/README.md.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  anyUnexpectedExit,
  announcedPort,
  freePort,
  gitCommit,
  removeScratch,
  runScript,
  setScratch,
  spawnNode,
  stopAll,
} from "./processes.ts";
import { gatewayOwnEnv, startGateway, START_TIMEOUT_MS, writeConfigDir } from "./servers.ts";
import { runPlan, runStream, type StreamResult, type StreamTarget } from "./soak-client.ts";
import { parseSoakOptions, SOAK_HELP, type SoakOptions } from "./soak-options.ts";
import { kindCounts, modelFor, planStreams, seededRandom, type StreamPlan } from "./soak-plan.ts";
import { counterDelta, readGateway, readProcFigures, type Ports, type Reading } from "./soak-probe.ts";
import { decide, renderVerdict, unexpected, type Timings } from "./soak-verdict.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const log = (msg: string): void => void process.stderr.write(`[soak] ${msg}\n`);
const PATH = "/v1/chat/completions";
/**
 * The fake provider's keep-alive for this run: short, so the gateway's pool lets idle connections go
 * within seconds (undici keeps them for the provider's hint minus 2 s) and "idle" means no upstream
 * socket at all, before and after. A leaked connection then shows; a long keep-alive would hide it.
 */
const PROVIDER_KEEP_ALIVE_MS = 5000;

/** The gateway's environment: this shell's, minus anything that could send data off this machine. */
function soakGatewayEnv(own: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_") && k !== "ALERT_WEBHOOK_URL"),
  );
  return { ...inherited, ...own };
}

/**
 * Polls the gateway's sockets until client and upstream sockets are at most `target`'s, twice in a row
 * (a connection closing and another opening between two reads would otherwise pass). Returns the
 * seconds it took, or null when `timeoutMs` passed first.
 */
async function waitSockets(
  pid: number,
  ports: Ports,
  target: { readonly client: number; readonly upstream: number },
  timeoutMs: number,
): Promise<number | null> {
  const start = performance.now();
  let inARow = 0;
  while (performance.now() - start < timeoutMs) {
    const { sockets } = readProcFigures(pid, ports);
    inARow = sockets.client <= target.client && sockets.upstream <= target.upstream ? inARow + 1 : 0;
    if (inARow === 2) return (performance.now() - start) / 1000;
    await sleep(200);
  }
  return null;
}

/** Set when the run stops early: no new stream starts then. */
let stopping = false;

interface Phase {
  readonly results: StreamResult[];
  readonly notStarted: number;
  readonly seconds: number;
}

/** Runs a plan on a fresh client agent and closes every client connection at the end. */
async function runPhase(name: string, plans: readonly StreamPlan[], url: URL, opts: SoakOptions): Promise<Phase> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const target: StreamTarget = { host: url.hostname, port: Number(url.port), path: PATH, agent };
  const start = performance.now();
  let done = 0;
  const progress = setInterval(() => log(`${name}: ${done}/${plans.length} streams`), 5000);
  try {
    const run = await runPlan(plans, {
      concurrency: opts.concurrency,
      deadline: Date.now() + opts.maxSeconds * 1000,
      // Once the run is being stopped (watchdog, signal), no stream starts.
      now: () => (stopping ? Infinity : Date.now()),
      run: (p) => runStream(target, p, modelFor(p, opts.events, opts.gapMs), opts.streamTimeoutSeconds * 1000),
      onDone: () => void done++,
    });
    return { ...run, seconds: (performance.now() - start) / 1000 };
  } finally {
    clearInterval(progress);
    agent.destroy();
  }
}

async function soak(opts: SoakOptions, tmp: string): Promise<number> {
  const startedAt = new Date();
  const loadStart = loadavg();
  const fake = spawnNode("fake provider", {
    script: join(ROOT, "loadtest/fake-upstream.ts"),
    env: { ...process.env, PORT: "0", KEEP_ALIVE_MS: String(PROVIDER_KEEP_ALIVE_MS) },
    cwd: ROOT,
  });
  const fakePort = await announcedPort(fake, START_TIMEOUT_MS);
  writeConfigDir(ROOT, tmp, false);
  const inspectorPort = await freePort();
  const gateway = await startGateway("gateway", ROOT, [`--inspect=127.0.0.1:${inspectorPort}`], (port) =>
    // The provider's base URL becomes .../paced/v1: the fake provider's paced route.
    soakGatewayEnv(gatewayOwnEnv(port, tmp, join(tmp, "state.db"), `http://127.0.0.1:${fakePort}/paced`)),
  );
  const pid = gateway.child.proc.pid;
  if (pid === undefined) throw new Error("the gateway has no pid");
  const url = new URL(gateway.url);
  const ports: Ports = { gateway: Number(url.port), upstream: fakePort };
  const crashed = anyUnexpectedExit([fake, gateway.child]);
  const guarded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, crashed]);
  log(`gateway pid ${pid} on ${gateway.url} (inspector on 127.0.0.1:${inspectorPort}), fake provider on ${fakePort}`);

  const mix = { abortShare: opts.abortShare, resetShare: opts.resetShare, events: opts.events };
  const random = seededRandom(opts.seed);
  const warmPlans = planStreams(opts.warmup, mix, random);
  const plans = planStreams(opts.streams, mix, random);

  // Warm-up: start-up work done lazily (compiled code, pools, metric series) is not a leak.
  log(`warm-up: ${warmPlans.length} streams`);
  const warm = await guarded(runPhase("warm-up", warmPlans, url, opts));
  const warmBad = unexpected(warm.results);
  if (warmBad.length > 0 || warm.notStarted > 0)
    throw new Error(
      `warm-up streams did not end as planned (${warmBad.map((r) => `${r.kind}: ${r.observed} ${r.detail ?? ""}`).join("; ")}); nothing measured`,
    );
  const idle = await guarded(waitSockets(pid, ports, { client: 0, upstream: 0 }, opts.settleSeconds * 1000));
  if (idle === null) {
    const { sockets } = readProcFigures(pid, ports);
    throw new Error(
      `the gateway did not become idle after the warm-up within ${opts.settleSeconds} s ` +
        `(${sockets.client} client and ${sockets.upstream} upstream sockets open); nothing measured`,
    );
  }
  const baseline: Reading = await guarded(readGateway(pid, gateway.url, ports, inspectorPort));
  log(
    `baseline (idle after ${idle.toFixed(1)} s): ${baseline.figures.fds} fds, ${baseline.figures.activeHandles} handles, ` +
      `heap ${(baseline.figures.heapUsedBytes / 2 ** 20).toFixed(1)} MiB`,
  );

  const counts = kindCounts(opts.streams, mix);
  log(
    `soak: ${plans.length} streams (${counts.complete} complete, ${counts.abort} client aborts, ${counts.reset} provider resets) at concurrency ${opts.concurrency}`,
  );
  const run = await guarded(runPhase("soak", plans, url, opts));
  const settle = await guarded(
    waitSockets(
      pid,
      ports,
      { client: baseline.figures.clientSockets, upstream: baseline.figures.upstreamSockets },
      opts.settleSeconds * 1000,
    ),
  );
  const after: Reading = await guarded(readGateway(pid, gateway.url, ports, inspectorPort));

  const verdict = decide({
    planned: counts,
    results: run.results,
    notStarted: run.notStarted,
    baseline: baseline.figures,
    after: after.figures,
    settled: settle !== null,
    counters: counterDelta(baseline.counters, after.counters),
    tolerance: opts.tolerance,
  });
  const timings: Timings = {
    warmupSeconds: warm.seconds,
    soakSeconds: run.seconds,
    settleSeconds: settle ?? opts.settleSeconds,
  };
  const loadEnd = loadavg();
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(ROOT),
    machine: { node: process.version, cpus: cpus().length, loadavgStart: loadStart, loadavgEnd: loadEnd },
    options: opts,
    timings,
    baseline: baseline.figures,
    after: after.figures,
    verdict,
  };
  const outDir = join(ROOT, "loadtest/results");
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `soak-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  if (opts.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  else {
    const head =
      `## promptgate soak: ${opts.streams} streams at concurrency ${opts.concurrency}, ` +
      `${Math.round(opts.abortShare * 100)}% client aborts, ${Math.round(opts.resetShare * 100)}% provider resets, ` +
      `${opts.events} events every ${opts.gapMs} ms; Node ${process.version}, ${cpus().length} CPUs, ` +
      `load average ${(loadStart[0] ?? 0).toFixed(1)} -> ${(loadEnd[0] ?? 0).toFixed(1)}, commit ${results.commit ?? "?"}`;
    process.stdout.write(`${head}\n\n${renderVerdict(verdict, run.results, timings)}\n\nResults: ${file}\n`);
  }
  return verdict.ok ? 0 : 1;
}

/** An upper bound on the whole run, past every phase's own limit: if it is reached, something hangs. */
function watchdogMs(opts: SoakOptions): number {
  return (2 * (opts.maxSeconds + opts.streamTimeoutSeconds + opts.settleSeconds) + 120) * 1000;
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseSoakOptions(argv);
  if (opts.help) {
    process.stdout.write(SOAK_HELP + "\n");
    return 0;
  }
  if (process.platform !== "linux") throw new Error("the soak reads /proc: it runs on Linux only");
  const tmp = mkdtempSync(join(tmpdir(), "promptgate-soak-"));
  setScratch(tmp);
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const limitMs = watchdogMs(opts);
    const timedOut = new Promise<never>((_resolve, reject) => {
      watchdog = setTimeout(
        () => reject(new Error(`the soak took longer than ${Math.round(limitMs / 1000)} s and was stopped`)),
        limitMs,
      );
    });
    return await Promise.race([soak(opts, tmp), timedOut]);
  } finally {
    stopping = true;
    clearTimeout(watchdog);
    await stopAll(5000);
    removeScratch();
  }
}

await runScript(
  () => main(process.argv.slice(2)),
  log,
  () => {
    stopping = true;
  },
);
