// config/pricing.yaml: USD per million tokens per model, held as exact integers (pico-dollars per
// token: a price with up to six decimals times 10^6), so costs add up without float drift.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../config/gateway-config.ts";

/** Pico-dollars (10^-12 USD) per token. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  /** Cached input tokens; the input price when the file gives none. */
  readonly cachedInput: number;
}

export type PriceTable = ReadonlyMap<string, ModelPrice>;

const price = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const text = String(v).trim();
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) {
    ctx.addIssue({
      code: "custom",
      message: "must be a non-negative USD amount per million tokens with at most 6 decimals",
    });
    return z.NEVER;
  }
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? "").padEnd(6, "0"));
});

const fileSchema = z.strictObject({
  models: z
    .record(z.string().min(1), z.strictObject({ input: price, output: price, cached_input: price.optional() }))
    .default({}),
});

export function parsePricing(text: string, file = "pricing.yaml"): PriceTable {
  const parsed = fileSchema.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`${file} is invalid:\n${lines.join("\n")}`);
  }
  return new Map(
    Object.entries(parsed.data.models).map(([model, p]) => [
      model,
      { input: p.input, output: p.output, cachedInput: p.cached_input ?? p.input },
    ]),
  );
}

/** Reads CONFIG_DIR/pricing.yaml; a missing file means every model is unpriced. */
export async function loadPricing(configDir: string): Promise<PriceTable> {
  const file = join(configDir, "pricing.yaml");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw new ConfigError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parsePricing(text, file);
}
