// The keys the registry refresh currently skips, logged when that changes rather than on every poll:
// a bad key found at 250 ms intervals is one warning when it appears and one line when it is fixed.
import type { Logger } from "../support/logger.ts";
import type { InvalidKey, KeyFamily } from "./refresh-reads.ts";

export interface InvalidKeyReport {
  /**
   * What one refresh found in the families it read: replaces the earlier findings of those families
   * (a weights-only poll leaves what the last full load found in versions and labels alone).
   */
  update(families: readonly KeyFamily[], found: readonly InvalidKey[]): void;
  /** Every key skipped now, one entry per key. */
  current(): readonly InvalidKey[];
}

export interface InvalidKeyReportOptions {
  readonly logger: Logger;
  /** Called once per weights hash refused (when it becomes unreadable, or unreadable in another way). */
  readonly onWeightsRefused?: () => void;
}

export function createInvalidKeyReport(opts: InvalidKeyReportOptions): InvalidKeyReport {
  const { logger } = opts;
  let byKey = new Map<string, InvalidKey>();

  const warn = (entry: InvalidKey): void => {
    const { key, family, reason, detail, kept } = entry;
    if (family === "weights") {
      // The message of a refused canary hash (split/label-splits.ts), so one alert covers both.
      const [, env, prompt] = key.split(":");
      logger.warn("canary weights ignored; the last good split stays", {
        prompt,
        env,
        key,
        reason,
        problems: [detail],
        kept,
      });
      opts.onWeightsRefused?.();
      return;
    }
    logger.warn(
      kept ? "registry key skipped; its last good value stays" : "registry key skipped; nothing is served from it",
      { key, family, reason, detail },
    );
  };

  return {
    update(families, found) {
      const next = new Map<string, InvalidKey>();
      for (const [key, entry] of byKey) if (!families.includes(entry.family)) next.set(key, entry);
      for (const entry of found) if (families.includes(entry.family)) next.set(entry.key, entry);
      for (const [key, entry] of next) {
        const before = byKey.get(key);
        if (!before || before.reason !== entry.reason || before.detail !== entry.detail) warn(entry);
      }
      for (const [key, entry] of byKey) {
        if (!next.has(key)) logger.info("registry key no longer skipped", { key, family: entry.family });
      }
      byKey = next;
    },
    current: () => [...byKey.values()],
  };
}
