// Prompt refs end to end: registry -> snapshot -> X-Prompt-Ref -> rendered messages at the provider.
import { afterEach, describe, expect, it } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry, type Registry } from "../gateway/registry/registry.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { chatJson, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { redisUrl, startRedisServer, uniquePrefix } from "./support/redis.ts";

const summarization = (version: string, instruction: string): string => `
name: summarization
version: ${version}
model: gpt-pinned
params: { temperature: 0.3, max_tokens: 200 }
variables:
  text: { type: string, required: true }
  target_sentences: { type: integer, default: 2 }
messages:
  - role: system
    content: "${instruction} in {{ target_sentences }} sentences."
  - role: user
    content: "{{ text }}"
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function redisStore(url = redisUrl(), prefix = uniquePrefix("prompts")): Promise<Store> {
  const store = await createRedisStore({ url, prefix, logger: silentLogger });
  cleanups.push(() => store.close());
  return store;
}

async function seed(registry: Registry): Promise<void> {
  for (const [v, text] of [
    ["1.0.0", "Summarize"],
    ["1.1.0", "Summarize briefly"],
  ] as const) {
    await registry.register(parsePromptFile(summarization(v, text), `summarization/${v}.yaml`), "test");
  }
  await registry.promote("summarization", "1.0.0", "staging", { approvedBy: "alice" });
  await registry.promote("summarization", "1.0.0", "prod", { approvedBy: "alice" });
}

async function gateway(provider: FakeProvider, store: Store): Promise<TestGateway> {
  const gw = await startTestGateway({ providerUrl: provider.url, store });
  cleanups.push(() => gw.close());
  return gw;
}

async function provider(): Promise<FakeProvider> {
  const p = await startFakeProvider();
  p.handle(chatJson("ok"));
  cleanups.push(() => p.close());
  return p;
}

const ask = (gw: TestGateway, ref: string, vars: object, extra: object = {}): Promise<Response> =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-prompt-ref": ref, "x-prompt-vars": JSON.stringify(vars) },
    body: JSON.stringify({
      model: "gpt-request",
      messages: [{ role: "user", content: "and one more thing" }],
      temperature: 0.9,
      ...extra,
    }),
  });

async function within<T>(ms: number, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (ok(await probe())) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const servedVersion = async (gw: TestGateway): Promise<string | null> =>
  (await ask(gw, "summarization", { text: "x" })).headers.get("x-prompt-version");

describe("X-Prompt-Ref", () => {
  it("sends exactly the rendered messages followed by the request's, with the version's model and param defaults", async () => {
    const store = await redisStore();
    const registry = createRegistry(store, systemClock);
    await seed(registry);
    const p = await provider();
    const gw = await gateway(p, store);
    const res = await ask(gw, "summarization", { text: "The quarterly report {{ 7*7 }}", target_sentences: 3 });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-prompt-name")).toBe("summarization");
    expect(res.headers.get("x-prompt-version")).toBe("1.0.0");
    expect(res.headers.get("x-prompt-variant")).toBe("stable");
    expect(p.received[0]!.json()).toEqual({
      model: "gpt-pinned",
      messages: [
        { role: "system", content: "Summarize in 3 sentences." },
        { role: "user", content: "The quarterly report {{ 7*7 }}" },
        { role: "user", content: "and one more thing" },
      ],
      temperature: 0.9,
      max_tokens: 200,
    });

    const pinned = await ask(gw, "summarization@1.1.0", { text: "y" }, { prompt_variables: undefined });
    expect(pinned.headers.get("x-prompt-variant")).toBe("pinned");
    expect(p.received[1]!.json()["messages"]).toContainEqual({
      role: "system",
      content: "Summarize briefly in 2 sentences.",
    });

    const staging = await ask(gw, "summarization@staging", { text: "z" });
    expect(staging.headers.get("x-prompt-version")).toBe("1.0.0");
  });

  it("answers 404 for unknown prompts, versions and empty labels, 400 for bad variables", async () => {
    const store = await redisStore();
    await seed(createRegistry(store, systemClock));
    const gw = await gateway(await provider(), store);
    const status = async (ref: string, vars: object): Promise<[number, string]> => {
      const res = await ask(gw, ref, vars);
      const body = (await res.json()) as { error: { message: string; param: string | null } };
      return [res.status, `${body.error.param ?? ""} ${body.error.message}`];
    };
    expect((await status("nope", { text: "x" }))[0]).toBe(404);
    expect((await status("summarization@9.9.9", { text: "x" }))[0]).toBe(404);
    expect((await status("summarization@dev", { text: "x" }))[0]).toBe(404);
    const [missing, missingMsg] = await status("summarization", {});
    expect(missing).toBe(400);
    expect(missingMsg).toContain("text");
    const [unknown, unknownMsg] = await status("summarization", { text: "x", tone: "dry" });
    expect(unknown).toBe(400);
    expect(unknownMsg).toContain("tone");
    const [wrongType, wrongMsg] = await status("summarization", { text: "x", target_sentences: 2.5 });
    expect(wrongType).toBe(400);
    expect(wrongMsg).toContain("target_sentences");
  });

  it("serves the previous version within 1 s of a rollback, on two gateways sharing one Redis", async () => {
    const url = redisUrl();
    const prefix = uniquePrefix("rollback");
    const store = await redisStore(url, prefix);
    const registry = createRegistry(store, systemClock);
    await seed(registry);
    await registry.promote("summarization", "1.1.0", "staging", { approvedBy: "bob" });
    await registry.promote("summarization", "1.1.0", "prod", { approvedBy: "bob" });
    const p = await provider();
    const a = await gateway(p, await redisStore(url, prefix));
    const b = await gateway(p, await redisStore(url, prefix));
    await within(
      1000,
      () => servedVersion(a),
      (v) => v === "1.1.0",
    );
    await within(
      1000,
      () => servedVersion(b),
      (v) => v === "1.1.0",
    );

    await registry.rollback("summarization", "prod", { actor: "sre" });
    const [ta, tb] = await Promise.all([
      within(
        1000,
        () => servedVersion(a),
        (v) => v === "1.0.0",
      ),
      within(
        1000,
        () => servedVersion(b),
        (v) => v === "1.0.0",
      ),
    ]);
    expect(Math.max(ta, tb)).toBeLessThanOrEqual(1000);
  });

  it("keeps serving the last snapshot while Redis is down", async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const store = await redisStore(redis.url, uniquePrefix("outage"));
    await seed(createRegistry(store, systemClock));
    const gw = await gateway(await provider(), store);
    await within(
      1000,
      () => servedVersion(gw),
      (v) => v === "1.0.0",
    );
    await redis.stop();
    for (let i = 0; i < 20; i++) {
      const res = await ask(gw, "summarization", { text: "still up" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-prompt-version")).toBe("1.0.0");
    }
  });
});
