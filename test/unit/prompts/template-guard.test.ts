// Registration-time template checks: syntax errors with their position, JavaScript internals in any
// static spelling, file-loading tags and regex literals are refused; ordinary templates pass; names a
// template reads must be declared or bound by the template itself.
import { describe, expect, it } from "vitest";
import type { EnvironmentTables } from "../../../gateway/prompts/nunjucks-internals.ts";
import { PromptFileError } from "../../../gateway/prompts/prompt-file-error.ts";
import { DEFAULT_RENDER_LIMITS, RenderGuard } from "../../../gateway/prompts/render-guard.ts";
import {
  checkTemplate,
  findUndeclared,
  isForbiddenName,
  TEMPLATE_GLOBALS,
} from "../../../gateway/prompts/template-guard.ts";

const WHERE = "f.yaml: messages[0].content";

function refusal(source: string): string {
  try {
    checkTemplate(source, WHERE);
  } catch (err) {
    expect(err).toBeInstanceOf(PromptFileError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be refused`);
}

describe("checkTemplate", () => {
  it.each([
    "Hello {{ name }}",
    'Summarize in {{ n }} sentence{{ "s" if n != 1 }}.\n{% for p in points %}- {{ p }}\n{% endfor %}',
    "{% macro item(x) %}* {{ x | upper }}{% endmacro %}{% for x in xs %}{{ item(x) }}{% endfor %}",
    "{% set d = { a: 1 } %}{{ d.a }} {{ d['a'] }} {{ xs[0] }} {{ labels[kind] }}",
    "The prototype of the constructor is __proto__ (plain text is never code).",
    "{# a comment about constructor #}{% raw %}{{ x.constructor }}{% endraw %}",
    "{% raw %}{% raw %}{{ a.__proto__ }}{% endraw %}{% endraw %}{%- verbatim -%}{{ prototype }}{% endverbatim %}",
    "{{ text | replace('a', 'b') | truncate(20) | default('none') }}",
  ])("accepts %j", (source) => {
    expect(() => checkTemplate(source, WHERE)).not.toThrow();
  });

  it.each([
    ["{{ x.constructor }}", '"constructor" is not allowed'],
    ["{{ x.__proto__ }}", '"__proto__" is not allowed'],
    ["{{ x.prototype }}", '"prototype" is not allowed'],
    ["{{ constructor }}", '"constructor" is not allowed'],
    ["{{ range.constructor('return process')() }}", '"constructor" is not allowed'],
    ['{{ x["constructor"] }}', 'the string "constructor" is not allowed'],
    ["{{ x['__proto__'] }}", 'the string "__proto__" is not allowed'],
    ['{{ x[" prototype "] }}', 'the string " prototype " is not allowed'],
    ["{{ x[['constructor']] }}", 'the string "constructor" is not allowed'],
    ["{{ x.__lookupGetter__ }}", '"__lookupGetter__" is not allowed'],
    ["{% set __x = 1 %}", '"__x" is not allowed'],
    ["{{ { constructor: 1 } }}", '"constructor" is not allowed'],
    ["{{ f(constructor=1) }}", '"constructor" is not allowed'],
    ["{% raw %}{{ a }}{% endraw %}{{ x.constructor }}", '"constructor" is not allowed'],
  ])("refuses %j: JavaScript internals", (source, expected) => {
    const message = refusal(source);
    expect(message.startsWith(`${WHERE}: line 1, column `)).toBe(true);
    expect(message).toContain(expected);
  });

  it.each([
    ['{% include "other.njk" %}', "{% include %} is not allowed"],
    ['{% import "macros.njk" as m %}', "{% import %} is not allowed"],
    ['{% from "macros.njk" import item %}', "{% from ... import %} is not allowed"],
    ['{% extends "base.njk" %}', "{% extends %} is not allowed"],
    ["ok\n  {% if a %}{% include x %}{% endif %}", "{% include %} is not allowed"],
    ['{% set s %}{% include "x" %}{% endset %}{{ s }}', "{% include %} is not allowed"],
  ])("refuses %j: no file access", (source, expected) => {
    const message = refusal(source);
    expect(message).toContain(expected);
    expect(message).toMatch(/line \d+, column \d+/);
  });

  it("gives the position of the forbidden construct", () => {
    expect(refusal("line one\nline two {{ a.b.constructor }}")).toContain(`${WHERE}: line 2, column 17:`);
    expect(refusal('a\nb\n   {% extends "x" %}')).toContain(`${WHERE}: line 3, column 7:`);
  });

  it("refuses regex literals, which the render limit cannot interrupt", () => {
    expect(refusal("{{ text | replace(r/(a+)+b/, '') }}")).toContain("regular expression literals");
  });

  it.each([
    ["Hello {{ name", "at the end of the template: template syntax error: expected variable end"],
    ["{% for x in xs %}{{ x }}", "template syntax error"],
    ["a\n {{ x | }}", "line 2, column"],
    ["{% if %}", "line 1, column 7: template syntax error: unexpected token"],
    ["{% nosuchtag %}", "template syntax error"],
    ["{{ a b }}", "line 1, column"],
  ])("refuses the syntax error in %j with its position", (source, expected) => {
    const message = refusal(source);
    expect(message.startsWith(`${WHERE}: `)).toBe(true);
    expect(message).toContain(expected);
  });
});

describe("isForbiddenName", () => {
  it("covers the three keys and every dunder name, nothing else", () => {
    for (const name of ["constructor", "__proto__", "prototype", "__defineGetter__", "__x"])
      expect(isForbiddenName(name)).toBe(true);
    for (const name of ["text", "proto", "_private", "Constructor", "0", "a__b"])
      expect(isForbiddenName(name)).toBe(false);
  });
});

describe("findUndeclared", () => {
  const DECLARED = ["user", "xs", "obj", "n", "text"];
  const names = (source: string): string[] => findUndeclared(source, DECLARED).map((u) => u.name);

  it.each([
    ["a declared variable and a nested path into it", "{{ text }} {{ user.name }} {{ user['id'] }} {{ xs[0] }}"],
    ["a loop variable and loop.*", "{% for x in xs %}{{ x }} {{ loop.index }}/{{ loop.length }}{% endfor %}"],
    ["key/value loop variables", "{% for k, v in obj %}{{ k }}={{ v }}{% endfor %}"],
    ["unpacked loop variables", "{% for a, b in xs %}{{ a }}{{ b }}{% endfor %}"],
    ["nested loops: the outer names inside", "{% for x in xs %}{% for y in x %}{{ x }}{{ y }}{% endfor %}{% endfor %}"],
    [
      "{% set %}, before or after its use",
      "{% set a = 1 %}{{ a }}{% for x in xs %}{% if not loop.first %}{{ b }}{% endif %}{% set b = x %}{% endfor %}",
    ],
    ["{% set %} in an if, read after it", "{% if n %}{% set a = 1 %}{% endif %}{{ a | default(0) }}"],
    ["{% set %} of several names", "{% set a, b = 1 %}{{ a }}{{ b }}"],
    ["a top-level set updated in a loop", "{% set c = 0 %}{% for x in xs %}{% set c = c + 1 %}{% endfor %}{{ c }}"],
    ["a {% set %} block", "{% set s %}Hi {{ user.name }}{% endset %}{{ s | trim }}"],
    [
      "macro arguments, keyword defaults and the macro",
      "{% macro f(a, b=a, c=n) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ f(1, c=2) }}",
    ],
    [
      "caller() inside a macro and a call block's arguments",
      "{% macro m() %}[{{ caller(1) }}]{% endmacro %}{% call(it) m() %}{{ it }}{% endcall %}",
    ],
    [
      "a loop variable inside a call block",
      "{% macro m() %}{{ caller() }}{% endmacro %}{% for x in xs %}{% call m() %}{{ x }}{% endcall %}{% endfor %}",
    ],
    [
      "top-level sets, macros and variables inside a macro",
      "{% set t = 1 %}{% macro g() %}{{ t }}{{ n }}{% endmacro %}{% macro f() %}{{ g() }}{% endmacro %}{{ f() }}",
    ],
    ["globals", "{% for i in range(3) %}{{ cycler('a', 'b').next() }}{{ joiner()() }}{% endfor %}"],
    [
      "filter names, filter blocks and test names",
      "{{ xs | join(', ') | upper }}{% filter trim %} {{ n }} {% endfilter %}{{ n is divisibleby(3) }}{{ user is defined }}",
    ],
    [
      "dict keys and keyword-argument names",
      "{% macro f(a=1) %}{{ a }}{% endmacro %}{{ { key: n, 'b': 2 } | dump }}{{ f(a=n) }}",
    ],
    [
      "names in every expression form",
      "{{ 'a' if n else text }} {{ [n, text] }} {{ (n + 1) * -n }} {{ n in xs }} {{ not n }}{% switch n %}{% case 1 %}{{ text }}{% endswitch %}",
    ],
  ])("accepts %s", (_, source) => {
    expect(findUndeclared(source, DECLARED)).toEqual([]);
    // and nunjucks agrees: with every declared variable given, nothing it reads is undefined.
    const vars = {
      user: { name: "U", id: 1 },
      xs: [
        [1, 2],
        ["a", "b"],
      ],
      obj: { k: "v" },
      n: 3,
      text: "t",
    };
    expect(() => new RenderGuard(DEFAULT_RENDER_LIMITS).compile(source, "t").render(vars)).not.toThrow();
  });

  it.each([
    ["an undeclared output", "{{ usr }}", ["usr"]],
    ["the root of a nested path", "{{ usr.name }} {{ order['id'] }} {{ rows[0] }}", ["usr", "order", "rows"]],
    ["a use under | default", "{{ tone | default('plain') }}", ["tone"]],
    [
      "a use under `is defined` or an if",
      "{% if tone is defined %}{% endif %}{% if style %}{% endif %}",
      ["tone", "style"],
    ],
    ["a filter or test argument", "{{ text | replace('a', sep) }}{{ n is divisibleby(k) }}", ["sep", "k"]],
    ["a function call", "{{ helper(text) }}", ["helper"]],
    ["a loop's sequence", "{% for x in items %}{% endfor %}{% for y in y %}{% endfor %}", ["items", "y"]],
    [
      "a loop variable after its loop, or in its else",
      "{% for x in xs %}{% endfor %}{{ x }}{% for y in xs %}{% else %}{{ y }}{% endfor %}",
      ["x", "y"],
    ],
    ["loop.* outside a loop", "{{ loop.index }}", ["loop"]],
    ["a set inside a loop, read after it", "{% for x in xs %}{% set last = x %}{% endfor %}{{ last }}", ["last"]],
    [
      "a loop variable inside a macro defined in the loop",
      "{% for x in xs %}{% macro m() %}{{ x }}{% endmacro %}{{ m() }}{% endfor %}",
      ["x"],
    ],
    ["another macro's argument", "{% macro f(a) %}{{ a }}{% endmacro %}{% macro g() %}{{ a }}{% endmacro %}", ["a"]],
    [
      "a macro defined in a loop, called after it",
      "{% for x in xs %}{% macro m() %}{% endmacro %}{% endfor %}{{ m() }}",
      ["m"],
    ],
    ["a set inside a macro, read outside", "{% macro m() %}{% set q = 1 %}{% endmacro %}{{ m() }}{{ q }}", ["q"]],
    [
      "a keyword default, dict value, keyword value or computed key",
      "{% macro f(a=d1) %}{% endmacro %}{{ { k: d2 } }}{{ f(a=d3) }}{{ xs[d4] }}",
      ["d1", "d2", "d3", "d4"],
    ],
    ["inside a {% set %} block", "{% set s %}{{ usr }}{% endset %}{{ s }}", ["usr"]],
    ["caller() outside a macro, super()", "{{ caller() }}{{ super() }}", ["caller", "super"]],
    [
      "Object.prototype names that nunjucks would find on the context",
      "{{ toString }}{{ hasOwnProperty }}",
      ["toString", "hasOwnProperty"],
    ],
  ])("refuses %s", (_, source, expected) => {
    expect(names(source)).toEqual(expected);
  });

  it("gives each name once, at its first use, in source order, 1-based", () => {
    expect(findUndeclared("{{ b }}\n  {{ a.x }} {{ b }}\n{{ a }}", [])).toEqual([
      { name: "b", line: 1, column: 4 },
      { name: "a", line: 2, column: 6 },
    ]);
  });

  it("knows the same globals as the render environment", () => {
    const { globals } = new RenderGuard(DEFAULT_RENDER_LIMITS).env as unknown as EnvironmentTables;
    expect(new Set(Object.keys(globals))).toEqual(TEMPLATE_GLOBALS);
  });
});
