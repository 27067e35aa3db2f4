// Delivers alert events to ALERT_WEBHOOK_URL: a bounded in-memory queue that never blocks the caller
// (`send` returns at once), one delivery at a time in order, each attempt under a timeout, retried with
// exponential backoff on a connection failure, a timeout, a 5xx or a 429 (Retry-After honoured up to the
// backoff cap), given up after a bounded number of attempts. Only the configured URL is ever called:
// redirects are not followed (a 3xx is a failure) and nothing in an event chooses where it goes. The URL
// may carry a token (Slack, Teams and most chat webhooks put it in the path): it is never logged, only
// its host, and error texts pass through the scrubber.
import { Agent } from "undici";
import type { Clock } from "../support/clock.ts";
import { systemClock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import { Scrubber } from "../support/scrubber.ts";
import type { AlertEvent, AlertType } from "./alert-event.ts";

export interface AlertSenderOptions {
  /** The webhook; http or https only. */
  readonly url: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** The configured secrets (the webhook URL among them): applied to every error text that is logged. */
  readonly scrubber?: Scrubber;
  /** Events waiting at most; past it the oldest waiting one is dropped (default 1,000). */
  readonly queueLimit?: number;
  /** Attempts per event, the first included (default 5). */
  readonly maxAttempts?: number;
  /** The wait before the first retry; doubled at each retry (default 1 s). */
  readonly backoffMs?: number;
  /** The longest wait between attempts, Retry-After included (default 60 s). */
  readonly maxBackoffMs?: number;
  /** One attempt's deadline: connect, answer and body (default 10 s). */
  readonly timeoutMs?: number;
}

export const ALERT_SENDER_DEFAULTS = {
  queueLimit: 1000,
  maxAttempts: 5,
  backoffMs: 1000,
  maxBackoffMs: 60_000,
  timeoutMs: 10_000,
} as const;

export interface AlertSenderStats {
  /** Delivered events (a 2xx answer), by type. */
  readonly sent: ReadonlyMap<AlertType, number>;
  /** Events given up: every attempt failed, or the receiver refused it (a 4xx other than 429, a 3xx). */
  readonly failed: number;
  /** Events never attempted to the end: pushed out of a full queue, sent after close, or left at the close deadline. */
  readonly dropped: number;
  /** Events waiting now (the one in flight included). */
  readonly queued: number;
}

export interface CloseResult {
  /** Events still undelivered at the deadline (counted as dropped). */
  readonly abandoned: number;
}

/** An http(s) URL, or a clear error naming the variable (never the URL itself, which may hold a token). */
export function parseWebhookUrl(text: string, source = "ALERT_WEBHOOK_URL"): URL {
  if (!URL.canParse(text)) throw new Error(`${source} is not a URL`);
  const url = new URL(text);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`${source} must be an http or https URL, got a ${url.protocol} URL`);
  if (url.hash !== "") throw new Error(`${source} must not have a #fragment`);
  return url;
}

/** How an attempt ended. */
type Outcome =
  | { readonly kind: "delivered" }
  | { readonly kind: "retry"; readonly why: string; readonly retryAfterMs: number | null }
  | { readonly kind: "refused"; readonly why: string };

/** Retry-After in ms: seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now: number): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === "") return null;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Backoff before attempt `attempt + 1` (attempt 1 = the first): backoff * 2^(attempt-1), capped. */
export const backoffFor = (attempt: number, base: number, cap: number): number =>
  Math.min(cap, base * 2 ** (attempt - 1));

export class AlertSender {
  readonly #url: URL;
  readonly #origin: string;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #scrubber: Scrubber;
  readonly #opts: Required<Omit<AlertSenderOptions, "url" | "clock" | "logger" | "scrubber">>;
  readonly #agent: Agent;
  readonly #queue: AlertEvent[] = [];
  readonly #sent = new Map<AlertType, number>();
  #failed = 0;
  #dropped = 0;
  #inFlight = false;
  #closed = false;
  /** Aborts the attempt in flight and any backoff wait: the close deadline passed. */
  readonly #stop = new AbortController();
  #drained: Promise<void> = Promise.resolve();

