// Retries only when the request provably did not reach the provider: a call the provider read whole is
// never sent twice (no duplicate generation, no double billing), a refused connection is tried again.
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { metricSum, scrapeMetrics } from "./support/metrics.ts";
import {
  answerJson,
  closeSocket,
  freePort,
  resetSocket,
  startRawProvider,
  type RawAction,
  type RawProvider,
} from "./support/raw-provider.ts";
import { systemClock, type Clock } from "../gateway/support/clock.ts";

let provider: RawProvider | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await provider?.close();
  gw = undefined;
  provider = undefined;
});

const chat = { model: "gpt-test", messages: [{ role: "user", content: "write me a novel" }] };

const completion = {
  id: "chatcmpl-raw",
  object: "chat.completion",
  created: 1,
  model: "gpt-test",
  choices: [{ index: 0, message: { role: "assistant", content: "done" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

const answer: RawAction = (_req, socket) => answerJson(socket, completion);

async function post(url: string): Promise<{ status: number; code: unknown }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(chat),
  });
  const body = (await res.json()) as { error?: { code?: unknown } };
  return { status: res.status, code: body.error?.code };
}

const retries = async (url: string, reason: string): Promise<number> =>
  metricSum(await scrapeMetrics(url), "promptgate_upstream_retries_total", { reason });

describe("upstream retries", () => {
  it.each([
    ["resets", resetSocket],
    ["closes", closeSocket],
  ])("sends a POST the provider read whole and then %s the connection once: 502", async (_what, act) => {
    provider = await startRawProvider(act);
    // Zero backoff: a retry, if one were made, would reach the provider at once.
    gw = await startTestGateway({ providerUrl: provider.url, random: () => 0 });
    const r = await post(gw.url);
    expect(r).toEqual({ status: 502, code: "upstream_unreachable" });
    expect(provider.received).toHaveLength(1);
    expect(JSON.parse(provider.received[0]!.body)).toMatchObject({ messages: chat.messages });
    const m = await scrapeMetrics(gw.url);
    expect(metricSum(m, "promptgate_upstream_retries_total")).toBe(0);
    expect(metricSum(m, "promptgate_requests_total", { model: "gpt-test", status: "5xx" })).toBe(1);
  });

  it("sends a POST once when the provider drops a reused keep-alive connection as it arrives", async () => {
    // The first call leaves a pooled connection; the provider closes it just as the second call is
    // written on it. That call may have reached the provider: it is not sent again.
    provider = await startRawProvider((req, socket) => (req.onConnection === 0 ? answer : resetSocket)(req, socket));
    gw = await startTestGateway({ providerUrl: provider.url, random: () => 0 });
    expect((await post(gw.url)).status).toBe(200);
    expect(await post(gw.url)).toEqual({ status: 502, code: "upstream_unreachable" });
    expect(provider.received.map((r) => r.onConnection)).toEqual([0, 1]);
    expect(await retries(gw.url, "connection")).toBe(0);
  });

  it("sends a GET again on a new connection when a reused one breaks before any answer", async () => {
    provider = await startRawProvider((req, socket) =>
      req.onConnection === 1 ? resetSocket(req, socket) : answerJson(socket, { id: "gpt-test", object: "model" }),
    );
    gw = await startTestGateway({ providerUrl: provider.url, random: () => 0 });
    expect((await fetch(`${gw.url}/v1/models/gpt-test`)).status).toBe(200);
    const again = await fetch(`${gw.url}/v1/models/gpt-test`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ id: "gpt-test", object: "model" });
    // The second call broke on the reused connection, its retry went out on a fresh one.
    expect(provider.received.map((r) => r.onConnection)).toEqual([0, 1, 0]);
    expect(await retries(gw.url, "connection")).toBe(1);
  });

  it("retries a POST whose connection was refused, once the provider is up", async () => {
    const port = await freePort();
    // The retry's backoff waits until the test has seen the refused attempt and started the provider.
    let up!: () => void;
    const providerUp = new Promise<void>((resolve) => (up = resolve));
    onTestFinished(() => up());
    const clock: Clock = {
      now: systemClock.now,
      sleep: async (ms, signal) => {
        await providerUp;
        await systemClock.sleep(ms, signal);
      },
    };
    gw = await startTestGateway({ providerUrl: `http://127.0.0.1:${port}/v1`, clock, random: () => 0 });
    const url = gw.url;
    const answered = post(url);
    await vi.waitFor(async () => expect(await retries(url, "connection")).toBe(1), { timeout: 5_000, interval: 20 });
    provider = await startRawProvider(answer, port);
    up();
    expect(await answered).toEqual({ status: 200, code: undefined });
    expect(provider.received).toHaveLength(1);
  });
});
