// The alert webhook sender against a real HTTP receiver on port 0: delivery, retries on 5xx/429 and on a
// slow receiver, refusals, the queue bound, the shutdown deadline, no redirects, and a URL token that
// never reaches a log line.
import type { ServerResponse } from "node:http";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { alertEvent, type AlertEvent, type AlertType } from "../gateway/alerts/alert-event.ts";
import { registerAlertMetrics } from "../gateway/alerts/alert-metrics.ts";
import { AlertSender, parseWebhookUrl, type AlertSenderOptions } from "../gateway/alerts/webhook-sender.ts";
import { createLogger } from "../gateway/support/logger.ts";
import { json, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { parseMetrics } from "./support/metrics.ts";

const TOKEN = "T0KEN-abcdef-123456";

const event = (type: AlertType = "rolled_back", prompt = "summarization"): AlertEvent =>
  alertEvent({
    type,
    prompt,
    env: "prod",
    stable: "1.0.0",
    canary: "1.1.0",
    metric: "error_rate",
    numbers: { stable: 0.01, canary: 0.3, low: 0.21, high: 0.37, margin: 0.02 },
    verdict: "fail",
    reason: "error rate 30.0% vs 1.0%: worse beyond the 2-point margin",
    at: Date.parse("2030-01-01T12:00:00Z"),
    sinceMs: 30 * 60_000,
  });

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function receiver(): Promise<FakeProvider> {
  const r = await startFakeProvider();
  open.push(r);
  return r;
}

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger("debug", (line) => lines.push(line)) };
}

function sender(r: FakeProvider | string, opts: Partial<AlertSenderOptions> = {}): AlertSender {
  const url = typeof r === "string" ? r : `${r.url.replace(/\/v1$/, "")}/hooks/${TOKEN}?key=${TOKEN}`;
  const s = new AlertSender({ url, backoffMs: 5, maxBackoffMs: 50, timeoutMs: 2_000, ...opts });
  open.push({ close: () => s.close(0) });
  return s;
}

/** A handler that holds the answer until released; `arrived` counts requests held. */
function held(): { handler: (req: unknown, res: ServerResponse) => void; release(status?: number): void } {
  const waiting: ServerResponse[] = [];
  return {
    handler: (_req, res) => {
      waiting.push(res);
    },
    release: (status = 200) => {
      for (const res of waiting.splice(0)) res.writeHead(status).end();
    },
  };
}

