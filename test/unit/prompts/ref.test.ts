import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { parsePromptRef } from "../../../gateway/prompts/ref.ts";

describe("parsePromptRef", () => {
  it("reads the three forms", () => {
    expect(parsePromptRef("summarization", "prod")).toEqual({ name: "summarization", kind: "label", label: "prod" });
    expect(parsePromptRef(" summarization@staging ", "prod")).toEqual({
      name: "summarization",
      kind: "label",
      label: "staging",
    });
    expect(parsePromptRef("summarization@1.2.0", "prod")).toEqual({
      name: "summarization",
      kind: "version",
      version: "1.2.0",
    });
  });
  it("refuses malformed refs with a 400", () => {
    for (const bad of ["", "Summ Arization", "x@", "x@1.2", "@prod", "x@../etc"]) {
      expect(() => parsePromptRef(bad, "prod"), bad).toThrow(GatewayError);
    }
  });
});
