// The `weights:{env}:{name}` Redis hash (version -> integer weight) read into weights the layout can use.

/** The hash as stored: version -> weight text (what redis-cli wrote, so anything). */
export type WeightsHash = Readonly<Record<string, string>>;

/** Keeps every total a safe integer (buildSplit requires it); 10,000 buckets need no finer ratio. */
export const MAX_WEIGHT = 1_000_000_000;

/**
 * The most versions one hash may weigh: a canary splits between a handful. A larger hash is refused
 * whole, and the refresh does not even read it (the store counts its fields first), so a hand-made
 * 100,000-field hash costs a count every poll, not a transfer and a parse.
 */
export const MAX_WEIGHTS_FIELDS = 100;

/** The longest version name or weight text read from a hash, in UTF-8 bytes (a weight needs 10 digits). */
export const MAX_WEIGHTS_ENTRY_BYTES = 256;

/** The one problem of a hash over MAX_WEIGHTS_FIELDS (its entries are not looked at). */
function tooManyVersions(fields: number): string {
  return `the hash has ${fields} versions, more than the ${MAX_WEIGHTS_FIELDS} allowed`;
}

export interface ParsedWeights {
  /** null: 100% to the stable version (empty hash, or nothing usable with a positive weight). */
  readonly weights: Map<string, number> | null;
  /** For the log and a metric: one sentence per ignored entry; empty when every entry was used. */
  readonly problems: string[];
  /** Served as written but likely a mistake (today: the stable version left out); for the log. */
  readonly notes: string[];
}

export type ValidatedWeights =
  | { readonly ok: true; readonly weights: Map<string, number> | null }
  | { readonly ok: false; readonly reasons: string[] };

const DIGITS = /^[0-9]+$/;
const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?$/i;

/** A weight is plain decimal digits (surrounding spaces allowed), at most MAX_WEIGHT. */
function checkEntry(version: string, raw: string, known: ReadonlySet<string>): number | string {
  if (!known.has(version)) return `version ${JSON.stringify(version)} is not registered for this prompt`;
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_WEIGHTS_ENTRY_BYTES)
    return `the weight for ${version} is ${bytes} bytes long, more than the ${MAX_WEIGHTS_ENTRY_BYTES} allowed`;
  const text = raw.trim();
  const at = `weight ${JSON.stringify(raw)} for ${version}`;
  if (DIGITS.test(text)) {
    const weight = Number(text);
    return weight <= MAX_WEIGHT ? weight : `${at} is above the maximum of ${MAX_WEIGHT}`;
  }
  if (!NUMBER.test(text)) return `${at} is not a number`;
  if (Number(text) < 0) return `${at} is negative`;
  return `${at} is not an integer written in plain digits`;
}

const anyPositive = (weights: ReadonlyMap<string, number>): boolean => [...weights.values()].some((w) => w > 0);

/**
 * Weights are shares of their sum, so a hash that leaves the stable version out gives it nothing:
 * `HSET ... 1.1.0 5` alone sends 100% to 1.1.0. The gateway serves that as written (it is how docs/design.md
 * normalises weights), but it is far more often a mistake than a full rollout, which can say so with
 * `1.0.0 0`: a note for the gateway's log, a refusal in the CLI.
 */
function missingStable(weights: ReadonlyMap<string, number>, stable: string): string[] {
  if (weights.has(stable) || !anyPositive(weights)) return [];
  return [
    `the stable version ${stable} is not in the hash, so it gets no traffic; add "${stable} 0" if that is intended`,
  ];
}

/**
 * What the gateway serves from a raw hash: bad entries (unregistered version, non-numeric, negative,
 * non-integer, too large) are dropped, each with a problem, and the rest still count, so a typo never
 * fails a request. Zero weights are kept (harmless: a version at 0 gets no bucket).
 */
export function parseWeights(raw: WeightsHash, known: ReadonlySet<string>, stable: string): ParsedWeights {
  const fields = Object.keys(raw).length;
  if (fields > MAX_WEIGHTS_FIELDS) return { weights: null, problems: [tooManyVersions(fields)], notes: [] };
  const weights = new Map<string, number>();
  const problems: string[] = [];
  for (const [version, value] of Object.entries(raw)) {
    const checked = checkEntry(version, value, known);
    if (typeof checked === "number") weights.set(version, checked);
    else problems.push(checked);
  }
  return { weights: anyPositive(weights) ? weights : null, problems, notes: missingStable(weights, stable) };
}

/**
 * The CLI's check before it writes a hash: refuses, with every reason at once, whatever parseWeights
 * would ignore, so what an SRE writes is exactly what the gateway serves, and a hash without the
 * stable version (see missingStable). An all-zero or empty hash is accepted (100% to stable).
 */
export function validateWeights(raw: WeightsHash, known: ReadonlySet<string>, stable: string): ValidatedWeights {
  const { weights, problems, notes } = parseWeights(raw, known, stable);
  const reasons = [...problems, ...notes];
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, weights };
}
