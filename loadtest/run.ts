// `npm run loadtest`: the gateway vs. a bare node:http + undici passthrough vs. the fake provider
// directly (and, with --prompt, vs. itself serving a prompt; with --otel, vs. itself exporting spans),
// in one run, in interleaved rounds; reports req/s, p50 latency at concurrency 1, and the ratios
// against the targets. See loadtest/README.md.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runLoad, stopAllRuns, targetNames, type Target, type TargetName } from "./bench.ts";
import { HELP, parseBaseBody, parseOptions, scenarioBody, type Options, type ScenarioName } from "./options.ts";
import {
  anyUnexpectedExit,
  cpuSeconds,
  gitCommit,
  removeScratch,
  runScript,
  setScratch,
  stopAll,
} from "./processes.ts";
import {
  metAllTargets,
  renderMarkdown,
  renderTelemetry,
  summarizeScenario,
  telemetryValid,
  type MeasuredRun,
  type ScenarioRuns,
  type ScenarioSummary,
  type TelemetryEvidence,
} from "./report.ts";
import { gatewaySpanCounters, OTEL_BSP_DEFAULTS, preflight, receiverStats, startServers } from "./servers.ts";
import { rotated } from "./stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const log = (msg: string): void => void process.stderr.write(`[loadtest] ${msg}\n`);

interface RecordedRun extends MeasuredRun {
  readonly scenario: ScenarioName;
  readonly phase: "throughput" | "latency";
  readonly round: number;
  readonly slot: number;
  /** The machine's 1-minute load average when the run ended: above the CPU count, others competed. */
  readonly load1: number;
}

/** Runs every target of every round for one phase, rotating the order round by round. */
async function phase(
  scenario: ScenarioName,
  kind: "throughput" | "latency",
  targets: readonly Target[],
  body: string,
  opts: Options,
  pids: Readonly<Record<TargetName, number | undefined>>,
  recorded: RecordedRun[],
): Promise<{ rounds: MeasuredRun[][]; warmupFailures: number }> {
  const connections = kind === "throughput" ? opts.connections : 1;
  const seconds = kind === "throughput" ? opts.duration : opts.latencyDuration;
  const rounds: MeasuredRun[][] = [];
  let warmupFailures = 0;
  for (let round = 0; round < opts.rounds; round++) {
    const results: MeasuredRun[] = [];
    for (const [slot, target] of rotated(targets, round).entries()) {
      if (opts.warmup > 0) {
        const w = await runLoad({ target, body, connections, seconds: opts.warmup, sampleLatency: false });
        warmupFailures += w.non2xx + w.errors;
      }
      const cpu0 = cpuSeconds(pids[target.name]);
      const run = await runLoad({ target, body, connections, seconds, sampleLatency: kind === "latency" });
      const cpu1 = cpuSeconds(pids[target.name]);
      const cpuUsPerRequest =
        cpu0 !== null && cpu1 !== null && run.requests > 0 ? ((cpu1 - cpu0) * 1e6) / run.requests : null;
      const r: MeasuredRun = { ...run, cpuUsPerRequest };
      results.push(r);
      recorded.push({ ...r, scenario, phase: kind, round: round + 1, slot: slot + 1, load1: loadavg()[0] ?? 0 });
      const figure = kind === "throughput" ? `${Math.round(r.rps)} req/s` : `p50 ${r.latencyMs.p50.toFixed(3)} ms`;
      const bad = r.non2xx + r.errors > 0 ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : "";
      log(`${scenario} ${kind} round ${round + 1}/${opts.rounds} ${target.name}@c=${connections}: ${figure}${bad}`);
    }
    rounds.push(results);
  }
  return { rounds, warmupFailures };
}

/** Header values that may be credentials never reach the results file. */
function redactHeaders(h: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(h).map(([k, v]) => [k, /authorization|api-key|token|secret/i.test(k) ? "[redacted]" : v]),
  );
}

/** An upper bound on the whole run: if it takes twice as long as planned, something hangs. */
function watchdogMs(opts: Options): number {
  const perTarget = 2 * opts.warmup + opts.duration + opts.latencyDuration + 1;
  return (opts.scenarios.length * opts.rounds * targetNames(opts).length * perTarget * 2 + 60) * 1000;
}

/** The OTEL_BSP_* settings gateway-otel runs with: the defaults, under --gateway-env. */
function batchSettings(opts: Options): Record<string, string> {
  return Object.fromEntries(
    Object.entries({ ...OTEL_BSP_DEFAULTS, ...opts.gatewayEnv }).filter(([k]) => k.startsWith("OTEL_BSP_")),
  );
}

interface BenchResult {
  readonly summaries: ScenarioSummary[];
  readonly runs: RecordedRun[];
  /** With --otel: what the receiver and gateway-otel counted. */
  readonly telemetry: TelemetryEvidence | null;
}

