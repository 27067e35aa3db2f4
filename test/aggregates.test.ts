// Per-version aggregates as their users read them: two gateway processes on one Redis add up exactly,
// an aborted stream is one record, and `promptgate stats` / `/admin/.../stats` show the window.
import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { versionStats, type StatsView } from "../gateway/stats/stats-ops.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { formatUsd } from "../gateway/telemetry/cost.ts";
import { cli } from "./support/cli.ts";
import { startFakeProvider } from "./support/fake-provider.ts";
import { startTestGateway } from "./support/gateway.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";
import { startServe } from "./support/serve-process.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function redisStore(prefix: string): Promise<Store> {
  const store = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
  cleanups.push(async () => {
    for (const key of await store.keys("")) await store.del(key);
    await store.close();
  });
  return store;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** One call through the gateway; returns the version that served it and the usage the client saw. */
async function call(url: string, user: number, stream: boolean): Promise<{ version: string; usage: Usage }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-prompt-ref": "summarization",
      "x-user-id": `user-${user}`,
      "x-prompt-vars": JSON.stringify({ text: `text ${user}`.repeat(1 + (user % 5)) }),
    },
    body: JSON.stringify({
      model: "mock/echo",
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    }),
  });
  expect(res.status).toBe(200);
  const version = res.headers.get("x-prompt-version") ?? "";
  const text = await res.text();
  if (!stream) return { version, usage: (JSON.parse(text) as { usage: Usage }).usage };
  const chunks = text
    .split("\n")
    .filter((l) => l.startsWith("data: {"))
    .map((l) => JSON.parse(l.slice(6)) as { usage?: Usage | null });
  const usage = chunks.find((c) => c.usage)?.usage;
  if (!usage) throw new Error("no usage chunk");
  return { version, usage };
}

