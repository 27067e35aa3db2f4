import { describe, expect, it } from "vitest";
import { emit, table } from "../../../gateway/cli/output.ts";

describe("cli output", () => {
  it("aligns columns and shows missing cells as -", () => {
    expect(
      table(
        ["name", "prod"],
        [
          ["summarization", "1.1.0"],
          ["x", null],
        ],
      ),
    ).toBe("NAME           PROD\nsummarization  1.1.0\nx              -\n");
  });
  it("prints JSON for scripts", () => {
    let got = "";
    emit({ json: true, write: (s) => (got += s) }, { a: 1 }, () => "human");
    expect(JSON.parse(got)).toEqual({ a: 1 });
    emit({ json: false, write: (s) => (got = s) }, { a: 1 }, () => "human");
    expect(got).toBe("human");
  });
});
