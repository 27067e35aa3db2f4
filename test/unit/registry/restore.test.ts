// `promptgate restore`'s operation: an emptied store is brought back whole from a replica's snapshot
// file (versions, labels with approvals, weights, audit) with its revision above the snapshot's; from
// prompt files, labels are replayed from the audit history the store kept.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { backends, promptVersion } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";
import type { Clock } from "../../../gateway/support/clock.ts";
import { systemClock } from "../../../gateway/support/clock.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { ENVIRONMENTS } from "../../../gateway/registry/environments.ts";
import { parseLabelRecord } from "../../../gateway/registry/records.ts";
import { createRegistry, type Registry } from "../../../gateway/registry/registry.ts";
import { filesSource, readSnapshotSource, replayLabels } from "../../../gateway/registry/restore-source.ts";
import { restoreRegistry } from "../../../gateway/registry/restore.ts";
import { serializeSnapshot } from "../../../gateway/registry/snapshot-file.ts";
import { readSnapshotRecords } from "../../../gateway/registry/snapshot-records.ts";
import { loadSnapshot } from "../../../gateway/registry/snapshot.ts";

/** One instant for every stamp, so a label's `at` and its audit entry's agree. */
const fixedClock: Clock = { now: () => Date.parse("2030-01-01T00:00:00.000Z"), sleep: systemClock.sleep };

async function seed(registry: Registry, store: Store): Promise<void> {
  await registry.register(promptVersion("summ", "1.0.0"), "author");
  await registry.register(promptVersion("summ", "1.1.0"), "author");
  await registry.register(promptVersion("other", "0.1.0"), "author");
  await registry.promote("summ", "1.0.0", "dev", { approvedBy: "alice" });
  await registry.promote("summ", "1.0.0", "staging", { approvedBy: "alice" });
  await registry.promote("summ", "1.1.0", "staging", { approvedBy: "bob" });
  await registry.rollback("summ", "staging", { actor: "carol" });
  await registry.promote("summ", "1.1.0", "staging", { approvedBy: "bob" });
  await registry.promote("summ", "1.0.0", "prod", { approvedBy: "dave" });
  await store.hset("weights:prod:summ", { "1.0.0": "90", "1.1.0": "10" });
}

async function labelRecords(store: Store, name: string): Promise<unknown[]> {
  const raws = await store.mget(ENVIRONMENTS.map((env) => `labels:${env}:${name}`));
  return raws.map((raw) => (raw == null ? null : parseLabelRecord(raw)));
}

async function wipe(store: Store): Promise<void> {
  for (const key of await store.keys("")) await store.del(key);
}

