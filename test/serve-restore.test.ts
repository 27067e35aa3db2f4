// `promptgate serve` as a real process when Redis is down at start: the start-up sync of the prompt
// files is retried in the background until Redis answers, but never into a Redis that came back empty
// behind the snapshot the gateway serves from disk; `promptgate restore` (a real process too) brings
// that store back, and then the gateway follows it and the sync completes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRegistry } from "../gateway/registry/registry.ts";
import { syncPromptFiles } from "../gateway/registry/startup-sync.ts";
import { deserializeSnapshotFile } from "../gateway/registry/snapshot-file.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { cli } from "./support/cli.ts";
import { startTestGateway } from "./support/gateway.ts";
import { freePort, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis.ts";
import { promptVersion } from "./support/registry-fixtures.ts";
import { startServe, type ServeProcess } from "./support/serve-process.ts";

const GREETER =
  "name: greeter\nversion: 1.0.0\nvariables: { who: { type: string, required: true } }\n" +
  "messages: [{ role: system, content: 'Greet {{ who }}.' }]\n";

/** A CONFIG_DIR whose greeter is registered and labelled at start, and where STATE_PATH points. */
function workspace(redisUrl: string, prefix: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "pg-serve-restore-"));
  writeFileSync(
    join(dir, "gateway.yaml"),
    'routes:\n  - { match: "mock/*", provider: mock }\nprompts: { bootstrap_labels: true }\n',
  );
  mkdirSync(join(dir, "prompts", "greeter"), { recursive: true });
  writeFileSync(join(dir, "prompts", "greeter", "1.0.0.yaml"), GREETER);
  return { CONFIG_DIR: dir, STATE_PATH: join(dir, "state.db"), REDIS_URL: redisUrl, REDIS_PREFIX: prefix };
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

async function status(gw: ServeProcess, ref: string, vars: string): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-prompt-ref": ref, "x-prompt-vars": vars },
    body: JSON.stringify({ model: "mock/echo" }),
  });
  await res.arrayBuffer();
  return res.status;
}

const logged = (gw: ServeProcess, msg: string): boolean => gw.stderr().includes(`"msg":"${msg}"`);
const WAIT = { timeout: 15_000, interval: 50 };

describe("promptgate serve when Redis is down at start", () => {
  it("syncs the prompt files once Redis answers", async () => {
    const port = await freePort();
    const env = workspace(`redis://127.0.0.1:${port}`, uniquePrefix("serve-sync"));
    const gw = await startServe({ env });
    await vi.waitFor(
      () => expect(logged(gw, "prompt files not synced at start; retrying in the background")).toBe(true),
      WAIT,
    );
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(503); // no snapshot on disk, nothing to serve yet

    await privateRedis(port);
    await vi.waitFor(() => expect(logged(gw, "prompt files synced")).toBe(true), WAIT);
    await vi.waitFor(async () => expect(await status(gw, "greeter", '{"who": "Ada"}')).toBe(200), WAIT);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });

  it("does not sync into a Redis that came back empty, and completes once it is restored", async () => {
    const server = await privateRedis();
    const prefix = uniquePrefix("serve-restore");
    const env = workspace(server.url, prefix);
    const snapshotPath = join(env["CONFIG_DIR"]!, "registry-snapshot.json");
    // What a gateway left behind before Redis went away: the prompt files synced, a version pushed since
    // (only Redis and the snapshot know it), and its disk copy of the registry.
    const store = await createRedisStore({ url: server.url, prefix, logger: silentLogger });
    cleanups.push(() => store.close());
    const config = { register_on_start: true, bootstrap_labels: true };
    await syncPromptFiles(join(env["CONFIG_DIR"]!, "prompts"), config, store, systemClock, silentLogger);
    await createRegistry(store, systemClock).register(promptVersion("extra", "1.0.0"), "author");
    const first = await startTestGateway({ store, snapshotPath });
    await vi.waitFor(() => {
      const saved = existsSync(snapshotPath) ? deserializeSnapshotFile(readFileSync(snapshotPath, "utf8")) : null;
      expect(saved?.snapshot.prompts.has("extra")).toBe(true);
    }, WAIT);
    await first.close();
    await server.stop();

    const gw = await startServe({ env });
    expect(await status(gw, "extra@1.0.0", '{"text": "x"}')).toBe(200); // from the disk copy
    await privateRedis(server.port); // back, and empty
    await vi.waitFor(
      () =>
        expect(logged(gw, "registry store is behind the snapshot served; keeping the last good snapshot")).toBe(true),
      WAIT,
    );
    await vi.waitFor(
      () =>
        expect(logged(gw, "prompt files not synced: the store is behind the snapshot served; restore it first")).toBe(
          true,
        ),
      WAIT,
    );
    // The files were not synced into it (waiting only for the test's own client to reconnect).
    await vi.waitFor(async () => expect(await store.keys("prompts:")).toEqual([]), WAIT);
    expect(await status(gw, "greeter", '{"who": "Ada"}')).toBe(200);
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { registry: { store: string } };
    expect(ready.registry.store).toBe("behind");

    const restored = await cli(["restore", "--from-snapshot", snapshotPath], { ...env, USER: "sre" });
    expect(restored).toMatchObject({ code: 0, stderr: "" });
    expect(restored.stdout).toMatch(/^restored from snapshot .*registry-snapshot\.json; registry revision 0 -> \d+\n/);
    await vi.waitFor(
      () => expect(logged(gw, "registry store caught up with the snapshot served; following it again")).toBe(true),
      WAIT,
    );
    await vi.waitFor(() => expect(logged(gw, "prompt files synced")).toBe(true), WAIT);
    expect(((await (await fetch(`${gw.url}/readyz`)).json()) as { registry: { store: string } }).registry.store).toBe(
      "current",
    );
    expect(await status(gw, "extra@1.0.0", '{"text": "x"}')).toBe(200);
    expect(await status(gw, "greeter", '{"who": "Ada"}')).toBe(200);
  }, 40_000); // two processes and two Redis starts, on a machine other tests share
});
