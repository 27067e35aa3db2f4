// Request variables against a version's declarations: every refusal is a 400 naming the variable,
// defaults are applied as private copies, and forbidden keys are refused at any depth.
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { designExample } from "../../support/prompt-fixtures.ts";
import type { VariableSpec } from "../../../gateway/prompts/types.ts";
import {
  DEFAULT_MAX_ARRAY_ITEMS,
  DEFAULT_MAX_STRING_LENGTH,
  describeMismatch,
  MAX_VARIABLE_DEPTH,
  MAX_VARIABLE_VALUES,
  resolveVariables,
} from "../../../gateway/prompts/variables.ts";

const spec = designExample().variables;

function refusal(given: unknown, variables: Record<string, VariableSpec> = spec): GatewayError {
  try {
    resolveVariables(variables, given);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(given)} to be refused`);
}

const v = (s: Partial<VariableSpec> & Pick<VariableSpec, "type">): Record<string, VariableSpec> => ({
  x: { required: false, ...s },
});

describe("resolveVariables", () => {
  it("applies defaults and returns only the declared variables, in declaration order", () => {
    const vars = resolveVariables(spec, { focus_points: ["a"], text: "hello" });
    expect(Object.keys(vars)).toEqual(["text", "target_sentences", "focus_points"]);
    expect(resolveVariables(spec, { text: "hello" })).toEqual({ text: "hello", target_sentences: 2, focus_points: [] });
    expect({ ...resolveVariables(spec, { text: "t", target_sentences: 3, focus_points: ["a"] }) }).toEqual({
      text: "t",
      target_sentences: 3,
      focus_points: ["a"],
    });
  });

  it("gives every request its own copy of a default", () => {
    const variables = v({ type: "array", default: Object.freeze([Object.freeze({ a: 1 })]) });
    const first = resolveVariables(variables, {});
    (first.x as unknown[]).push("mutated");
    (first.x as Record<string, unknown>[])[0]!.a = 2;
    const second = resolveVariables(variables, {});
    expect(second.x).toEqual([{ a: 1 }]);
    expect(second.x).not.toBe(first.x);
  });

  it("treats undefined as no variables and null values as left out", () => {
    expect(refusal(undefined).message).toContain('missing required variable "text"');
    expect({ ...resolveVariables(spec, { text: "t", target_sentences: null }) }).toMatchObject({ target_sentences: 2 });
    expect(refusal({ text: null }).param).toBe("prompt_variables.text");
    expect(Object.keys(resolveVariables(v({ type: "string" }), {}))).toEqual([]);
  });

  it.each([[null], [[]], ["text"], [3], [new Map()], [Object.create({ text: "inherited" })]])(
    "refuses %j as the variables object",
    (given) => {
      const err = refusal(given);
      expect(err).toMatchObject({ code: "invalid_request", status: 400, param: "prompt_variables" });
      expect(err.message).toContain("must be a JSON object");
    },
  );

  it("names an unknown variable and lists the declared ones", () => {
    const err = refusal({ text: "t", tone: "formal" });
    expect(err).toMatchObject({ code: "invalid_request", status: 400, param: "prompt_variables.tone" });
    expect(err.message).toBe(
      'prompt_variables.tone: unknown variable "tone" (declared: text, target_sentences, focus_points)',
    );
  });

  it("names a missing required variable and its type", () => {
    const err = refusal({ target_sentences: 1 });
    expect(err).toMatchObject({ status: 400, param: "prompt_variables.text" });
    expect(err.message).toBe('prompt_variables.text: missing required variable "text" (string)');
  });

  it.each([
    [{ text: 5 }, "text", "expected string, got integer 5"],
    [{ text: "t", target_sentences: 2.5 }, "target_sentences", "expected integer, got number 2.5"],
    [{ text: "t", target_sentences: "2" }, "target_sentences", "expected integer, got string"],
    [{ text: "t", focus_points: "a" }, "focus_points", "expected array, got string"],
    [{ text: "t", focus_points: ["a", 1] }, "focus_points", "item 1: expected string, got integer 1"],
    [{ text: ["t"] }, "text", "expected string, got array"],
  ])("names a mistyped variable and the expected type: %j", (given, name, reason) => {
    const err = refusal(given);
    expect(err).toMatchObject({ code: "invalid_request", status: 400, param: `prompt_variables.${name}` });
    expect(err.message).toBe(`prompt_variables.${name}: ${reason}`);
  });

  it.each([
    [v({ type: "integer" }), 2, null],
    [v({ type: "integer" }), 2.0, null],
    [v({ type: "integer" }), 2.1, "expected integer, got number 2.1"],
    [v({ type: "number" }), 2.1, null],
    [v({ type: "number" }), "2.1", "expected number, got string"],
    [v({ type: "boolean" }), true, null],
    [v({ type: "boolean" }), "true", "expected boolean, got string"],
    [v({ type: "object" }), { a: { b: [1] } }, null],
    [v({ type: "object" }), [1], "expected object, got array"],
    [v({ type: "array" }), [1, "a", { b: null }], null],
    [v({ type: "string", min_length: 2, max_length: 3 }), "ab", null],
    [v({ type: "string", min_length: 2 }), "a", "expected at least 2 characters, got 1"],
    [v({ type: "string", max_length: 3 }), "abcd", "expected at most 3 characters, got 4"],
    [v({ type: "array", max_length: 1 }), [1, 2], "expected at most 1 items, got 2"],
    [v({ type: "array", min_length: 1 }), [], "expected at least 1 items, got 0"],
    [v({ type: "integer", minimum: 1, maximum: 5 }), 5, null],
    [v({ type: "integer", minimum: 1 }), 0, "expected integer >= 1, got 0"],
    [v({ type: "number", maximum: 1 }), 1.5, "expected number <= 1, got 1.5"],
    [v({ type: "string", enum: ["formal", "casual"] }), "casual", null],
    [v({ type: "string", enum: ["formal", "casual"] }), "rude", "expected one of formal|casual"],
    [v({ type: "array", items: "string", enum: ["a", "b"] }), ["a", "c"], "item 1: expected one of a|b"],
    [v({ type: "array", items: "integer", maximum: 3 }), [1, 4], "item 1: expected integer <= 3, got 4"],
    [v({ type: "array", items: "integer" }), [1, 1.5], "item 1: expected integer, got number 1.5"],
  ])("checks %j against %j", (variables, value, reason) => {
    expect(describeMismatch(variables.x!, value)).toBe(reason);
    if (reason === null) expect(resolveVariables(variables, { x: value }).x).toBe(value);
    else expect(refusal({ x: value }, variables).message).toBe(`prompt_variables.x: ${reason}`);
  });

  it.each([
    ['{"__proto__": {"polluted": true}}', "prompt_variables.__proto__", 'the key "__proto__" is not allowed'],
    ['{"constructor": 1}', "prompt_variables.constructor", 'the key "constructor" is not allowed'],
    [
      '{"x": {"a": {"__proto__": {"p": 1}}}}',
      "prompt_variables.x",
      'prompt_variables.x.a.__proto__: the key "__proto__" is not allowed',
    ],
    ['{"x": {"a": [1, {"prototype": 2}]}}', "prompt_variables.x", "prompt_variables.x.a[1].prototype: the key"],
    ['{"x": [[{"constructor": {}}]]}', "prompt_variables.x", "prompt_variables.x[0][0].constructor: the key"],
  ])("refuses forbidden keys at any depth: %s", (json, param, message) => {
    const variables = v({ type: json.includes('"x": [') ? "array" : "object" });
    const err = refusal(JSON.parse(json), variables);
    expect(err).toMatchObject({ code: "invalid_request", param });
    expect(err.message).toContain(message);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses forbidden own keys on arrays too", () => {
    const arr = Object.assign([1], { constructor: "x" });
    expect(refusal({ x: arr }, v({ type: "array" })).message).toContain("prompt_variables.x.constructor: the key");
  });

  it("refuses data nested deeper than the limit instead of overflowing the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_VARIABLE_DEPTH + 5; i++) deep = { a: deep };
    expect(refusal({ x: deep }, v({ type: "object" })).message).toContain(
      `nested deeper than ${MAX_VARIABLE_DEPTH} levels`,
    );
    let ok: unknown = 1;
    for (let i = 0; i < MAX_VARIABLE_DEPTH - 1; i++) ok = [ok];
    expect(resolveVariables(v({ type: "array" }), { x: ok }).x).toBe(ok);
  });

  it("caps a string or array that declares no max_length, and names the variable", () => {
    const text = refusal({ x: "a".repeat(DEFAULT_MAX_STRING_LENGTH + 1) }, v({ type: "string" }));
    expect(text).toMatchObject({ code: "invalid_request", status: 400, param: "prompt_variables.x" });
    expect(text.message).toBe(
      `prompt_variables.x: expected at most ${DEFAULT_MAX_STRING_LENGTH} characters (the cap for a variable that declares no max_length), got ${DEFAULT_MAX_STRING_LENGTH + 1}`,
    );
    const items = refusal({ x: Array.from({ length: 100_000 }, () => "a") }, v({ type: "array", items: "string" }));
    expect(items).toMatchObject({ status: 400, param: "prompt_variables.x" });
    expect(items.message).toContain(`expected at most ${DEFAULT_MAX_ARRAY_ITEMS} items (the cap for a variable`);
    const atCap = Array.from({ length: DEFAULT_MAX_ARRAY_ITEMS }, () => 1);
    expect(resolveVariables(v({ type: "array" }), { x: atCap }).x).toBe(atCap);
  });

  it("lets a declared max_length go past the default cap", () => {
    const many = Array.from({ length: 20_000 }, () => "a");
    expect(resolveVariables(v({ type: "array", items: "string", max_length: 20_000 }), { x: many }).x).toBe(many);
    const long = "a".repeat(DEFAULT_MAX_STRING_LENGTH + 1);
    expect(resolveVariables(v({ type: "string", max_length: 2_000_000 }), { x: long }).x).toBe(long);
  });

  it("caps the values an array or object holds at any depth", () => {
    const wide = Object.fromEntries(Array.from({ length: MAX_VARIABLE_VALUES + 1 }, (_, i) => [`k${i}`, i]));
    const err = refusal({ x: wide }, v({ type: "object" }));
    expect(err).toMatchObject({ status: 400, param: "prompt_variables.x" });
    expect(err.message).toBe(
      `prompt_variables.x: holds more than ${MAX_VARIABLE_VALUES} values (array items and object members, at any depth)`,
    );
    // 100 items of 100 members each: small at the top, too large in all.
    const nested = Array.from({ length: 100 }, () =>
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])),
    );
    expect(refusal({ x: nested }, v({ type: "array" })).message).toContain(
      `holds more than ${MAX_VARIABLE_VALUES} values`,
    );
    const fits = nested.slice(0, 90);
    expect(resolveVariables(v({ type: "array" }), { x: fits }).x).toBe(fits);
  });

  it("applies the caps to defaults as to request values", () => {
    expect(
      describeMismatch(
        { type: "array", required: false },
        Array.from({ length: 1_001 }, () => 1),
      ),
    ).toContain("the cap for a variable that declares no max_length");
  });
});