describe.each(backends)("restore on $name", ({ make }) => {
  let backend: Backend;
  afterEach(async () => backend.cleanup());

  async function seeded(): Promise<{ store: Store; registry: Registry }> {
    backend = make();
    const store = await backend.open();
    const registry = createRegistry(store, fixedClock);
    await seed(registry, store);
    return { store, registry };
  }

  /** The store's snapshot saved as a replica saves it; `records: false` as files written before restore. */
  async function snapshotFile(store: Store, records = true): Promise<string> {
    const snapshot = await loadSnapshot(store);
    const path = join(mkdtempSync(join(tmpdir(), "pg-restore-")), "registry-snapshot.json");
    const saved = records ? await readSnapshotRecords(store, [...snapshot.prompts.keys()]) : undefined;
    writeFileSync(path, serializeSnapshot(snapshot, new Date(fixedClock.now()), saved));
    return path;
  }

  it("brings an emptied store back whole from a snapshot file, its revision above the snapshot's", async () => {
    const { store, registry } = await seeded();
    const before = await loadSnapshot(store);
    const records = await labelRecords(store, "summ");
    const history = await registry.history("summ");
    const path = await snapshotFile(store);

    await wipe(store);
    const report = await restoreRegistry(store, fixedClock, await readSnapshotSource(path), { actor: "sre" });
    expect(report).toMatchObject({ source: "snapshot", restored: true, sourceRevision: 9, revisionBefore: 0 });
    expect(report.revisionAfter).toBe(10);
    expect(report.prompts.find((p) => p.name === "summ")).toMatchObject({
      restored: ["1.0.0", "1.1.0"],
      conflicts: [],
      weights: ["prod"],
      audit: history.length,
    });

    const after = await loadSnapshot(store);
    expect(after.prompts).toEqual(before.prompts);
    expect(after.revision).toBe(10);
    expect(await labelRecords(store, "summ")).toEqual(records); // approvals and rollback stacks too
    expect(await registry.history("summ")).toEqual([
      ...history,
      { at: "2030-01-01T00:00:00.000Z", actor: "sre", action: "restore", name: "summ" },
    ]);
    // The registry works on the restored state: prod's staging gate remembers where staging has been.
    await registry.rollback("summ", "staging", { actor: "x" });
    await registry.promote("summ", "1.1.0", "prod", { approvedBy: "x" });

    // Nothing is behind any more: a second restore does nothing unless forced.
    const again = await restoreRegistry(store, fixedClock, await readSnapshotSource(path), { actor: "sre" });
    expect(again).toMatchObject({ restored: false, prompts: [], revisionAfter: again.revisionBefore });
    const forced = await restoreRegistry(store, fixedClock, await readSnapshotSource(path), {
      actor: "sre",
      force: true,
    });
    expect(forced.restored).toBe(true);
    expect((await registry.label("summ", "prod"))?.version).toBe("1.0.0");
  });

  it("merges the audit history back in time order and leaves a version stored with other content alone", async () => {
    const { store, registry } = await seeded();
    const path = await snapshotFile(store);
    const history = await registry.history("summ");
    await wipe(store);
    const clock: Clock = { now: () => Date.parse("2030-06-01T00:00:00.000Z"), sleep: systemClock.sleep };
    await createRegistry(store, clock).register(promptVersion("summ", "1.1.0", "sha256-changed"), "someone");

    const report = await restoreRegistry(store, clock, await readSnapshotSource(path), { actor: "sre" });
    expect(report.prompts.find((p) => p.name === "summ")).toMatchObject({
      restored: ["1.0.0"],
      conflicts: ["1.1.0"],
    });
    expect((await registry.history("summ")).map((e) => `${e.action} ${e.actor}`)).toEqual([
      ...history.map((e) => `${e.action} ${e.actor}`),
      "register someone",
      "restore sre",
    ]);
  });

  it("gives labels saved without their records (an older file) a record dated when it was saved", async () => {
    const { store } = await seeded();
    const path = await snapshotFile(store, false);
    await wipe(store);
    await restoreRegistry(store, fixedClock, await readSnapshotSource(path), { actor: "sre" });
    expect(await labelRecords(store, "summ")).toEqual([
      {
        version: "1.0.0",
        previous: [],
        approvedBy: "promptgate restore",
        at: "2030-01-01T00:00:00.000Z",
        everOn: ["1.0.0"],
      },
      {
        version: "1.1.0",
        previous: [],
        approvedBy: "promptgate restore",
        at: "2030-01-01T00:00:00.000Z",
        everOn: ["1.1.0"],
      },
      {
        version: "1.0.0",
        previous: [],
        approvedBy: "promptgate restore",
        at: "2030-01-01T00:00:00.000Z",
        everOn: ["1.0.0"],
      },
    ]);
  });

  it("from prompt files, replays the labels the kept audit history leads to, replacing nothing", async () => {
    const { store, registry } = await seeded();
    const records = await labelRecords(store, "summ");
    // Versions and labels evicted, the history kept; someone has already set prod again by hand.
    for (const key of await store.keys("")) if (!key.startsWith("audit:")) await store.del(key);
    await store.setIfAbsent("prompts:summ:1.1.0", JSON.stringify(promptVersion("summ", "1.1.0")));
    const byHand = {
      version: "1.1.0",
      previous: [],
      approvedBy: "eve",
      at: "2030-02-01T00:00:00.000Z",
      everOn: ["1.1.0"],
    };
    await store.set("labels:prod:summ", JSON.stringify(byHand));

    const versions = [promptVersion("summ", "1.0.0"), promptVersion("summ", "1.1.0"), promptVersion("other", "0.1.0")];
    const history = new Map([
      ["summ", await registry.history("summ")],
      ["other", await registry.history("other")],
    ]);
    const report = await restoreRegistry(store, fixedClock, filesSource("config/prompts", versions, history), {
      actor: "sre",
    });
    expect(report.prompts.find((p) => p.name === "summ")).toMatchObject({
      restored: ["1.0.0"],
      present: ["1.1.0"],
      labels: [
        { env: "dev", version: "1.0.0", outcome: "restored", was: null },
        { env: "staging", version: "1.1.0", outcome: "restored", was: null },
        { env: "prod", version: "1.1.0", outcome: "kept", was: "1.1.0" },
      ],
      weights: [],
    });
    expect(await labelRecords(store, "summ")).toEqual([records[0], records[1], byHand]);

    // Again: nothing is missing any more, so nothing is written, recorded or announced.
    const entries = (await registry.history("summ")).length;
    const again = await restoreRegistry(store, fixedClock, filesSource("config/prompts", versions, history), {
      actor: "sre",
    });
    expect(again).toMatchObject({ restored: false, revisionAfter: report.revisionAfter });
    expect(await registry.history("summ")).toHaveLength(entries);
  });
});

describe("replayLabels", () => {
  it("ignores entries that move no label, and a rollback whose stack it does not know", () => {
    expect(
      replayLabels([
        { at: "t1", actor: "a", action: "register", name: "x", version: "1.0.0" },
        { at: "t2", actor: "a", action: "weights", name: "x", env: "prod" },
        { at: "t3", actor: "b", action: "rollback", name: "x", env: "prod", from: "2.0.0", to: "1.0.0" },
      ]),
    ).toEqual({ prod: { version: "1.0.0", previous: [], approvedBy: "b", at: "t3", everOn: ["1.0.0"] } });
  });
});
