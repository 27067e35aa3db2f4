import { describe, expect, it } from "vitest";
import { pacedPlan } from "./fake-upstream.ts";
import { kindCounts, kindOfModel, modelFor, planStreams, seededRandom } from "./soak-plan.ts";

const MIX = { abortShare: 0.3, resetShare: 0.1, events: 10 };

describe("planStreams", () => {
  it("has exactly the mix's shares, and the same plan for the same seed", () => {
    const plans = planStreams(20_000, MIX, seededRandom(1));
    const count = (kind: string): number => plans.filter((p) => p.kind === kind).length;
    expect([count("complete"), count("abort"), count("reset")]).toEqual([12_000, 6000, 2000]);
    expect(planStreams(20_000, MIX, seededRandom(1))).toEqual(plans);
    expect(planStreams(20_000, MIX, seededRandom(2))).not.toEqual(plans);
  });

  it("mixes the kinds rather than running them in blocks", () => {
    const first = planStreams(20_000, MIX, seededRandom(7)).slice(0, 1000);
    const aborts = first.filter((p) => p.kind === "abort").length;
    expect(aborts).toBeGreaterThan(240);
    expect(aborts).toBeLessThan(360);
  });

  it("puts each abort anywhere from the headers to the last event, and each reset before the last event", () => {
    const plans = planStreams(5000, MIX, seededRandom(3));
    const at = (kind: string): Set<number> => new Set(plans.filter((p) => p.kind === kind).map((p) => p.at));
    expect([...at("abort")].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([...at("reset")].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...at("complete")]).toEqual([10]);
  });

  it("rounds the shares and never plans more than n streams", () => {
    expect(kindCounts(7, MIX)).toEqual({ complete: 4, abort: 2, reset: 1 });
    expect(kindCounts(3, { abortShare: 0.5, resetShare: 0.5 })).toEqual({ complete: 0, abort: 2, reset: 1 });
    expect(planStreams(0, MIX, seededRandom(1))).toEqual([]);
  });
});

describe("modelFor and kindOfModel", () => {
  it("ask the fake provider for the plan's ending, and read the kind back from the gateway's model label", () => {
    expect(modelFor({ kind: "complete", at: 10 }, 10, 5)).toBe("paced/10x5/done");
    expect(modelFor({ kind: "abort", at: 3 }, 10, 5)).toBe("paced/10x5/hold");
    expect(modelFor({ kind: "reset", at: 3 }, 10, 5)).toBe("paced/10x5/reset-3");
    for (const p of planStreams(200, MIX, seededRandom(5))) {
      const model = modelFor(p, 10, 5);
      expect(pacedPlan(model)).not.toBeNull();
      expect(kindOfModel(model)).toBe(p.kind);
    }
    expect(kindOfModel("gpt-test")).toBeNull();
    expect(kindOfModel("other")).toBeNull();
  });
});
