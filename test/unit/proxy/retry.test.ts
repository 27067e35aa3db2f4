import { describe, expect, it } from "vitest";
import { RetryBudget, backoffMs, retryAfterMs } from "../../../gateway/proxy/retry.ts";

describe("retryAfterMs", () => {
  it("reads seconds and HTTP dates", () => {
    expect(retryAfterMs("2", 0)).toBe(2000);
    const now = Date.parse("Mon, 23 Nov 2026 10:00:00 GMT");
    expect(retryAfterMs("Mon, 23 Nov 2026 10:00:03 GMT", now)).toBe(3000);
    expect(retryAfterMs("Mon, 23 Nov 2026 09:00:00 GMT", now)).toBe(0);
  });
  it("ignores absent and invalid values", () => {
    expect(retryAfterMs(undefined, 0)).toBeNull();
    expect(retryAfterMs("soon", 0)).toBeNull();
  });
});

describe("RetryBudget", () => {
  it("allows retries up to the ratio of in-flight requests", () => {
    const b = new RetryBudget(0.2);
    for (let i = 0; i < 10; i++) b.begin();
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.release();
    expect(b.tryAcquire()).toBe(true);
  });
  it("lets a lone request retry, but not two at once", () => {
    const b = new RetryBudget(0.2);
    b.begin();
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
  });
  it("backs off exponentially with jitter", () => {
    expect(backoffMs(0, () => 1)).toBe(100);
    expect(backoffMs(2, () => 0.5)).toBe(200);
  });
});
