// Eval records and the promotion gate on both stores: records are stored against the exact registered
// content, a prompt with a suite reaches staging or prod only with a passing record for that content and the
// current suite, and --force gets past it, audited.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewEvalRecord } from "../../../gateway/registry/eval-records.ts";
import { createRegistry } from "../../../gateway/registry/registry.ts";
import type { Registry } from "../../../gateway/registry/registry.ts";
import { evalsKey } from "../../../gateway/store/keys.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { backends, promptVersion, rejection, steppingClock } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";

const record = (version: string, overrides: Partial<NewEvalRecord> = {}): NewEvalRecord => ({
  prompt: "summ",
  version,
  content_hash: `sha256-summ-${version}`,
  suite: "config/evals/summ.yaml",
  suite_hash: "suite-1",
  judges: ["judge-rubric@1.0.0"],
  baseline: null,
  started_at: "2030-01-01T00:00:00.000Z",
  finished_at: "2030-01-01T00:01:00.000Z",
  passed: true,
  cases: 20,
  grader_errors: 1,
  cost_usd: 0.0123,
  metrics: { quality: { n: 19, mean: 0.8, std: 0.1, min: 0.5, max: 1, pass_rate: 0.9 } },
  gate: null,
  by: "ci",
  ...overrides,
});

