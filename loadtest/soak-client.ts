// The soak's client: runs one planned stream over node:http (leaving mid-stream when the plan says so)
// and says how it ended, and runs a whole plan at a bounded concurrency until a deadline.
import { request, type Agent } from "node:http";
import type { StreamKind, StreamPlan } from "./soak-plan.ts";

/** How a stream ended, seen from the client. */
export type Observed =
  /** 200, every content event, then [DONE] */
  | "complete"
  /** 200, then a final error event and the end, without [DONE] */
  | "interrupted"
  /** the client left at its planned point */
  | "aborted"
  /** ended without [DONE] or an error event, or before the client's planned point */
  | "truncated"
  /** a status other than 200 */
  | `http-${number}`
  /** the connection failed (reset, refused) */
  | "socket-error"
  /** took longer than the stream timeout; closed by the client */
  | "timeout";

export interface StreamResult {
  readonly kind: StreamKind;
  readonly observed: Observed;
  readonly ms: number;
  /** What went wrong, for the first failures the report lists. */
  readonly detail: string | null;
}

/** Counts the events of an SSE body as it arrives, across arbitrary chunk boundaries. */
export class SseTally {
  /** Data events other than [DONE] and error events. */
  events = 0;
  done = false;
  error = false;
  private carry = "";

  push(text: string): void {
    const s = this.carry + text;
    let start = 0;
    for (let end = s.indexOf("\n\n"); end !== -1; end = s.indexOf("\n\n", start)) {
      this.event(s.slice(start, end));
      start = end + 2;
    }
    this.carry = s.slice(start);
  }

  private event(ev: string): void {
    if (ev.startsWith("data: [DONE]")) this.done = true;
    else if (ev.startsWith('data: {"error"')) this.error = true;
    else if (ev.startsWith("data: ")) this.events++;
  }

  /** How the body ended: complete needs [DONE], no error and at least `minEvents` events. */
  outcome(minEvents: number): Observed {
    if (this.done && !this.error && this.carry === "" && this.events >= minEvents) return "complete";
    if (this.error && !this.done) return "interrupted";
    return "truncated";
  }
}

export interface StreamTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly agent: Agent;
}

const errorText = (err: Error): string => ("code" in err && typeof err.code === "string" ? err.code : err.message);

/** Sends one stream and resolves with how it ended; never rejects. */
export function runStream(
  target: StreamTarget,
  plan: StreamPlan,
  model: string,
  timeoutMs: number,
): Promise<StreamResult> {
  const body = JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "soak" }] });
  const started = performance.now();
  return new Promise<StreamResult>((resolve) => {
    let finished = false;
    const done = (observed: Observed, detail: string | null = null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ kind: plan.kind, observed, ms: performance.now() - started, detail });
    };
    const req = request({
      host: target.host,
      port: target.port,
      path: target.path,
      method: "POST",
      agent: target.agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => {
      done("timeout", `no end within ${timeoutMs} ms`);
      req.destroy();
    }, timeoutMs);
    // Going away is closing the connection, as a browser tab or a killed process does.
    const leave = (): void => {
      done("aborted");
      req.destroy();
    };
    req.on("error", (err) => done("socket-error", errorText(err)));
    req.on("response", (res) => {
      res.setEncoding("utf8");
      res.on("error", (err) => done("socket-error", errorText(err)));
      if (res.statusCode !== 200) {
        let text = "";
        res.on("data", (chunk: string) => (text = (text + chunk).slice(0, 300)));
        res.on("end", () => done(`http-${res.statusCode ?? 0}`, text));
        return;
      }
      if (plan.kind === "abort" && plan.at === 0) return leave();
      const tally = new SseTally();
      res.on("data", (chunk: string) => {
        tally.push(chunk);
        if (plan.kind === "abort" && tally.events >= plan.at) leave();
      });
      res.on("end", () => {
        const observed = tally.outcome(plan.at);
        const detail =
          observed === "truncated" ? `${tally.events} events, [DONE] ${tally.done}, error ${tally.error}` : null;
        done(observed, detail);
      });
    });
    req.end(body);
  });
}

export interface PlanRun {
  readonly results: StreamResult[];
  /** How many planned streams never started because the deadline passed. */
  readonly notStarted: number;
}

/**
 * Runs `plans` with at most `concurrency` in flight; no stream starts once `now()` passes `deadline`
 * (those in flight finish). `onDone` sees every result as it comes (progress).
 */
export async function runPlan(
  plans: readonly StreamPlan[],
  opts: {
    readonly concurrency: number;
    readonly deadline: number;
    readonly now: () => number;
    readonly run: (plan: StreamPlan) => Promise<StreamResult>;
    readonly onDone?: (result: StreamResult) => void;
  },
): Promise<PlanRun> {
  const results: StreamResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plans.length && opts.now() < opts.deadline) {
      const plan = plans[next++]!;
      const result = await opts.run(plan);
      results.push(result);
      opts.onDone?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, plans.length) }, worker));
  return { results, notStarted: plans.length - next };
}
