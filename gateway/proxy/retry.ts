// Retries before the first byte reaches the client: only calls that never reached the provider
// (providers/upstream.ts says which) and 429/503 answers, honouring Retry-After (RFC 9110 §10.2.3), and
// only while retries stay within a share of in-flight requests.

export class RetryBudget {
  #inFlight = 0;
  #retrying = 0;
  readonly ratio: number;

  constructor(ratio: number) {
    this.ratio = ratio;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  begin(): void {
    this.#inFlight++;
  }

  end(): void {
    this.#inFlight--;
  }

  /** Takes a retry slot if one is free; the caller returns it with `release`. A lone request may
   *  always retry once the budget allows a fraction of a slot, so tiny loads are not starved. */
  tryAcquire(): boolean {
    if (this.#retrying + 1 > Math.max(1, this.#inFlight * this.ratio)) return false;
    this.#retrying++;
    return true;
  }

  release(): void {
    this.#retrying--;
  }
}

/** Milliseconds to wait from a Retry-After value (seconds or an HTTP date), or null when absent or invalid. */
export function retryAfterMs(value: string | undefined, now: number): number | null {
  if (value === undefined || value.trim() === "") return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** Backoff when the provider gave no Retry-After: 100 ms, 200 ms, 400 ms ... with full jitter. */
export function backoffMs(attempt: number, random: () => number): number {
  return Math.round(random() * 100 * 2 ** attempt);
}

export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 503]);
