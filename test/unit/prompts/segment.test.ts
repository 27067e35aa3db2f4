// A prompt's segment dimension: validated at registration with errors naming the field, and computed
// per request from the resolved variables or the X-Prompt-Segment header.
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { parsePromptFile, PromptFileError } from "../../../gateway/prompts/prompt-file.ts";
import { segmentOf, segmentValues } from "../../../gateway/prompts/segment.ts";
import type { SegmentSpec } from "../../../gateway/prompts/types.ts";
import { DESIGN_EXAMPLE, designExample } from "../../support/prompt-fixtures.ts";

const FILE = "config/prompts/s/1.0.0.yaml";
const withSegment = (
  segment: string,
  variables = "text: { type: string }\n  tier: { type: string, enum: [free, pro] }",
): string => `
name: s
version: 1.0.0
variables:
  ${variables}
  n: { type: integer, default: 1 }
segment: ${segment}
messages:
  - { role: user, content: "{{ text }} {{ tier }} {{ n }}" }
`;
const parse = (segment: string): SegmentSpec | undefined => parsePromptFile(withSegment(segment), FILE).segment;
const refused = (segment: string): string => {
  try {
    parse(segment);
  } catch (err) {
    expect(err).toBeInstanceOf(PromptFileError);
    return (err as Error).message;
  }
  throw new Error("accepted");
};

describe("segment declarations", () => {
  it("accepts an enum variable, length bands and a header value set", () => {
    expect(parse("{ variable: tier }")).toEqual({ kind: "enum", variable: "tier", values: ["free", "pro"] });
    expect(parse("{ variable: text, bands: [200, 1000] }")).toEqual({
      kind: "bands",
      variable: "text",
      bands: [200, 1000],
    });
    expect(parse("{ header: [free, pro, enterprise] }")).toEqual({
      kind: "header",
      values: ["free", "pro", "enterprise"],
    });
  });

  it("leaves versions without a segment, and their content hash, as they were", () => {
    const v = designExample();
    expect("segment" in v).toBe(false);
    expect(v.hash).toBe(parsePromptFile(DESIGN_EXAMPLE, FILE).hash);
    const a = parsePromptFile(withSegment("{ variable: tier }"), FILE);
    const b = parsePromptFile(withSegment("{ header: [free, pro] }"), FILE);
    expect(a.hash).not.toBe(b.hash);
  });

  it("refuses what cannot be bounded, naming the field and the fix", () => {
    expect(refused("{ variable: nope }")).toMatch(
      /segment\.variable: must name a declared variable \(declared: text, tier, n\)/,
    );
    expect(refused("{ variable: n }")).toMatch(/segment\.variable: "n" must be a string variable/);
    expect(refused("{ variable: text }")).toMatch(/"text" has no enum: declare its values .* or segment by its length/);
    expect(refused("{ variable: text, bands: [1000, 200] }")).toMatch(/segment\.bands: expected 1 to 19 increasing/);
    expect(refused("{ variable: text, bands: [] }")).toMatch(/segment\.bands/);
    expect(refused("{ variable: text, bands: [0.5] }")).toMatch(/segment\.bands/);
    expect(refused("{ header: [] }")).toMatch(/segment\.header: expected a list of 1 to 20 segment values/);
    expect(refused("{ header: [a, a] }")).toMatch(/segment\.header: lists a value twice/);
    expect(refused('{ header: ["has:colon"] }')).toMatch(/segment values are 1-32 letters/);
    expect(refused(`{ header: [${Array.from({ length: 21 }, (_, i) => `v${i}`).join(", ")}] }`)).toMatch(/1 to 20/);
    expect(refused("{ header: [a], variable: tier }")).toMatch(/segment: expected \{ variable: name \}/);
    expect(refused("free")).toMatch(/segment: expected/);
    expect(() =>
      parsePromptFile(
        withSegment("{ variable: tier }", 'text: { type: string }\n  tier: { type: string, enum: ["a b"] }'),
        FILE,
      ),
    ).toThrow(/variables\.tier\.enum: segment values are/);
  });
});

describe("a request's segment", () => {
  const bands: SegmentSpec = { kind: "bands", variable: "text", bands: [200, 1000] };
  it("names length bands", () => {
    expect(segmentValues(bands)).toEqual(["<200", "200-999", ">=1000"]);
    expect(segmentValues({ kind: "bands", variable: "t", bands: [10] })).toEqual(["<10", ">=10"]);
    const of = (n: number): string | null => segmentOf(bands, { text: "x".repeat(n) }, undefined);
    expect([of(0), of(199), of(200), of(999), of(1000), of(5000)]).toEqual([
      "<200",
      "<200",
      "200-999",
      "200-999",
      ">=1000",
      ">=1000",
    ]);
    expect(segmentOf(bands, {}, undefined)).toBeNull();
  });

  it("takes an enum variable's value, and none without a declaration", () => {
    const spec: SegmentSpec = { kind: "enum", variable: "tier", values: ["free", "pro"] };
    expect(segmentOf(spec, { tier: "pro" }, "ignored")).toBe("pro");
    expect(segmentOf(spec, {}, undefined)).toBeNull();
    expect(segmentOf(undefined, { tier: "pro" }, "pro")).toBeNull();
  });

  it("takes the header's value, and refuses one outside the set with a 400 listing the allowed ones", () => {
    const spec: SegmentSpec = { kind: "header", values: ["free", "pro"] };
    expect(segmentOf(spec, {}, " pro ")).toBe("pro");
    expect(segmentOf(spec, {}, undefined)).toBeNull();
    expect(segmentOf(spec, {}, "")).toBeNull();
    let error: unknown;
    try {
      segmentOf(spec, {}, "gold");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).status).toBe(400);
    expect((error as GatewayError).message).toBe(
      'X-Prompt-Segment must be one of free, pro for this prompt, got "gold"',
    );
  });
});
