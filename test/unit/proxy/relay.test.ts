import fc from "fast-check";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { readAll, relaySse } from "../../../gateway/proxy/relay.ts";
import { SseParser } from "../../../gateway/openai/sse.ts";
import { costUsd } from "../../../gateway/telemetry/cost.ts";
import { parsePricing } from "../../../gateway/telemetry/pricing.ts";
import type { Usage } from "../../../gateway/openai/usage.ts";
import { StreamMeter, type PriceOf } from "../../../gateway/proxy/stream-meter.ts";

// One real server relays whatever the current case hands it; each case is one request.
let current: { chunks: Buffer[]; meter: StreamMeter; buffered: boolean } = {
  chunks: [],
  meter: new StreamMeter("chat", false),
  buffered: false,
};
let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    void relaySse(
      res,
      bodyOf(current.chunks, current.buffered),
      current.meter,
      new AbortController().signal,
      Date.now,
      () => new GatewayError("upstream_error", "x"),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/**
 * A provider body: read by read as the chunks come (`buffered` false), or with every chunk already
 * received and the end seen before the relay starts, as a fast provider's answer usually is.
 */
function bodyOf(chunks: readonly Buffer[], buffered: boolean): Readable {
  if (!buffered) return Readable.from(chunks);
  const body = new Readable({ read: () => undefined });
  for (const c of chunks) body.push(c);
  body.push(null);
  return body;
}

function relayed(chunks: Buffer[], meter: StreamMeter, buffered: boolean): Promise<string> {
  current = { chunks, meter, buffered };
  return new Promise((resolve, reject) => {
    request({ port, host: "127.0.0.1", method: "GET" }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    })
      .on("error", reject)
      .end();
  });
}

/** What the client must get: every event parsed, kept, priced or dropped by the meter's own rules. */
function expected(text: string, wantsUsage: boolean, priceOf: PriceOf | null): { text: string; usage: Usage | null } {
  const p = new SseParser();
  const meter = new StreamMeter("chat", wantsUsage, null, priceOf);
  const kept = [...p.push(text), ...p.flush()].map((ev) => meter.observe(ev) ?? "");
  return { text: kept.join(""), usage: meter.usage };
}

const prices = parsePricing("models:\n  m: { input: 0.15, output: 0.60, cached_input: 0.075 }\n");

const content = fc.string({ unit: fc.constantFrom("a", " ", "é", "😀", '\\"', "usage", "{", "}", ":") });
const chunkEvent = content.map((c) => `data: {"choices":[{"index":0,"delta":{"content":"${c}"}}],"usage":null}`);
const usageEvent = fc
  .record({
    p: fc.nat(1000),
    c: fc.nat(1000),
    k: fc.option(fc.nat(1000), { nil: null }),
    withChoices: fc.boolean(),
    spaced: fc.boolean(),
  })
  .map(
    ({ p, c, k, withChoices, spaced }) =>
      `data: {"choices":[${withChoices ? '{"index":0,"delta":{},"finish_reason":"stop"}' : ""}],"usage":${spaced ? " " : ""}{"prompt_tokens":${p},"completion_tokens":${c}${k === null ? "" : `,"prompt_tokens_details":{"cached_tokens":${k}}`}${spaced ? " " : ""}}}`,
  );
const stream = fc.record({
  events: fc.array(fc.oneof(chunkEvent, fc.constant(": keep-alive"), fc.constant("event: note\ndata: hi")), {
    maxLength: 8,
  }),
  usage: fc.option(usageEvent, { nil: null }),
  eol: fc.constantFrom("\n", "\r\n"),
  cuts: fc.array(fc.nat(2000), { maxLength: 6 }),
  wantsUsage: fc.boolean(),
  buffered: fc.boolean(),
  priced: fc.boolean(),
});

describe("relaySse", () => {
  // Property: whichever way the provider's bytes are cut into reads, and whether events pass as raw
  // slices or through the parser, the client gets exactly the events the meter's rules keep (the usage
  // chunk it asked for priced, for a priced model), and the usage is read.
  it("gives the client the same bytes as parsing every event would", async () => {
    await fc.assert(
      fc.asyncProperty(stream, async ({ events, usage, eol, cuts, wantsUsage, buffered, priced }) => {
        const blocks = [...events, ...(usage === null ? [] : [usage]), "data: [DONE]"];
        const text = blocks.map((b) => b.replaceAll("\n", eol) + eol + eol).join("");
        const bytes = Buffer.from(text);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points]
          .map((at, i, all) => bytes.subarray(at, all[i + 1] ?? bytes.length))
          .filter((c) => c.length > 0);
        const priceOf: PriceOf | null = priced ? (u) => costUsd(prices, "m", u) : null;
        const meter = new StreamMeter("chat", wantsUsage, null, priceOf);
        const got = await relayed(chunks, meter, buffered);
        const want = expected(text, wantsUsage, priceOf);
        expect(got).toBe(want.text);
        expect(meter.usage).toEqual(want.usage);
        // The cost is there exactly when the client asked for usage of a priced model, with the
        // digits x-prompt-cost-usd would have, and the chunk is still JSON.
        const usd = meter.usage && priceOf ? priceOf(meter.usage) : null;
        if (wantsUsage && usd !== null) {
          expect(got).toContain(`,"cost_usd":${usd}`);
          const line = got.split(eol).find((l) => l.includes('"cost_usd"'))!;
          expect((JSON.parse(line.slice("data: ".length)) as { usage: { cost_usd: number } }).usage.cost_usd).toBe(
            Number(usd),
          );
        } else {
          expect(got).not.toContain("cost_usd");
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("readAll", () => {
  it("returns the whole answer whether it is still arriving or was all there already", async () => {
    const chunks = [Buffer.from('{"id":'), Buffer.from('"x",'), Buffer.from('"ok":true}')];
    for (const buffered of [false, true]) {
      expect((await readAll(bodyOf(chunks, buffered), 1024)).toString()).toBe('{"id":"x","ok":true}');
    }
  });

  it("refuses an answer over the limit, already buffered or not", async () => {
    const chunks = [Buffer.alloc(600), Buffer.alloc(600)];
    for (const buffered of [false, true]) {
      await expect(readAll(bodyOf(chunks, buffered), 1000)).rejects.toThrow(/exceeds the 1000-byte limit/);
    }
  });
});
