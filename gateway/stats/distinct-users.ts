// Distinct identified users per version over a window, from the per-minute and per-hour distinct
// sets the aggregate writer keeps (store/keys.ts: users:...). Redis estimates them (HyperLogLog,
// relative standard error 0.81%), the embedded store counts exactly; `relativeError` says which.
import { usersKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import { MINUTE_MS } from "../telemetry/aggregates.ts";
import type { StatsWindow } from "./aggregate-stats.ts";

export interface DistinctUsers {
  readonly version: string;
  /** Distinct users the version served in the window (an estimate when relativeError > 0). */
  readonly users: number;
  /** The counter's relative standard error: 0.0081 on Redis, 0 on the embedded store. */
  readonly relativeError: number;
}

/**
 * The distinct-user keys that cover the minutes [fromMinute, toMinute) exactly: whole epoch hours as
 * their hour sets, the minutes before the first and after the last whole hour as minute sets.
 */
export function distinctUserKeys(
  env: string,
  name: string,
  version: string,
  fromMinute: number,
  toMinute: number,
): string[] {
  const keys: string[] = [];
  let m = fromMinute;
  while (m < toMinute) {
    if (m % 60 === 0 && m + 60 <= toMinute) {
      keys.push(usersKey(env, name, version, "h", m / 60));
      m += 60;
    } else {
      keys.push(usersKey(env, name, version, "m", m));
      m += 1;
    }
  }
  return keys;
}

/**
 * Distinct users per version over the window (its minutes read whole, as readVersionStats does). A
 * sub-window, such as the current step of a ramp (weight-shares.ts), is read the same way.
 */
export async function readDistinctUsers(
  store: Store,
  window: StatsWindow,
  versions: readonly string[],
): Promise<DistinctUsers[]> {
  if (!(window.to > window.from)) throw new RangeError("the window must end after it starts");
  const fromMinute = Math.floor(window.from / MINUTE_MS);
  const toMinute = Math.ceil(window.to / MINUTE_MS);
  return Promise.all(
    versions.map(async (version) => ({
      version,
      users: await store.countDistinct(distinctUserKeys(window.env, window.name, version, fromMinute, toMinute)),
      relativeError: store.distinctError,
    })),
  );
}