describe("per-version aggregates", () => {
  it("add up exactly across two gateway processes on one Redis, and promptgate stats shows them", async () => {
    const prefix = uniquePrefix("agg-two");
    const store = await redisStore(prefix);
    const env = { REDIS_URL: redisUrl(), REDIS_PREFIX: prefix };
    const yaml = 'routes:\n  - { match: "mock/*", provider: mock }\nprompts: { bootstrap_labels: true }\n';
    const pricing = "models:\n  mock/echo: { input: 0.10, output: 0.20 }\n";
    const a = await startServe({ env, yaml, pricing, prompts: true });
    const b = await startServe({ env, yaml, pricing, prompts: true });
    const set = await cli(["weights", "summarization", "--env", "prod", "--set", "1.0.0=50,1.1.0=50"], env);
    expect(set.code, set.stderr).toBe(0);

    const expected = new Map<
      string,
      { requests: number; input: number; output: number; pico: bigint; streams: number }
    >();
    /** One counted call: what the client saw is what the aggregates must add up to. */
    const counted = async (url: string, user: number, stream: boolean): Promise<string> => {
      const { version, usage } = await call(url, user, stream);
      const e = expected.get(version) ?? { requests: 0, input: 0, output: 0, pico: 0n, streams: 0 };
      e.requests += 1;
      e.input += usage.prompt_tokens;
      e.output += usage.completion_tokens;
      e.pico += BigInt(usage.prompt_tokens * 100_000 + usage.completion_tokens * 200_000);
      if (stream) e.streams += 1;
      expected.set(version, e);
      return version;
    };
    // Every replica applies the change within 1 s: each serves 1.0.0 (50% now, 0% before) to some user.
    for (const gw of [a, b]) {
      await vi.waitFor(
        async () => {
          const served = await Promise.all(Array.from({ length: 20 }, (_, user) => counted(gw.url, user, false)));
          expect(served).toContain("1.0.0");
        },
        { timeout: 5_000, interval: 20 },
      );
    }

    const calls: Promise<string>[] = [];
    for (let i = 0; i < 120; i++) calls.push(counted(i % 2 ? a.url : b.url, i, i % 3 === 0));
    await Promise.all(calls);
    expect([...expected.keys()].sort()).toEqual(["1.0.0", "1.1.0"]);

    // SIGTERM flushes what each process still holds.
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    const shown = await cli(["stats", "summarization", "--env", "prod", "--since", "10m", "--json"], env);
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as StatsView;
    expect(view.versions.map((v) => v.version)).toEqual(["1.1.0", "1.0.0"]);
    for (const row of view.versions) {
      const e = expected.get(row.version)!;
      expect(row).toMatchObject({
        requests: e.requests,
        errors: 0,
        aborted: 0,
        incomplete: 0,
        input_tokens: e.input,
        output_tokens: e.output,
        priced_requests: e.requests,
        cost_usd: formatUsd(e.pico),
        weight: 50,
        label: row.version === "1.1.0",
      });
      expect(row.latency.count).toBe(e.requests);
      expect(row.ttft.count).toBe(e.streams);
      expect(row.latency.p50_ms).not.toBeNull();
    }
    const table = await cli(["stats", "summarization", "--env", "prod"], env);
    expect(table.stdout).toMatch(/1\.1\.0 \(stable\)\s+50\s+\d+\s+\d+\s+0\.00%/);

    // The same numbers straight from the store.
    const direct = await versionStats(
      store,
      createRegistry(store, systemClock),
      "summarization",
      "prod",
      10 * 60_000,
      Date.now(),
    );
    expect(direct.versions.map((v) => v.requests)).toEqual(view.versions.map((v) => v.requests));
  });

  it("shows the exact mean beside percentiles never coarser than what the clients measured", async () => {
    const prefix = uniquePrefix("agg-latency");
    await redisStore(prefix);
    const env = { REDIS_URL: redisUrl(), REDIS_PREFIX: prefix };
    const yaml = 'routes:\n  - { match: "mock/*", provider: mock }\nprompts: { bootstrap_labels: true }\n';
    const gw = await startServe({ env, yaml, prompts: true });

    /** One call; the client's ms to its first body bytes and to its end (the gateway's own are no longer). */
    const timed = async (ref: string, model: string, stream: boolean): Promise<{ first: number; total: number }> => {
      const t0 = performance.now();
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-prompt-ref": ref, "x-prompt-vars": '{"text":"Ada"}' },
        body: JSON.stringify({ model, stream }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let first = NaN;
      while (!(await reader.read()).done) if (Number.isNaN(first)) first = performance.now() - t0;
      return { first, total: performance.now() - t0 };
    };
    // mock/echo answers in about a millisecond; mock/slow-100 waits 100 ms before it streams.
    const fast: number[] = [];
    for (let i = 0; i < 60; i++) fast.push((await timed("summarization", "mock/echo", false)).total);
    const slow = await Promise.all(Array.from({ length: 20 }, () => timed("entity-extraction", "mock/slow-100", true)));
    gw.child.kill("SIGTERM"); // flushes the aggregates
    expect(await gw.exited).toBe(0);

    const row = async (name: string): Promise<StatsView["versions"][number]> => {
      const shown = await cli(["stats", name, "--env", "prod", "--since", "10m", "--json"], env);
      expect(shown.code, shown.stderr).toBe(0);
      const served = (JSON.parse(shown.stdout) as StatsView).versions.filter((v) => v.requests > 0);
      expect(served).toHaveLength(1);
      return served[0]!;
    };
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const nearestRank = (xs: readonly number[], q: number): number =>
      [...xs].sort((a, b) => a - b)[Math.ceil(q * xs.length) - 1]!;
    // The gateway's clock counts whole ms (+1), and a percentile is read within one bucket (1 ms, or 10%).
    const atMost = (clientMs: number): number => clientMs + 1 + Math.max(1, (clientMs + 1) / 10) + 0.05;

    const echo = await row("summarization");
    expect(echo.latency).toMatchObject({ count: 60 });
    expect(echo.latency_ms).toMatchObject({
      mean: echo.latency.mean_ms,
      p50: echo.latency.p50_ms,
      p95: echo.latency.p95_ms,
    });
    // The mean's 95% interval (from the sums of squares) brackets it.
    expect(echo.latency_ms.mean_ci_low!).toBeLessThanOrEqual(echo.latency_ms.mean!);
    expect(echo.latency_ms.mean_ci_high!).toBeGreaterThanOrEqual(echo.latency_ms.mean!);
    expect(echo.latency_ms.mean).toBeLessThanOrEqual(mean(fast) + 1.05);
    expect(echo.latency_ms.p50).toBeLessThanOrEqual(atMost(nearestRank(fast, 0.5)));
    expect(echo.latency_ms.p95).toBeLessThanOrEqual(atMost(nearestRank(fast, 0.95)));

    const waited = await row("entity-extraction");
    expect(waited.latency.count).toBe(20);
    expect(waited.ttft.count).toBe(20);
    // Each waited at least 100 ms (98 by a millisecond clock): percentiles no lower than its bucket, (94, 103].
    expect(waited.latency_ms.mean).toBeGreaterThanOrEqual(98);
    expect(waited.latency_ms.mean).toBeLessThanOrEqual(mean(slow.map((s) => s.total)) + 1.05);
    expect(waited.latency_ms.p50).toBeGreaterThanOrEqual(94.5);
    expect(waited.latency_ms.p50).toBeLessThanOrEqual(
      atMost(
        nearestRank(
          slow.map((s) => s.total),
          0.5,
        ),
      ),
    );
    expect(waited.ttft.p50_ms).toBeGreaterThanOrEqual(94.5);
    expect(waited.ttft.p50_ms).toBeLessThanOrEqual(
      atMost(
        nearestRank(
          slow.map((s) => s.first),
          0.5,
        ),
      ),
    );

    const table = await cli(["stats", "summarization", "--env", "prod", "--since", "10m"], env);
    expect(table.stdout).toMatch(/COST USD\s+MEAN MS\s+P50 MS\s+P95 MS\s+TTFT P50\s+QUALITY\s+THUMBS UP\/DOWN\n/);
    const { mean: m, p50, p95 } = echo.latency_ms;
    expect(table.stdout).toMatch(new RegExp(`\\s${m}\\s+${p50}\\s+${p95}\\s+-\\s+-\\s+0/0\\n`));
  });

  it("counts an aborted stream once, as aborted and incomplete, and serves the window at /admin", async () => {
    const prefix = uniquePrefix("agg-abort");
    const store = await redisStore(prefix);
    const registry = createRegistry(store, systemClock);
    await registry.register(
      parsePromptFile(
        "name: greet\nversion: 1.0.0\nvariables: {}\nmessages:\n  - { role: system, content: hi }\n",
        "greet/1.0.0.yaml",
      ),
      "t",
    );
    await registry.promote("greet", "1.0.0", "staging", { approvedBy: "t" });
    await registry.promote("greet", "1.0.0", "prod", { approvedBy: "t" });
    const provider = await startFakeProvider();
    cleanups.push(() => provider.close());
    provider.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    });
    const gw = await startTestGateway({
      providerUrl: provider.url,
      store: await redisStore(prefix),
      env: { ADMIN_TOKEN: "adm" },
    });
    cleanups.push(() => gw.close());
    const onProd = (): string | undefined =>
      gw.deps.prompts.catalog()?.snapshot.prompts.get("greet")?.labels.get("prod");
    await vi.waitFor(() => expect(onProd()).toBe("1.0.0"), { timeout: 2_000, interval: 10 }); // the prompt snapshot

    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      signal: ac.signal,
      headers: { "content-type": "application/json", "x-prompt-ref": "greet", "x-user-id": "u1" },
      body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(res.headers.get("x-prompt-version")).toBe("1.0.0");
    await res.body!.getReader().read();
    ac.abort();
    /** The window as /admin serves it, after writing what the gateway has counted so far. */
    const shown = async (): Promise<StatsView> => {
      await gw.deps.aggregates.flush();
      const admin = await fetch(`${gw.url}/admin/prompts/greet/stats/prod?since=5m`, {
        headers: { authorization: "Bearer adm" },
      });
      expect(admin.status).toBe(200);
      return (await admin.json()) as StatsView;
    };
    // The gateway counts the request once it has seen the client go.
    await vi.waitFor(async () => expect((await shown()).versions[0]?.requests).toBe(1), { timeout: 2_000 });
    const view = await shown();
    expect(view.versions).toHaveLength(1);
    expect(view.versions[0]).toMatchObject({
      version: "1.0.0",
      label: true,
      requests: 1,
      aborted: 1,
      incomplete: 1,
      errors: 0,
      cost_usd: "0",
    });
    expect(view.versions[0]!.ttft.count).toBe(1);

    const bad = await fetch(`${gw.url}/admin/prompts/greet/stats/prod?since=forever`, {
      headers: { authorization: "Bearer adm" },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("since");
    const unknown = await fetch(`${gw.url}/admin/prompts/nope/stats/prod`, {
      headers: { authorization: "Bearer adm" },
    });
    expect(unknown.status).toBe(404);
  });
});
