// Which version serves each of the 10,000 buckets: exact shares, and ramps that never move a user off a rising canary.
//
// The layout (what holds is proved in the comments of buildSplit and checked in layout.test.ts):
// - Bucket counts: each version's weight x 10000 / total, rounded by largest remainder so they sum to
//   exactly 10000 (ties: stable first, then the canary order below). The stable version (the label's)
//   gets its own weight's count when it is in the map, else 0.
// - Canaries (every other version) are laid out in semver order, lowest first. Each has its own fixed
//   preference order of all 10000 buckets, a permutation seeded by a hash of the version string only.
//   Canary i takes the first n_i buckets of its order that canaries before it have not taken.
// - The stable version gets every bucket left over, which is exactly its count.
// Changing the permutation, its seed or the order rule moves users in every live split: the golden test
// in layout.test.ts pins them.
import semver from "semver";
import { BUCKETS } from "./bucket.ts";

export type Variant = "stable" | "canary";

export interface Assignment {
  readonly version: string;
  readonly variant: Variant;
}

export interface Split {
  readonly stable: Assignment;
  /** Index 0 is the stable version, then the canaries in layout order; `table` holds these indexes. */
  readonly assignments: readonly Assignment[];
  /** Buckets per version, summing to BUCKETS, in the same order (zero-weight versions included). */
  readonly counts: ReadonlyMap<string, number>;
  /** bucket -> index into `assignments`; null when everything goes to the stable version. */
  readonly table: Uint8Array | Uint16Array | null;
}

/** Semver order; versions that are not semver (never registered, but the type allows them) come last. */
export function compareVersions(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va && vb) {
    const bySemver = semver.compare(va, vb);
    if (bySemver !== 0) return bySemver;
  } else if (va || vb) {
    return va ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Largest-remainder apportionment of BUCKETS, in BigInt so any safe-integer weights are exact. */
function apportion(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, w) => sum + BigInt(w), 0n);
  const scaled = weights.map((w) => BigInt(w) * BigInt(BUCKETS));
  const counts = scaled.map((s) => Number(s / total));
  const remainders = scaled.map((s) => s % total);
  let left = BUCKETS - counts.reduce((sum, c) => sum + c, 0);
  // Stable sort: equal remainders keep index order, so ties go to stable, then to earlier canaries.
  const byRemainder = [...weights.keys()].sort((i, j) => {
    const ri = remainders[i] ?? 0n;
    const rj = remainders[j] ?? 0n;
    return ri > rj ? -1 : ri < rj ? 1 : 0;
  });
  for (const i of byRemainder) {
    if (left === 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
    left--;
  }
  return counts;
}

