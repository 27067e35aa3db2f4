// Canary weights as an SRE moves them: a raw HSET on the public key, seen by every replica within 1 s.
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { chatJson, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { redisUrl, startRedisServer, uniquePrefix } from "./support/redis.ts";

const file = (version: string): string => `
name: greet
version: ${version}
variables: {}
messages:
  - role: system
    content: "greeting v${version}"
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Rig {
  gateways: TestGateway[];
  /** Like redis-cli: a plain client on the public key, no registry code involved. */
  cli: Redis;
  key: string;
}

async function rig(url: string, replicas: number): Promise<Rig> {
  const prefix = uniquePrefix("canary");
  const store = await open(url, prefix);
  const registry = createRegistry(store, systemClock);
  for (const v of ["1.0.0", "1.1.0"]) await registry.register(parsePromptFile(file(v), `greet/${v}.yaml`), "test");
  await registry.promote("greet", "1.0.0", "staging", { approvedBy: "t" });
  await registry.promote("greet", "1.0.0", "prod", { approvedBy: "t" });
  const provider: FakeProvider = await startFakeProvider();
  provider.handle(chatJson("ok"));
  cleanups.push(() => provider.close());
  const gateways: TestGateway[] = [];
  for (let i = 0; i < replicas; i++) {
    const gw = await startTestGateway({ providerUrl: provider.url, store: await open(url, prefix) });
    cleanups.push(() => gw.close());
    gateways.push(gw);
  }
  const cli = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  cli.on("error", () => undefined);
  await cli.connect();
  cleanups.push(async () => void cli.disconnect());
  return { gateways, cli, key: `${prefix}weights:prod:greet` };
}

async function open(url: string, prefix: string): Promise<Store> {
  const store = await createRedisStore({ url, prefix, logger: silentLogger });
  cleanups.push(() => store.close());
  return store;
}

async function served(gw: TestGateway, user: string): Promise<[string | null, string | null]> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-prompt-ref": "greet", "x-user-id": user },
    body: JSON.stringify({ model: "gpt-test" }),
  });
  expect(res.status).toBe(200);
  return [res.headers.get("x-prompt-version"), res.headers.get("x-prompt-variant")];
}

const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);

async function canaryShare(gw: TestGateway): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const u of users) out.set(u, (await served(gw, u))[0] ?? "");
  return out;
}

async function eventually(ms: number, check: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - t0;
}

describe("canary weights from Redis", () => {
  it("an HSET moves traffic on every replica within 1 s, sticky per user and the same on both", async () => {
    const { gateways, cli, key } = await rig(redisUrl(), 2);
    const [a, b] = gateways as [TestGateway, TestGateway];
    expect(await served(a, "user-1")).toEqual(["1.0.0", "stable"]);

    // How long each replica takes to apply the change is read from its catalog (a new one per new
    // snapshot, and nothing else changes here), so that slow requests on a loaded machine do not count.
    const before = [a, b].map((gw) => gw.deps.prompts.catalog());
    await cli.hset(key, "1.0.0", "50", "1.1.0", "50");
    const took = await Promise.all(
      [a, b].map((gw, i) => eventually(1000, async () => gw.deps.prompts.catalog() !== before[i])),
    );
    expect(Math.max(...took)).toBeLessThanOrEqual(1000);
    const onA = await canaryShare(a);
    const onB = await canaryShare(b);
    expect(onB).toEqual(onA);
    const canaries = [...onA.values()].filter((v) => v === "1.1.0").length;
    expect(canaries).toBeGreaterThan(70);
    expect(canaries).toBeLessThan(130);
    expect(await canaryShare(a)).toEqual(onA);
    const canaryUser = [...onA].find(([, v]) => v === "1.1.0")![0];
    expect(await served(a, canaryUser)).toEqual(["1.1.0", "canary"]);

    // Ramp up: everyone who had the canary keeps it. (How fast a change arrives is checked above;
    // here each check walks 200 users, which alone can take a second on a loaded machine.)
    await cli.hset(key, "1.0.0", "10", "1.1.0", "90");
    await vi.waitFor(
      async () =>
        expect([...(await canaryShare(a)).values()].filter((v) => v === "1.1.0").length).toBeGreaterThan(canaries + 20),
      { timeout: 10_000, interval: 50 },
    );
    const ramped = await canaryShare(a);
    for (const [u, v] of onA) if (v === "1.1.0") expect(ramped.get(u)).toBe("1.1.0");

    // Anonymous requests get the label's version.
    const anon = await fetch(`${a.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-prompt-ref": "greet" },
      body: JSON.stringify({ model: "gpt-test" }),
    });
    expect(anon.headers.get("x-prompt-version")).toBe("1.0.0");

    // HDEL stops the canary.
    await cli.hdel(key, "1.1.0");
    await vi.waitFor(async () => expect([...(await canaryShare(a)).values()]).not.toContain("1.1.0"), {
      timeout: 10_000,
      interval: 50,
    });
  });

  it("an invalid HSET leaves serving unchanged", async () => {
    const { gateways, cli, key } = await rig(redisUrl(), 1);
    const gw = gateways[0]!;
    await cli.hset(key, "1.0.0", "80", "1.1.0", "20");
    await eventually(1000, async () => [...(await canaryShare(gw)).values()].includes("1.1.0"));
    const before = await canaryShare(gw);
    const stats = gw.deps.prompts.splitStats;
    /** Resolves once the gateway has seen one more refused hash than `seen`. */
    const refused = (seen: number): Promise<void> =>
      vi.waitFor(() => expect(stats.invalidChanges).toBeGreaterThan(seen), { timeout: 2_000, interval: 10 });
    for (const bad of [
      ["1.1.0", "lots"],
      ["1.1.0", "-5"],
      ["9.9.9", "50"],
    ] as const) {
      const seen = stats.invalidChanges;
      await cli.hset(key, ...bad);
      await refused(seen);
      expect(await canaryShare(gw)).toEqual(before);
      // Back to the good hash in one step: a refresh between an HDEL and an HSET would see a valid
      // {"1.0.0": 80} (all traffic to 1.0.0) and rightly apply it.
      await cli.multi().hdel(key, bad[0]).hset(key, "1.0.0", "80", "1.1.0", "20").exec();
    }
    const seen = stats.invalidChanges;
    await cli.hset(key, "1.0.0", "0", "1.1.0", "0");
    await refused(seen);
    expect(await canaryShare(gw)).toEqual(before);
    expect(stats.invalidChanges).toBeGreaterThanOrEqual(4);
  });

  it("keeps the split, with no failed request, while Redis is down", async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const { gateways, cli, key } = await rig(redis.url, 1);
    const gw = gateways[0]!;
    await cli.hset(key, "1.0.0", "50", "1.1.0", "50");
    await eventually(1000, async () => [...(await canaryShare(gw)).values()].includes("1.1.0"));
    const before = await canaryShare(gw);
    cli.disconnect();
    await redis.stop();
    expect(await canaryShare(gw)).toEqual(before);
  });
});
