import { describe, expect, it } from "vitest";
import { boundedLabel, createMetrics } from "../../../gateway/telemetry/metrics.ts";
import { newRecord } from "../../../gateway/telemetry/request-record.ts";

describe("metrics", () => {
  it("collapses label values past the limit into other", () => {
    const label = boundedLabel(2);
    expect([label("a"), label("b"), label("c"), label("a"), label(null)]).toEqual(["a", "b", "other", "a", "none"]);
  });

  it("records requests, tokens, cost and unpriced answers", async () => {
    const m = createMetrics({ maxModels: 1 });
    const rec = {
      ...newRecord(0),
      model: "gpt-x",
      usage: { inputTokens: 3, outputTokens: 4, cachedInputTokens: 0 },
      costPico: 2_000_000,
    };
    m.record(rec, 200, 1500);
    m.record({ ...rec, model: "second-model", costPico: null }, 502, 10);
    const text = await m.registry.metrics();
    expect(text).toContain(
      'promptgate_requests_total{prompt="none",version="none",variant="none",model="gpt-x",status="2xx"} 1',
    );
    expect(text).toContain(
      'promptgate_tokens_total{prompt="none",version="none",variant="none",model="gpt-x",status="2xx",type="output"} 4',
    );
    expect(text).toContain(
      'promptgate_cost_usd_total{prompt="none",version="none",variant="none",model="gpt-x",status="2xx"} 0.000002',
    );
    expect(text).toContain('promptgate_unpriced_requests_total{model="other"} 1');
    expect(text).toContain(
      'promptgate_request_duration_seconds_count{prompt="none",version="none",variant="none",model="gpt-x",status="2xx"} 1',
    );
    expect(text).toContain("promptgate_process_cpu_user_seconds_total");
  });

  it("buckets durations and times to first token alike, up to two minutes", async () => {
    const m = createMetrics();
    m.record({ ...newRecord(0), model: "thinker", ttftMs: 45_000 }, 200, 50_000);
    const text = await m.registry.metrics();
    const labels = 'prompt="none",version="none",variant="none",model="thinker",status="2xx"';
    for (const name of ["promptgate_request_duration_seconds", "promptgate_time_to_first_token_seconds"]) {
      const les = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)",${labels}\\} (\\d+)$`, "gm"))];
      expect(les.map(([, le]) => le)).toEqual([
        "0.005",
        "0.01",
        "0.025",
        "0.05",
        "0.1",
        "0.25",
        "0.5",
        "1",
        "2.5",
        "5",
        "10",
        "30",
        "60",
        "120",
        "+Inf",
      ]);
      // 45 s and 50 s: above le="30", within le="60".
      expect(les.map(([, , count]) => Number(count)).slice(-4)).toEqual([0, 1, 1, 1]);
    }
  });

  it("keeps one series for everything past the label limit: bounded memory, no duplicate lines", async () => {
    const m = createMetrics({ maxModels: 2 });
    for (let i = 0; i < 300; i++) m.record({ ...newRecord(0), model: `random-${i}` }, 200, 1);
    const lines = (await m.registry.metrics()).split("\n").filter((l) => l.startsWith("promptgate_requests_total{"));
    expect(lines).toEqual([
      'promptgate_requests_total{prompt="none",version="none",variant="none",model="random-0",status="2xx"} 1',
      'promptgate_requests_total{prompt="none",version="none",variant="none",model="random-1",status="2xx"} 1',
      'promptgate_requests_total{prompt="none",version="none",variant="none",model="other",status="2xx"} 298',
    ]);
  });

  it("counts streams the provider cut after their 200", async () => {
    const m = createMetrics();
    m.record({ ...newRecord(0), model: "gpt-x", errorType: "upstream_timeout" }, 200, 1);
    m.record({ ...newRecord(0), model: "gpt-x", errorType: "client_closed" }, 499, 1);
    const text = await m.registry.metrics();
    expect(text).toContain(
      'promptgate_streams_interrupted_total{prompt="none",version="none",model="gpt-x",error_type="upstream_timeout"} 1',
    );
    expect(text).not.toContain('error_type="client_closed"');
  });
});
