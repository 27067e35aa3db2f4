// CLI output: aligned tables for people, JSON for scripts.

export interface Output {
  readonly json: boolean;
  readonly write: (text: string) => void;
}

type Cell = string | number | boolean | null | undefined;

/** Renders rows as a left-aligned table under upper-case headers. */
export function table(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (c: Cell): string => (c === null || c === undefined ? "-" : String(c));
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((r) => r.map(text))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return (
    cells
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** Prints `value` as JSON when asked, else the human text. */
export function emit(out: Output, value: unknown, human: () => string): void {
  out.write(out.json ? JSON.stringify(value, null, 2) + "\n" : human());
}

/** A multi-line message (a prompt file with several problems) as one line, for stderr or a table cell. */
export function oneLine(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join("; ");
}
