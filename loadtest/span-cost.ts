// What a span costs, split from what exporting it costs: three gateways loaded at the same time, at
// the same fixed request rate, so the machine's state on the day weighs on all three alike:
//   off       no span export (the API's no-op tracer)
//   discard   spans created, filled, ended and batched by the SDK, then handed to an exporter that
//             sends nothing (loadtest/discard-exporter.ts, preloaded)
//   export    spans exported over OTLP/HTTP to the stand-in receiver, as `npm run loadtest -- --otel`
// and CPU per request read from /proc for each. A first round warms up and is not counted; rounds
// rotate the start order. Run: `node loadtest/span-cost.ts [--rate N] [--seconds S] [--rounds N] [--stream]`.
import autocannon from "autocannon";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { scenarioBody } from "./options.ts";
import { announcedPort, cpuSeconds, killAllNow, spawnNode, stopAll, type Child } from "./processes.ts";
import { parseSpanCounters } from "./report.ts";
import { START_TIMEOUT_MS, gatewayEnv, gatewayOwnEnv, startGateway, writeConfigDir } from "./servers.ts";
import { median, ratio, rotated } from "./stats.ts";

export const VARIANTS = ["off", "discard", "export"] as const;
export type Variant = (typeof VARIANTS)[number];

export interface SpanCostOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly stream: boolean;
}

export function parseSpanCostOptions(argv: readonly string[]): SpanCostOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rate: { type: "string" },
      seconds: { type: "string" },
      rounds: { type: "string" },
      stream: { type: "boolean" },
    },
    strict: true,
  });
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  return {
    rate: int("rate", values.rate, 4000, 100, 100_000),
    seconds: int("seconds", values.seconds, 10, 1, 600),
    rounds: int("rounds", values.rounds, 4, 1, 100),
    stream: values.stream ?? false,
  };
}

/** CPU µs per request of each variant, one value per counted round. */
export type RoundCpu = Readonly<Record<Variant, readonly number[]>>;

export interface CostRow {
  readonly variant: Variant;
  readonly medianUs: number;
  /** Median CPU per request over export off's; null for off itself. */
  readonly vsOff: number | null;
  /** Median CPU µs per request added over export off; null for off itself. */
  readonly addedUs: number | null;
}

export function summarise(cpu: RoundCpu): CostRow[] {
  const off = median(cpu.off);
  return VARIANTS.map((variant) => {
    const m = median(cpu[variant]);
    return {
      variant,
      medianUs: m,
      vsOff: variant === "off" ? null : ratio(m, off),
      addedUs: variant === "off" ? null : m - off,
    };
  });
}

export function formatRows(rows: readonly CostRow[], cpu: RoundCpu): string {
  const lines = [
    "| variant | CPU µs/req (median) | per round | vs off | added µs/req |",
    "| --- | ---: | --- | ---: | ---: |",
  ];
  for (const r of rows) {
    const vs = r.vsOff === null ? "-" : `${r.vsOff.toFixed(2)}x`;
    const added = r.addedUs === null ? "-" : r.addedUs.toFixed(1);
    lines.push(
      `| ${r.variant} | ${r.medianUs.toFixed(1)} | ${cpu[r.variant].map((v) => v.toFixed(1)).join(" / ")} | ${vs} | ${added} |`,
    );
  }
  return lines.join("\n");
}

interface Gateway {
  readonly variant: Variant;
  readonly url: string;
  readonly child: Child;
}

const PATH = "/v1/chat/completions";

async function startGateways(root: string, tmp: string, upstream: string, receiverUrl: string): Promise<Gateway[]> {
  const gateways: Gateway[] = [];
  for (const variant of VARIANTS) {
    // Like --otel: nothing from the shell's OTEL_*, the receiver as endpoint for the span variants.
    const env = (port: number): NodeJS.ProcessEnv =>
      gatewayEnv({
        inherited: process.env,
        own: gatewayOwnEnv(port, tmp, join(tmp, `${variant}.db`), upstream),
        extra: {},
        otelRun: true,
        otlpEndpoint: variant === "off" ? null : receiverUrl,
      });
    const nodeArgs = variant === "discard" ? ["--import", join(root, "loadtest/discard-exporter.ts")] : [];
    const { child, url } = await startGateway(`gateway-${variant}`, root, nodeArgs, env);
    gateways.push({ variant, url, child });
  }
  return gateways;
}

