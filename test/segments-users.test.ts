// Distinct users, the weights in force and segments end to end: requests through the real gateway
// (two replicas on one Redis, or one on the embedded store), read back as the readout reads them.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { readSegmentStats, readVersionStats } from "../gateway/stats/aggregate-stats.ts";
import { readDistinctUsers } from "../gateway/stats/distinct-users.ts";
import { readWeightsInForce } from "../gateway/stats/weight-shares.ts";
import { weightsKey } from "../gateway/store/keys.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import { createSqliteStore } from "../gateway/store/sqlite-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { MINUTE_MS } from "../gateway/telemetry/aggregates.ts";
import { chatJson, startFakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";

const greet = (version: string): string => `
name: greet
version: ${version}
variables:
  text: { type: string, default: "" }
segment: { header: [free, pro] }
messages:
  - { role: system, content: "greeting v${version} {{ text }}" }
`;
const sized = `
name: sized
version: 1.0.0
variables:
  text: { type: string, required: true }
segment: { variable: text, bands: [10, 100] }
messages:
  - { role: user, content: "{{ text }}" }
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(kind: "redis" | "embedded"): Promise<{ store: Store; gateways: TestGateway[] }> {
  const prefix = uniquePrefix("seg-users");
  const path = join(mkdtempSync(join(tmpdir(), "seg-users-")), "state.db");
  const open = async (): Promise<Store> => {
    const s =
      kind === "redis"
        ? await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger })
        : createSqliteStore({ path, prefix, logger: silentLogger });
    cleanups.push(() => s.close());
    return s;
  };
  const store = await open();
  cleanups.push(async () => {
    for (const key of await store.keys("")) await store.del(key);
  });
  const registry = createRegistry(store, systemClock);
  for (const text of [greet("1.0.0"), greet("1.1.0"), sized])
    await registry.register(parsePromptFile(text, "test.yaml"), "test");
  for (const [name, version] of [
    ["greet", "1.0.0"],
    ["sized", "1.0.0"],
  ] as const)
    for (const env of ["staging", "prod"] as const) await registry.promote(name, version, env, { approvedBy: "t" });
  await store.hset(weightsKey("prod", "greet"), { "1.0.0": "50", "1.1.0": "50" });
  const provider = await startFakeProvider();
  provider.handle(chatJson("ok"));
  cleanups.push(() => provider.close());
  const gateways: TestGateway[] = [];
  for (let i = 0; i < (kind === "redis" ? 2 : 1); i++) {
    const gw = await startTestGateway({ providerUrl: provider.url, store: await open() });
    cleanups.push(() => gw.close());
    gateways.push(gw);
  }
  return { store, gateways };
}

async function call(gw: TestGateway, headers: Record<string, string>, vars?: object): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-test", ...(vars && { prompt_variables: vars }) }),
  });
}

describe.each(["embedded", "redis"] as const)("users, weights in force and segments (%s store)", (kind) => {
  it("counts each user once per version, the 50/50 weights in force, and each segment's requests", async () => {
    const { store, gateways } = await rig(kind);
    const from = Date.now();
    const served = new Map<string, Set<string>>([
      ["1.0.0", new Set()],
      ["1.1.0", new Set()],
    ]);
    const bySegment = new Map<string, number>();
    const proIds: string[] = [];
    // 60 users, 3 requests each, alternating replicas; user i is "pro" when i % 3 === 0. Anonymous
    // requests serve the stable version and count no user.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 60; i++) {
        const segment = i % 3 === 0 ? "pro" : "free";
        const gw = gateways[(i + round) % gateways.length]!;
        const res = await call(gw, { "x-prompt-ref": "greet", "x-user-id": `user-${i}`, "x-prompt-segment": segment });
        expect(res.status).toBe(200);
        await res.text();
        const version = res.headers.get("x-prompt-version")!;
        served.get(version)!.add(`user-${i}`);
        bySegment.set(`${version}/${segment}`, (bySegment.get(`${version}/${segment}`) ?? 0) + 1);
        if (round === 0 && segment === "pro") proIds.push(res.headers.get("x-request-id")!);
      }
    }
    // Feedback on the pro requests: the signed id carries the segment, so it counts there too.
    for (const [i, id] of proIds.entries()) {
      const res = await fetch(`${gateways[i % gateways.length]!.url}/v1/feedback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ request_id: id, score: 1 }),
      });
      expect(res.status).toBe(200);
    }
    const anonymous = await call(gateways[0]!, { "x-prompt-ref": "greet" });
    expect(anonymous.status).toBe(200);
    await anonymous.text();

    // A segment value the prompt does not declare: 400 in OpenAI's shape, naming the allowed values. Like
    // any request refused after the split (a bad variable too), it counts for its version and user.
    const bad = await call(gateways[0]!, {
      "x-prompt-ref": "greet",
      "x-user-id": "user-0",
      "x-prompt-segment": "gold",
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: {
        type: "invalid_request_error",
        param: "X-Prompt-Segment",
        message: 'X-Prompt-Segment must be one of free, pro for this prompt, got "gold"',
      },
    });

    // Length bands from a variable.
    for (const n of [3, 9, 10, 99, 100, 500]) {
      const res = await call(gateways[0]!, { "x-prompt-ref": "sized", "x-user-id": `s-${n}` }, { text: "x".repeat(n) });
      expect(res.status).toBe(200);
      await res.text();
    }

    for (const gw of gateways) await gw.deps.aggregates.flush();
    const window = { env: "prod", name: "greet", from, to: Date.now() + 1 };

    // Each user counted once per version, whichever replica served them (the split is sticky).
    const users = await readDistinctUsers(store, window, ["1.0.0", "1.1.0"]);
    expect(served.get("1.0.0")!.size + served.get("1.1.0")!.size).toBe(60);
    expect(served.get("1.1.0")!.size).toBeGreaterThan(10);
    for (const u of users) {
      const expected = served.get(u.version)!.size;
      expect(Math.abs(u.users - expected)).toBeLessThanOrEqual(Math.ceil(4 * u.relativeError * expected));
      if (kind === "embedded") expect(u.users).toBe(expected);
    }
    expect(users[0]?.relativeError).toBe(kind === "redis" ? 0.0081 : 0);

    // The weights in force: 50/50 in every minute the split served; the current step is that one.
    const force = await readWeightsInForce(store, window);
    expect(force.current?.shares).toEqual({ "1.0.0": 0.5, "1.1.0": 0.5 });
    expect(force.steps).toHaveLength(1);
    expect(force.current?.requests).toBe(181);
    expect(force.current!.from).toBeLessThanOrEqual(from);
    expect(force.current!.to).toBeGreaterThanOrEqual(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS);

    // Segments: the same counts as the clients saw, per version; the anonymous request is in no segment.
    const segments = await readSegmentStats(store, window, [], ["free", "pro"]);
    const seen = new Map<string, number>();
    for (const s of segments)
      for (const v of s.versions) if (v.requests > 0) seen.set(`${v.version}/${s.segment}`, v.requests);
    expect(seen).toEqual(bySegment);
    const feedbackIn = (segment: string): number =>
      segments
        .find((s) => s.segment === segment)!
        .versions.reduce((sum, v) => sum + (v.feedback["quality"]?.n ?? 0), 0);
    expect(feedbackIn("pro")).toBe(proIds.length);
    expect(feedbackIn("free")).toBe(0);
    const totals = await readVersionStats(store, window);
    expect(totals.reduce((sum, v) => sum + v.requests, 0)).toBe(182);

    const sizedSegments = await readSegmentStats(store, { ...window, name: "sized" });
    expect(
      Object.fromEntries(
        sizedSegments.map((s) => [s.segment, s.versions.find((v) => v.version === "1.0.0")?.requests]),
      ),
    ).toEqual({ "<10": 2, "10-99": 2, ">=100": 2 });
  });
});
