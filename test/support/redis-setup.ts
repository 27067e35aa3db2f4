// Vitest globalSetup: finds a Redis for the test run (REDIS_URL or localhost:6379), or starts a private
// redis-server when none answers, and provides its URL to every test through inject("redisUrl").
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { TestProject } from "vitest/node";
import { pingRedis, startRedisServer } from "./redis.ts";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  if (await pingRedis(url)) {
    project.provide("redisUrl", url);
    return undefined;
  }
  if (!onPath("redis-server")) {
    throw new Error(
      `no Redis at ${withoutPassword(url)}: install it with \`apt-get install redis-server\` (or set REDIS_URL to a running one)`,
    );
  }
  const server = await startRedisServer();
  project.provide("redisUrl", server.url);
  return () => server.stop();
}
