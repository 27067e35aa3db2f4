// The user's bucket for a prompt: xxHash32 of (prompt name, user id) -> 0..9999, the same in every process.
import xxhash from "xxhash-wasm";
import type { XXHashAPI } from "xxhash-wasm";

/** The size of the bucket space the layout divides between versions. */
export const BUCKETS = 10_000;

/**
 * Part of the contract, like the separator and the modulo below: changing any of them moves almost every
 * user to a different bucket in every prompt's split at the next deploy. bucket.test.ts pins known values.
 */
const SEED = 0;

export type Bucketer = (name: string, userId: string) => number;

let loading: Promise<XXHashAPI> | undefined;

/**
 * Instantiates the wasm module once per process (later calls share it) and returns a synchronous
 * hasher for the request path. The NUL separator keeps ("ab", "c") and ("a", "bc") apart; prompt names
 * cannot contain it. 2^32 mod 10000 leaves buckets 0..7295 one hash value in 429,496 more likely.
 */
export async function createBucketer(): Promise<Bucketer> {
  loading ??= xxhash();
  const api = await loading;
  return (name, userId) => api.h32(`${name}\u0000${userId}`, SEED) % BUCKETS;
}

/** The identified user as counted for distinct users: 64-bit xxHash of the user id alone, 16 hex digits. */
export type UserHasher = (userId: string) => string;

/**
 * The same id gives the same hash in every prompt and process, so one user counts once per version
 * whichever replica served them. It is not secret (distinct counting needs no more); the user id itself
 * is never stored.
 */
export async function createUserHasher(): Promise<UserHasher> {
  loading ??= xxhash();
  const api = await loading;
  return (userId) => api.h64ToString(userId);
}
