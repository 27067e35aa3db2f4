// Seeded randomness for simulations: the same numbers on every run and machine.

/** mulberry32: a small, fast 32-bit generator; returns uniforms in [0, 1). */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box-Muller) from a uniform source. */
export function seededNormal(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform(); // (0, 1]
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/** Scores on five levels (0, 0.25, 0.5, 0.75, 1) drawn with `probs` (one per level, summing to 1). */
export function seededLevels(seed: number, n: number, probs: readonly number[]): number[] {
  const uniform = seededUniform(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = uniform();
    let cumulative = 0;
    let k = 0;
    for (; k < probs.length - 1; k++) {
      cumulative += probs[k]!;
      if (x < cumulative) break;
    }
    out.push(k / 4);
  }
  return out;
}
