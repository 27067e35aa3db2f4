// Runs the store contract on Redis and on the embedded SQLite store, plus what only one of them does:
// Redis outages (fail fast, recover) and SQLite files shared by separate processes.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { freePort, redisUrl, startRedisServer, uniquePrefix } from "../../support/redis.ts";
import type { RedisServer } from "../../support/redis.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import type { Logger } from "../../../gateway/support/logger.ts";
import { openStore } from "../../../gateway/store/open-store.ts";
import { createRedisStore } from "../../../gateway/store/redis-store.ts";
import { createSqliteStore } from "../../../gateway/store/sqlite-store.ts";
import { storeContract } from "../../support/store-contract.ts";

const run = promisify(execFile);
const WRITES = 500; // per process, in the shared-file test

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const record = (msg: string): void => void lines.push(msg);
  return { lines, debug: record, info: record, warn: record, error: record };
}

describe("redis store", () => {
  storeContract("redis", (prefix) => createRedisStore({ url: redisUrl(), prefix, logger: silentLogger }));

  it("rejects commands quickly, without crashing, when nothing listens", async () => {
    const logger = recordingLogger();
    const store = await createRedisStore({ url: `redis://127.0.0.1:${await freePort()}`, prefix: "x:", logger });
    try {
      const started = performance.now();
      await expect(store.get("k")).rejects.toThrow();
      await expect(store.hincrbyBatch([{ key: "k", field: "f", by: 1 }])).rejects.toThrow();
      await expect(store.ping()).rejects.toThrow();
      await expect(store.subscribe("c", () => undefined)).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(logger.lines).toContain("redis connection error");
    } finally {
      await store.close();
    }
  });

  it("fails fast during an outage and recovers, subscriptions included, when Redis is back", async () => {
    const server = await startRedisServer();
    let restarted: RedisServer | undefined;
    const store = await createRedisStore({ url: server.url, prefix: uniquePrefix("outage"), logger: silentLogger });
    try {
      const received: string[] = [];
      await store.set("k", "before");
      await store.subscribe("changes", (m) => received.push(m));
      await server.stop();

      const started = performance.now();
      await expect(store.get("k")).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(1_500);

      restarted = await startRedisServer(server.port);
      await vi.waitFor(() => store.set("k", "after"), { timeout: 8_000, interval: 100 });
      expect(await store.get("k")).toBe("after");
      await vi.waitFor(
        async () => {
          await store.publish("changes", "back");
          expect(received).toContain("back");
        },
        { timeout: 8_000, interval: 200 },
      );
    } finally {
      await store.close();
      await restarted?.stop();
      await server.stop();
    }
  });
});

describe("sqlite store", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "promptgate-store-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  storeContract("sqlite", async (prefix) =>
    createSqliteStore({ path: join(dir, "state.db"), prefix, logger: silentLogger }),
  );

  it("creates the parent directory and works in memory", async () => {
    const path = join(dir, "nested", "deeper", "state.db");
    const onDisk = createSqliteStore({ path, prefix: "p:", logger: silentLogger });
    await onDisk.set("k", "v");
    await onDisk.close();
    expect(existsSync(path)).toBe(true);

    const memory = createSqliteStore({ path: ":memory:", prefix: "p:", logger: silentLogger });
    try {
      const got: string[] = [];
      await memory.subscribe("c", (m) => got.push(m));
      await memory.publish("c", "hello");
      await vi.waitFor(() => expect(got).toEqual(["hello"]), { timeout: 500, interval: 5 });
      expect(await memory.incrby("n", 2)).toBe(2);
    } finally {
      await memory.close();
    }
  });

  it("shares one file with another process: concurrent writes all land, notifications cross", async () => {
    const path = join(dir, "state.db");
    const store = createSqliteStore({ path, prefix: "pg:", logger: silentLogger });
    const fromChild: string[] = [];
    await store.subscribe("changes", (m) => fromChild.push(m));
    // The child never closes its store: it exits only if its poll timer is unref()ed.
    const child = run(process.execPath, ["--no-warnings", "--input-type=module", "-e", childScript(path)], {
      timeout: 15_000,
    });
    try {
      await vi.waitFor(() => expect(fromChild).toContain("child-ready"), { timeout: 10_000, interval: 10 });
      await store.set("go", "1"); // both processes start writing now
      for (let i = 0; i < WRITES; i++) {
        await store.hincrbyBatch([{ key: "agg", field: "n", by: 1 }]);
        await store.append("audit", `parent-${i}`);
        if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await child;
      expect(await store.hgetall("agg")).toEqual({ n: String(2 * WRITES) });
      const audit = await store.range("audit", 0, -1);
      expect(audit).toHaveLength(2 * WRITES);
      expect(new Set(audit).size).toBe(2 * WRITES);
      await vi.waitFor(() => expect(fromChild).toEqual(["child-ready", "child-done"]), {
        timeout: 1_000,
        interval: 10,
      });
    } finally {
      await store.close();
    }
  });
});

describe("openStore", () => {
  it("opens Redis when a URL is given and the embedded store otherwise", async () => {
    const dir = mkdtempSync(join(tmpdir(), "promptgate-open-"));
    const common = { statePath: join(dir, "state.db"), prefix: uniquePrefix("open"), logger: silentLogger };
    const redis = await openStore({ ...common, redisUrl: redisUrl() });
    const embedded = await openStore({ ...common, redisUrl: undefined });
    try {
      expect(redis.kind).toBe("redis");
      expect(embedded.kind).toBe("embedded");
      expect(embedded.prefix).toBe(common.prefix);
    } finally {
      await redis.close();
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function childScript(path: string): string {
  const modulePath = new URL("../../../gateway/store/sqlite-store.ts", import.meta.url).href;
  return `
    import { createSqliteStore } from ${JSON.stringify(modulePath)};
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const store = createSqliteStore({ path: ${JSON.stringify(path)}, prefix: "pg:", logger });
    await store.subscribe("changes", () => {});
    await store.publish("changes", "child-ready");
    while ((await store.get("go")) === null) await new Promise((resolve) => setTimeout(resolve, 2));
    for (let i = 0; i < ${WRITES}; i++) {
      await store.hincrbyBatch([{ key: "agg", field: "n", by: 1 }]);
      await store.append("audit", "child-" + i);
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await store.publish("changes", "child-done");
  `;
}
