// Compares builds of the gateway side by side on one fake provider: each build is a checkout (a git
// worktree, say) started as its own gateway process, and the rounds alternate between them, so that
// the machine's drift hits every build alike. What it answers is narrower than `npm run loadtest`:
// which of these builds serves the same requests with less CPU, at the resolution that this machine's
// noise allows, which a run of the whole load test per build cannot give.
//
//   npx node loadtest/compare.ts [--rounds 8] [--duration 4] [--connections 50] [--stream] [--plain]
//                                name=DIR[+NODE_FLAG...] name=DIR...
//
// A build is a name and a checkout, optionally with flags for node itself after `+`, so that one
// checkout can be compared with itself under other runtime flags (`semi=.+--max-semi-space-size=64`)
// or profiled (`new=.+--cpu-prof+--cpu-prof-dir=/tmp/prof`).
// Every build gets gateway-prompt's requests (--plain: the gateway's, without a prompt). Printed: each
// round's figures as they come (stderr), then per build the median req/s and server CPU µs per request
// over the rounds, and the median over the rounds of its ratio to the first build in the same round.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PROMPT_TARGET, runLoad, type Target } from "./bench.ts";
import { PROMPT_HEADERS, PROMPT_NAME, scenarioBody } from "./options.ts";
import { announcedPort, cpuSeconds, runScript, setScratch, spawnNode, stopAll } from "./processes.ts";
import { gatewayOwnEnv, START_TIMEOUT_MS, startGateway, writeConfigDir } from "./servers.ts";
import { median, rotated } from "./stats.ts";
import { pairedMedian, parseCompareArgs, type Round } from "./compare-options.ts";

const log = (msg: string): void => void process.stderr.write(`[compare] ${msg}\n`);
const fmt = (n: number | null, digits = 0): string => (n === null ? "n/a" : n.toFixed(digits));

async function main(): Promise<number> {
  const opts = parseCompareArgs(process.argv.slice(2));
  const here = resolve(import.meta.dirname, "..");
  const scratch = mkdtempSync(join(tmpdir(), "promptgate-compare-"));
  setScratch(scratch);

  const env = { ...process.env, PORT: "0" };
  const fake = spawnNode("fake upstream", { script: join(here, "loadtest/fake-upstream.ts"), env, cwd: here });
  const upstream = `http://127.0.0.1:${await announcedPort(fake, START_TIMEOUT_MS)}`;

  const gateways: { name: string; target: Target; pid: number | undefined }[] = [];
  for (const [i, build] of opts.builds.entries()) {
    const configDir = mkdtempSync(join(scratch, `config-${i}-`));
    writeConfigDir(build.dir, configDir, true);
    const gw = await startGateway(build.name, build.dir, build.nodeArgs, (port) => ({
      ...process.env,
      ...gatewayOwnEnv(port, configDir, join(configDir, "state.db"), upstream),
    }));
    const headers = opts.prompt ? PROMPT_HEADERS : {};
    const target: Target = { name: PROMPT_TARGET, url: `${gw.url}/v1/chat/completions`, headers };
    gateways.push({ name: build.name, target, pid: gw.child.proc.pid });
  }

  const body = scenarioBody(opts.scenario);
  // Each build must serve what is measured: a 200, and with a prompt the prompt (else it measures nothing).
  for (const g of gateways) {
    const res = await fetch(g.target.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...g.target.headers },
      body,
    });
    await res.arrayBuffer();
    const served = res.headers.get("x-prompt-name");
    if (res.status !== 200 || (opts.prompt && served !== PROMPT_NAME))
      throw new Error(
        `${g.name} answered ${res.status}, x-prompt-name ${served ?? "none"}: it does not serve ${PROMPT_NAME}`,
      );
  }
  const rounds = new Map<string, Round[]>(gateways.map((g) => [g.name, []]));
  log(`${opts.rounds} rounds of ${opts.seconds} s, ${opts.connections} connections, ${opts.scenario}`);
  for (const g of gateways)
    await runLoad({ target: g.target, body, connections: opts.connections, seconds: 1, sampleLatency: false });
  for (let r = 0; r < opts.rounds; r++) {
    for (const g of rotated(gateways, r)) {
      const before = cpuSeconds(g.pid);
      const res = await runLoad({
        target: g.target,
        body,
        connections: opts.connections,
        seconds: opts.seconds,
        sampleLatency: false,
      });
      const after = cpuSeconds(g.pid);
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${g.name}: ${res.non2xx} non-2xx, ${res.errors} errors`);
      const cpuUs = before === null || after === null ? null : ((after - before) / res.requests) * 1e6;
      rounds.get(g.name)?.push({ rps: res.rps, cpuUs });
      log(`round ${r + 1} ${g.name}: ${fmt(res.rps)} req/s, ${fmt(cpuUs)} µs CPU/req`);
    }
  }

  const firstRounds = rounds.get(gateways[0]?.name ?? "") ?? [];
  console.log(
    "| build | req/s, median | CPU µs/req, median | req/s / first's, per round, median | CPU / first's, per round, median |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const g of gateways) {
    const rs = rounds.get(g.name) ?? [];
    const cpus = rs.flatMap((x) => (x.cpuUs === null ? [] : [x.cpuUs]));
    const cells = [
      g.name,
      fmt(median(rs.map((x) => x.rps))),
      fmt(cpus.length > 0 ? median(cpus) : null),
      `${fmt(
        pairedMedian(rs, firstRounds, (x) => x.rps),
        3,
      )}x`,
      `${fmt(
        pairedMedian(rs, firstRounds, (x) => x.cpuUs),
        3,
      )}x`,
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
  await stopAll(3000);
  return 0;
}

void runScript(main, log, () => undefined);
