// Redis for tests: the shared server's URL (provided by redis-setup.ts), unique key prefixes so
// tests never see each other's keys, and private throwaway servers for outage drills.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { inject } from "vitest";

export function redisUrl(): string {
  return inject("redisUrl");
}

export function uniquePrefix(label: string): string {
  return `pgtest:${label}:${randomBytes(6).toString("hex")}:`;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A free TCP port on loopback (free when asked; tests accept the tiny race). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port from listen(0)");
  return address.port;
}

/** True when something at `url` answers PING within `timeoutMs`. */
export async function pingRedis(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined); // the failure is the answer, not a crash
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Spawns a private, non-persistent `redis-server` on `port` (a free one by default) and resolves once
 * it answers. Restarting on the same port after stop() simulates an outage and a recovery. With a
 * `password`, the server requires it and `url` carries it.
 */
export async function startRedisServer(port?: number, opts: { password?: string } = {}): Promise<RedisServer> {
  const listenPort = port ?? (await freePort());
  const auth = opts.password === undefined ? "" : `:${encodeURIComponent(opts.password)}@`;
  const url = `redis://${auth}127.0.0.1:${listenPort}`;
  const args = ["--port", String(listenPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (opts.password !== undefined) args.push("--requirepass", opts.password);
  const child = spawn("redis-server", [...args, "--dir", tmpdir()], { stdio: "ignore" });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
    child.once("error", () => {
      exited = true;
      resolve();
    });
  });

  const deadline = Date.now() + 5_000;
  while (!(await pingRedis(url, 200))) {
    if (exited || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not start on port ${listenPort}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    url,
    port: listenPort,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