describe("alert webhook sender", () => {
  it("POSTs the event as JSON to the configured URL and counts it", async () => {
    const r = await receiver();
    r.handle(json(200, { ok: true }));
    const s = sender(r);
    const metrics = new Registry();
    registerAlertMetrics(metrics, () => s.stats());

    expect(s.send(event())).toBe(true);
    await s.idle();

    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.method).toBe("POST");
    expect(got.url).toBe(`/hooks/${TOKEN}?key=${TOKEN}`);
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.json()).toEqual({
      type: "rolled_back",
      prompt: "summarization",
      env: "prod",
      versions: { stable: "1.0.0", canary: "1.1.0" },
      metric: "error_rate",
      numbers: { stable: 0.01, canary: 0.3, low: 0.21, high: 0.37, margin: 0.02 },
      verdict: "fail",
      reason: "error rate 30.0% vs 1.0%: worse beyond the 2-point margin",
      at: "2030-01-01T12:00:00.000Z",
      links: {
        stats: "promptgate stats summarization --env prod --since 30m",
        admin: "/admin/prompts/summarization/stats?env=prod&since=30m",
      },
    });
    const m = parseMetrics(await metrics.metrics());
    expect(m.get('promptgate_alerts_sent_total{type="rolled_back"}')).toBe(1);
    expect(m.get('promptgate_alerts_sent_total{type="started"}')).toBe(0);
    expect(m.get("promptgate_alerts_failed_total")).toBe(0);
    expect(m.get("promptgate_alerts_dropped_total")).toBe(0);
    expect(m.get("promptgate_alerts_queued")).toBe(0);
  });

  it("retries a 5xx and a 429 (honouring Retry-After) until the receiver accepts", async () => {
    const r = await receiver();
    r.handle(json(503, {}), json(500, {}), json(429, {}, { "retry-after": "0" }), json(204, {}));
    const s = sender(r);
    s.send(event("advanced"));
    await s.idle();
    expect(r.received).toHaveLength(4);
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
    expect(s.stats()).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
    expect(s.stats().sent.get("advanced")).toBe(1);
  });

  it("gives up after the bounded attempts, and a 4xx at once, without logging the URL's token", async () => {
    const r = await receiver();
    r.handle(json(502, {}));
    const { lines, logger } = capture();
    const s = sender(r, { maxAttempts: 3, logger });
    s.send(event());
    await s.idle();
    expect(r.received).toHaveLength(3);
    expect(s.stats().failed).toBe(1);

    r.handle(json(400, { error: "bad" }));
    s.send(event());
    await s.idle();
    expect(r.received).toHaveLength(4); // a 400 is not sent again
    expect(s.stats().failed).toBe(2);
    expect(s.stats().sent.size).toBe(0);

    expect(lines.some((l) => l.includes("alert not delivered"))).toBe(true);
    expect(lines.join("\n")).not.toContain(TOKEN);
    expect(lines.join("\n")).toContain("127.0.0.1"); // named by its host
  });

  it("never logs the token when the receiver cannot be reached", async () => {
    const r = await startFakeProvider();
    const url = `${r.url.replace(/\/v1$/, "")}/hooks/${TOKEN}`;
    await r.close(); // nothing listens there now: connection refused
    const { lines, logger } = capture();
    const s = sender(url, { maxAttempts: 2, logger });
    s.send(event());
    await s.idle();
    expect(s.stats().failed).toBe(1);
    expect(lines.filter((l) => l.includes("retrying"))).toHaveLength(1);
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("does not follow a redirect: only the configured URL is ever called", async () => {
    const elsewhere = await receiver();
    const r = await receiver();
    r.handle(json(307, {}, { location: `${elsewhere.url}/steal` }));
    const s = sender(r);
    s.send(event());
    await s.idle();
    expect(s.stats().failed).toBe(1);
    expect(r.received).toHaveLength(1);
    expect(elsewhere.received).toHaveLength(0);
  });

  it("never blocks the caller on a slow receiver, and times an attempt out", async () => {
    const r = await receiver();
    const slow = held();
    r.handle(slow.handler, json(200, {}));
    const s = sender(r, { timeoutMs: 300 });
    for (let i = 0; i < 50; i++) expect(s.send(event("advanced", `p${i}`))).toBe(true);
    expect(s.stats().queued).toBe(50); // all of them taken at once, none delivered yet
    await vi.waitFor(() => expect(r.received).toHaveLength(1));
    // The first attempt gets no answer within 300 ms: sent again, then everything else goes through.
    await s.idle();
    expect(s.stats().sent.get("advanced")).toBe(50);
    expect(r.received).toHaveLength(51);
    expect(r.received.map((x) => (JSON.parse(x.body) as AlertEvent).prompt).slice(1)).toEqual(
      Array.from({ length: 50 }, (_, i) => `p${i}`),
    );
    slow.release();
  });

  it("bounds the queue: the oldest waiting alerts are dropped and counted", async () => {
    const r = await receiver();
    const gate = held();
    r.handle(gate.handler, json(200, {}));
    const s = sender(r, { queueLimit: 2 });
    const metrics = new Registry();
    registerAlertMetrics(metrics, () => s.stats());
    s.send(event("started", "a")); // in flight, held by the receiver
    await vi.waitFor(() => expect(r.received).toHaveLength(1));
    for (const p of ["b", "c", "d", "e"]) s.send(event("advanced", p));
    expect(s.stats()).toMatchObject({ dropped: 2, queued: 3 });
    gate.release();
    await s.idle();
    expect(r.received.map((x) => (JSON.parse(x.body) as AlertEvent).prompt)).toEqual(["a", "d", "e"]);
    const m = parseMetrics(await metrics.metrics());
    expect(m.get("promptgate_alerts_dropped_total")).toBe(2);
    expect(m.get('promptgate_alerts_sent_total{type="advanced"}')).toBe(2);
  });

  it("flushes the queue on close, and abandons what is left at the deadline", async () => {
    const r = await receiver();
    r.handle(json(200, {}));
    const s = sender(r);
    for (let i = 0; i < 5; i++) s.send(event());
    expect(await s.close(10_000)).toEqual({ abandoned: 0 });
    expect(r.received).toHaveLength(5);
    expect(s.send(event())).toBe(false); // closed
    expect(s.stats().dropped).toBe(1);

    const stuck = await receiver();
    const never = held();
    stuck.handle(never.handler);
    const { lines, logger } = capture();
    const t = sender(stuck, { timeoutMs: 60_000, logger });
    for (let i = 0; i < 3; i++) t.send(event());
    await vi.waitFor(() => expect(stuck.received).toHaveLength(1));
    expect(await t.close(100)).toEqual({ abandoned: 3 });
    expect(t.stats()).toMatchObject({ dropped: 3, queued: 0, failed: 0 });
    expect(lines.some((l) => l.includes("alerts left undelivered at shutdown"))).toBe(true);
    never.release();
  });

  it("accepts only http and https URLs, and never repeats the URL in its errors", () => {
    expect(parseWebhookUrl("https://hooks.example.com/services/x").host).toBe("hooks.example.com");
    expect(() => parseWebhookUrl(`ftp://example.com/${TOKEN}`)).toThrow(/http or https URL, got a ftp: URL/);
    expect(() => parseWebhookUrl(`not a url ${TOKEN}`)).toThrow("ALERT_WEBHOOK_URL is not a URL");
    expect(() => parseWebhookUrl(`file:///${TOKEN}`)).not.toThrow(TOKEN);
  });
});
