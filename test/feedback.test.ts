// POST /v1/feedback through the real gateway: signed request ids, every error, and counts that add up
// across two gateway processes sharing Redis.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { readVersionStats, type VersionStats } from "../gateway/stats/aggregate-stats.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock, type Clock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { cli } from "./support/cli.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";
import { startServe } from "./support/serve-process.ts";

const DAY = 24 * 60 * 60_000;
const KEY = "gw-key-1";

const file = (version: string): string => `
name: greet
version: ${version}
model: mock/echo
variables: {}
messages:
  - role: system
    content: "greeting v${version}"
`;

const YAML = `
routes:
  - { match: "mock/*", provider: mock }
gateway_keys_env: GATEWAY_KEYS
feedback: { metrics: [quality, helpful], comment_max_chars: 50 }
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A clock whose time the test moves forward (the prompt refresh still sleeps in real time). */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: systemClock.sleep,
    advance: (ms) => void (offset += ms),
  };
}

async function rig(): Promise<{ gw: TestGateway; clock: ReturnType<typeof movableClock> }> {
  const clock = movableClock();
  const gw = await startTestGateway({ yaml: YAML, env: { GATEWAY_KEYS: KEY }, clock });
  cleanups.push(() => gw.close());
  const registry = createRegistry(gw.deps.store, systemClock);
  for (const v of ["1.0.0", "1.1.0"]) await registry.register(parsePromptFile(file(v), `greet/${v}.yaml`), "test");
  await registry.promote("greet", "1.0.0", "staging", { approvedBy: "t" });
  await registry.promote("greet", "1.0.0", "prod", { approvedBy: "t" });
  await gw.deps.store.hset("weights:prod:greet", { "1.0.0": "50", "1.1.0": "50" });
  await vi.waitFor(async () => expect((await infer(gw.url, "u0")).status).toBe(200), { timeout: 5_000, interval: 20 });
  return { gw, clock };
}

async function infer(url: string, user: string, ref: string | null = "greet"): Promise<Response> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${KEY}`,
      "x-user-id": user,
      ...(ref === null ? {} : { "x-prompt-ref": ref }),
    },
    body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }] }),
  });
  await res.arrayBuffer();
  return res;
}

