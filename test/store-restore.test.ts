// Issue 13, item 3: a store that loses its data (Redis restarted without persistence, a FLUSH) never
// replaces the registry a replica serves. The gateway keeps serving its last good snapshot, says so
// (error log line, metrics, /readyz detail), leaves its disk copy alone, and follows the store again
// once `promptgate restore` has put the data back. Real gateways, a private redis-server without
// persistence, the real CLI verb.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../gateway/cli/cli.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { deserializeSnapshotFile } from "../gateway/registry/snapshot-file.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import type { Logger } from "../gateway/support/logger.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { promptVersion } from "./support/registry-fixtures.ts";
import { startRedisServer, uniquePrefix, type RedisServer } from "./support/redis.ts";

interface Line {
  readonly level: string;
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

function recordingLogger(): Logger & { readonly lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (msg: string, fields: Readonly<Record<string, unknown>> = {}): void =>
      void lines.push({ level, msg, fields });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function privateRedis(port?: number): Promise<RedisServer> {
  const server = await startRedisServer(port);
  cleanups.push(() => server.stop());
  return server;
}

async function redisStore(url: string, prefix: string): Promise<Store> {
  const store = await createRedisStore({ url, prefix, logger: recordingLogger() });
  cleanups.push(() => store.close());
  return store;
}

async function gateway(
  store: Store,
  snapshotPath: string,
  logger: Logger,
  env?: Record<string, string>,
): Promise<TestGateway> {
  const gw = await startTestGateway({ store, snapshotPath, logger, ...(env === undefined ? {} : { env }) });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= gw.close());
  cleanups.push(close);
  return { ...gw, close };
}

/** greeter 1.0.0 on every label, 1.1.0 on staging and as a 10% canary on prod. */
async function seed(store: Store): Promise<void> {
  const registry = createRegistry(store, systemClock);
  await registry.register(promptVersion("greeter", "1.0.0"), "author");
  await registry.register(promptVersion("greeter", "1.1.0"), "author");
  for (const env of ["dev", "staging", "prod"] as const)
    await registry.promote("greeter", "1.0.0", env, { approvedBy: "alice" });
  await registry.promote("greeter", "1.1.0", "staging", { approvedBy: "bob" });
  await store.hset("weights:prod:greeter", { "1.0.0": "90", "1.1.0": "10" });
}

/** The prompt version a request for `ref` is served, or its error status. */
async function served(gw: TestGateway, ref: string): Promise<string> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-prompt-ref": ref, "x-prompt-vars": '{"text": "hi"}' },
    body: JSON.stringify({ model: "mock/echo" }),
  });
  await res.arrayBuffer();
  return res.status === 200 ? (res.headers.get("x-prompt-version") ?? "?") : String(res.status);
}

