// The cost of one call from its usage and the model's price, exact in pico-dollars (10^-12 USD).
import type { Usage } from "../openai/usage.ts";
import type { PriceTable } from "./pricing.ts";

/** Pico-dollars for `usage` on `model`, or null when the model is unpriced (never 0 for "unknown"). */
export function costPico(prices: PriceTable, model: string, usage: Usage): number | null {
  const p = prices.get(model);
  if (!p) return null;
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  return (usage.inputTokens - cached) * p.input + cached * p.cachedInput + usage.outputTokens * p.output;
}

/** Exact decimal USD: 1650000 pico -> "0.00000165" (sums past 2^53 pico come as bigint). */
export function formatUsd(pico: number | bigint): string {
  const p = BigInt(pico);
  const abs = p < 0n ? -p : p;
  const frac = String(abs % 1_000_000_000_000n)
    .padStart(12, "0")
    .replace(/0+$/, "");
  const whole = `${p < 0n ? "-" : ""}${abs / 1_000_000_000_000n}`;
  return frac === "" ? whole : `${whole}.${frac}`;
}

/**
 * What `x-prompt-cost-usd` says for `usage` on `model` (formatUsd of costPico), or null when the model
 * is unpriced or the cost is not a safe integer of pico-dollars (readUsage keeps counts whole, so only
 * a count and a price too large to multiply exactly).
 */
export function costUsd(prices: PriceTable, model: string, usage: Usage): string | null {
  const pico = costPico(prices, model, usage);
  return pico === null || !Number.isSafeInteger(pico) ? null : formatUsd(pico);
}