async function feedback(url: string, body: unknown, auth: string | null = KEY): Promise<Response> {
  return fetch(`${url}/v1/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(auth === null ? {} : { authorization: `Bearer ${auth}` }) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

interface ErrorShape {
  error: { message: string; type: string; param: string | null; code: string };
}

async function expectError(res: Response, status: number, code: string, message: RegExp): Promise<ErrorShape> {
  const body = (await res.json()) as ErrorShape;
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  expect(body.error.message).toMatch(message);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  return body;
}

const stats = async (store: Store, name: string): Promise<Record<string, VersionStats>> => {
  const now = Date.now();
  const all = await readVersionStats(store, { env: "prod", name, from: now - 10 * 60_000, to: now + 60_000 });
  return Object.fromEntries(all.map((s) => [s.version, s]));
};

describe("POST /v1/feedback", () => {
  it("signs the request id of prompt requests and counts feedback under the version that served", async () => {
    const { gw } = await rig();
    const res = await infer(gw.url, "alice");
    const id = res.headers.get("x-request-id")!;
    expect(id).toMatch(/^pg2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    const version = res.headers.get("x-prompt-version");
    const variant = res.headers.get("x-prompt-variant");

    // A request without a prompt keeps a plain id.
    const plain = await infer(gw.url, "alice", null);
    expect(plain.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const ok = await feedback(gw.url, { request_id: id, score: 0.75, comment: "good" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      object: "feedback",
      request_id: id,
      metric: "quality",
      prompt: "greet",
      version,
      variant,
      environment: "prod",
      segment: null,
    });
    // Another metric of the same request is its own feedback; thumbs count apart from scores.
    expect((await feedback(gw.url, { request_id: id, value: "thumbs_down", metric: "helpful" })).status).toBe(200);
    const again = await feedback(gw.url, { request_id: id, value: "thumbs_up" });
    await expectError(again, 409, "invalid_request", /already recorded/);
    await expectError(await feedback(gw.url, { request_id: id, score: 0.1 }), 409, "invalid_request", /quality/);

    await gw.deps.aggregates.flush();
    const byVersion = await stats(gw.deps.store, "greet");
    expect(byVersion[version!]!.feedback).toEqual({
      quality: { n: 1, sumMicro: 750_000, sumSqMicro: 562_500, up: 0, down: 0 },
      helpful: { n: 0, sumMicro: 0, sumSqMicro: 0, up: 0, down: 1 },
    });
    // The feedback itself is kept with the id's lifetime, comment included.
    const tag = id.slice(id.lastIndexOf(".") + 1);
    const kept = JSON.parse((await gw.deps.store.get(`feedback:${tag}:quality`))!) as Record<string, unknown>;
    expect(kept).toMatchObject({ request_id: id, metric: "quality", score: 0.75, comment: "good" });
  });

  it("answers 404 for unknown, forged and expired ids", async () => {
    const { gw, clock } = await rig();
    const id = (await infer(gw.url, "bob")).headers.get("x-request-id")!;
    const dot = id.lastIndexOf(".");
    const forged = [
      randomUUID(),
      "pg1.nonsense",
      id.slice(0, dot) + "." + "A".repeat(22),
      id.slice(0, 6) + (id[6] === "A" ? "B" : "A") + id.slice(7),
    ];
    for (const bad of forged) {
      const body = await expectError(
        await feedback(gw.url, { request_id: bad, score: 1 }),
        404,
        "not_found",
        /Unknown request id/,
      );
      expect(body.error.param).toBe("request_id");
    }
    // Signed by another gateway's key.
    const other = await startTestGateway({ yaml: YAML, env: { GATEWAY_KEYS: KEY, REQUEST_ID_KEYS: "x".repeat(40) } });
    cleanups.push(() => other.close());
    await expectError(await feedback(other.url, { request_id: id, score: 1 }), 404, "not_found", /Unknown request id/);

    clock.advance(7 * DAY - 60_000);
    expect((await feedback(gw.url, { request_id: id, value: "thumbs_up", metric: "helpful" })).status).toBe(200);
    const old = (await infer(gw.url, "carol")).headers.get("x-request-id")!;
    clock.advance(2 * 60_000);
    await expectError(await feedback(gw.url, { request_id: id, score: 1 }), 404, "not_found", /expired.*7 days/);
    expect((await feedback(gw.url, { request_id: old, score: 1 })).status).toBe(200);
  });

  it("refuses bad bodies with 400s naming the field, and callers without the gateway key with 401", async () => {
    const { gw } = await rig();
    const id = (await infer(gw.url, "dave")).headers.get("x-request-id")!;
    const cases: [unknown, string | null, RegExp][] = [
      [{ request_id: id }, "score", /either "score".*or "value"/],
      [{ request_id: id, score: 1, value: "thumbs_up" }, "score", /not both/],
      [{ request_id: id, score: 1.5 }, "score", /from 0 to 1/],
      [{ request_id: id, score: -0.1 }, "score", /from 0 to 1/],
      [{ request_id: id, score: "0.5" }, "score", /number/],
      [{ request_id: id, value: "meh" }, "value", /thumbs_up, thumbs_down/],
      [{ request_id: id, score: 1, metric: "tone" }, "metric", /quality, helpful/],
      [{ request_id: id, score: 1, comment: "x".repeat(51) }, "comment", /at most 50 characters/],
      [{ request_id: id, score: 1, rating: 5 }, "rating", /unknown field rating/],
      [{ score: 1 }, "request_id", /request_id/],
      [[id], null, /JSON object/],
    ];
    for (const [body, param, message] of cases) {
      const e = await expectError(await feedback(gw.url, body), 400, "invalid_request", message);
      expect(e.error.param, JSON.stringify(body)).toBe(param);
    }
    await expectError(await feedback(gw.url, "{nope"), 400, "invalid_json", /JSON/);
    await expectError(await feedback(gw.url, { request_id: id, score: 1 }, null), 401, "invalid_api_key", /Missing/);
    await expectError(
      await feedback(gw.url, { request_id: id, score: 1 }, "wrong"),
      401,
      "invalid_api_key",
      /Incorrect/,
    );
    // None of these used the request's one feedback.
    expect((await feedback(gw.url, { request_id: id, score: 1 })).status).toBe(200);
  });
});

describe("feedback across replicas", () => {
  it("on 200 concurrent requests across two gateway processes sharing Redis, loses nothing", async () => {
    const prefix = uniquePrefix("feedback-two");
    const store = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
    cleanups.push(async () => {
      for (const key of await store.keys("")) await store.del(key);
      await store.close();
    });
    const env = { REDIS_URL: redisUrl(), REDIS_PREFIX: prefix };
    const yaml = 'routes:\n  - { match: "mock/*", provider: mock }\nprompts: { bootstrap_labels: true }\n';
    const [a, b] = await Promise.all([
      startServe({ env, yaml, prompts: true }),
      startServe({ env, yaml, prompts: true }),
    ]);
    const set = await cli(["weights", "summarization", "--env", "prod", "--set", "1.0.0=50,1.1.0=50"], env);
    expect(set.code, set.stderr).toBe(0);
    const call = async (url: string, user: number): Promise<Response> =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-prompt-ref": "summarization",
          "x-user-id": `user-${user}`,
          "x-prompt-vars": JSON.stringify({ text: `text ${user}` }),
        },
        body: JSON.stringify({ model: "mock/echo" }),
      });
    // Both replicas see the 50/50 weights before the counted run.
    for (const gw of [a, b])
      await vi.waitFor(
        async () => {
          const versions = await Promise.all(
            Array.from({ length: 20 }, async (_, u) => (await call(gw.url, u)).headers.get("x-prompt-version")),
          );
          expect(new Set(versions).size).toBe(2);
        },
        { timeout: 5_000, interval: 20 },
      );

    const served = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await call(i % 2 ? a.url : b.url, i);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        return { i, id: res.headers.get("x-request-id")!, version: res.headers.get("x-prompt-version")! };
      }),
    );
    // Each feedback goes to the other replica than the one that issued the id; scores and thumbs mixed.
    const expected = new Map<string, { n: number; sumMicro: number; sumSqMicro: number; up: number; down: number }>();
    const results = await Promise.all(
      served.map(async ({ i, id, version }) => {
        const e = expected.get(version) ?? { n: 0, sumMicro: 0, sumSqMicro: 0, up: 0, down: 0 };
        expected.set(version, e);
        const thumbs = i % 3 === 0;
        const s = Math.min((i % 11) / 10 + 0.000_123, 1); // not round: the millionths must add up
        if (thumbs) e[i % 2 ? "up" : "down"] += 1;
        else {
          const micro = Math.round(s * 1e6);
          e.n += 1;
          e.sumMicro += micro;
          e.sumSqMicro += Math.round((micro * micro) / 1e6);
        }
        const body = thumbs
          ? { request_id: id, value: i % 2 ? "thumbs_up" : "thumbs_down" }
          : { request_id: id, score: s };
        return (await feedback(i % 2 ? b.url : a.url, body, null)).status;
      }),
    );
    expect(results.every((s) => s === 200)).toBe(true);
    // A duplicate sent to the other replica is refused too: the 409 is shared.
    expect((await feedback(a.url, { request_id: served[1]!.id, score: 0.5 }, null)).status).toBe(409);

    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const byVersion = await stats(store, "summarization");
    expect([...expected.keys()].sort()).toEqual(["1.0.0", "1.1.0"]);
    for (const [version, e] of expected) expect(byVersion[version]!.feedback["quality"], version).toEqual(e);
  }, 30_000);
});