async function metric(gw: TestGateway, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** The disk copy once it holds revision `revision`. */
async function savedAt(path: string, revision: number): Promise<string> {
  let text = "";
  await vi.waitFor(
    () => {
      text = existsSync(path) ? readFileSync(path, "utf8") : "";
      expect(deserializeSnapshotFile(text)?.snapshot.revision).toBe(revision);
    },
    { timeout: 5_000, interval: 20 },
  );
  return text;
}

const WAIT = { timeout: 8_000, interval: 20 };

describe("a store that lost its data", () => {
  it("keeps serving the last good snapshot, alerts, and follows the store again after promptgate restore", async () => {
    const server = await privateRedis();
    const prefix = uniquePrefix("restore");
    const store = await redisStore(server.url, prefix);
    await seed(store);
    const snapshotPath = join(mkdtempSync(join(tmpdir(), "pg-restore-")), "registry-snapshot.json");
    const logger = recordingLogger();
    const gw = await gateway(store, snapshotPath, logger);
    expect(await served(gw, "greeter")).toBe("1.0.0");
    const saved = await savedAt(snapshotPath, 6);

    // Redis loses everything, as a restart without persistence does.
    const raw = new Redis(server.url);
    cleanups.push(async () => void raw.disconnect());
    await raw.flushall();

    await vi.waitFor(() => expect(gw.deps.prompts.health().store).toBe("behind"), WAIT);
    expect(await served(gw, "greeter")).toBe("1.0.0");
    expect(await served(gw, "greeter@staging")).toBe("1.1.0");
    expect(await served(gw, "greeter@1.1.0")).toBe("1.1.0");
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      registry: {
        revision: 6,
        store: "behind",
        behind: { heldRevision: 6, storeRevision: 0, missingVersions: 2, missingLabels: 3 },
        regressions: 1,
      },
    });
    expect(await metric(gw, "promptgate_registry_store_behind")).toBe(1);
    expect(await metric(gw, "promptgate_registry_regressions_total")).toBe(1);
    const alerts = logger.lines.filter((l) => l.level === "error" && l.msg.startsWith("registry store is behind"));
    expect(alerts).toEqual([
      {
        level: "error",
        msg: "registry store is behind the snapshot served; keeping the last good snapshot",
        fields: expect.objectContaining({
          held_revision: 6,
          store_revision: 0,
          missing_versions: ["greeter@1.0.0", "greeter@1.1.0"],
          fix: `promptgate restore --from-snapshot ${snapshotPath}`,
        }) as unknown,
      },
    ]);

    // A write to the emptied store is seen (the store answers) but does not replace the snapshot either.
    await createRegistry(store, systemClock).register(promptVersion("late", "1.0.0"), "someone");
    await vi.waitFor(() => expect(gw.deps.prompts.health().behind?.storeRevision).toBe(1), WAIT);
    expect(await served(gw, "greeter")).toBe("1.0.0");
    expect(readFileSync(snapshotPath, "utf8")).toBe(saved);
    expect(alerts).toHaveLength(1);

    // The operator restores the store from the replica's own disk copy.
    let stdout = "";
    const env = { ...process.env, REDIS_URL: server.url, REDIS_PREFIX: prefix, USER: "sre" };
    const code = await runCli(["restore", "--from-snapshot", snapshotPath, "--json"], env, {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stdout += t),
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ restored: true, sourceRevision: 6, revisionBefore: 1 });

    await vi.waitFor(() => expect(gw.deps.prompts.health()).toMatchObject({ store: "current", behind: null }), WAIT);
    expect(await metric(gw, "promptgate_registry_store_behind")).toBe(0);
    expect(await metric(gw, "promptgate_registry_regressions_total")).toBe(1);
    expect(logger.lines.some((l) => l.msg.startsWith("registry store caught up"))).toBe(true);
    expect(gw.deps.prompts.catalog()?.snapshot.prompts.get("late")).toBeDefined(); // the store is followed again
    expect(gw.deps.prompts.catalog()?.snapshot.prompts.get("greeter")?.weights.get("prod")).toEqual({
      "1.0.0": "90",
      "1.1.0": "10",
    });
    const registry = createRegistry(store, systemClock);
    expect(await registry.label("greeter", "staging")).toMatchObject({
      version: "1.1.0",
      approvedBy: "bob",
      previous: ["1.0.0"],
    });
    expect((await registry.history("greeter")).map((e) => `${e.action} ${e.actor}`)).toEqual([
      "register author",
      "register author",
      "promote alice",
      "promote alice",
      "promote alice",
      "promote bob",
      "restore sre",
    ]);

    // A change after the restore reaches this replica, and a replica started now serves the restored store.
    await registry.promote("greeter", "1.1.0", "prod", { approvedBy: "carol" });
    await vi.waitFor(async () => expect(await served(gw, "greeter")).toBe("1.1.0"), WAIT);
    const fresh = await gateway(
      await redisStore(server.url, prefix),
      join(mkdtempSync(join(tmpdir(), "pg-restore-")), "s.json"),
      recordingLogger(),
    );
    expect(await served(fresh, "greeter")).toBe("1.1.0");
    expect(await served(fresh, "greeter@staging")).toBe("1.1.0");
  });

  it("is not taken as the truth by a replica restarting next to it, or started while Redis was down", async () => {
    const server = await privateRedis();
    const prefix = uniquePrefix("restore");
    await seed(await redisStore(server.url, prefix));
    const snapshotPath = join(mkdtempSync(join(tmpdir(), "pg-restore-")), "registry-snapshot.json");
    const first = await gateway(await redisStore(server.url, prefix), snapshotPath, recordingLogger());
    const saved = await savedAt(snapshotPath, 6);
    await first.close();

    // Restarted next to a Redis that came back empty: the disk copy is compared before anything is served.
    const raw = new Redis(server.url);
    await raw.flushall();
    raw.disconnect();
    const second = await gateway(await redisStore(server.url, prefix), snapshotPath, recordingLogger());
    expect(second.deps.prompts.health()).toMatchObject({ revision: 6, store: "behind" });
    expect(await served(second, "greeter")).toBe("1.0.0");
    await second.close();
    expect(readFileSync(snapshotPath, "utf8")).toBe(saved);

    // Started while Redis is down, from the disk copy; Redis then comes back empty.
    await server.stop();
    const logger = recordingLogger();
    const gw = await gateway(await redisStore(server.url, prefix), snapshotPath, logger);
    expect(gw.deps.prompts.health()).toMatchObject({ revision: 6, store: "unreachable" });
    expect(await served(gw, "greeter")).toBe("1.0.0");

    await privateRedis(server.port);
    await vi.waitFor(() => expect(gw.deps.prompts.health().store).toBe("behind"), WAIT);
    expect(logger.lines.map((l) => l.msg)).toContain("registry store reachable again");
    expect(await served(gw, "greeter")).toBe("1.0.0");
    expect(await served(gw, "greeter@staging")).toBe("1.1.0");
    expect(readFileSync(snapshotPath, "utf8")).toBe(saved);
    expect(await metric(gw, "promptgate_registry_store_behind")).toBe(1);
  });

  it("is restored by POST /admin/registry/restore from the disk copy of the replica that answers", async () => {
    const server = await privateRedis();
    const prefix = uniquePrefix("restore");
    const store = await redisStore(server.url, prefix);
    await seed(store);
    const dir = mkdtempSync(join(tmpdir(), "pg-restore-"));
    const snapshotPath = join(dir, "registry-snapshot.json"); // beside STATE_PATH, where the route looks
    const env = { STATE_PATH: join(dir, "state.db"), ADMIN_TOKEN: "admin-secret" };
    const gw = await gateway(store, snapshotPath, recordingLogger(), env);
    await savedAt(snapshotPath, 6);
    const raw = new Redis(server.url);
    cleanups.push(async () => void raw.disconnect());
    await raw.flushall();
    await vi.waitFor(() => expect(gw.deps.prompts.health().store).toBe("behind"), WAIT);

    const restore = (body: string, token = "admin-secret") =>
      fetch(`${gw.url}/admin/registry/restore`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-actor": "sre" },
        body,
      });
    expect((await restore("{}", "wrong")).status).toBe(401);
    const bad = await restore('{"force": "yes"}');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "force" } });
    expect(await store.keys("")).toEqual([]);

    const res = await restore("{}");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ source: "snapshot", restored: true, sourceRevision: 6, revisionAfter: 7 });
    await vi.waitFor(() => expect(gw.deps.prompts.health().store).toBe("current"), WAIT);
    expect((await createRegistry(store, systemClock).history("greeter")).at(-1)).toMatchObject({
      action: "restore",
      actor: "sre",
    });
    const again = await restore("{}");
    expect(await again.json()).toMatchObject({ restored: false });
  });
});
