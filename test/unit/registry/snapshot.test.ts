// The in-memory snapshot: what loadSnapshot reads, the disk copy, and the refresher's freshness
// (changes from another process, raw redis-cli weights), outages and starts without a store.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { freePort, redisUrl, startRedisServer } from "../../support/redis.ts";
import type { RedisServer } from "../../support/redis.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { systemClock } from "../../../gateway/support/clock.ts";
import type { Logger } from "../../../gateway/support/logger.ts";
import { REVISION_KEY } from "../../../gateway/store/keys.ts";
import { createRegistry } from "../../../gateway/registry/registry.ts";
import { backends, eventually, promptVersion, redisBackend } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";
import { createSnapshotRefresher, loadSnapshot } from "../../../gateway/registry/snapshot.ts";
import type { RegistrySnapshot, SnapshotRefresher } from "../../../gateway/registry/snapshot.ts";
import {
  deserializeSnapshot,
  deserializeSnapshotFile,
  serializeSnapshot,
} from "../../../gateway/registry/snapshot-file.ts";

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const record = (msg: string): void => void lines.push(msg);
  return { lines, debug: record, info: record, warn: record, error: record };
}

let dir = "";
const refreshers: SnapshotRefresher[] = [];
const cleanups: (() => Promise<void>)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "promptgate-snapshot-"));
});
afterEach(async () => {
  await Promise.all(refreshers.splice(0).map((r) => r.stop()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function refresher(store: Store, opts: { logger?: Logger; diskPath?: string; intervalMs?: number } = {}) {
  const seen: RegistrySnapshot[] = [];
  const r = createSnapshotRefresher({
    store,
    clock: systemClock,
    logger: opts.logger ?? recordingLogger(),
    onSnapshot: (s) => seen.push(s),
    diskPath: opts.diskPath ?? join(dir, "snapshot.json"),
    ...(opts.intervalMs === undefined ? {} : { intervalMs: opts.intervalMs }),
  });
  refreshers.push(r);
  return { r, seen };
}

/**
 * The store as a refresher sees it, counting its polls: each reads the revision first, and the next
 * one starts only after the last has ended, so `passed(n)` resolves once n more polls are over.
 */
function countingPolls(store: Store): { store: Store; passed(n: number): Promise<void> } {
  let started = 0;
  const counted: Store = {
    ...store,
    readStrings: (keys, maxBytes) => {
      if (keys.includes(REVISION_KEY)) started++;
      return store.readStrings(keys, maxBytes);
    },
  };
  return {
    store: counted,
    passed: async (n) => {
      const until = started + n + 1;
      await vi.waitFor(() => expect(started).toBeGreaterThanOrEqual(until), { timeout: 5_000, interval: 10 });
    },
  };
}

async function seed(store: Store): Promise<void> {
  const registry = createRegistry(store, systemClock);
  await registry.register(promptVersion("summ", "1.0.0"), "author");
  await registry.register(promptVersion("summ", "1.1.0"), "author");
  await registry.register(promptVersion("other", "0.1.0"), "author");
  await registry.promote("summ", "1.0.0", "dev", { approvedBy: "alice" });
  await registry.promote("summ", "1.0.0", "staging", { approvedBy: "alice" });
}

describe.each(backends)("snapshot on $name", ({ make }) => {
  let backend: Backend;
  beforeEach(() => {
    backend = make();
    cleanups.push(() => backend.cleanup());
  });

  it("loads versions, labels and non-empty weights hashes, skipping unreadable values", async () => {
    const store = await backend.open();
    await seed(store);
    await store.hset("weights:prod:summ", { "1.0.0": "95", "1.1.0": "5" });
    await store.set("prompts:summ:9.0.0", "{not json");
    await store.set("labels:prod:other", "garbage");

    const snapshot = await loadSnapshot(store);
    expect(snapshot.revision).toBe(5);
    expect([...snapshot.prompts.keys()].sort()).toEqual(["other", "summ"]);
    const summ = snapshot.prompts.get("summ")!;
    expect([...summ.versions.keys()].sort()).toEqual(["1.0.0", "1.1.0"]);
    expect(summ.versions.get("1.1.0")).toEqual(promptVersion("summ", "1.1.0"));
    expect(summ.labels).toEqual(
      new Map([
        ["dev", "1.0.0"],
        ["staging", "1.0.0"],
      ]),
    );
    expect(summ.weights).toEqual(new Map([["prod", { "1.0.0": "95", "1.1.0": "5" }]]));
    expect(snapshot.prompts.get("other")).toMatchObject({ labels: new Map(), weights: new Map() });

    expect(deserializeSnapshot(serializeSnapshot(snapshot, new Date()))).toEqual(snapshot);
  });

  it("sees another process's promotion and a raw weights HSET within 1 s each", async () => {
    const local = await backend.open();
    await seed(local);
    const { r, seen } = refresher(local); // the default 250 ms poll: the 1 s promise as shipped
    await r.start();
    expect(r.ready()).toBe(true);
    expect(r.current()?.prompts.get("summ")?.labels.get("dev")).toBe("1.0.0");

    const remote = createRegistry(await backend.open(), systemClock);
    await remote.promote("summ", "1.1.0", "dev", { approvedBy: "bob" });
    await eventually(
      () => r.current()?.prompts.get("summ")?.labels.get("dev") === "1.1.0" || undefined,
      1_000,
      "promotion",
    );
    expect(seen.at(-1)).toBe(r.current());

    // as an SRE would: `redis-cli HSET promptgate:weights:prod:summ 1.0.0 90 1.1.0 10` (no revision bump)
    const weights = { "1.0.0": "90", "1.1.0": "10" };
    if (backend.name === "redis") {
      const raw = new Redis(redisUrl());
      await raw.hset(`${backend.prefix}weights:prod:summ`, weights);
      raw.disconnect();
    } else {
      await (await backend.open()).hset("weights:prod:summ", weights);
    }
    const revision = r.current()!.revision;
    const prodWeights = () => r.current()?.prompts.get("summ")?.weights.get("prod");
    expect(await eventually(prodWeights, 1_000, "weights")).toEqual(weights);
    expect(r.current()!.revision).toBe(revision);

    await (await backend.open()).del("weights:prod:summ");
    await eventually(() => prodWeights() === undefined || undefined, 1_000, "weights removed");

    // the disk copy follows, written whole (no temp files left behind)
    const path = join(dir, "snapshot.json");
    await eventually(
      () => {
        const saved = existsSync(path) ? deserializeSnapshot(readFileSync(path, "utf8")) : null;
        return saved?.prompts.get("summ")?.labels.get("dev") === "1.1.0" &&
          saved.prompts.get("summ")?.weights.size === 0
          ? true
          : undefined;
      },
      1_000,
      "disk snapshot",
    );
    expect(readdirSync(dir)).toEqual(["snapshot.json"]);
  });

  it("saves each label's record and the audit history beside the snapshot on disk", async () => {
    const store = await backend.open();
    await seed(store);
    const { r } = refresher(store);
    await r.start();
    const path = join(dir, "snapshot.json");
    const saved = await eventually(
      () => (existsSync(path) ? deserializeSnapshotFile(readFileSync(path, "utf8")) : null) ?? undefined,
      1_000,
      "disk snapshot",
    );
    expect(saved.snapshot).toEqual(r.current());
    const summ = saved.records.get("summ");
    expect(summ?.labels.staging).toMatchObject({ version: "1.0.0", approvedBy: "alice", everOn: ["1.0.0"] });
    expect(summ?.audit.map((e) => e.action)).toEqual(["register", "register", "promote", "promote"]);
    expect(saved.records.get("other")).toMatchObject({ labels: {}, audit: [{ action: "register" }] });
  });

  it("does not take a store emptied between the reads of one poll for canary weights removed", async () => {
    const store = await backend.open();
    await seed(store);
    const weights = { "1.0.0": "90", "1.1.0": "10" };
    await store.hset("weights:staging:summ", weights);
    let armed = false;
    const flushedMidPoll: Store = {
      ...store,
      readHashes: async (keys, limits) => {
        if (armed) {
          armed = false; // emptied after the poll read the revision, before it reads the weights
          for (const key of await store.keys("")) await store.del(key);
        }
        return store.readHashes(keys, limits);
      },
    };
    const { r } = refresher(flushedMidPoll, { intervalMs: 20 });
    await r.start();
    const path = join(dir, "snapshot.json");
    await eventually(() => existsSync(path) || undefined, 1_000, "disk snapshot");
    armed = true;
    await eventually(() => r.health().store === "behind" || undefined, 2_000, "the store seen behind");
    expect(r.current()?.prompts.get("summ")?.weights.get("staging")).toEqual(weights);
    const saved = deserializeSnapshot(readFileSync(path, "utf8"));
    expect(saved?.prompts.get("summ")?.weights.get("staging")).toEqual(weights);
  });

  it("does not republish unchanged state, and survives a listener that throws", async () => {
    const store = await backend.open();
    await seed(store);
    const logger = recordingLogger();
    let calls = 0;
    const polls = countingPolls(store);
    const r = createSnapshotRefresher({
      store: polls.store,
      clock: systemClock,
      logger,
      diskPath: join(dir, "snapshot.json"),
      intervalMs: 20,
      onSnapshot: () => {
        calls++;
        throw new Error("listener bug");
      },
    });
    refreshers.push(r);
    await r.start();
    await polls.passed(10); // ten polls with nothing to see
    expect(calls).toBe(1);
    await createRegistry(store, systemClock).promote("summ", "1.1.0", "dev", { approvedBy: "a" });
    await eventually(() => calls === 2 || undefined, 1_000, "second snapshot");
    expect(r.current()?.prompts.get("summ")?.labels.get("dev")).toBe("1.1.0");
    expect(logger.lines.filter((l) => l === "registry snapshot listener failed")).toHaveLength(2);
  });
});

describe("the disk snapshot's records", () => {
  it("leave out what does not read, and never cost the replica its snapshot", () => {
    const snapshot: RegistrySnapshot = {
      revision: 3,
      prompts: new Map([
        [
          "summ",
          { versions: new Map([["1.0.0", promptVersion("summ", "1.0.0")]]), labels: new Map(), weights: new Map() },
        ],
      ]),
    };
    const record = { version: "1.0.0", previous: [], approvedBy: "alice", at: "t", everOn: ["1.0.0"] };
    const audit = { at: "t", actor: "alice", action: "register", name: "summ", version: "1.0.0" };
    const file = JSON.parse(serializeSnapshot(snapshot, new Date(0))) as Record<string, unknown>;
    file["records"] = {
      summ: {
        labels: { dev: record, prod: { version: 7 } },
        audit: [audit, { ...audit, action: "from-a-newer-version" }],
      },
    };
    const read = deserializeSnapshotFile(JSON.stringify(file));
    expect(read?.snapshot).toEqual(snapshot);
    expect(read?.records.get("summ")).toEqual({ labels: { dev: record }, audit: [audit] });
    file["records"] = "not an object";
    expect(deserializeSnapshotFile(JSON.stringify(file))?.snapshot).toEqual(snapshot);
  });
});

describe("snapshot refresher through Redis outages", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });

  async function privateRedis(port?: number): Promise<RedisServer> {
    const server = await startRedisServer(port);
    cleanups.push(() => server.stop());
    return server;
  }

  it("keeps the last snapshot while Redis is down, logs once, and recovers by itself", async () => {
    const server = await privateRedis();
    const backend = redisBackend(server.url);
    cleanups.push(() => backend.cleanup());
    const writerStore = await backend.open();
    await seed(writerStore);
    const logger = recordingLogger();
    const polls = countingPolls(await backend.open());
    const { r } = refresher(polls.store, { logger, intervalMs: 50 });
    await r.start();
    const before = r.current();
    expect(before?.prompts.get("summ")?.labels.get("staging")).toBe("1.0.0");

    await server.stop();
    await eventually(
      () => logger.lines.includes("registry store unreachable; keeping the last snapshot") || undefined,
      2_000,
      "outage noticed",
    );
    await polls.passed(8); // eight more failing polls
    expect(r.current()).toBe(before);
    expect(r.ready()).toBe(true);
    expect(logger.lines.filter((l) => l.startsWith("registry store unreachable"))).toHaveLength(1);

    await privateRedis(server.port); // a fresh, empty server on the same port
    const writer = createRegistry(writerStore, systemClock);
    await eventually(() => logger.lines.includes("registry store reachable again") || undefined, 8_000, "recovery");
    // The empty store is behind the snapshot served: it is not taken as the truth.
    expect(logger.lines).toContain("registry store is behind the snapshot served; keeping the last good snapshot");
    expect(r.current()).toBe(before);
    await eventually(() => seed(writerStore).then(() => true), 8_000, "the writer reconnecting");
    await writer.register(promptVersion("after", "1.0.0"), "author");
    await eventually(() => r.current()?.prompts.get("after"), 1_000, "a change after recovery");
    expect(r.health()).toMatchObject({ store: "current", behind: null, regressions: 1 });
    expect(logger.lines.filter((l) => l.startsWith("registry store unreachable"))).toHaveLength(1);
  });

  it("starts from the disk snapshot when Redis is down at start", async () => {
    const diskPath = join(dir, "state", "snapshot.json");
    const backend = redisBackend(redisUrl());
    cleanups.push(() => backend.cleanup());
    const store = await backend.open();
    await seed(store);
    const first = refresher(store, { diskPath });
    await first.r.start();
    await eventually(() => existsSync(diskPath) || undefined, 1_000, "disk snapshot");
    await first.r.stop();

    const down = redisBackend(`redis://127.0.0.1:${await freePort()}`);
    cleanups.push(() => down.cleanup());
    const logger = recordingLogger();
    const second = refresher(await down.open(), { diskPath, logger, intervalMs: 50 });
    const started = performance.now();
    await second.r.start();
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(second.r.ready()).toBe(true);
    expect(second.r.current()).toEqual(first.r.current());
    expect(second.seen).toHaveLength(1);
    expect(logger.lines).toContain("registry store unreachable at start");
  });

  it("is not ready without a store or a disk snapshot, and becomes ready once Redis answers", async () => {
    const port = await freePort();
    const backend = redisBackend(`redis://127.0.0.1:${port}`);
    cleanups.push(() => backend.cleanup());
    writeFileSync(join(dir, "corrupt.json"), '{"format": 99}');
    for (const diskPath of [join(dir, "missing.json"), join(dir, "corrupt.json")]) {
      const { r } = refresher(await backend.open(), { diskPath, intervalMs: 50 });
      const started = performance.now();
      await r.start();
      expect(performance.now() - started).toBeLessThan(2_500);
      expect(r.ready()).toBe(false);
      expect(r.current()).toBeNull();
    }

    await privateRedis(port);
    await seed(await backend.open());
    for (const r of refreshers) {
      await eventually(() => r.ready() || undefined, 8_000, "ready after Redis starts");
      const staging = () => r.current()?.prompts.get("summ")?.labels.get("staging");
      expect(await eventually(staging, 1_000, "the seeded label")).toBe("1.0.0");
    }
  });
});
