import { describe, expect, it } from "vitest";
import type { Environment } from "../../../gateway/registry/environments.ts";
import type { RegistrySnapshot } from "../../../gateway/registry/snapshot.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { buildSplits, splitKey, type Splits } from "../../../gateway/split/label-splits.ts";
import type { WeightsHash } from "../../../gateway/split/weights.ts";
import { oneTemplate } from "../../support/prompt-fixtures.ts";

const snapshot = (weights: WeightsHash | null, label = "1.0.0"): RegistrySnapshot => ({
  revision: 1,
  prompts: new Map([
    [
      "p",
      {
        versions: new Map(["1.0.0", "1.1.0"].map((v) => [v, { ...oneTemplate("x"), name: "p", version: v }])),
        labels: new Map<Environment, string>([["prod", label]]),
        weights: new Map<Environment, WeightsHash>(weights ? [["prod", weights]] : []),
      },
    ],
  ]),
});

const counts = (s: Splits): Record<string, number> =>
  Object.fromEntries(s.get(splitKey("p", "prod"))?.split.counts ?? []);

describe("buildSplits", () => {
  it("builds a split from valid weights", () => {
    const stats = { invalidChanges: 0 };
    const s = buildSplits(snapshot({ "1.0.0": "90", "1.1.0": "10" }), new Map(), silentLogger, stats);
    expect(counts(s)).toEqual({ "1.0.0": 9000, "1.1.0": 1000 });
    expect(stats.invalidChanges).toBe(0);
  });

  it("keeps the last good split when a change has a problem, and counts the refusal once", () => {
    const stats = { invalidChanges: 0 };
    const good = buildSplits(snapshot({ "1.0.0": "90", "1.1.0": "10" }), new Map(), silentLogger, stats);
    for (const bad of [
      { "1.0.0": "90", "1.1.0": "x" },
      { "1.0.0": "90", "2.0.0": "10" },
      { "1.0.0": "0", "1.1.0": "0" },
    ]) {
      const first = buildSplits(snapshot(bad), good, silentLogger, stats);
      expect(counts(first)).toEqual({ "1.0.0": 9000, "1.1.0": 1000 });
      const again = buildSplits(snapshot(bad), first, silentLogger, stats);
      expect(counts(again)).toEqual({ "1.0.0": 9000, "1.1.0": 1000 });
    }
    expect(stats.invalidChanges).toBe(3);
  });

  it("does not carry a split over to a label that moved, and drops it when the hash goes", () => {
    const stats = { invalidChanges: 0 };
    const good = buildSplits(snapshot({ "1.0.0": "50", "1.1.0": "50" }), new Map(), silentLogger, stats);
    const moved = buildSplits(snapshot({ "1.0.0": "50", "1.1.0": "bad" }, "1.1.0"), good, silentLogger, stats);
    expect(moved.get(splitKey("p", "prod"))?.split.table).toBeNull();
    expect(buildSplits(snapshot(null), good, silentLogger, stats).size).toBe(0);
  });
});
