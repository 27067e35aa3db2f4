// The aggregates per step (stats/series.ts): each request counted in the step its minute falls in, steps ending
// with the minute now is in, distinct users per step, the versions shown (the label's, the weights', and any that
// served), and the limits on steps and windows.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRegistry, type Registry } from "../../../gateway/registry/registry.ts";
import { versionSeries } from "../../../gateway/stats/series.ts";
import { createSqliteStore } from "../../../gateway/store/sqlite-store.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { createAggregateWriter, MINUTE_MS, type AggregateWriter } from "../../../gateway/telemetry/aggregates.ts";
import { newRecord, type RequestRecord } from "../../../gateway/telemetry/request-record.ts";
import { promptVersion, rejection, steppingClock } from "../../support/registry-fixtures.ts";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const OPTIONS = { flush_interval_ms: 60_000, retention_days: 1, max_pending_keys: 100_000 };

describe("versionSeries", () => {
  let store: Store;
  let registry: Registry;
  let w: AggregateWriter;

  beforeEach(async () => {
    store = createSqliteStore({ path: ":memory:", prefix: "series:", logger: silentLogger });
    registry = createRegistry(store, steppingClock());
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await registry.register(promptVersion("summ", v), "author");
    await registry.promote("summ", "1.0.0", "prod", { approvedBy: "a", force: true });
    w = createAggregateWriter({ store, logger: silentLogger, options: OPTIONS });
  });
  afterEach(async () => {
    await w.stop();
    await store.close();
  });

  const serve = (version: string, user: number, at: number, status = 200): void => {
    const rec: RequestRecord = {
      ...newRecord(at - 40),
      prompt: "summ",
      version,
      variant: version === "1.0.0" ? "stable" : "canary",
      environment: "prod",
      userHash: user.toString(16).padStart(16, "0"),
    };
    w.record(rec, status, at);
  };

  it("counts each request in the step its minute falls in, the last step holding now", async () => {
    const now = T0 + 30 * MINUTE_MS + 20_000; // 12:30:20: the last 5-minute step is 12:26..12:31
    serve("1.0.0", 1, now - 1_000);
    serve("1.0.0", 2, now - 1_000, 502);
    serve("1.0.0", 1, T0 + 26 * MINUTE_MS); // first minute of the last step
    serve("1.0.0", 3, T0 + 25 * MINUTE_MS + 59_000); // the step before
    serve("1.1.0", 4, T0 + 1 * MINUTE_MS + 1); // first step of a 30-minute window: 12:01..12:06
    serve("1.1.0", 5, T0 + MINUTE_MS - 1); // before the window
    await w.flush();
    const s = await versionSeries(store, registry, "summ", "prod", 30 * MINUTE_MS, now, { stepMs: 5 * MINUTE_MS });
    expect(s.from).toBe(new Date(T0 + MINUTE_MS).toISOString());
    expect(s.to).toBe(new Date(T0 + 31 * MINUTE_MS).toISOString());
    expect(s.versions.map((v) => [v.version, v.variant])).toEqual([
      ["1.1.0", "canary"],
      ["1.0.0", "stable"],
    ]);
    const [canary, stable] = s.versions;
    expect(stable!.points.map((p) => p.requests)).toEqual([0, 0, 0, 0, 1, 3]);
    expect(stable!.points.at(-1)).toMatchObject({ errors: 1, users: 2, error_rate: 1 / 3 });
    expect(stable!.points[0]).toMatchObject({ requests: 0, error_rate: null, latency_p95_ms: null, users: 0 });
    expect(canary!.points.map((p) => p.requests)).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it("shows the label's and the weights' versions even idle, and no other idle one", async () => {
    await store.hset("weights:prod:summ", { "1.0.0": "90", "1.2.0": "10" });
    const s = await versionSeries(store, registry, "summ", "prod", 10 * MINUTE_MS, T0, {});
    expect(s.versions.map((v) => v.version)).toEqual(["1.2.0", "1.0.0"]);
    expect(s.step_ms).toBe(MINUTE_MS);
    expect(s.versions[0]!.points).toHaveLength(10);
  });

  it("picks a step that keeps a long window within 120 points, and refuses what it cannot draw", async () => {
    const day = await versionSeries(store, registry, "summ", "prod", 24 * 60 * MINUTE_MS, T0);
    expect(day.step_ms).toBe(12 * MINUTE_MS);
    expect(day.versions[0]!.points).toHaveLength(120);
    const tooFine = await rejection(
      versionSeries(store, registry, "summ", "prod", 24 * 60 * MINUTE_MS, T0, { stepMs: MINUTE_MS }),
    );
    expect([tooFine.kind, tooFine.field]).toEqual(["invalid", "step"]);
    expect((await rejection(versionSeries(store, registry, "summ", "qa", MINUTE_MS, T0))).field).toBe("env");
    expect((await rejection(versionSeries(store, registry, "nope", "prod", MINUTE_MS, T0))).kind).toBe("not_found");
  });
});
