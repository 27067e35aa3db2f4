// Sends a request upstream, retrying only before anything reached the client, within the retry budget:
// when the request provably never reached the provider (its connection was never made), or the
// provider answered 429/503 (honouring Retry-After). A POST is never sent twice once it may have arrived.
import type { Limits } from "../config/gateway-config.ts";
import type { Clock } from "../support/clock.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { Logger } from "../support/logger.ts";
import { discard } from "./relay.ts";
import { RETRYABLE_STATUS, type RetryBudget, backoffMs, retryAfterMs } from "./retry.ts";
import {
  isRetryableFailure,
  type Upstream,
  type UpstreamRequest,
  type UpstreamResponse,
} from "../providers/upstream.ts";

export interface ForwardDeps {
  readonly upstream: Upstream;
  readonly budget: RetryBudget;
  readonly clock: Clock;
  readonly random: () => number;
  readonly limits: Limits;
  readonly logger: Logger;
  /** Counts a retry: "connection" (never connected, or a safe method cut), or the status ("429", "503"). */
  readonly retried: (provider: string, reason: string) => void;
}

type Attempt = { res: UpstreamResponse; failure: null } | { res: null; failure: GatewayError };

export async function forward(deps: ForwardDeps, req: UpstreamRequest): Promise<UpstreamResponse> {
  const { budget, limits } = deps;
  budget.begin();
  // A retry holds a budget slot from the decision until its own answer arrives.
  let holding = false;
  try {
    for (let attempt = 0; ; attempt++) {
      let outcome: Attempt;
      try {
        outcome = { res: await deps.upstream.send(req), failure: null };
      } catch (err) {
        if (!(err instanceof GatewayError) || !isRetryableFailure(err, req.method)) throw err;
        outcome = { res: null, failure: err };
      } finally {
        if (holding) budget.release();
        holding = false;
      }
      const { res } = outcome;
      if (res && !RETRYABLE_STATUS.has(res.status)) return res;

      const header = res?.headers["retry-after"];
      const wait = retryAfterMs(typeof header === "string" ? header : undefined, deps.clock.now());
      const tooLong = wait !== null && wait > limits.max_retry_after_ms;
      if (tooLong || attempt >= limits.max_retries || req.signal.aborted || !budget.tryAcquire()) {
        if (res) return res;
        throw outcome.failure;
      }
      holding = true;
      if (res) discard(res.body);
      deps.retried(req.provider.name, res ? String(res.status) : "connection");
      const ms = wait ?? backoffMs(attempt, deps.random);
      deps.logger.debug("retrying upstream call", { provider: req.provider.name, attempt: attempt + 1, wait_ms: ms });
      await deps.clock.sleep(ms, req.signal);
    }
  } finally {
    if (holding) budget.release();
    budget.end();
  }
}