function load(url: string, body: string, rate: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: url + PATH,
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
        connections: 10,
        overallRate: rate,
        duration: seconds,
      },
      (err: unknown, result) =>
        err ? reject(err instanceof Error ? err : new Error("autocannon failed", { cause: err })) : resolve(result),
    );
  });
}

async function spansExported(url: string): Promise<number> {
  const counters = parseSpanCounters(await (await fetch(`${url}/metrics`)).text());
  return counters?.exported ?? 0;
}

async function main(): Promise<void> {
  const opts = parseSpanCostOptions(process.argv.slice(2));
  const root = join(import.meta.dirname, "..");
  const tmp = mkdtempSync(join(tmpdir(), "promptgate-span-cost-"));
  const env = { ...process.env, PORT: "0" };
  const fake = spawnNode("fake upstream", { script: join(root, "loadtest/fake-upstream.ts"), env, cwd: root });
  const upstream = `http://127.0.0.1:${await announcedPort(fake, START_TIMEOUT_MS)}`;
  const receiver = spawnNode("otlp receiver", { script: join(root, "loadtest/otlp-receiver.ts"), env, cwd: root });
  const receiverUrl = `http://127.0.0.1:${await announcedPort(receiver, START_TIMEOUT_MS)}`;
  writeConfigDir(root, tmp, false);
  const gateways = await startGateways(root, tmp, upstream, receiverUrl);
  const body = scenarioBody(opts.stream ? "stream" : "nonstream");

  const cpu: Record<Variant, number[]> = { off: [], discard: [], export: [] };
  for (let round = 0; round <= opts.rounds; round++) {
    // autocannon instances start in this order, a few microseconds apart; rotating it evens that out.
    const order = rotated(gateways, round);
    const before = order.map((g) => cpuSeconds(g.child.proc.pid));
    const results = await Promise.all(order.map((g) => load(g.url, body, opts.rate, opts.seconds)));
    const after = order.map((g) => cpuSeconds(g.child.proc.pid));
    const line: string[] = [];
    order.forEach((g, i) => {
      const r = results[i]!;
      const ok = r.requests.total - r.non2xx - r.errors;
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(
          `gateway-${g.variant}: ${r.non2xx} non-2xx answers and ${r.errors} errors; the comparison would be meaningless`,
        );
      const us = after[i] !== null && before[i] !== null ? ((after[i]! - before[i]!) * 1e6) / ok : Number.NaN;
      line.push(`${g.variant} ${us.toFixed(1)} µs/req`);
      if (round > 0) cpu[g.variant].push(us);
    });
    process.stderr.write(`[span-cost] round ${round}${round === 0 ? " (warm-up)" : ""}: ${line.join(", ")}\n`);
  }

  const byVariant = new Map(gateways.map((g) => [g.variant, g]));
  const discarded = await spansExported(byVariant.get("discard")!.url);
  const exported = await spansExported(byVariant.get("export")!.url);
  const received = (await (await fetch(`${receiverUrl}/stats`)).json()) as { spans: number };
  if (discarded === 0 || exported === 0 || received.spans === 0)
    throw new Error("a span variant made no spans: its figure measures nothing");

  process.stdout.write(
    `## span cost: ${opts.rate} req/s each, ${opts.rounds} rounds of ${opts.seconds} s after a warm-up round, ${opts.stream ? "streaming" : "non-streaming"}; Node ${process.version}\n\n` +
      formatRows(summarise(cpu), cpu) +
      `\n\nSpans handed to the discarding exporter: ${discarded}; exported: ${exported}, received: ${received.spans}.\n`,
  );
}

if (import.meta.main) {
  try {
    await main();
    await stopAll(5_000);
  } catch (err) {
    killAllNow();
    process.stderr.write(`span-cost: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
