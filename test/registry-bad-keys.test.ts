// Registry keys written wrong by hand (another type, 100,000 fields, not JSON, a template that does not
// compile, a broken revision): each is skipped, logged once and counted in /metrics, the refresh reads a
// bounded amount, and every other change (a promotion through the admin API) still reaches requests.
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createRegistry, type Registry } from "../gateway/registry/registry.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { createLogger, MAX_LINE_BYTES } from "../gateway/support/logger.ts";
import { MAX_WEIGHTS_FIELDS } from "../gateway/split/weights.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { oneTemplate } from "./support/prompt-fixtures.ts";
import { redisUrl } from "./support/redis.ts";
import { backends, promptVersion, type Backend } from "./support/registry-fixtures.ts";

const TOKEN = "admin-token-bad-keys";

/** Writes as redis-cli (or a second process on the embedded file) would: no registry code involved. */
interface Planter {
  set(key: string, value: string): Promise<unknown>;
  hset(key: string, fields: Record<string, string>): Promise<unknown>;
  /** Replaces whatever the key holds by a list of one item. */
  list(key: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  /** Replaces a hash by a string in one step (no refresh sees it absent in between). */
  hashToString(key: string, value: string): Promise<unknown>;
}

async function planter(backend: Backend): Promise<Planter> {
  if (backend.name === "redis") {
    const raw = new Redis(redisUrl());
    cleanups.push(async () => void raw.disconnect());
    const k = (key: string): string => backend.prefix + key;
    return {
      set: (key, value) => raw.set(k(key), value),
      hset: (key, fields) => raw.hset(k(key), fields),
      list: (key, value) => raw.multi().del(k(key)).rpush(k(key), value).exec(),
      del: (key) => raw.del(k(key)),
      hashToString: (key, value) => raw.multi().del(k(key)).set(k(key), value).exec(),
    };
  }
  const other = await backend.open();
  return {
    set: (key, value) => other.set(key, value),
    hset: (key, fields) => other.hset(key, fields),
    async list(key, value) {
      await other.del(key);
      await other.append(key, value);
    },
    del: (key) => other.del(key),
    async hashToString(key, value) {
      await other.set(key, value); // the file keeps a key per table: the string first, then the hash goes
      await other.hdel(key, Object.keys(await other.hgetall(key)));
    },
  };
}

/** The gateway's store, counting its weights polls (one readHashes each) and the hash fields they returned. */
function counting(store: Store): { store: Store; polls: () => number; fields: () => number } {
  let polls = 0;
  let fields = 0;
  const wrapped: Store = {
    ...store,
    readHashes: async (keys, limits) => {
      const reads = await store.readHashes(keys, limits);
      for (const read of reads) if (read.ok) fields += Object.keys(read.value).length;
      polls++;
      return reads;
    },
  };
  return { store: wrapped, polls: () => polls, fields: () => fields };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.each(backends)("bad registry keys on $name", ({ make }) => {
  let backend: Backend;
  let registry: Registry;
  let plant: Planter;
  let gw: TestGateway;
  let polled: ReturnType<typeof counting>;
  const lines: string[] = [];

  beforeEach(async () => {
    backend = make();
    cleanups.push(() => backend.cleanup());
    const writer = await backend.open();
    registry = createRegistry(writer, systemClock);
    for (const [name, version] of [
      ["greet", "1.0.0"],
      ["greet", "1.1.0"],
      ["other", "1.0.0"],
    ] as const) {
      await registry.register(promptVersion(name, version), "author");
    }
    for (const env of ["dev", "staging", "prod"]) {
      await registry.promote("greet", "1.0.0", env, { approvedBy: "t" });
      await registry.promote("other", "1.0.0", env, { approvedBy: "t" });
    }
    await writer.hset("weights:prod:greet", { "1.0.0": "50", "1.1.0": "50" }); // a live canary: 2 fields
    plant = await planter(backend);
    lines.length = 0;
    polled = counting(await backend.open());
    gw = await startTestGateway({
      store: polled.store,
      logger: createLogger("debug", (line) => lines.push(line)),
      env: { ADMIN_TOKEN: TOKEN },
    });
    cleanups.push(() => gw.close());
  });

  /** The version a request gets (`user` set: through the canary split). */
  async function served(
    ref: string,
    user?: string,
    vars: Record<string, string> = { text: "x" },
  ): Promise<string | null> {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-prompt-ref": ref, ...(user ? { "x-user-id": user } : {}) },
      body: JSON.stringify({
        model: "mock/echo",
        messages: [{ role: "user", content: "hi" }],
        prompt_variables: vars,
      }),
    });
    await res.arrayBuffer();
    return res.status === 200 ? res.headers.get("x-prompt-version") : `status ${res.status}`;
  }

  async function promote(version: string, env: string): Promise<number> {
    const res = await fetch(`${gw.url}/admin/prompts/greet/promote`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ version, env, approved_by: "carol" }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  async function metric(name: string): Promise<number | undefined> {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  }
  const invalidKeys = (family: string, reason: string): Promise<number | undefined> =>
    metric(`promptgate_registry_invalid_keys{family="${family}",reason="${reason}"}`);

  /** Resolves once `n` more polls have ended (the weights are read once per poll). */
  async function polls(n: number): Promise<void> {
    const until = polled.polls() + n;
    await vi.waitFor(() => expect(polled.polls()).toBeGreaterThanOrEqual(until), { timeout: 10_000, interval: 20 });
  }

  const logged = (text: string): string[] => lines.filter((l) => l.includes(text));

  it("skips keys of the wrong type and a 100,000-field hash, reads a bounded amount, and serves a later promote", async () => {
    // a canary user, before anything goes wrong
    let canaryUser = "";
    for (let i = 0; canaryUser === "" && i < 100; i++)
      if ((await served("greet", `u${i}`)) === "1.1.0") canaryUser = `u${i}`;
    expect(canaryUser).not.toBe("");

    await plant.set("weights:prod:other", "notahash"); // the issue's `SET promptgate:weights:prod:x notahash`
    await plant.hset("prompts:other:9.0.0", { not: "a string" });
    await plant.list("labels:dev:other", "a list");
    const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`9.${i}.0`, "1"]));
    await plant.hset("weights:staging:greet", wide);
    await plant.hashToString("weights:prod:greet", "a canary, overwritten by mistake");

    expect(await promote("1.1.0", "staging")).toBe(200);
    await vi.waitFor(async () => expect(await served("greet@staging")).toBe("1.1.0"), { timeout: 5_000, interval: 50 });
    expect(await served("other")).toBe("1.0.0");
    expect(await served("greet", canaryUser)).toBe("1.1.0"); // the overwritten canary: the last good split stays

    await vi.waitFor(async () => expect(await invalidKeys("weights", "wrong_type")).toBe(2), { timeout: 5_000 });
    expect(await invalidKeys("weights", "too_large")).toBe(1);
    expect(await invalidKeys("version", "wrong_type")).toBe(1);
    expect(await invalidKeys("label", "wrong_type")).toBe(1);
    expect(await metric("promptgate_weights_invalid_total")).toBe(3);

    // the poll's cost: the live canary's 2 fields when it was a hash, never the 100,000
    const [polls0, fields0] = [polled.polls(), polled.fields()];
    await polls(10);
    expect(polled.fields() - fields0).toBeLessThanOrEqual(2 * (polled.polls() - polls0));

    // each bad key logged once, however many polls ran; every line bounded
    for (const key of ["weights:prod:other", "prompts:other:9.0.0", "labels:dev:other", "weights:staging:greet"]) {
      expect(logged(`"key":"${key}"`)).toHaveLength(1);
    }
    const [wideLine] = logged(`"key":"weights:staging:greet"`);
    expect(JSON.parse(wideLine!)).toMatchObject({
      level: "warn",
      msg: "canary weights ignored; the last good split stays",
      prompt: "greet",
      env: "staging",
      reason: "too_large",
      problems: [`100000 fields, more than ${MAX_WEIGHTS_FIELDS}`],
    });
    expect(logged("registry store unreachable")).toEqual([]);
    expect(Math.max(...lines.map((l) => Buffer.byteLength(l)))).toBeLessThanOrEqual(MAX_LINE_BYTES);

    // fixed: counted down to zero and said once
    await plant.del("weights:prod:other");
    await vi.waitFor(async () => expect(await invalidKeys("weights", "wrong_type")).toBe(1), { timeout: 5_000 });
    expect(logged("registry key no longer skipped")).toEqual([expect.stringContaining('"key":"weights:prod:other"')]);
  });

  it("skips a record that is not JSON or does not compile, keeps a broken label's last version, and serves a promote", async () => {
    await plant.set("prompts:other:9.0.0", "{not json");
    const broken = { ...oneTemplate("{% if %}"), name: "other", version: "9.1.0", hash: "sha256-broken" };
    await plant.set("prompts:other:9.1.0", JSON.stringify(broken));
    await plant.set("labels:dev:greet", "garbage");

    expect(await promote("1.1.0", "staging")).toBe(200);
    await vi.waitFor(async () => expect(await served("greet@staging")).toBe("1.1.0"), { timeout: 5_000, interval: 50 });
    expect(await served("greet@dev")).toBe("1.0.0"); // the unreadable label keeps the version it had
    expect(await served("other@9.1.0", undefined, {})).toBe("status 500"); // as before: that version fails alone

    await vi.waitFor(async () => expect(await invalidKeys("version", "unparsable")).toBe(1), { timeout: 5_000 });
    expect(await invalidKeys("version", "does_not_compile")).toBe(1);
    expect(await invalidKeys("label", "unparsable")).toBe(1);
    await polls(10);
    expect(logged(`"key":"prompts:other:9.0.0"`)).toHaveLength(1);
    expect(logged(`"key":"labels:dev:greet"`)).toEqual([
      expect.stringContaining('"msg":"registry key skipped; its last good value stays"'),
    ]);
    expect(logged("prompt version does not compile")).toHaveLength(1);

    // a promotion replaces the unreadable label
    expect(await promote("1.1.0", "dev")).toBe(200);
    await vi.waitFor(async () => expect(await served("greet@dev")).toBe("1.1.0"), { timeout: 5_000, interval: 50 });
    expect(await invalidKeys("label", "unparsable")).toBe(0);
  });

  it("keeps applying canary weights while the revision is of the wrong type, and says so once", async () => {
    await plant.del("registry:revision");
    await plant.hset("registry:revision", { not: "an integer" });
    await plant.hset("weights:prod:other", { "1.0.0": "7" });
    const weights = () => gw.deps.prompts.catalog()?.snapshot.prompts.get("other")?.weights.get("prod");
    await vi.waitFor(() => expect(weights()).toEqual({ "1.0.0": "7" }), { timeout: 5_000, interval: 20 });
    await vi.waitFor(async () => expect(await invalidKeys("revision", "wrong_type")).toBe(1), { timeout: 5_000 });
    await polls(10);
    expect(logged(`"key":"registry:revision"`)).toHaveLength(1);

    // set back above the revision served: registry changes flow again
    await plant.del("registry:revision");
    await plant.set("registry:revision", "1000");
    await vi.waitFor(async () => expect(await invalidKeys("revision", "wrong_type")).toBe(0), { timeout: 5_000 });
    expect(await promote("1.1.0", "staging")).toBe(200);
    await vi.waitFor(async () => expect(await served("greet@staging")).toBe("1.1.0"), { timeout: 5_000, interval: 50 });
  });
});