describe.each(backends)("eval records and the promotion gate on $name", ({ make }) => {
  let backend: Backend;
  let store: Store;
  let registry: Registry;

  beforeEach(async () => {
    backend = make();
    store = await backend.open();
    registry = createRegistry(store, steppingClock());
    for (const v of ["1.0.0", "1.1.0"]) await registry.register(promptVersion("summ", v), "author");
  });
  afterEach(async () => {
    await backend.cleanup();
  });

  it("stores a record with an id, makes its suite the prompt's, and audits the run", async () => {
    expect(await registry.suite("summ")).toBeNull();
    const stored = await registry.recordEval(record("1.0.0"));
    expect(stored).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), ...record("1.0.0") });
    expect(await registry.evals("summ")).toEqual([stored]);
    expect(await registry.suite("summ")).toMatchObject({ hash: "suite-1", by: "ci" });
    expect((await registry.history("summ")).at(-1)).toMatchObject({
      action: "eval",
      actor: "ci",
      version: "1.0.0",
      passed: true,
      evalId: stored.id,
    });
    // Unreadable (hand-edited) entries are skipped, never trusted.
    await store.append(evalsKey("summ"), "{not json");
    expect(await registry.evals("summ")).toHaveLength(1);
  });

  it("refuses a record for content that is not the registered version's, an unknown version, or a bad shape", async () => {
    const changed = await rejection(registry.recordEval(record("1.0.0", { content_hash: "edited-locally" })));
    expect([changed.kind, changed.field]).toEqual(["conflict", "content_hash"]);
    expect(changed.message).toMatch(/push the version/);
    expect((await rejection(registry.recordEval(record("9.9.9")))).kind).toBe("not_found");
    const bad = await rejection(registry.recordEval({ ...record("1.0.0"), cases: -1 }));
    expect([bad.kind, bad.field]).toEqual(["invalid", "cases"]);
    expect(bad.message).toMatch(/^invalid eval record: cases:/);
    expect(await registry.evals("summ")).toEqual([]);
  });

  it("promotes freely a prompt without a suite, and to dev whatever its evals say", async () => {
    expect(await registry.promote("summ", "1.0.0", "staging", { approvedBy: "a" })).toMatchObject({ forced: false });
    await registry.recordEval(record("1.1.0", { passed: false }));
    expect(await registry.promote("summ", "1.1.0", "dev", { approvedBy: "a" })).toMatchObject({ changed: true });
  });

  it("refuses staging and prod without a passing record for the exact content and the current suite", async () => {
    await registry.recordEval(record("1.0.0"));
    // 1.1.0 never ran: refused, naming what to run.
    const none = await rejection(registry.promote("summ", "1.1.0", "staging", { approvedBy: "a" }));
    expect(none.kind).toBe("conflict");
    expect(none.message).toMatch(
      /summ@1\.1\.0 has no eval record .*current suite \(hash suite-1\).*promptgate eval summ@1\.1\.0/,
    );

    // A failing run is refused.
    const failed = await registry.recordEval(record("1.1.0", { passed: false }));
    const refused = await rejection(registry.promote("summ", "1.1.0", "staging", { approvedBy: "a" }));
    expect(refused.message).toMatch(new RegExp(`failed its latest evaluation .*eval ${failed.id}`));

    // A passing run on an older suite does not count once the suite changed.
    await registry.recordEval(record("1.1.0", { suite_hash: "suite-0" }));
    await registry.recordEval(record("1.0.0", { suite_hash: "suite-2" }));
    expect(await registry.suite("summ")).toMatchObject({ hash: "suite-2" });
    const stale = await rejection(registry.promote("summ", "1.1.0", "staging", { approvedBy: "a" }));
    expect(stale.message).toMatch(/no eval record .*\(hash suite-2\)/);

    // A pass on the current suite lets it through, and the promotion names the record it relied on.
    const passing = await registry.recordEval(record("1.1.0", { suite_hash: "suite-2" }));
    const promoted = await registry.promote("summ", "1.1.0", "staging", { approvedBy: "a" });
    expect(promoted).toEqual({ changed: true, from: null, to: "1.1.0", forced: false, evalId: passing.id });
    expect((await registry.history("summ")).at(-1)).toMatchObject({ action: "promote", evalId: passing.id });
    expect(await registry.promote("summ", "1.1.0", "prod", { approvedBy: "b" })).toMatchObject({ forced: false });
  });

  it("checks a promotion with the decision promote makes, writing nothing", async () => {
    await registry.recordEval(record("1.0.0"));
    const none = await registry.checkPromotion("summ", "1.1.0", "staging");
    expect(none).toMatchObject({ from: null, changes: true, allowed: false, needsForce: true });
    const promoteRefusal = await rejection(registry.promote("summ", "1.1.0", "staging", { approvedBy: "a" }));
    expect(none.gates.find((g) => g.status === "refused")).toEqual({
      gate: "eval",
      status: "refused",
      message: promoteRefusal.message,
    });
    const failed = await registry.recordEval(record("1.1.0", { passed: false }));
    const refused = await registry.checkPromotion("summ", "1.1.0", "prod");
    expect(refused.gates).toEqual([
      { gate: "staging", status: "refused", message: expect.stringMatching(/never been on staging/) },
      { gate: "eval", status: "refused", message: expect.stringMatching(/failed its latest/), evalId: failed.id },
    ]);
    const passing = await registry.recordEval(record("1.1.0"));
    const allowed = await registry.checkPromotion("summ", "1.1.0", "staging");
    expect(allowed).toMatchObject({ allowed: true, needsForce: false });
    expect(allowed.gates).toEqual([
      { gate: "staging", status: "not_required", message: expect.any(String) },
      { gate: "eval", status: "passed", message: expect.stringContaining(passing.id), evalId: passing.id },
    ]);
    expect(await registry.label("summ", "staging")).toBeNull();
    expect((await registry.history("summ")).filter((e) => e.action === "promote")).toEqual([]);
    expect(await registry.promote("summ", "1.1.0", "staging", { approvedBy: "a" })).toMatchObject({
      evalId: passing.id,
    });
    expect(await registry.checkPromotion("summ", "1.1.0", "staging")).toMatchObject({ changes: false, allowed: true });
    expect((await rejection(registry.checkPromotion("summ", "9.9.9", "dev"))).kind).toBe("not_found");
    expect((await rejection(registry.checkPromotion("summ", "1.1.0", "qa"))).kind).toBe("invalid");
  });

  it("lets the latest run decide: a later failure outweighs an earlier pass", async () => {
    await registry.recordEval(record("1.0.0"));
    await registry.recordEval(record("1.0.0", { passed: false }));
    expect((await rejection(registry.promote("summ", "1.0.0", "staging", { approvedBy: "a" }))).message).toMatch(
      /failed its latest evaluation/,
    );
  });

  it("takes the caller's word that a suite exists, never that none does", async () => {
    // The CLI found config/evals/summ.yaml: gated, though no run was ever recorded.
    const unknown = await rejection(
      registry.promote("summ", "1.0.0", "staging", { approvedBy: "a", suite: { hash: null } }),
    );
    expect(unknown.message).toMatch(/has an evaluation suite but no eval run was recorded/);
    // The caller's hash of the suite on disk is the current one.
    await registry.recordEval(record("1.0.0"));
    const edited = await rejection(
      registry.promote("summ", "1.0.0", "staging", { approvedBy: "a", suite: { hash: "suite-edited" } }),
    );
    expect(edited.message).toMatch(/\(hash suite-edited\)/);
    expect(
      await registry.promote("summ", "1.0.0", "staging", { approvedBy: "a", suite: { hash: "suite-1" } }),
    ).toMatchObject({ changed: true, forced: false });
  });

  it("gets past the gate with force, audited with the rules it bypassed", async () => {
    await registry.recordEval(record("1.0.0"));
    await registry.recordEval(record("1.1.0", { passed: false }));
    const forced = await registry.promote("summ", "1.1.0", "prod", { approvedBy: "carol", force: true });
    expect(forced).toEqual({ changed: true, from: null, to: "1.1.0", forced: true, forcedPast: ["staging", "eval"] });
    const history = await registry.history("summ");
    expect(history.at(-1)).toMatchObject({
      action: "promote",
      actor: "carol",
      env: "prod",
      to: "1.1.0",
      forced: true,
      forcedPast: ["staging", "eval"],
    });
    expect(history.at(-1)).not.toHaveProperty("evalId");
    // force where the rules hold bypasses nothing, so nothing is marked forced.
    const clean = await registry.promote("summ", "1.0.0", "staging", { approvedBy: "dave", force: true });
    expect(clean).toMatchObject({ forced: false });
    expect(clean).not.toHaveProperty("forcedPast");
  });
});
