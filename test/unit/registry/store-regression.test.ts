// What "the store went backwards" means (a lower revision, a version or label gone or rewritten), that
// values still stored but unreadable do not count, and the guard's log line, count and recovery.
import { afterEach, describe, expect, it } from "vitest";
import { backends, promptVersion } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";
import { systemClock } from "../../../gateway/support/clock.ts";
import type { Logger } from "../../../gateway/support/logger.ts";
import type { Environment } from "../../../gateway/registry/environments.ts";
import { createRegistry } from "../../../gateway/registry/registry.ts";
import { loadSnapshot, type PromptEntry, type RegistrySnapshot } from "../../../gateway/registry/snapshot.ts";
import { createStoreGuard, findRegression, storeRegression } from "../../../gateway/registry/store-regression.ts";

function entry(versions: Record<string, string>, labels: Partial<Record<Environment, string>> = {}): PromptEntry {
  return {
    versions: new Map(Object.entries(versions).map(([v, hash]) => [v, promptVersion("p", v, hash)])),
    labels: new Map(Object.entries(labels) as [Environment, string][]),
    weights: new Map(),
  };
}

const snap = (revision: number, prompts: Record<string, PromptEntry>): RegistrySnapshot => ({
  revision,
  prompts: new Map(Object.entries(prompts)),
});

const HELD = snap(7, { summ: entry({ "1.0.0": "a", "1.1.0": "b" }, { staging: "1.1.0", prod: "1.0.0" }) });

describe("findRegression", () => {
  it("lets every legitimate change through: new versions and prompts, moved labels, weights, same state", () => {
    expect(findRegression(HELD, HELD)).toBeNull();
    const moved = snap(9, {
      summ: {
        ...entry({ "1.0.0": "a", "1.1.0": "b", "1.2.0": "c" }, { staging: "1.2.0", prod: "1.1.0", dev: "1.2.0" }),
      },
      other: entry({ "0.1.0": "z" }),
    });
    expect(findRegression(HELD, moved)).toBeNull();
    const weights = new Map([["prod", { "1.0.0": "90", "1.1.0": "10" }]] as const);
    expect(findRegression(HELD, snap(7, { summ: { ...HELD.prompts.get("summ")!, weights } }))).toBeNull();
  });

  it("names what went backwards: a lower revision, versions gone or rewritten, labels gone", () => {
    expect(findRegression(HELD, snap(0, {}))).toEqual({
      heldRevision: 7,
      storeRevision: 0,
      versions: ["summ@1.0.0", "summ@1.1.0"],
      labels: ["summ@staging", "summ@prod"],
    });
    const lower = snap(6, { summ: HELD.prompts.get("summ")! });
    expect(findRegression(HELD, lower)).toMatchObject({ storeRevision: 6, versions: [], labels: [] });
    // Re-seeded from files by a fresh replica: a higher revision, but content lost or changed.
    const reseeded = snap(12, { summ: entry({ "1.0.0": "a", "1.1.0": "other" }, { staging: "1.1.0" }) });
    expect(findRegression(HELD, reseeded)).toMatchObject({ versions: ["summ@1.1.0"], labels: ["summ@prod"] });
  });
});

describe.each(backends)("the store guard on $name", ({ make }) => {
  let backend: Backend;
  afterEach(async () => backend.cleanup());

  async function seeded(): Promise<{ store: Awaited<ReturnType<Backend["open"]>>; held: RegistrySnapshot }> {
    backend = make();
    const store = await backend.open();
    const registry = createRegistry(store, systemClock);
    await registry.register(promptVersion("summ", "1.0.0"), "author");
    await registry.register(promptVersion("summ", "1.1.0"), "author");
    await registry.promote("summ", "1.0.0", "dev", { approvedBy: "alice" });
    return { store, held: await loadSnapshot(store) };
  }

  it("does not count a value still stored but unreadable as lost; a deleted one is", async () => {
    const { store, held } = await seeded();
    await store.set("prompts:summ:1.1.0", "{hand-edited");
    await store.set("labels:dev:summ", "garbage");
    const unreadable = await loadSnapshot(store);
    expect(findRegression(held, unreadable)).not.toBeNull(); // the snapshot alone cannot tell
    expect(await storeRegression(store, held, unreadable)).toBeNull();

    await store.del("prompts:summ:1.1.0");
    await store.del("labels:dev:summ");
    expect(await storeRegression(store, held, await loadSnapshot(store))).toMatchObject({
      versions: ["summ@1.1.0"],
      labels: ["summ@dev"],
    });
  });

  it("refuses a store that went backwards, logs it once per episode, counts it, and follows it again", async () => {
    const { store, held } = await seeded();
    const lines: { level: string; msg: string; fields: unknown }[] = [];
    const log =
      (level: string) =>
      (msg: string, fields?: unknown): void =>
        void lines.push({ level, msg, fields });
    const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
    const guard = createStoreGuard({ store, clock: systemClock, logger, diskPath: "/data/registry-snapshot.json" });

    expect(await guard.admits(null, snap(0, {}))).toBe(true); // nothing held: anything goes
    expect(await guard.admits(held, held)).toBe(true);
    for (const key of await store.keys("")) await store.del(key);
    const empty = await loadSnapshot(store);
    expect(await guard.admits(held, empty)).toBe(false);
    expect(await guard.admits(held, empty)).toBe(false);
    expect(guard.regressions()).toBe(1);
    expect(guard.behind()).toMatchObject({ heldRevision: 3, storeRevision: 0, missingVersions: 2, missingLabels: 1 });
    expect(lines).toEqual([
      {
        level: "error",
        msg: "registry store is behind the snapshot served; keeping the last good snapshot",
        fields: expect.objectContaining({
          held_revision: 3,
          store_revision: 0,
          missing_versions: ["summ@1.0.0", "summ@1.1.0"],
          fix: "promptgate restore --from-snapshot /data/registry-snapshot.json",
        }) as unknown,
      },
    ]);

    expect(await guard.admits(held, snap(4, Object.fromEntries(held.prompts)))).toBe(true);
    expect(guard.behind()).toBeNull();
    expect(lines.at(-1)).toMatchObject({ level: "info", msg: expect.stringContaining("caught up") as unknown });
    expect(await guard.admits(held, empty)).toBe(false);
    expect(guard.regressions()).toBe(2);
  });
});
