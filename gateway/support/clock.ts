// The real clock; tests pass their own.
import { setTimeout as delay } from "node:timers/promises";
import type { Clock } from "../deps.ts";

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal ? { signal } : {});
  },
};
