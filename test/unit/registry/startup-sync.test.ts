// The start-up sync's background retry (backoff, logged, stoppable) and its refusal to sync prompt
// files into a store that is behind the snapshot served.
import { afterEach, describe, expect, it } from "vitest";
import { promptVersion, sqliteBackend } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";
import { systemClock } from "../../../gateway/support/clock.ts";
import type { Logger } from "../../../gateway/support/logger.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { createRegistry } from "../../../gateway/registry/registry.ts";
import { loadSnapshot } from "../../../gateway/registry/snapshot.ts";
import { retryStartupSync, syncUnlessBehind } from "../../../gateway/registry/startup-sync.ts";
import type { Regression } from "../../../gateway/registry/store-regression.ts";

function recordingLogger(): Logger & { readonly lines: { msg: string; fields: Record<string, unknown> }[] } {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const record = (msg: string, fields?: Readonly<Record<string, unknown>>): void =>
    void lines.push({ msg, fields: { ...fields } });
  return { lines, debug: record, info: record, warn: record, error: record };
}

const BEHIND: Regression = { heldRevision: 9, storeRevision: 0, versions: ["x@1.0.0"], labels: [] };
const OPTIONS = { register_on_start: true, bootstrap_labels: true };

describe("retryStartupSync", () => {
  it("retries with a doubling wait while the store is down, logging each failure, until it syncs", async () => {
    const logger = recordingLogger();
    let calls = 0;
    const retry = retryStartupSync(
      () => {
        calls++;
        return calls < 4 ? Promise.reject(new Error("connection refused")) : Promise.resolve(null);
      },
      { clock: systemClock, logger, firstDelayMs: 5, maxDelayMs: 20 },
    );
    expect(await retry.done).toBe(true);
    expect(calls).toBe(4);
    expect(logger.lines).toEqual([
      {
        msg: "prompt files still not synced; retrying",
        fields: expect.objectContaining({ attempt: 1, retry_in_ms: 10 }),
      },
      {
        msg: "prompt files still not synced; retrying",
        fields: expect.objectContaining({ attempt: 2, retry_in_ms: 20 }),
      },
      {
        msg: "prompt files still not synced; retrying",
        fields: expect.objectContaining({ attempt: 3, retry_in_ms: 20 }),
      },
      { msg: "prompt files synced", fields: { attempt: 4 } },
    ]);
    await retry.stop();
  });

  it("waits for a store that is behind to be restored, saying so once", async () => {
    const logger = recordingLogger();
    let calls = 0;
    const retry = retryStartupSync(() => Promise.resolve(++calls < 5 ? BEHIND : null), {
      clock: systemClock,
      logger,
      firstDelayMs: 5,
    });
    expect(await retry.done).toBe(true);
    expect(logger.lines.map((l) => l.msg)).toEqual([
      "prompt files not synced: the store is behind the snapshot served; restore it first",
      "prompt files synced",
    ]);
  });

  it("stops between attempts and during a wait", async () => {
    let calls = 0;
    const retry = retryStartupSync(() => Promise.reject(new Error(`down ${++calls}`)), {
      clock: systemClock,
      logger: silentLogger,
      firstDelayMs: 60_000,
    });
    await retry.stop();
    expect(await retry.done).toBe(false);
    expect(calls).toBe(0);
  });
});

describe("syncUnlessBehind", () => {
  let backend: Backend;
  afterEach(async () => backend.cleanup());

  it("registers the prompt files, but not into a store that lost what the replica serves", async () => {
    backend = sqliteBackend();
    const store = await backend.open();
    const registry = createRegistry(store, systemClock);
    await registry.register(promptVersion("kept", "1.0.0"), "author");
    await registry.promote("kept", "1.0.0", "dev", { approvedBy: "alice" });
    const held = await loadSnapshot(store);
    for (const key of await store.keys("")) await store.del(key);

    const files = [promptVersion("greeter", "1.0.0")];
    const refused = await syncUnlessBehind(files, held, OPTIONS, store, systemClock, silentLogger);
    expect(refused).toMatchObject({ heldRevision: 2, storeRevision: 0, versions: ["kept@1.0.0"] });
    expect(await store.keys("")).toEqual([]); // no version, no bootstrapped label, no revision bump

    expect(await syncUnlessBehind(files, null, OPTIONS, store, systemClock, silentLogger)).toBeNull();
    expect((await registry.label("greeter", "prod"))?.version).toBe("1.0.0");
  });
});
