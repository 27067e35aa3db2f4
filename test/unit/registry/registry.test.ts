// The registry on both stores: immutable versions, label moves, the staging gate, rollback, the audit
// trail, the change signal, and compare-and-set races between concurrent writers.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RegistryError } from "../../../gateway/registry/registry-error.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { appendAudit } from "../../../gateway/registry/audit.ts";
import { CHANGE_CHANNEL, labelKey, REVISION_KEY } from "../../../gateway/store/keys.ts";
import { createRegistry, MAX_PREVIOUS } from "../../../gateway/registry/registry.ts";
import { MAX_RECORD_BYTES } from "../../../gateway/registry/refresh-reads.ts";
import type { Registry } from "../../../gateway/registry/registry.ts";
import { rejection, backends, eventually, promptVersion, steppingClock } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";

describe.each(backends)("registry on $name", ({ make }) => {
  let backend: Backend;
  let store: Store;
  let registry: Registry;

  beforeEach(async () => {
    backend = make();
    store = await backend.open();
    registry = createRegistry(store, steppingClock());
  });
  afterEach(async () => {
    await backend.cleanup();
  });

  const registerAll = async (name: string, versions: readonly string[]): Promise<void> => {
    for (const v of versions) await registry.register(promptVersion(name, v), "author");
  };

  it("registers a version once: same content is a no-op, different content a conflict", async () => {
    const v1 = promptVersion("summ", "1.0.0", "hash-a");
    expect(await registry.register(v1, "alice")).toEqual({ created: true });
    expect(await registry.register({ ...v1 }, "bob")).toEqual({ created: false });
    expect(await registry.get("summ", "1.0.0")).toEqual(v1);
    expect(await registry.get("summ", "9.9.9")).toBeNull();

    const err = await rejection(registry.register({ ...v1, description: "changed", hash: "hash-b" }, "bob"));
    expect(err.kind).toBe("conflict");
    expect(err.message).toMatch(/immutable/);
    expect(err.message).toMatch(/bump the version/);
    expect((await registry.get("summ", "1.0.0"))?.hash).toBe("hash-a");
    expect((await registry.history("summ")).map((e) => [e.action, e.actor, e.version])).toEqual([
      ["register", "alice", "1.0.0"],
    ]);
  });

  it("lets exactly one of many concurrent registrations create the version", async () => {
    const same = await Promise.all(
      Array.from({ length: 10 }, () => registry.register(promptVersion("r", "1.0.0"), "ci")),
    );
    expect(same.filter((r) => r.created)).toHaveLength(1);

    const other = createRegistry(await backend.open(), steppingClock());
    const outcomes = await Promise.allSettled([
      registry.register(promptVersion("r", "2.0.0", "left"), "a"),
      other.register(promptVersion("r", "2.0.0", "right"), "b"),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const lost = outcomes.find((o) => o.status === "rejected");
    expect(lost?.status === "rejected" && (lost.reason as RegistryError).kind).toBe("conflict");
  });

  it("lists versions by semver and names without mixing prompts that share a prefix", async () => {
    await registerAll("summ", ["1.10.0", "1.2.0", "0.9.0", "1.2.0-rc.1", "2.0.0"]);
    await registerAll("summary", ["5.0.0"]);
    expect(await registry.versions("summ")).toEqual(["0.9.0", "1.2.0-rc.1", "1.2.0", "1.10.0", "2.0.0"]);
    expect(await registry.versions("summary")).toEqual(["5.0.0"]);
    expect(await registry.versions("nothing")).toEqual([]);
    expect(await registry.names()).toEqual(["summ", "summary"]);
  });

  it("rejects invalid names, versions, environments and empty approvers with a 400", async () => {
    await registerAll("ok", ["1.0.0"]);
    for (const bad of [
      registry.register(promptVersion("ok", "1.0"), "a"),
      registry.register(promptVersion("ok", "v1.0.0"), "a"),
      registry.register(promptVersion("a:b", "1.0.0"), "a"),
      registry.register(promptVersion("a@b", "1.0.0"), "a"),
      registry.register(promptVersion("ok", "1.0.1"), " "),
      registry.promote("ok", "1.0.0", "qa", { approvedBy: "a" }),
      registry.promote("ok", "1.0.0", "dev", { approvedBy: "" }),
      registry.label("ok", "production"),
      registry.rollback("ok", "live", { actor: "a" }),
    ]) {
      expect((await rejection(bad)).kind).toBe("invalid");
    }
  });

  it("moves labels, records who and when, and treats a repeat promotion as a no-op", async () => {
    await registerAll("summ", ["1.0.0", "1.1.0"]);
    expect(await registry.label("summ", "dev")).toBeNull();

    expect(await registry.promote("summ", "1.0.0", "dev", { approvedBy: "alice" })).toEqual({
      changed: true,
      from: null,
      to: "1.0.0",
      forced: false,
    });
    const moved = await registry.promote("summ", "1.1.0", "dev", { approvedBy: "bob" });
    expect(moved).toMatchObject({ changed: true, from: "1.0.0", to: "1.1.0" });
    const label = await registry.label("summ", "dev");
    expect(label).toEqual({ version: "1.1.0", previous: ["1.0.0"], approvedBy: "bob", at: expect.any(String) });
    expect(Date.parse(label!.at)).toBeGreaterThanOrEqual(Date.parse("2030-01-01T00:00:00Z"));

    const before = (await registry.history("summ")).length;
    expect(await registry.promote("summ", "1.1.0", "dev", { approvedBy: "carol" })).toMatchObject({ changed: false });
    expect((await registry.history("summ")).length).toBe(before);
    expect((await registry.label("summ", "dev"))?.approvedBy).toBe("bob");

    const missing = await rejection(registry.promote("summ", "3.0.0", "dev", { approvedBy: "alice" }));
    expect(missing.kind).toBe("not_found");
    expect((await rejection(registry.promote("ghost", "1.0.0", "dev", { approvedBy: "alice" }))).kind).toBe(
      "not_found",
    );
    expect(await registry.labels("summ")).toMatchObject({ dev: { version: "1.1.0" }, staging: null, prod: null });
  });

  it("requires a version to have been on staging before prod, unless forced (and audited)", async () => {
    await registerAll("summ", ["1.0.0", "1.1.0", "1.2.0"]);
    const gate = await rejection(registry.promote("summ", "1.0.0", "prod", { approvedBy: "alice" }));
    expect(gate.kind).toBe("conflict");
    expect(gate.message).toMatch(/never been on staging/);
    expect(await registry.label("summ", "prod")).toBeNull();

    await registry.promote("summ", "1.0.0", "staging", { approvedBy: "alice" });
    await registry.promote("summ", "1.1.0", "staging", { approvedBy: "alice" });
    await registry.rollback("summ", "staging", { actor: "alice" });
    // 1.1.0 left staging, but it was there once: that is what the gate asks.
    expect(await registry.promote("summ", "1.1.0", "prod", { approvedBy: "bob" })).toMatchObject({ forced: false });

    const forced = await registry.promote("summ", "1.2.0", "prod", { approvedBy: "carol", force: true });
    expect(forced).toEqual({ changed: true, from: "1.1.0", to: "1.2.0", forced: true, forcedPast: ["staging"] });
    const last = (await registry.history("summ")).at(-1);
    expect(last).toMatchObject({
      action: "promote",
      actor: "carol",
      env: "prod",
      from: "1.1.0",
      to: "1.2.0",
      forced: true,
    });

    // force on a version that passed staging bypasses nothing, so it is not marked forced
    await registry.promote("summ", "1.0.0", "prod", { approvedBy: "dave", force: true });
    expect((await registry.history("summ")).at(-1)).not.toHaveProperty("forced");
  });

  it("rolls back through the stack of previous versions, and says when there is nothing left", async () => {
    await registerAll("summ", ["1.0.0", "1.1.0", "1.2.0"]);
    const none = await rejection(registry.rollback("summ", "dev", { actor: "sre" }));
    expect(none.kind).toBe("conflict");
    expect(none.message).toMatch(/no dev label: nothing to roll back/);

    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await registry.promote("summ", v, "dev", { approvedBy: "alice" });
    expect(await registry.rollback("summ", "dev", { actor: "sre" })).toEqual({ from: "1.2.0", to: "1.1.0" });
    expect(await registry.rollback("summ", "dev", { actor: "sre" })).toEqual({ from: "1.1.0", to: "1.0.0" });
    expect(await registry.label("summ", "dev")).toMatchObject({ version: "1.0.0", previous: [], approvedBy: "sre" });
    const empty = await rejection(registry.rollback("summ", "dev", { actor: "sre" }));
    expect(empty.kind).toBe("conflict");
    expect(empty.message).toMatch(/nothing to roll back to/);

    // a promotion after a rollback stacks on the current version
    await registry.promote("summ", "1.2.0", "dev", { approvedBy: "alice" });
    expect(await registry.rollback("summ", "dev", { actor: "sre" })).toEqual({ from: "1.2.0", to: "1.0.0" });
  });

  it("remembers only the last MAX_PREVIOUS versions: a label moved many times stays one small key", async () => {
    await registerAll("summ", ["1.0.0", "1.1.0"]);
    const moves = MAX_PREVIOUS + 25;
    for (let i = 0; i < moves; i++) {
      await registry.promote("summ", i % 2 === 0 ? "1.0.0" : "1.1.0", "dev", { approvedBy: "alice" });
    }
    const label = await registry.label("summ", "dev");
    expect(label?.previous).toHaveLength(MAX_PREVIOUS);
    expect((await store.get(labelKey("dev", "summ")))!.length).toBeLessThan(1_000);

    // rollback walks the whole remembered stack, then says it reached the bottom
    for (let i = 0; i < MAX_PREVIOUS; i++) await registry.rollback("summ", "dev", { actor: "sre" });
    const bottom = await rejection(registry.rollback("summ", "dev", { actor: "sre" }));
    expect(bottom.kind).toBe("conflict");
    expect(bottom.message).toMatch(/remembers its last 50\): nothing to roll back to; promote the version you want/);

    // a stack written before the bound (or by hand) is cut back on the next move, whichever way it goes
    const long = Array.from({ length: 5_000 }, (_, i) => (i % 2 === 0 ? "1.1.0" : "1.0.0"));
    const record = { version: "1.0.0", previous: long, approvedBy: "x", at: "2030-01-01T00:00:00.000Z" };
    await store.set(labelKey("staging", "summ"), JSON.stringify({ ...record, everOn: ["1.0.0", "1.1.0"] }));
    await store.set(labelKey("prod", "summ"), JSON.stringify({ ...record, everOn: ["1.0.0"] }));
    await registry.rollback("summ", "staging", { actor: "sre" });
    await registry.promote("summ", "1.1.0", "prod", { approvedBy: "alice" });
    expect((await registry.label("summ", "staging"))?.previous).toHaveLength(MAX_PREVIOUS);
    expect((await registry.label("summ", "prod"))?.previous).toHaveLength(MAX_PREVIOUS);
  });

  it("refuses a version larger than the refresh reads", async () => {
    const huge = { ...promptVersion("big", "1.0.0"), description: "x".repeat(MAX_RECORD_BYTES) };
    const err = await rejection(registry.register(huge, "author"));
    expect(err.kind).toBe("invalid");
    expect(err.message).toMatch(/big@1\.0\.0 is \d+ bytes as stored, more than the 4194304/);
    expect(await registry.versions("big")).toEqual([]);
  });

  it("audits every change with who, when, from and to, oldest first", async () => {
    await registerAll("summ", ["1.0.0", "1.1.0"]);
    await registry.promote("summ", "1.0.0", "staging", { approvedBy: "alice" });
    await registry.promote("summ", "1.1.0", "staging", { approvedBy: "bob" });
    await registry.rollback("summ", "staging", { actor: "sre" });
    await appendAudit(store, steppingClock(Date.parse("2031-01-01T00:00:00Z")), {
      actor: "sre",
      action: "weights",
      name: "summ",
      env: "prod",
      to: "1.0.0=95,1.1.0=5",
    });
    const history = await registry.history("summ");
    expect(history.map(({ at: _at, ...rest }) => rest)).toEqual([
      { actor: "author", action: "register", name: "summ", version: "1.0.0" },
      { actor: "author", action: "register", name: "summ", version: "1.1.0" },
      { actor: "alice", action: "promote", name: "summ", env: "staging", to: "1.0.0" },
      { actor: "bob", action: "promote", name: "summ", env: "staging", from: "1.0.0", to: "1.1.0" },
      { actor: "sre", action: "rollback", name: "summ", env: "staging", from: "1.1.0", to: "1.0.0" },
      { actor: "sre", action: "weights", name: "summ", env: "prod", to: "1.0.0=95,1.1.0=5" },
    ]);
    const times = history.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(history.at(-1)?.at).toBe("2031-01-01T00:00:00.000Z");
    expect(await registry.history("other")).toEqual([]);
  });

  it("bumps the revision and publishes on every change, not on no-ops", async () => {
    const heard: string[] = [];
    const listener = await backend.open();
    await listener.subscribe(CHANGE_CHANNEL, (m) => heard.push(m));
    await registerAll("summ", ["1.0.0", "1.1.0"]);
    await registry.register(promptVersion("summ", "1.0.0"), "again"); // no-op
    await registry.promote("summ", "1.0.0", "dev", { approvedBy: "a" });
    await registry.promote("summ", "1.0.0", "dev", { approvedBy: "a" }); // no-op
    await registry.promote("summ", "1.1.0", "dev", { approvedBy: "a" });
    await registry.rollback("summ", "dev", { actor: "a" });
    expect(await store.get(REVISION_KEY)).toBe("5");
    await eventually(() => (heard.length === 5 ? true : undefined), 2_000, "five change messages");
    expect(heard).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("lets exactly one of 10 concurrent promotions of a label win; the rest get a conflict", async () => {
    const candidates = Array.from({ length: 10 }, (_, i) => `1.${i + 1}.0`);
    await registerAll("race", ["1.0.0", ...candidates]);
    await registry.promote("race", "1.0.0", "staging", { approvedBy: "setup" });

    // One connection: every contender's read is answered before any write, so all start from 1.0.0.
    const outcomes = await Promise.allSettled(
      candidates.map((v, i) => registry.promote("race", v, "staging", { approvedBy: `user-${i}` })),
    );
    const winners = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [candidates[i]] : []));
    expect(winners).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === "rejected") {
        expect(o.reason).toBeInstanceOf(RegistryError);
        expect((o.reason as RegistryError).kind).toBe("conflict");
        expect((o.reason as RegistryError).message).toMatch(/changed concurrently, retry/);
      }
    }
    expect(await registry.label("race", "staging")).toMatchObject({ version: winners[0], previous: ["1.0.0"] });
    expect((await registry.history("race")).filter((e) => e.action === "promote")).toHaveLength(2);
  });

  it("never loses a label move when two processes promote and roll back at once", async () => {
    const candidates = Array.from({ length: 20 }, (_, i) => `2.${i}.0`);
    await registerAll("race", ["1.0.0", ...candidates]);
    await registry.promote("race", "1.0.0", "dev", { approvedBy: "setup" });
    const processes = [registry, createRegistry(await backend.open(), steppingClock())];

    const outcomes = await Promise.allSettled(
      candidates.map((v, i) => processes[i % 2]!.promote("race", v, "dev", { approvedBy: `user-${i}` })),
    );
    const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as RegistryError] : []));
    expect(won.length).toBeGreaterThanOrEqual(1);
    expect(lost.every((err) => err.kind === "conflict")).toBe(true);
    // Each winner moved the label from where the previous winner left it: no two from the same state.
    expect(new Set(won.map((w) => w.from)).size).toBe(won.length);
    const label = await registry.label("race", "dev");
    expect(new Set([label!.version, ...label!.previous])).toEqual(new Set(["1.0.0", ...won.map((w) => w.to)]));
    expect(label!.previous).toHaveLength(won.length);

    const rollbacks = await Promise.allSettled(processes.map((r) => r.rollback("race", "dev", { actor: "sre" })));
    const rolled = rollbacks.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    expect(rolled.length).toBeGreaterThanOrEqual(1);
    expect(new Set(rolled.map((r) => r.from)).size).toBe(rolled.length);
    expect((await registry.label("race", "dev"))?.previous).toHaveLength(won.length - rolled.length);
  });
});