  constructor(options: AlertSenderOptions) {
    this.#url = parseWebhookUrl(options.url);
    this.#origin = this.#url.origin;
    this.#path = `${this.#url.pathname}${this.#url.search}`;
    this.#headers = { "content-type": "application/json", "user-agent": "promptgate-alerts" };
    if (this.#url.username !== "" || this.#url.password !== "") {
      const user = decodeURIComponent(this.#url.username);
      const password = decodeURIComponent(this.#url.password);
      this.#headers["authorization"] = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    }
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    // The URL itself is a secret here even when the configuration's scrubber does not know it.
    this.#scrubber = new Scrubber(
      [options.url, this.#path, this.#url.password]
        .filter((s) => s.length > 1 && s !== "/")
        .map((value) => ({ value })),
    );
    const outer = options.scrubber ?? Scrubber.none;
    this.#scrub = (text) => this.#scrubber.text(outer.text(text, "log"), "log");
    this.#opts = {
      queueLimit: options.queueLimit ?? ALERT_SENDER_DEFAULTS.queueLimit,
      maxAttempts: options.maxAttempts ?? ALERT_SENDER_DEFAULTS.maxAttempts,
      backoffMs: options.backoffMs ?? ALERT_SENDER_DEFAULTS.backoffMs,
      maxBackoffMs: options.maxBackoffMs ?? ALERT_SENDER_DEFAULTS.maxBackoffMs,
      timeoutMs: options.timeoutMs ?? ALERT_SENDER_DEFAULTS.timeoutMs,
    };
    if (!(Number.isInteger(this.#opts.queueLimit) && this.#opts.queueLimit >= 1))
      throw new RangeError("queueLimit must be a whole number >= 1");
    if (!(Number.isInteger(this.#opts.maxAttempts) && this.#opts.maxAttempts >= 1))
      throw new RangeError("maxAttempts must be a whole number >= 1");
    this.#agent = new Agent({
      connect: { timeout: this.#opts.timeoutMs },
      headersTimeout: this.#opts.timeoutMs,
      bodyTimeout: this.#opts.timeoutMs,
      keepAliveTimeout: 10_000,
    });
  }

  readonly #scrub: (text: string) => string;

  /** The webhook's host, what logs name it by (never the path or query, which may hold a token). */
  get destination(): string {
    return this.#url.host;
  }

  /**
   * Queues an event and returns at once. False when it was not queued (the sender is closed); when the
   * queue is full the oldest waiting event is dropped to make room (counted in `dropped`).
   */
  send(event: AlertEvent): boolean {
    if (this.#closed) {
      this.#dropped += 1;
      return false;
    }
    // The head is in flight while a delivery runs: only events behind it may be pushed out.
    const waiting = this.#queue.length - (this.#inFlight ? 1 : 0);
    if (waiting >= this.#opts.queueLimit) {
      const dropped = this.#queue.splice(this.#inFlight ? 1 : 0, 1)[0];
      this.#dropped += 1;
      this.#logger?.warn("alert queue full: dropped the oldest waiting alert", {
        type: dropped?.type,
        prompt: dropped?.prompt,
        queue_limit: this.#opts.queueLimit,
      });
    }
    this.#queue.push(event);
    if (!this.#inFlight) this.#drained = this.#drain();
    return true;
  }

  stats(): AlertSenderStats {
    return { sent: new Map(this.#sent), failed: this.#failed, dropped: this.#dropped, queued: this.#queue.length };
  }

  /** Resolves when every queued event has been delivered or given up (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight) await this.#drained;
  }

  /**
   * Stops taking events and keeps delivering what is queued until `deadlineMs` from now; then aborts the
   * attempt in flight and drops the rest. Never rejects.
   */
  async close(deadlineMs: number): Promise<CloseResult> {
    this.#closed = true;
    const timer = new AbortController();
    const deadline = this.#clock.sleep(deadlineMs, timer.signal).then(
      () => "deadline" as const,
      () => "idle" as const,
    );
    const outcome = await Promise.race([this.idle().then(() => "idle" as const), deadline]);
    timer.abort();
    let abandoned = 0;
    if (outcome === "deadline") {
      abandoned = this.#queue.length;
      this.#stop.abort();
      await this.idle();
      if (abandoned > 0)
        this.#logger?.warn("alerts left undelivered at shutdown", { count: abandoned, destination: this.destination });
    }
    await this.#agent.close().catch(() => undefined);
    return { abandoned };
  }

  async #drain(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#queue.length > 0) {
        const event = this.#queue[0]!;
        await this.#deliver(event);
        this.#queue.shift();
      }
    } finally {
      this.#inFlight = false;
    }
  }

  async #deliver(event: AlertEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 1; ; attempt++) {
      if (this.#stop.signal.aborted) {
        this.#dropped += 1;
        return;
      }
      const outcome = await this.#attempt(body);
      if (outcome.kind === "delivered") {
        this.#sent.set(event.type, (this.#sent.get(event.type) ?? 0) + 1);
        return;
      }
      if (this.#stop.signal.aborted) {
        this.#dropped += 1;
        return;
      }
      const last = outcome.kind === "refused" || attempt >= this.#opts.maxAttempts;
      const fields = { type: event.type, prompt: event.prompt, attempt, destination: this.destination };
      if (last) {
        this.#failed += 1;
        this.#logger?.error("alert not delivered", { ...fields, reason: outcome.why });
        return;
      }
      const backoff = backoffFor(attempt, this.#opts.backoffMs, this.#opts.maxBackoffMs);
      const wait = Math.min(this.#opts.maxBackoffMs, Math.max(backoff, outcome.retryAfterMs ?? 0));
      this.#logger?.warn("alert delivery failed, retrying", { ...fields, reason: outcome.why, retry_in_ms: wait });
      try {
        await this.#clock.sleep(wait, this.#stop.signal);
      } catch {
        // the close deadline passed: the loop drops the event
      }
    }
  }

  async #attempt(body: string): Promise<Outcome> {
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#opts.timeoutMs)]);
    try {
      const res = await this.#agent.request({
        origin: this.#origin,
        path: this.#path,
        method: "POST",
        headers: this.#headers,
        body,
        signal,
      });
      // The receiver's answer is not read: drain it so the connection can be kept.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: "delivered" };
      if (status === 429 || status >= 500)
        return {
          kind: "retry",
          why: `the receiver answered ${status}`,
          retryAfterMs: retryAfterMs(res.headers["retry-after"], this.#clock.now()),
        };
      return {
        kind: "refused",
        why:
          status >= 300 && status < 400
            ? `the receiver answered ${status} (redirects are not followed: configure the final URL)`
            : `the receiver answered ${status}`,
      };
    } catch (err) {
      const timedOut = signal.aborted && !this.#stop.signal.aborted;
      const code =
        err !== null && typeof err === "object" && "code" in err && typeof err.code === "string" ? err.code : "";
      const text = err instanceof Error ? err.message : String(err);
      const why = timedOut
        ? `no answer within ${this.#opts.timeoutMs} ms`
        : this.#scrub(`${code === "" ? "" : `${code}: `}${text}`);
      return { kind: "retry", why, retryAfterMs: null };
    }
  }
}
