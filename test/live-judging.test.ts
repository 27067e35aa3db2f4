// Live judging end to end: a real gateway samples the answers of a prompt whose suite opts in, and
// `promptgate evaluator` judges them (mock/judge reads the [[score: x]] marker each version's template
// puts into its echoed answer) and records the scores as quality feedback per version.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { StatsView } from "../gateway/stats/stats-ops.ts";
import { cli } from "./support/cli.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";
import { announcedUrl, killAfterTest, startServe, type ServeProcess } from "./support/serve-process.ts";

const PRIVATE = "private-user-text";
const MARKER = "[[score:";

const version = (v: string, score: string, extra = ""): string => `name: livesum
version: ${v}
model: mock/echo
variables:
  text: { type: string, required: true }
messages:
  - role: system
    content: "Summarize briefly. [[score: ${score}]]${extra}"
  - role: user
    content: "{{ text }}"
`;

/** A CONFIG_DIR with two versions of `livesum`, the shipped rubric judge, and a suite that opts in. */
function workspace(liveJudging: string): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "pg-live-"));
  mkdirSync(join(dir, "prompts", "livesum"), { recursive: true });
  mkdirSync(join(dir, "prompts", "judge-rubric"), { recursive: true });
  mkdirSync(join(dir, "evals"), { recursive: true });
  writeFileSync(
    join(dir, "gateway.yaml"),
    `routes:\n  - { match: "mock/*", provider: mock }\nprompts: { bootstrap_labels: true }\n${liveJudging}`,
  );
  writeFileSync(join(dir, "prompts", "livesum", "1.0.0.yaml"), version("1.0.0", "0.9"));
  writeFileSync(join(dir, "prompts", "livesum", "1.1.0.yaml"), version("1.1.0", "0.3"));
  copyFileSync("config/prompts/judge-rubric/1.0.0.yaml", join(dir, "prompts", "judge-rubric", "1.0.0.yaml"));
  writeFileSync(
    join(dir, "evals", "livesum.yaml"),
    `tests:
  - vars: { text: hello }
    assert: [{ type: llm-rubric, value: The summary is faithful }]
online: { sample: 1.0, judge: judge-rubric@1.0.0, metric: quality }
`,
  );
  const env = {
    CONFIG_DIR: dir,
    STATE_PATH: join(dir, "state.db"),
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: uniquePrefix("live"),
    GATEWAY_ENV: "prod",
    LOG_LEVEL: "debug",
    USER: "tester",
  };
  return { dir, env };
}

async function ask(gw: ServeProcess, user: number): Promise<string> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-prompt-ref": "livesum", "x-user-id": `user-${user}` },
    body: JSON.stringify({ model: "mock/echo", messages: [], prompt_variables: { text: `${PRIVATE}-${user}` } }),
  });
  expect(res.status).toBe(200);
  await res.text();
  return res.headers.get("x-prompt-version") ?? "";
}

/** Splits 50/50 and waits until the gateway serves both versions. */
async function splitEvenly(gw: ServeProcess, env: Record<string, string>): Promise<void> {
  const set = await cli(["weights", "livesum", "--env", "prod", "--set", "1.0.0=50,1.1.0=50"], env);
  expect(set.code, set.stderr).toBe(0);
  await vi.waitFor(
    async () => {
      const served = await Promise.all(Array.from({ length: 20 }, (_, i) => probe(gw, i)));
      expect(new Set(served)).toEqual(new Set(["1.0.0", "1.1.0"]));
    },
    { timeout: 5_000, interval: 50 },
  );
}

/** A request from a user outside the measured ones (users are sticky to their version). */
async function probe(gw: ServeProcess, user: number): Promise<string> {
  return ask(gw, 10_000 + user);
}

