// Sample-ratio mismatch: do the distinct users each version saw fit the split's shares? A chi-square test that
// carries the distinct counter's own error, so an approximate counter (Redis HyperLogLog, 0.81%) does not alarm on
// a correct split of a million users, and that equals Pearson's test when counting is exact (eps = 0).
import { chiSquareSurvival } from "./distributions.ts";
import { StatisticsError } from "./summaries.ts";

/** The threshold the experiment platforms use: few false alarms, a broken split still shows quickly. */
export const SRM_THRESHOLD = 0.001;

/** Redis HyperLogLog's relative standard error (1.04 / sqrt(16384 registers)); 0 for exact counting. */
export const HYPERLOGLOG_RELATIVE_ERROR = 0.0081;

export interface SrmResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
  /** pValue < threshold. */
  readonly mismatch: boolean;
  /** N p_i, N the total observed. */
  readonly expected: number[];
  readonly observed: number[];
}

/** Solves A x = b (A symmetric positive definite, small) by Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    const row = m[c]!;
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / row[c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * row[k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/**
 * Tests observed distinct users per version against the expected shares (any positive numbers; normalised here).
 * With d = O - N p (N = sum O), cov(d) = N (diag p - p p^T) + (I - p 1^T) diag(eps^2 O^2) (I - p 1^T)^T, the
 * statistic d^T cov^-1 d over the first k - 1 components follows chi2(k - 1) under a correct split. Returns null
 * with fewer than two versions or no users.
 */
export function sampleRatioMismatch(
  observed: readonly number[],
  expectedShares: readonly number[],
  eps = 0,
  threshold = SRM_THRESHOLD,
): SrmResult | null {
  if (observed.length !== expectedShares.length) {
    throw new StatisticsError("observed and expectedShares must have the same length", "expectedShares");
  }
  observed.forEach((o, i) => {
    if (!(o >= 0 && Number.isFinite(o))) throw new StatisticsError(`observed[${i}] must be >= 0`, `observed[${i}]`);
  });
  expectedShares.forEach((s, i) => {
    if (!(s > 0 && Number.isFinite(s))) {
      throw new StatisticsError(
        `expectedShares[${i}] must be > 0 (leave out versions that get no traffic)`,
        `expectedShares[${i}]`,
      );
    }
  });
  if (!(eps >= 0 && eps < 1)) throw new StatisticsError("eps must be in [0, 1)", "eps");
  const k = observed.length;
  const total = observed.reduce((a, b) => a + b, 0);
  if (k < 2 || total === 0) return null;
  const shareSum = expectedShares.reduce((a, b) => a + b, 0);
  const p = expectedShares.map((s) => s / shareSum);
  const expected = p.map((pi) => total * pi);
  const d = observed.map((o, i) => o - expected[i]!);
  // Counter noise: var(O_j) = eps^2 O_j^2, independent across versions; d = (I - p 1^T) O.
  const noise = observed.map((o) => eps * eps * o * o);
  const noiseTotal = noise.reduce((a, b) => a + b, 0);
  const cov: number[][] = [];
  for (let i = 0; i < k - 1; i++) {
    const row: number[] = [];
    for (let j = 0; j < k - 1; j++) {
      const multinomial = total * ((i === j ? p[i]! : 0) - p[i]! * p[j]!);
      // [(I - p 1^T) D (I - p 1^T)^T]_ij = D_ij - p_i D_j - p_j D_i + p_i p_j sum(D).
      const counter = (i === j ? noise[i]! : 0) - p[i]! * noise[j]! - p[j]! * noise[i]! + p[i]! * p[j]! * noiseTotal;
      row.push(multinomial + counter);
    }
    cov.push(row);
  }
  const head = d.slice(0, k - 1);
  const x = solve(cov, head);
  const statistic = Math.max(
    0,
    head.reduce((s, di, i) => s + di * x[i]!, 0),
  );
  const pValue = chiSquareSurvival(statistic, k - 1);
  return { statistic, df: k - 1, pValue, mismatch: pValue < threshold, expected, observed: [...observed] };
}
