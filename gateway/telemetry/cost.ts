// The cost of one call from its usage and the model's price, exact in pico-dollars (10^-12 USD).
import type { Usage } from "../proxy/usage.ts";
import type { PriceTable } from "./pricing.ts";

const PICO_PER_MICRO = 1_000_000;

/** Pico-dollars for `usage` on `model`, or null when the model is unpriced (never 0 for "unknown"). */
export function costPico(prices: PriceTable, model: string, usage: Usage): number | null {
  const p = prices.get(model);
  if (!p) return null;
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  return (usage.inputTokens - cached) * p.input + cached * p.cachedInput + usage.outputTokens * p.output;
}

/** Micro-dollars, rounded half up: the unit aggregates count in. */
export const picoToMicro = (pico: number): number => Math.floor((pico + PICO_PER_MICRO / 2) / PICO_PER_MICRO);

/** Exact decimal USD for a header: 1650000 pico -> "0.00000165". */
export function formatUsd(pico: number): string {
  const whole = Math.floor(pico / 1e12);
  const frac = String(pico % 1e12).padStart(12, "0").replace(/0+$/, "");
  return frac === "" ? String(whole) : `${whole}.${frac}`;
}
