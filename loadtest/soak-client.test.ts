import { Agent } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakeUpstream, PACED_PATH } from "./fake-upstream.ts";
import { runPlan, runStream, SseTally, type StreamResult, type StreamTarget } from "./soak-client.ts";
import { modelFor, type StreamPlan } from "./soak-plan.ts";

const COMPLETE =
  'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n';
const CUT = 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"reset","code":"x"}}\n\n';

describe("SseTally", () => {
  it("tells a complete stream, a cut one and a truncated one apart", () => {
    const t = (text: string, minEvents = 2): string => {
      const tally = new SseTally();
      tally.push(text);
      return tally.outcome(minEvents);
    };
    expect(t(COMPLETE)).toBe("complete");
    expect(t(COMPLETE, 3)).toBe("truncated"); // [DONE] without every event
    expect(t(CUT)).toBe("interrupted");
    expect(t(COMPLETE.slice(0, 50))).toBe("truncated");
    expect(t(COMPLETE.slice(0, -1))).toBe("truncated"); // [DONE] not terminated
  });

  it("counts the same across any chunk boundaries", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(COMPLETE.length + CUT.length), { maxLength: 8 }), (cuts) => {
        const text = COMPLETE + CUT;
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const tally = new SseTally();
        let from = 0;
        for (const p of [...points, text.length]) {
          tally.push(text.slice(from, p));
          from = p;
        }
        expect([tally.events, tally.done, tally.error]).toEqual([3, true, true]);
      }),
    );
  });
});

describe("runPlan", () => {
  const plans: StreamPlan[] = Array.from({ length: 10 }, (_, i) => ({ kind: "complete", at: i }));
  const ok = (p: StreamPlan): StreamResult => ({ kind: p.kind, observed: "complete", ms: p.at, detail: null });

  it("runs every plan with at most `concurrency` in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const run = await runPlan(plans, {
      concurrency: 3,
      deadline: Infinity,
      now: () => 0,
      run: async (p) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return ok(p);
      },
    });
    expect(run.results.map((r) => r.ms).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(run.notStarted).toBe(0);
    expect(most).toBe(3);
  });

  it("starts nothing once the deadline has passed, and lets what is in flight finish", async () => {
    let clock = 0;
    const run = await runPlan(plans, {
      concurrency: 2,
      deadline: 4,
      now: () => clock,
      run: async (p) => {
        clock++;
        await new Promise((r) => setImmediate(r));
        return ok(p);
      },
    });
    expect(run.results).toHaveLength(4);
    expect(run.notStarted).toBe(6);
  });
});

describe("runStream against the fake provider", () => {
  const server = createFakeUpstream();
  const agent = new Agent({ keepAlive: true });
  let target: StreamTarget;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    target = { host: "127.0.0.1", port, path: PACED_PATH, agent };
  });
  afterAll(() => {
    agent.destroy();
    server.closeAllConnections();
    server.close();
  });
  const send = (plan: StreamPlan, model = modelFor(plan, 4, 1)): Promise<StreamResult> =>
    runStream(target, plan, model, 5000);

  it("reads a complete stream to [DONE]", async () => {
    expect(await send({ kind: "complete", at: 4 })).toMatchObject({ kind: "complete", observed: "complete" });
  });

  it("leaves at the planned event, right after the headers included, while the provider holds the stream", async () => {
    for (const at of [0, 2, 4])
      expect(await send({ kind: "abort", at })).toMatchObject({ kind: "abort", observed: "aborted" });
  });

  it("sees a provider reset as a failed connection when nothing stands between them", async () => {
    expect(await send({ kind: "reset", at: 1 })).toMatchObject({ observed: "socket-error", detail: "ECONNRESET" });
  });

  it("reports a status other than 200 with the start of its body", async () => {
    const res = await runStream({ ...target, path: "/nowhere" }, { kind: "complete", at: 1 }, "m", 5000);
    expect(res).toMatchObject({ observed: "http-404" });
    expect(res.detail).toContain("unknown route");
  });

  it("gives up on a stream that outlives its timeout", async () => {
    const res = await runStream(target, { kind: "complete", at: 2 }, "paced/2x1/hold", 200);
    expect(res).toMatchObject({ observed: "timeout" });
  });
});
