// Canary weights through promptgate (CLI and admin API) on the embedded store: reads report the split
// the gateway builds, writes refuse what it would ignore and leave an audit entry and a change signal.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../gateway/store/store.ts";
import { createSqliteStore } from "../../../gateway/store/sqlite-store.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { readHistory } from "../../../gateway/registry/audit.ts";
import { REVISION_KEY, weightsKey } from "../../../gateway/store/keys.ts";
import { createRegistry } from "../../../gateway/registry/registry.ts";
import type { Registry } from "../../../gateway/registry/registry.ts";
import { promptVersion, steppingClock, rejection } from "../../support/registry-fixtures.ts";
import { getWeights, setWeights } from "../../../gateway/registry/weights-ops.ts";

describe("weights operations", () => {
  const clock = steppingClock();
  let store: Store;
  let registry: Registry;
  const set = (weights: Record<string, number>, env = "prod", actor = "sre") =>
    setWeights(store, registry, clock, "summ", env, weights, actor);

  beforeEach(async () => {
    store = createSqliteStore({ path: ":memory:", prefix: "t:", logger: silentLogger });
    registry = createRegistry(store, clock);
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await registry.register(promptVersion("summ", v), "test");
    await registry.promote("summ", "1.0.0", "staging", { approvedBy: "t" });
    await registry.promote("summ", "1.0.0", "prod", { approvedBy: "t" });
  });
  afterEach(async () => {
    await store.close();
  });

  it("reads an empty hash as 100% to the label's version", async () => {
    expect(await getWeights(store, registry, "summ", "prod")).toEqual({
      name: "summ",
      env: "prod",
      stable: "1.0.0",
      raw: {},
      shares: [{ version: "1.0.0", weight: null, buckets: 10_000, percent: 100 }],
      problems: [],
      notes: [],
    });
    expect((await getWeights(store, registry, "summ", "dev")).stable).toBeNull();
    expect((await rejection(getWeights(store, registry, "ghost", "prod"))).kind).toBe("not_found");
    expect((await rejection(getWeights(store, registry, "summ", "qa"))).kind).toBe("invalid");
  });

  it("writes weights, reports the split, records the change and wakes the replicas", async () => {
    const revision = Number(await store.get(REVISION_KEY));
    const result = await set({ "1.1.0": 10, "1.0.0": 90 });
    expect(result).toMatchObject({ changed: true, previous: {}, raw: { "1.0.0": "90", "1.1.0": "10" } });
    expect(result.shares).toEqual([
      { version: "1.0.0", weight: 90, buckets: 9000, percent: 90 },
      { version: "1.1.0", weight: 10, buckets: 1000, percent: 10 },
    ]);
    expect(await store.hgetall(weightsKey("prod", "summ"))).toEqual({ "1.0.0": "90", "1.1.0": "10" });
    expect(Number(await store.get(REVISION_KEY))).toBe(revision + 1);
    expect((await getWeights(store, registry, "summ", "prod")).shares).toEqual(result.shares);

    // Replacing drops fields that are no longer in the set; the same set again writes nothing.
    const next = await set({ "1.0.0": 1, "1.2.0": 2 }, "prod", "bob");
    expect(next.previous).toEqual({ "1.0.0": "90", "1.1.0": "10" });
    expect(await store.hgetall(weightsKey("prod", "summ"))).toEqual({ "1.0.0": "1", "1.2.0": "2" });
    expect(next.shares.map((s) => [s.version, s.buckets, s.percent])).toEqual([
      ["1.0.0", 3333, 33.33],
      ["1.2.0", 6667, 66.67],
    ]);
    expect((await set({ "1.2.0": 2, "1.0.0": 1 })).changed).toBe(false);

    const cleared = await set({}, "prod", "carol");
    expect(cleared).toMatchObject({ changed: true, raw: {}, shares: [{ version: "1.0.0", buckets: 10_000 }] });
    expect(await store.hgetall(weightsKey("prod", "summ"))).toEqual({});

    const entries = (await readHistory(store, "summ")).filter((e) => e.action === "weights");
    expect(entries.map((e) => [e.actor, e.env, e.from, e.to])).toEqual([
      ["sre", "prod", "{}", '{"1.0.0":"90","1.1.0":"10"}'],
      ["bob", "prod", '{"1.0.0":"90","1.1.0":"10"}', '{"1.0.0":"1","1.2.0":"2"}'],
      ["carol", "prod", '{"1.0.0":"1","1.2.0":"2"}', "{}"],
    ]);
  });

  it("refuses what the gateway would ignore, with every reason, and writes nothing", async () => {
    const bad = await rejection(set({ "1.0.0": 90, "9.9.9": 5, "1.1.0": -1, "1.2.0": 1.5 }));
    expect([bad.kind, bad.field]).toEqual(["invalid", "weights"]);
    expect(bad.message).toContain('version "9.9.9" is not registered');
    expect(bad.message).toContain('weight "-1" for 1.1.0 is negative');
    expect(bad.message).toContain('weight "1.5" for 1.2.0 is not an integer');
    expect((await rejection(set({ "1.1.0": 10 }))).message).toMatch(/stable version 1\.0\.0 is not in the hash/);
    expect((await rejection(set({ "1.0.0": 0, "1.1.0": 0 }))).message).toMatch(/every weight is zero/);
    expect(await store.hgetall(weightsKey("prod", "summ"))).toEqual({});
    expect((await readHistory(store, "summ")).some((e) => e.action === "weights")).toBe(false);
  });

  it("needs a registered prompt and an existing label", async () => {
    expect((await rejection(setWeights(store, registry, clock, "ghost", "prod", {}, "sre"))).kind).toBe("not_found");
    const noLabel = await rejection(set({ "1.0.0": 1 }, "dev"));
    expect([noLabel.kind, noLabel.message]).toEqual([
      "conflict",
      expect.stringMatching(/no dev label: promote a version to dev/),
    ]);
  });

  it("reports a hand-edited hash the gateway ignores", async () => {
    await store.hset(weightsKey("prod", "summ"), { "1.0.0": "90", "1.1.0": "ten" });
    const shown = await getWeights(store, registry, "summ", "prod");
    expect(shown.problems).toEqual(['weight "ten" for 1.1.0 is not a number']);
    expect(shown.shares).toEqual([{ version: "1.0.0", weight: null, buckets: 10_000, percent: 100 }]);
    await store.hset(weightsKey("prod", "summ"), { "1.1.0": "10" });
    await store.hdel(weightsKey("prod", "summ"), ["1.0.0"]);
    expect((await getWeights(store, registry, "summ", "prod")).notes).toEqual([
      expect.stringMatching(/stable version 1\.0\.0 is not in the hash/),
    ]);
  });
});
