// The controller's read of a step: each side's aggregates and distinct users from the minute the step started,
// only the two versions of the rollout, through the real aggregate writer on the embedded store.
import { afterEach, describe, expect, it } from "vitest";
import { readStepObservation } from "../../../gateway/rollouts/step-observation.ts";
import { createSqliteStore } from "../../../gateway/store/sqlite-store.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { createAggregateWriter, MINUTE_MS } from "../../../gateway/telemetry/aggregates.ts";
import { newRecord } from "../../../gateway/telemetry/request-record.ts";

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

describe("readStepObservation", () => {
  it("reads both sides from the minute holding the step's start, and only the rollout's two versions", async () => {
    const store = createSqliteStore({ path: ":memory:", prefix: "t:", logger: silentLogger });
    stores.push(store);
    const writer = createAggregateWriter({
      store,
      logger: silentLogger,
      options: { flush_interval_ms: 60_000, retention_days: 1, max_pending_keys: 10_000 },
    });
    let user = 0;
    const serve = (version: string, at: number, n: number, status = 200): void => {
      for (let i = 0; i < n; i++) {
        const rec = {
          ...newRecord(at - 20),
          prompt: "p",
          version,
          environment: "prod",
          userHash: (user++).toString(16).padStart(16, "0"),
        };
        writer.record(rec, status, at);
      }
    };
    serve("1.0.0", T0 - MINUTE_MS, 50); // the minute before the step: not read
    serve("1.0.0", T0 + 10_000, 30); // the step started at T0 + 30 s: its whole minute is read
    serve("1.1.0", T0 + 40_000, 4, 500);
    serve("1.1.0", T0 + MINUTE_MS + 5_000, 6);
    serve("0.9.0", T0 + 40_000, 7); // another version on the same environment
    await writer.flush();
    await writer.stop();

    const asked: string[] = [];
    const counting: Store = {
      ...store,
      hgetallMany: (keys) => {
        asked.push(...keys);
        return store.hgetallMany(keys);
      },
    };
    const r = {
      prompt: "p",
      env: "prod",
      stable_version: "1.0.0",
      canary_version: "1.1.0",
      step_started_at: new Date(T0 + 30_000).toISOString(),
    };
    const step = await readStepObservation(counting, r, T0 + MINUTE_MS + 30_000);
    expect(step).toMatchObject({
      stable: { users: 30, requests: 30, errors: 0 },
      canary: { users: 10, requests: 10, errors: 4 },
    });
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((k) => k.includes(":1.0.0:") || k.includes(":1.1.0:"))).toBe(true);
    expect(await readStepObservation(store, { ...r, step_started_at: null }, T0)).toBeNull();
  });
});
