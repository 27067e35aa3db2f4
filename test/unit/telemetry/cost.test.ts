import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../gateway/config/gateway-config.ts";
import { costPico, costUsd, formatUsd } from "../../../gateway/telemetry/cost.ts";
import { parsePricing } from "../../../gateway/telemetry/pricing.ts";

const prices = parsePricing(
  "models:\n  gpt-4o-mini: { input: 0.15, output: 0.60, cached_input: 0.075 }\n  big: { input: 2.5, output: 10 }\n",
);

describe("pricing and cost", () => {
  it("prices exactly, cached input at its own rate", () => {
    // 1000 input (400 cached) and 200 output tokens of gpt-4o-mini:
    // 600 x 0.15 + 400 x 0.075 + 200 x 0.60 = 90 + 30 + 120 = 240 micro-dollars.
    const pico = costPico(prices, "gpt-4o-mini", { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 200 });
    expect(pico).toBe(240_000_000);
    expect(formatUsd(pico!)).toBe("0.00024");
    expect(formatUsd(12_345_000_000_000_000_001n)).toBe("12345000.000000000001");
    expect(formatUsd(-1_500_000_000_000n)).toBe("-1.5");
    expect(
      formatUsd(costPico(prices, "gpt-4o-mini", { inputTokens: 11, cachedInputTokens: 0, outputTokens: 0 })!),
    ).toBe("0.00000165");
  });

  it("uses the input price for cached tokens when none is given, and null for unpriced models", () => {
    expect(costPico(prices, "big", { inputTokens: 10, cachedInputTokens: 10, outputTokens: 1 })).toBe(
      10 * 2_500_000 + 10_000_000,
    );
    expect(costPico(prices, "unknown", { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1 })).toBeNull();
  });

  it("gives the header's digits for a priced model, and null for an unpriced one or fractional tokens", () => {
    expect(costUsd(prices, "gpt-4o-mini", { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 200 })).toBe(
      "0.00024",
    );
    expect(costUsd(prices, "gpt-4o-mini", { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 })).toBe("0");
    expect(costUsd(prices, "unknown", { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1 })).toBeNull();
    expect(costUsd(prices, "gpt-4o-mini", { inputTokens: 1.000001, cachedInputTokens: 0, outputTokens: 0 })).toBeNull();
  });

  it("refuses prices it cannot hold exactly, naming the field", () => {
    expect(() => parsePricing("models: { m: { input: 0.0000001, output: 1 } }", "pricing.yaml")).toThrow(ConfigError);
    expect(() => parsePricing("models: { m: { input: -1, output: 1 } }", "pricing.yaml")).toThrow(/models\.m\.input/);
    expect(() => parsePricing("models: { m: { input: 1 } }", "pricing.yaml")).toThrow(/models\.m\.output/);
  });

  it("sums without float drift", () => {
    let total = 0;
    for (let i = 0; i < 1000; i++)
      total += costPico(prices, "gpt-4o-mini", { inputTokens: 7, cachedInputTokens: 0, outputTokens: 3 })!;
    expect(total).toBe(1000 * (7 * 150_000 + 3 * 600_000));
  });
});
