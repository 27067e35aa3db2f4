import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseGatewayConfig } from "../../../gateway/config/gateway-config.ts";
import { LIVE_QUEUE_KEY } from "../../../gateway/store/keys.ts";
import { createSqliteStore } from "../../../gateway/store/sqlite-store.ts";
import type { Store } from "../../../gateway/store/store.ts";
import { silentLogger } from "../../../gateway/support/logger.ts";
import { createLiveSampler, liveSampleSchema, type LiveSampler } from "../../../gateway/telemetry/live-samples.ts";
import { newRecord, type RequestRecord } from "../../../gateway/telemetry/request-record.ts";

const options = (extra = ""): ReturnType<typeof parseGatewayConfig>["liveJudging"] =>
  parseGatewayConfig(`routes: [{ match: "*", provider: mock }]\n${extra}`, {}).liveJudging;

function served(version: string, output: string | null = "the answer"): RequestRecord {
  const rec = newRecord(1_000);
  rec.prompt = "summarization";
  rec.version = version;
  rec.variant = "stable";
  rec.environment = "prod";
  rec.liveSample = { input: '[{"role":"user","content":"hi"}]', output };
  return rec;
}

describe("live judging sampler", () => {
  const open: (Store | LiveSampler)[] = [];
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await ("draw" in x ? x.stop() : x.close());
  });
  const store = (): Store => {
    const s = createSqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "pg-live-")), "s.db"),
      prefix: "t:",
      logger: silentLogger,
    });
    open.push(s);
    return s;
  };

  it("draws only for prompts that opt in, at their rate", () => {
    let r = 0;
    const sampler = createLiveSampler({
      store: store(),
      logger: silentLogger,
      options: options(),
      rates: new Map([["summarization", 0.25]]),
      random: () => r,
    });
    open.push(sampler);
    r = 0.2;
    expect(sampler.draw("summarization")).toBe(true);
    r = 0.3;
    expect(sampler.draw("summarization")).toBe(false);
    r = 0;
    expect(sampler.draw("other")).toBe(false);
  });

  it("queues completed sampled requests, pushes them to the store and counts what was dropped", async () => {
    const s = store();
    const sampler = createLiveSampler({
      store: s,
      logger: silentLogger,
      options: options("live_judging: { memory_queue: 3, store_queue: 2 }"),
      rates: new Map([["summarization", 1]]),
      random: () => 0,
    });
    open.push(sampler);
    sampler.record(served("1.0.0"), 200, 5_000);
    sampler.record(served("1.1.0"), 500, 5_000); // failed: not a sample
    sampler.record(served("1.1.0", null), 200, 5_000); // no answer text: not a sample
    sampler.record(newRecord(0), 200, 5_000); // not sampled
    sampler.record(served("1.1.0"), 200, 5_001);
    sampler.record(served("1.2.0"), 200, 5_002);
    sampler.record(served("1.3.0"), 200, 5_003); // memory holds 3
    expect(sampler.depth()).toBe(3);
    expect(sampler.sampled()).toBe(3);
    expect(sampler.dropped().get("memory_full")).toBe(1);
    await sampler.flush();
    expect(sampler.depth()).toBe(0);
    expect(sampler.dropped().get("store_full")).toBe(1); // the store keeps 2: the oldest went
    const { values } = await s.queuePop(LIVE_QUEUE_KEY, 10);
    const items = values.map((v) => liveSampleSchema.parse(JSON.parse(v)));
    expect(items.map((i) => i.version)).toEqual(["1.1.0", "1.2.0"]);
    expect(items[0]).toEqual({
      v: 1,
      at: 5_001,
      env: "prod",
      prompt: "summarization",
      version: "1.1.0",
      variant: "stable",
      segment: null,
      input: '[{"role":"user","content":"hi"}]',
      output: "the answer",
    });
  });

  it("keeps samples in memory while the store fails, and counts what is left at shutdown", async () => {
    const s = store();
    const sampler = createLiveSampler({
      store: s,
      logger: silentLogger,
      options: options(),
      rates: new Map([["summarization", 1]]),
      random: () => 0,
    });
    await s.close();
    sampler.record(served("1.0.0"), 200, 5_000);
    await sampler.flush();
    expect(sampler.depth()).toBe(1);
    await sampler.stop();
    expect(sampler.dropped().get("shutdown")).toBe(1);
    open.splice(0);
  });
});
