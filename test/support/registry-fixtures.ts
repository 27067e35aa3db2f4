// Test fixtures for the registry suites: hand-built prompt versions, a steppable clock, and both store
// backends (Redis under a unique prefix, a temp SQLite file) opened as several "processes" on one state.
import { mkdtempSync, rmSync } from "node:fs";
import { GatewayError } from "../../gateway/errors/gateway-error.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { redisUrl, uniquePrefix } from "./redis.ts";
import type { Clock } from "../../gateway/support/clock.ts";
import type { PromptVersion } from "../../gateway/prompts/types.ts";
import type { NewEvalRecord } from "../../gateway/registry/eval-records.ts";
import { RegistryError } from "../../gateway/registry/registry-error.ts";
import { createRedisStore } from "../../gateway/store/redis-store.ts";
import { createSqliteStore } from "../../gateway/store/sqlite-store.ts";
import type { Store } from "../../gateway/store/store.ts";
import { systemClock } from "../../gateway/support/clock.ts";
import { silentLogger } from "../../gateway/support/logger.ts";
import type { Logger } from "../../gateway/support/logger.ts";

export function promptVersion(name: string, version: string, hash = `sha256-${name}-${version}`): PromptVersion {
  return {
    name,
    version,
    description: `${name} ${version}`,
    model: null,
    params: { temperature: 0.2 },
    variables: { text: { type: "string", required: true } },
    messages: [
      { role: "system", content: `You are ${name} v${version}.` },
      { role: "user", content: "{{ text }}" },
    ],
    prompt: null,
    instructions: null,
    hash,
  };
}

/** One evaluation run of name@version on suite "suite-1", against the content hash `promptVersion` gives it. */
export function evalRun(name: string, version: string, passed: boolean): NewEvalRecord {
  return {
    prompt: name,
    version,
    content_hash: `sha256-${name}-${version}`,
    suite: `config/evals/${name}.yaml`,
    suite_hash: "suite-1",
    judges: ["judge-rubric@1.0.0"],
    baseline: null,
    started_at: "2030-01-01T00:00:00.000Z",
    finished_at: "2030-01-01T00:01:00.000Z",
    passed,
    cases: 20,
    grader_errors: 0,
    cost_usd: 0.01,
    metrics: { quality: { n: 20, mean: 0.8, std: 0.1, min: 0.5, max: 1, pass_rate: 0.9 } },
    gate: null,
    by: "ci",
  };
}

/** Real sleeping, but `now()` starts at a fixed instant and advances one second per call. */
export function steppingClock(start = Date.parse("2030-01-01T00:00:00.000Z")): Clock {
  let t = start;
  return {
    now: () => {
      const at = t;
      t += 1_000;
      return at;
    },
    sleep: systemClock.sleep,
  };
}

export interface Backend {
  readonly name: "redis" | "sqlite";
  /** The logical-key prefix the stores apply (a raw Redis client needs it). */
  readonly prefix: string;
  /** A new store instance on the same shared state, as another process would open it. */
  open(): Promise<Store>;
  /** Deletes the test's keys or file and closes every instance opened. */
  cleanup(): Promise<void>;
}

export type BackendFactory = () => Backend;

export const backends: readonly { readonly name: Backend["name"]; readonly make: BackendFactory }[] = [
  { name: "redis", make: () => redisBackend(redisUrl()) },
  { name: "sqlite", make: sqliteBackend },
];

export function redisBackend(url: string, logger: Logger = silentLogger): Backend {
  const prefix = uniquePrefix("registry");
  const opened: Store[] = [];
  return {
    name: "redis",
    prefix,
    async open() {
      const store = await createRedisStore({ url, prefix, logger });
      opened.push(store);
      return store;
    },
    async cleanup() {
      const [first] = opened;
      try {
        if (first) for (const key of await first.keys("")) await first.del(key);
      } catch {
        // the server was stopped by the test
      }
      await Promise.all(opened.splice(0).map((s) => s.close()));
    },
  };
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), "promptgate-registry-"));
  const opened: Store[] = [];
  return {
    name: "sqlite",
    prefix: "promptgate:",
    async open() {
      const store = createSqliteStore({
        path: join(dir, "state.db"),
        prefix: "promptgate:",
        logger: silentLogger,
        pollMs: 20,
      });
      opened.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined, not a throw) or the deadline passes. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The RegistryError a call rejects with; fails when it succeeds or throws something else. */
export function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  return rejectionOf(promise, RegistryError);
}

/** The GatewayError a call rejects with: the request path's rules, which registry operations reuse. */
export function gatewayRejection(promise: Promise<unknown>): Promise<GatewayError> {
  return rejectionOf(promise, GatewayError);
}

async function rejectionOf<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, but the call succeeded`);
}
