// The byte scan that bounds a JSON text's depth, object members and containers before it is parsed: exact at the
// limits, blind to brackets and colons inside strings (escapes included), in agreement with what
// JSON.parse builds for any JSON value, and the same however the text is cut into chunks.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { boundedJson, exceededLimit, JsonShapeScanner, type JsonLimits } from "../../../gateway/http/json-limits.ts";

const scan = (text: string, limits: Partial<JsonLimits> = {}): ReturnType<typeof exceededLimit> =>
  exceededLimit(Buffer.from(text), { depth: 128, members: 100_000, containers: 100_000, ...limits });

/** How deep a parsed value nests, how many members its objects hold and how many arrays and objects it has. */
function shapeOf(value: unknown): JsonLimits {
  if (typeof value !== "object" || value === null) return { depth: 0, members: 0, containers: 0 };
  const children = Array.isArray(value) ? value : Object.values(value);
  let depth = 0;
  let members = Array.isArray(value) ? 0 : children.length;
  let containers = 1;
  for (const child of children as unknown[]) {
    const inner = shapeOf(child);
    depth = Math.max(depth, inner.depth);
    members += inner.members;
    containers += inner.containers;
  }
  return { depth: depth + 1, members, containers };
}

describe("exceededLimit", () => {
  it("counts arrays and objects opened inside one another, up to the limit exactly", () => {
    expect(scan("[[[]]]", { depth: 3 })).toBeNull();
    expect(scan("[[[[]]]]", { depth: 3 })).toBe("depth");
    expect(scan('{"a":{"b":[1]}}', { depth: 3 })).toBeNull();
    expect(scan('{"a":{"b":[{}]}}', { depth: 3 })).toBe("depth");
    // Siblings are not nesting.
    expect(scan("[[],[],[],[],[]]", { depth: 2 })).toBeNull();
    expect(scan("[" + "[]".repeat(1000) + "]", { depth: 2 })).toBeNull();
  });

  it("counts the members of all objects together", () => {
    expect(scan('{"a":1,"b":{"c":2}}', { members: 3 })).toBeNull();
    expect(scan('{"a":1,"b":{"c":2,"d":3}}', { members: 3 })).toBe("members");
    expect(scan('[{"a":1},{"a":1},{"a":1}]', { members: 2 })).toBe("members");
    expect(scan("[1,2,3,4,5,6,7,8]", { members: 2 })).toBeNull();
  });

  it("counts every array and object, nested or side by side", () => {
    expect(scan("[[],{},[[]]]", { containers: 5 })).toBeNull();
    expect(scan("[[],{},[[]],{}]", { containers: 5 })).toBe("containers");
    expect(scan('{"a":[1,2,3],"b":"[{}]"}', { containers: 2 })).toBeNull();
    expect(scan("[" + Array.from({ length: 1000 }, () => "[]").join(",") + "]", { containers: 1000 })).toBe(
      "containers",
    );
  });

  it("does not count brackets or colons inside strings, escaped quotes included", () => {
    expect(scan('["[[[[{{{{:::"]', { depth: 1, members: 0, containers: 10 })).toBeNull();
    expect(scan('["a\\"[[[[", "\\\\"]', { depth: 1 })).toBeNull();
    // `\\"` is an escaped backslash and then the closing quote: the brackets after it count.
    expect(scan('["\\\\", [[]]]', { depth: 2 })).toBe("depth");
    // A string longer than the inline stretch is searched natively, escapes and all.
    const long = "x".repeat(200);
    expect(scan(`["${long}\\"[[[[${long}\\\\\\"${long}"]`, { depth: 1 })).toBeNull();
    expect(scan(`["${long}\\\\", [[]]]`, { depth: 2 })).toBe("depth");
    expect(scan(`{"${long}:${long}": 1}`, { members: 1 })).toBeNull();
  });

  it("leaves malformed text to the parser", () => {
    expect(scan('["unterminated [[[[[[', { depth: 1 })).toBeNull();
    expect(scan("]]]]][[", { depth: 2 })).toBeNull();
    expect(scan("", { depth: 1 })).toBeNull();
  });

  it("refuses 10 MB of nested arrays at the limit, without reading the rest", () => {
    const n = 5 * 1024 * 1024;
    const text = Buffer.from("[".repeat(n) + "]".repeat(n));
    expect(exceededLimit(text, { depth: 128, members: 1, containers: n })).toBe("depth");
  });

  it("agrees with what JSON.parse builds, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, pretty) => {
        const text = Buffer.from(JSON.stringify(value, null, pretty ? 2 : undefined));
        const shape = shapeOf(value);
        const { depth, members, containers } = shape;
        expect(exceededLimit(text, shape)).toBeNull();
        if (depth > 0) expect(exceededLimit(text, { ...shape, depth: depth - 1 })).toBe("depth");
        if (members > 0) expect(exceededLimit(text, { ...shape, members: members - 1 })).toBe("members");
        // The last container opened is the one past the limit, after its depth was checked.
        if (containers > 0) expect(exceededLimit(text, { ...shape, containers: containers - 1 })).toBe("containers");
      }),
      { numRuns: 500 },
    );
  });

  it("gives the same answer however the text is cut into chunks", () => {
    const text = fc
      .tuple(fc.jsonValue({ maxDepth: 5 }), fc.constantFrom("\\", '\\"', "[{", ":"))
      .map(([value, tricky]) => JSON.stringify([value, `${tricky}x`.repeat(40), value]));
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 12 }), fc.nat({ max: 8 }), (json, cuts, slack) => {
        const bytes = Buffer.from(json);
        const shape = shapeOf(JSON.parse(json));
        const { depth, members, containers } = shape;
        for (const limits of [
          shape,
          { ...shape, depth: Math.max(0, depth - 1 - (slack % 2)) },
          { ...shape, members: Math.max(0, members - slack) },
          { ...shape, containers: Math.max(0, containers - slack) },
        ]) {
          const scanner = new JsonShapeScanner(limits);
          let at = 0;
          for (const cut of cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b)) {
            scanner.feed(bytes.subarray(at, Math.max(at, cut)));
            at = Math.max(at, cut);
          }
          // Once past a limit the scanner stays past it, so the last answer is the whole text's.
          expect(scanner.feed(bytes.subarray(at))).toBe(exceededLimit(bytes, limits));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("carries a string, and an escape, from one chunk into the next", () => {
    const scanner = new JsonShapeScanner({ depth: 1, members: 0, containers: 10 });
    for (const chunk of ['["a[[[', "\\", '"[[[[', '{{{:::", "\\', '\\"', "]"]) {
      expect(scanner.feed(Buffer.from(chunk))).toBeNull();
    }
    expect(scanner.feed(Buffer.from("[[["))).toBe("depth");
    expect(scanner.feed(Buffer.from("]"))).toBe("depth");
  });
});

