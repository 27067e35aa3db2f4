// Plain templates render without nunjucks' runtime, and must render exactly as nunjucks would: the
// property below compares both on random templates and variables, errors included.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nunjucks, transformer } from "../../../gateway/prompts/nunjucks-internals.ts";
import { plainPlan, renderPlain } from "../../../gateway/prompts/plain-template.ts";
import { DEFAULT_RENDER_LIMITS, RenderGuard } from "../../../gateway/prompts/render-guard.ts";

const planOf = (source: string) => plainPlan(transformer.transform(nunjucks.parser.parse(source), []));

// Reference: stock nunjucks with the gateway's options, no plan, no guard.
const reference = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: true, dev: true });
function nunjucksRender(source: string, vars: Record<string, unknown>): { out: string } | { error: string } {
  try {
    return { out: reference.renderString(source, vars) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

describe("plainPlan", () => {
  it("plans text and variable outputs, with literal keys", () => {
    expect(planOf("Hi {{ name }}, see {{ a.b }} and {{ xs[0] }}{{ o['k'].z }}!")).toEqual([
      "Hi ",
      { name: "name", keys: [] },
      ", see ",
      { name: "a", keys: ["b"] },
      " and ",
      { name: "xs", keys: [0] },
      { name: "o", keys: ["k", "z"] },
      "!",
    ]);
    expect(planOf("no variables at all")).toEqual(["no variables at all"]);
    expect(planOf("")).toEqual([]);
  });

  it("applies whitespace control the way the parser does", () => {
    expect(planOf("a \n {{- x -}} \n b")).toEqual(["a", { name: "x", keys: [] }, "b"]);
  });

  it.each([
    ["a tag", "{% if x %}y{% endif %}"],
    ["a loop", "{% for p in ps %}{{ p }}{% endfor %}"],
    ["a filter", "{{ x | upper }}"],
    ["an expression", "{{ x + 1 }}"],
    ["an inline if", '{{ "s" if n != 1 }}'],
    ["a literal output", '{{ "text" }}'],
    ["a computed key", "{{ a[k] }}"],
    ["a call", "{{ range(3) }}"],
    ["a set", "{% set y = 1 %}{{ y }}"],
  ])("leaves %s to nunjucks", (_what, source) => {
    expect(planOf(source)).toBeNull();
  });
});

describe("renderPlain", () => {
  const plan = planOf("{{ text }} / {{ n }} / {{ ok }} / {{ o.k }} / {{ s.length }}")!;

  it("prints strings, numbers and booleans as nunjucks does", () => {
    const vars = { text: "a {{ 7*7 }} b", n: 2.5, ok: false, o: { k: 0 }, s: "abc" };
    expect(renderPlain(plan, vars)).toBe("a {{ 7*7 }} b / 2.5 / false / 0 / 3");
    expect(renderPlain(plan, vars)).toBe(
      reference.renderString("{{ text }} / {{ n }} / {{ ok }} / {{ o.k }} / {{ s.length }}", vars),
    );
  });

  it.each([
    ["a missing variable", { n: 1, ok: true, o: { k: 1 }, s: "" }],
    ["a null variable", { text: null, n: 1, ok: true, o: { k: 1 }, s: "" }],
    ["a missing key", { text: "t", n: 1, ok: true, o: {}, s: "" }],
    ["a lookup through null", { text: "t", n: 1, ok: true, o: null, s: "" }],
    ["an object value", { text: { a: 1 }, n: 1, ok: true, o: { k: 1 }, s: "" }],
    ["an array value", { text: ["a", "b"], n: 1, ok: true, o: { k: 1 }, s: "" }],
  ])("hands %s back to nunjucks (null)", (_what, vars) => {
    expect(renderPlain(plan, vars)).toBeNull();
  });

  it("hands a key that names a method back to nunjucks", () => {
    expect(renderPlain(planOf("{{ s.toUpperCase }}")!, { s: "a" })).toBeNull();
    // nunjucks wraps the method in an anonymous function, whose name is "".
    expect(renderPlain(planOf("{{ s.toUpperCase.name }}")!, { s: "a" })).toBeNull();
    expect(reference.renderString("{{ s.toUpperCase.name }}", { s: "a" })).toBe("");
  });

  it("does not read inherited properties as variables", () => {
    expect(renderPlain(planOf("{{ toString }}")!, Object.create(null) as Record<string, unknown>)).toBeNull();
    expect(renderPlain(planOf("{{ valueOf }}")!, {})).toBeNull();
  });
});

// Random templates of text and variable outputs over a few names, and random values for them.
const NAMES = ["a", "b", "items"] as const;
// No "{" in text (it could open a tag with the next output), no "%" or "#" ("%}" and "#}" close tags).
const text = fc.string({ unit: fc.constantFrom("x", " ", "\n", "é", "😀", "}", "\\", '"', "-", "'") });
const path = fc
  .record({
    name: fc.constantFrom(...NAMES),
    keys: fc.array(fc.oneof(fc.constantFrom("k", "length", "0"), fc.nat(2)), { maxLength: 2 }),
    trimLeft: fc.boolean(),
    trimRight: fc.boolean(),
  })
  .map(
    ({ name, keys, trimLeft, trimRight }) =>
      `{{${trimLeft ? "-" : ""} ${name}${keys.map((k) => (typeof k === "number" ? `[${k}]` : `.${k === "0" ? "k" : k}`)).join("")} ${trimRight ? "-" : ""}}}`,
  );
const template = fc.array(fc.oneof(text, path), { maxLength: 6 }).map((parts) => parts.join(""));
const leaf = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(
  leaf,
  fc.array(leaf, { maxLength: 3 }),
  fc.record({ k: leaf, length: fc.option(leaf, { nil: undefined }) }, { requiredKeys: [] }),
  fc.array(fc.record({ k: leaf }), { maxLength: 2 }),
);
const variables = fc.record({ a: value, b: value, items: value }, { requiredKeys: [] });

describe("plain plans against nunjucks", () => {
  it("render exactly what nunjucks renders, or defer to it", () => {
    fc.assert(
      fc.property(template, variables, (source, vars) => {
        const plan = planOf(source);
        expect(plan).not.toBeNull();
        if (plan === null) return;
        const plain = renderPlain(plan, vars);
        const expected = nunjucksRender(source, vars);
        if (plain !== null) expect({ out: plain }).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("give the guarded template the same output or error as nunjucks, whichever path renders", () => {
    const guard = new RenderGuard(DEFAULT_RENDER_LIMITS);
    fc.assert(
      fc.property(template, variables, (source, vars) => {
        const compiled = guard.compile(source, "t");
        guard.start();
        let got: { out: string } | { error: string };
        try {
          got = { out: compiled.render(vars) };
        } catch (err) {
          got = { error: err instanceof Error ? err.message : String(err) };
        }
        const expected = nunjucksRender(source, vars);
        if ("out" in expected) expect(got).toEqual(expected);
        else expect(got).toHaveProperty("error");
      }),
      { numRuns: 1000 },
    );
  });
});

describe("loop variables, stored without Frame.set", () => {
  const guard = new RenderGuard(DEFAULT_RENDER_LIMITS);
  const render = (source: string, vars: Record<string, unknown>): string => {
    guard.start();
    return guard.compile(source, "t").render(vars);
  };

  it("sets every loop.* field on every iteration", () => {
    const source =
      "{% for p in ps %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}" +
      "/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}={{ p }};{% endfor %}";
    expect(render(source, { ps: ["a", "b", "c"] })).toBe(
      "1/0/3/2/true/false/3=a;2/1/2/1/false/false/3=b;3/2/1/0/false/true/3=c;",
    );
  });

  it.each([
    [
      "nested loops",
      "{% for x in [1, 2] %}{% for y in [3, 4] %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}",
    ],
    ["a loop over an object", "{% for k, v in o %}{{ k }}={{ v }}@{{ loop.index0 }}/{{ loop.last }} {% endfor %}"],
    ["a loop over pairs", "{% for a, b in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{{ loop.revindex }}{% endfor %}"],
    ["an empty loop with else", "{% for p in [] %}x{% else %}none{% endfor %}"],
    // The loop object is one per loop, updated in place: a reference kept from the first iteration sees later ones.
    [
      "a kept loop object",
      "{% for p in ps %}{% if loop.first %}{% set kept = loop %}{% endif %}{{ kept.index }}{% endfor %}",
    ],
    [
      "loop in a macro",
      "{% macro m(xs) %}{% for x in xs %}{{ loop.index }}{{ x }}{% endfor %}{% endmacro %}{{ m(ps) }}",
    ],
    ["a variable named loop outside", "{% set loop = 5 %}{% for p in ps %}{{ loop.index }}{% endfor %}{{ loop }}"],
    ["a loop over a string", '{% for c in "abc" %}{{ c }}{{ loop.length }}{% endfor %}'],
  ])("renders %s as stock nunjucks does", (_what, source) => {
    const vars = { ps: ["a", "b"], o: { x: 1, y: 2 } };
    expect(render(source, vars)).toBe(reference.renderString(source, vars));
  });
});
