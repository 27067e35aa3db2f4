// Rollout records in the store, on Redis and on the embedded store: the current record under compare-and-set,
// the history of the finished ones it replaced, the index that lists them.
import { afterEach, describe, expect, it } from "vitest";
import {
  addedEvaluations,
  keepEvaluations,
  newRollout,
  type Evaluation,
  type RolloutRecord,
} from "../../../gateway/rollouts/record.ts";
import {
  readIndexedRollouts,
  readRollout,
  readRolloutHistory,
  readRolloutIndex,
  replaceRollout,
  updateRollout,
} from "../../../gateway/rollouts/rollout-records.ts";
import { parseRolloutIndexField, rolloutHistoryKey, rolloutKey } from "../../../gateway/store/keys.ts";
import { backends, type Backend } from "../../support/registry-fixtures.ts";

const NOW = Date.parse("2030-01-01T00:00:00.000Z");

function rollout(id: string, over: Partial<RolloutRecord> = {}, prompt = "summarization", env = "prod"): RolloutRecord {
  const base = newRollout(
    { id, prompt, env, stable_version: "1.0.0", canary_version: "1.1.0", created_by: "alice" },
    NOW,
  );
  return { ...base, ...over };
}

describe("rollouts-index fields", () => {
  it("parse back into environment and name", () => {
    expect(parseRolloutIndexField("prod:summarization")).toEqual({ env: "prod", name: "summarization" });
    expect(parseRolloutIndexField("prod:")).toBeNull();
    expect(parseRolloutIndexField(":x")).toBeNull();
    expect(parseRolloutIndexField("nothing")).toBeNull();
  });
});

describe("addedEvaluations", () => {
  const evaluation = (n: number, transition = false, at = NOW + n * 1_000): Evaluation => ({
    at: new Date(at).toISOString(),
    state: "step",
    step_index: 0,
    canary_weight: 5,
    elapsed_ms: n,
    users: null,
    requests: null,
    guardrails: [],
    decision: transition ? "advance" : "hold",
    transition,
    reason: `look ${n}`,
  });

  it("finds what keepEvaluations appended, also when it dropped old holds or the time did not move", () => {
    let list: Evaluation[] = [];
    for (let n = 0; n < 12; n++) {
      // Every third look changes the state; the clock stands still from the sixth on.
      const e = evaluation(n, n % 3 === 0, n < 6 ? undefined : NOW + 6_000);
      const next = keepEvaluations(list, e, 3);
      expect(addedEvaluations(list, next)).toEqual([e]);
      list = next;
    }
    expect(addedEvaluations(list, list)).toEqual([]);
    // A record replaced outright (not appended to): what is later than the old last evaluation.
    expect(addedEvaluations([evaluation(1, true)], [evaluation(5), evaluation(0)])).toEqual([evaluation(5)]);
  });
});

describe.each(backends)("rollout records on $name", ({ make }) => {
  let backend: Backend;
  afterEach(async () => {
    await backend.cleanup();
  });

  it("starts over nothing, updates under compare-and-set, and keeps the replaced record in the history", async () => {
    backend = make();
    const store = await backend.open();
    expect(await readRollout(store, "prod", "summarization")).toBeNull();

    const first = rollout("r1");
    expect(await replaceRollout(store, null, first)).toBe(true);
    expect(await replaceRollout(store, null, rollout("r-late"))).toBe(false);
    const read = await readRollout(store, "prod", "summarization");
    expect(read?.record).toEqual(first);

    const finished = rollout("r1", { state: "aborted", finished_at: new Date(NOW).toISOString() });
    expect(await updateRollout(store, "stale value", finished)).toBe(false);
    expect(await updateRollout(store, read!.raw, finished)).toBe(true);
    const done = await readRollout(store, "prod", "summarization");
    expect(done?.record?.state).toBe("aborted");

    const second = rollout("r2");
    expect(await replaceRollout(store, read!.raw, second)).toBe(false); // not what is there any more
    expect(await replaceRollout(store, done!.raw, second)).toBe(true);
    expect((await readRollout(store, "prod", "summarization"))?.record?.id).toBe("r2");
    expect((await readRolloutHistory(store, "prod", "summarization")).map((r) => [r.id, r.state])).toEqual([
      ["r1", "aborted"],
    ]);
    expect(await readRolloutIndex(store)).toEqual([{ env: "prod", name: "summarization", id: "r2" }]);
  });

  it("lists every prompt and environment through the index, skipping what does not parse", async () => {
    backend = make();
    const store = await backend.open();
    await replaceRollout(store, null, rollout("a", {}, "summarization", "prod"));
    await replaceRollout(store, null, rollout("b", {}, "summarization", "staging"));
    await replaceRollout(store, null, rollout("c", {}, "greeter", "prod"));
    await store.set(rolloutKey("prod", "greeter"), "{hand edited");
    await store.append(rolloutHistoryKey("prod", "summarization"), "not json");
    await store.hset("rollouts-index", { "no-colon": "x" });

    const index = await readRolloutIndex(store);
    expect(index.map((e) => e.id).sort()).toEqual(["a", "b", "c"]);
    expect((await readIndexedRollouts(store, index)).map((r) => r.id).sort()).toEqual(["a", "b"]);
    expect(await readRolloutHistory(store, "prod", "summarization")).toEqual([]);
    expect((await readRollout(store, "prod", "greeter"))?.record).toBeNull();
  });
});
