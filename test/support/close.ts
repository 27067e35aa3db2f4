// Relative closeness for numbers checked against recorded reference values (test/reference/*.py).
import { expect } from "vitest";

/** |actual - expected| <= rel * |expected| (or <= abs when expected is 0). */
export function expectClose(actual: number, expected: number, rel = 1e-9, abs = 1e-300): void {
  const tolerance = Math.max(rel * Math.abs(expected), abs);
  expect(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${rel} (relative) of ${expected}`).toBe(
    true,
  );
}