async function bench(opts: Options, tmp: string): Promise<BenchResult> {
  const base = opts.bodyFile === null ? undefined : parseBaseBody(readFileSync(opts.bodyFile, "utf8"), opts.bodyFile);
  const extras = [
    opts.prompt ? " (also answering as gateway-prompt)" : "",
    opts.otel ? ", the OTLP receiver and gateway-otel" : "",
  ].join("");
  log(`starting the fake provider, the bare proxy and the gateway${extras}`);
  const servers = await startServers(ROOT, tmp, {
    configDir: opts.configDir,
    env: opts.gatewayEnv,
    nodeArgs: opts.gatewayNodeArgs,
    headers: opts.gatewayHeaders,
    prompt: opts.prompt,
    otel: opts.otel,
  });
  const crashed = anyUnexpectedExit(servers.children);
  const targets = servers.targets;
  const guarded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, crashed]);

  const summaries: ScenarioSummary[] = [];
  const runs: RecordedRun[] = [];
  for (const scenario of opts.scenarios) {
    const body = scenarioBody(scenario, base);
    for (const t of targets) await guarded(preflight(t, body, scenario === "stream"));
    const tput = await guarded(phase(scenario, "throughput", targets, body, opts, servers.pids, runs));
    const lat = await guarded(phase(scenario, "latency", targets, body, opts, servers.pids, runs));
    const scenarioRuns: ScenarioRuns = {
      scenario,
      throughput: tput.rounds,
      latency: lat.rounds,
      warmupFailures: tput.warmupFailures + lat.warmupFailures,
    };
    summaries.push(summarizeScenario(scenarioRuns));
  }
  let telemetry: TelemetryEvidence | null = null;
  if (servers.otel !== null) {
    const [receiver, gatewaySpans] = await Promise.all([
      receiverStats(servers.otel),
      gatewaySpanCounters(servers.otel),
    ]);
    telemetry = { receiver, gatewaySpans, batch: batchSettings(opts) };
    const r =
      receiver === null
        ? "receiver stats unreadable"
        : `receiver got ${receiver.requests} export requests, ${receiver.bytes} bytes, ${receiver.spans} spans`;
    const g =
      gatewaySpans === null
        ? ""
        : `; gateway-otel: ${gatewaySpans.exported} exported, ${gatewaySpans.dropped} dropped, ${gatewaySpans.failed} failed`;
    log(`span export: ${r}${g}`);
  }
  return { summaries, runs, telemetry };
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const startedAt = new Date();
  const loadStart = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), "promptgate-loadtest-"));
  setScratch(tmp);
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const limitMs = watchdogMs(opts);
    const timedOut = new Promise<never>((_resolve, reject) => {
      watchdog = setTimeout(() => {
        stopAllRuns();
        reject(new Error(`the load test took longer than ${Math.round(limitMs / 1000)} s and was stopped`));
      }, limitMs);
    });
    const { summaries, runs, telemetry } = await Promise.race([bench(opts, tmp), timedOut]);

    const exported = telemetry === null || telemetryValid(telemetry);
    const clean = summaries.every((s) => s.clean) && exported;
    const targetsMet = summaries.every(metAllTargets);
    const loadEnd = loadavg();
    const results = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      commit: gitCommit(ROOT),
      machine: {
        node: process.version,
        platform: process.platform,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? null,
        loadavgStart: loadStart,
        loadavgEnd: loadEnd,
      },
      options: { ...opts, gatewayHeaders: redactHeaders(opts.gatewayHeaders) },
      clean,
      targetsMet,
      summaries,
      telemetry,
      runs,
    };
    const outDir = resolve(opts.outDir === "loadtest/results" ? ROOT : process.cwd(), opts.outDir);
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");

    if (opts.json) {
      process.stdout.write(JSON.stringify(results, null, 2) + "\n");
    } else {
      const head =
        `## promptgate load test: ${opts.rounds} interleaved rounds, ${opts.duration} s at ${opts.connections} connections, ` +
        `${opts.latencyDuration} s at 1 connection; Node ${process.version}, ${cpus().length} CPUs, ` +
        `load average ${(loadStart[0] ?? 0).toFixed(1)} -> ${(loadEnd[0] ?? 0).toFixed(1)}, commit ${results.commit ?? "?"}`;
      const tables = summaries.map((s) => renderMarkdown(s, opts));
      if (telemetry !== null) tables.push(renderTelemetry(telemetry));
      process.stdout.write([head, ...tables, `Results: ${file}`].join("\n\n") + "\n");
    }
    if (!exported)
      log(
        "INVALID RUN: the OTLP receiver got no export requests, so gateway-otel exported nothing; its figures do not count",
      );
    if (!summaries.every((s) => s.clean))
      log("INVALID RUN: some requests failed (non-2xx or connection errors); the figures do not count");
    if (!clean) return 1;
    return opts.check && !targetsMet ? 2 : 0;
  } finally {
    clearTimeout(watchdog);
    stopAllRuns();
    await stopAll(5000);
    removeScratch();
  }
}

await runScript(() => main(process.argv.slice(2)), log, stopAllRuns);
