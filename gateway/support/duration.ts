// Durations as people write them on a command line or in a JSON body (`90s`, `30m`, `2h`, `1d`), in ms, and back.

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;

/** `90s`, `30m`, `2h`, `1d`, `500ms` -> ms; null for anything else (no unit, a fraction, a negative, too large). */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (match === null) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as Unit];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** ms as the largest unit that divides it exactly: 5400000 -> `90m`, 7200000 -> `2h`, 1500 -> `1500ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
