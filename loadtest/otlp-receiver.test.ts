import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countJsonSpans, createOtlpReceiver } from "./otlp-receiver.ts";

const EXPORT = JSON.stringify({
  resourceSpans: [
    {
      scopeSpans: [
        {
          spans: [
            { traceId: "a", spanId: "1", name: "chat gpt-test" },
            { traceId: "b", spanId: "2", parentSpanId: "9", name: "chat gpt-test" },
          ],
        },
      ],
    },
  ],
});

describe("countJsonSpans", () => {
  it("counts spanId keys, not parentSpanId", () => {
    expect(countJsonSpans(Buffer.from(EXPORT))).toBe(2);
    expect(countJsonSpans(Buffer.from("{}"))).toBe(0);
  });
});

describe("OTLP receiver", () => {
  const { server } = createOtlpReceiver();
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("answers exports with 200 {} and counts requests, bytes and spans at /stats", async () => {
    expect(await (await fetch(`${base}/stats`)).json()).toEqual({ requests: 0, bytes: 0, spans: 0 });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: EXPORT,
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("{}");
    }
    const gz = await fetch(`${base}/v1/traces`, {
      method: "POST",
      headers: { "content-encoding": "gzip" },
      body: "xx",
    });
    expect(gz.status).toBe(200);
    await gz.arrayBuffer();
    const bytes = 2 * Buffer.byteLength(EXPORT) + 2;
    expect(await (await fetch(`${base}/stats`)).json()).toEqual({ requests: 3, bytes, spans: 4 });
  });

  it("answers 404 elsewhere, without counting", async () => {
    const res = await fetch(`${base}/v1/metrics`, { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    expect(((await (await fetch(`${base}/stats`)).json()) as { requests: number }).requests).toBe(3);
  });
});