/** FNV-1a over the UTF-16 code units: a stable 32-bit seed for a version's permutation. */
function seedOf(version: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < version.length; i++) h = Math.imul(h ^ version.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** splitmix32: small, fast and well mixed; only determinism and uniformity matter here. */
function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let t = state ^ (state >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/**
 * Gives canary `index` the first `count` free buckets (table value 0) of the version's permutation,
 * drawn lazily by Fisher-Yates so a small canary costs little. The modulo bias (10000 / 2^32) is
 * negligible. There are always enough free buckets: counts sum to BUCKETS.
 */
function claim(table: Uint8Array | Uint16Array, version: string, index: number, count: number): void {
  const order = new Uint16Array(BUCKETS);
  for (let b = 0; b < BUCKETS; b++) order[b] = b;
  const next = splitmix32(seedOf(version));
  let taken = 0;
  for (let j = 0; j < BUCKETS && taken < count; j++) {
    const r = j + (next() % (BUCKETS - j));
    const bucket = order[r] ?? 0;
    order[r] = order[j] ?? 0;
    order[j] = bucket;
    if (table[bucket] === 0) {
      table[bucket] = index;
      taken++;
    }
  }
}

function frozenAssignment(version: string, variant: Variant): Assignment {
  return Object.freeze({ version, variant });
}

/**
 * Builds the split for a release from its stable (label) version and parsed weights (null: 100% to
 * stable). Called when the snapshot changes, not per request.
 *
 * What holds. Let c_1 < ... < c_k be the canaries in semver order, n_i their counts, S_i their bucket
 * sets, E_i = S_1 u ... u S_{i-1} the buckets taken before c_i, and P_i the permutation of c_i, so that
 * S_i = the first n_i buckets of P_i outside E_i. Across any two weight settings (primes for the second):
 * 1. Shares are exact: |S_i| = n_i, and stable holds the other BUCKETS - sum(n_i) buckets.
 * 2. S_1 depends on nothing but c_1 and n_1 (E_1 is empty). So for a single canary, and for a canary
 *    that is the lowest with a positive count in both settings: when n_1 rises every user of it stays
 *    (S_1 is a prefix of P_1 that grows); when it falls, only its own users move. This holds whatever
 *    the other versions' weights, or even which version is stable. With two versions the movers go
 *    to stable; with more, a later canary may take some of the released buckets (item 4).
 * 3. Likewise S_i depends only on c_i, n_i and E_i: while E_i is unchanged (the canaries before c_i
 *    keep their counts), raising n_i keeps all of c_i's users and lowering it only releases some.
 * 4. When E_i changes, c_i's churn is bounded by it. Let T = E_i' \ E_i (taken by earlier canaries)
 *    and R = E_i \ E_i' (released by them). If n_i' >= n_i, at most max(|T|, |R|) users leave c_i: those
 *    in T, or else only the tail pushed out by released buckets now free ahead of it in P_i, and at
 *    most n_i + |R| - n_i' <= |R| of those. If n_i' <= n_i, at most max(|T|, |R|) users join it (swap
 *    the two settings).
 *    That bound holds for any fixed orders, contiguous ranges too; what independent permutations add
 *    is the typical case: an earlier canary growing by d buckets takes about d * n_i / (10000 - |E_i|)
 *    of c_i's users, c_i's proportional share. Stable 80 / 1.1.0 10 / 1.2.0 10 -> 70 / 20 / 10 moves
 *    110 of 1.2.0's 1000 buckets to 1.1.0 (each replaced from stable), where ranges would move all 1000.
 * 5. A canary with count 0 takes nothing, so a version at weight 0 and one absent from the map are the
 *    same; a new version that sorts after every canary (the usual next release) takes only stable users.
 * So with 3+ versions, ramping c_i up (other counts unchanged) never moves a user off c_i or off any
 * earlier canary; a later canary c_j loses at most (rise of n_i) users, to c_i, and refills from
 * stable or from canaries after it (each again bounded by item 4). Raw weights whose total divides
 * 10000 and stays fixed (e.g. 100, the canary taking from stable) keep the other counts exactly;
 * otherwise normalisation moves them a little too.
 */
export function buildSplit(stable: string, weights: ReadonlyMap<string, number> | null): Split {
  const canaries = [...(weights?.keys() ?? [])].filter((v) => v !== stable).sort(compareVersions);
  const versions = [stable, ...canaries];
  const raw = versions.map((v) => weights?.get(v) ?? 0);
  for (const [i, w] of raw.entries()) {
    if (!Number.isSafeInteger(w) || w < 0)
      throw new RangeError(`weight ${w} for ${versions[i]} is not a non-negative safe integer`);
  }
  const stableAssignment = frozenAssignment(stable, "stable");
  const assignments = Object.freeze([stableAssignment, ...canaries.map((v) => frozenAssignment(v, "canary"))]);
  if (!raw.some((w) => w > 0)) {
    return Object.freeze({ stable: stableAssignment, assignments, counts: new Map([[stable, BUCKETS]]), table: null });
  }
  const counts = apportion(raw);
  const table = versions.length <= 256 ? new Uint8Array(BUCKETS) : new Uint16Array(BUCKETS);
  for (let i = 1; i < versions.length; i++) {
    const count = counts[i] ?? 0;
    if (count > 0) claim(table, versions[i] ?? "", i, count);
  }
  const byVersion = new Map(versions.map((v, i) => [v, counts[i] ?? 0]));
  return Object.freeze({
    stable: stableAssignment,
    assignments,
    counts: byVersion,
    table: byVersion.get(stable) === BUCKETS ? null : table,
  });
}

/**
 * The version for a bucket: two array reads, no allocation (the assignments are prebuilt). A bucket
 * outside 0..BUCKETS-1 gets the stable version.
 */
export function pick(split: Split, bucket: number): Assignment {
  if (split.table === null) return split.stable;
  return split.assignments[split.table[bucket] ?? 0] ?? split.stable;
}