describe("boundedJson", () => {
  const refusal = (text: string, limits: JsonLimits, param?: string): GatewayError => {
    try {
      boundedJson(Buffer.from(text), limits, "The request body", {
        depth: "limits.json_depth",
        members: "limits.json_members",
        containers: "limits.json_containers",
        ...(param === undefined ? {} : { param }),
      });
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error("expected a refusal");
  };

  it("is a 400 that names the limit and the setting holding it", () => {
    const deep = refusal("[[[]]]", { depth: 2, members: 10, containers: 10 });
    expect(deep).toMatchObject({ status: 400, code: "invalid_request", param: null });
    expect(deep.message).toBe(
      "The request body nests arrays and objects more than 2 levels deep (the limit is limits.json_depth)",
    );
    const wide = refusal('{"a":1,"b":2}', { depth: 2, members: 1, containers: 10 }, "X-Prompt-Vars");
    expect(wide).toMatchObject({ status: 400, param: "X-Prompt-Vars" });
    expect(wide.message).toBe(
      'The request body has more than 1 object members ("name": value pairs) (the limit is limits.json_members)',
    );
    const many = refusal("[[],[]]", { depth: 2, members: 1, containers: 2 });
    expect(many.message).toBe(
      "The request body holds more than 2 arrays and objects (the limit is limits.json_containers)",
    );
  });

  it("hands back a text within the limits as it is", () => {
    const text = Buffer.from('{"a":[1]}');
    expect(boundedJson(text, { depth: 2, members: 1, containers: 10 }, "x")).toBe(text);
  });
});