describe("live judging", () => {
  it("judges sampled answers of two versions and stats shows their quality", async () => {
    const { env } = workspace("");
    const gw = await startServe({ env });
    await splitEvenly(gw, env);
    // The probes were sampled too (sample: 1.0): judged like the rest, so count them from stats.
    const served = await Promise.all(Array.from({ length: 40 }, (_, i) => ask(gw, i)));
    expect(new Set(served)).toEqual(new Set(["1.0.0", "1.1.0"]));
    gw.child.kill("SIGTERM"); // flushes the sampled pairs to the store
    expect(await gw.exited).toBe(0);

    const judged = await cli(["evaluator", "--once", "--json"], env);
    expect(judged.code, judged.stderr).toBe(0);
    const counts = JSON.parse(judged.stdout) as { judged: number; graderErrors: number; skipped: number };
    expect(counts.graderErrors).toBe(0);
    expect(counts.skipped).toBe(0);
    expect(counts.judged).toBeGreaterThanOrEqual(40);

    const shown = await cli(["stats", "livesum", "--env", "prod", "--since", "10m", "--json"], env);
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as StatsView;
    const quality = new Map(view.versions.map((v) => [v.version, v.quality]));
    const n = (quality.get("1.0.0")?.n ?? 0) + (quality.get("1.1.0")?.n ?? 0);
    expect(n).toBe(counts.judged);
    expect(quality.get("1.0.0")?.mean).toBeCloseTo(0.9, 6);
    expect(quality.get("1.1.0")?.mean).toBeCloseTo(0.3, 6);
    const requests = new Map(view.versions.map((v) => [v.version, v.requests]));
    expect(quality.get("1.0.0")?.n).toBe(requests.get("1.0.0"));
    expect(quality.get("1.1.0")?.n).toBe(requests.get("1.1.0"));

    // Nothing of the sampled content in the logs, at debug level.
    for (const log of [gw.stderr(), judged.stderr]) {
      expect(log).not.toContain(PRIVATE);
      expect(log).not.toContain(MARKER);
    }
    expect(judged.stderr).toContain('"judged":');
  });

  it("with no evaluator running, every request is served and samples beyond the queue are dropped and counted", async () => {
    const { env } = workspace("live_judging: { store_queue: 5, flush_interval_ms: 100 }\n");
    const gw = await startServe({ env });
    for (let i = 0; i < 12; i++) await ask(gw, i); // the same stable version for all: no split needed
    await vi.waitFor(
      async () => {
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        expect(metrics).toContain("promptgate_live_judging_sampled_total 12");
        expect(metrics).toContain('promptgate_live_judging_dropped_total{reason="store_full"} 7');
        expect(metrics).toContain("promptgate_live_judging_queue_depth 0");
      },
      { timeout: 5_000, interval: 50 },
    );
    gw.child.kill("SIGTERM");
    expect(await gw.exited).toBe(0);

    const judged = await cli(["evaluator", "--once", "--json"], env);
    expect(judged.code, judged.stderr).toBe(0);
    expect(JSON.parse(judged.stdout)).toMatchObject({ judged: 5, graderErrors: 0 });
  });

  it("counts malformed judge answers as grader errors, never as scores", async () => {
    const { dir, env } = workspace("");
    writeFileSync(join(dir, "prompts", "livesum", "1.2.0.yaml"), version("1.2.0", "0.5", " [[invalid]]"));
    const gw = await startServe({ env });
    for (let i = 0; i < 4; i++) expect(await ask(gw, i)).toBe("1.2.0");
    gw.child.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    const judged = await cli(["evaluator", "--once", "--json"], env);
    expect(judged.code, judged.stderr).toBe(0);
    expect(JSON.parse(judged.stdout)).toMatchObject({ judged: 0, graderErrors: 4 });
    const shown = await cli(["stats", "livesum", "--env", "prod", "--since", "10m", "--json"], env);
    const view = JSON.parse(shown.stdout) as StatsView;
    expect(view.versions.find((v) => v.version === "1.2.0")?.quality.n ?? 0).toBe(0);
  });

  it("as a worker, serves its probes and counts on /metrics, the store's backlog included", async () => {
    const { env } = workspace("");
    const gw = await startServe({ env });
    const worker = async (args: string[]) => {
      const child = spawn(process.execPath, ["gateway/main.ts", "evaluator", "--port", "0", ...args], {
        env: { ...process.env, ...env, HOST: "127.0.0.1" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      killAfterTest(child);
      return { child, ...(await announcedUrl(child, "evaluator")) };
    };
    const metricsOf = async (url: string) => (await fetch(`${url}/metrics`)).text();

    // The first one finds the queue empty and waits a minute before looking again: the backlog grows.
    const idle = await worker(["--interval-ms", "60000"]);
    await vi.waitFor(() => expect(idle.stderr()).toContain("live judging queue empty"), { timeout: 10_000 });
    expect((await fetch(`${idle.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${idle.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${idle.url}/metrics`, { method: "POST" })).status).toBe(405);
    for (let i = 0; i < 6; i++) await ask(gw, i);
    gw.child.kill("SIGTERM"); // flushes the sampled pairs to the store
    expect(await gw.exited).toBe(0);
    const backlog = await metricsOf(idle.url);
    expect(backlog).toContain("promptgate_live_judging_store_queue_length 6");
    expect(backlog).toContain("promptgate_evaluator_judged_total 0");
    expect(backlog).toContain("promptgate_evaluator_process_cpu_seconds_total");
    idle.child.kill("SIGTERM");
    expect(await idle.exited).toBe(0);

    // The next one judges the backlog at once.
    const busy = await worker(["--batch", "2"]);
    await vi.waitFor(
      async () => {
        const metrics = await metricsOf(busy.url);
        expect(metrics).toContain("promptgate_evaluator_judged_total 6");
        expect(metrics).toContain("promptgate_evaluator_grader_errors_total 0");
        expect(metrics).toContain("promptgate_live_judging_store_queue_length 0");
      },
      { timeout: 10_000, interval: 50 },
    );
    busy.child.kill("SIGTERM");
    expect(await busy.exited).toBe(0);
    expect(busy.stderr()).toContain('"judged":6');
    for (const w of [idle, busy]) expect(w.stderr()).not.toContain(PRIVATE);
  });

  it("refuses --port with --once: a pass serves no probes", async () => {
    const { env } = workspace("");
    const r = await cli(["evaluator", "--once", "--port", "9999"], env);
    expect([r.code, r.stderr.trim()]).toEqual([2, expect.stringContaining("--port does not apply with --once")]);
  });
});
