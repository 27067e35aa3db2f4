// Registration-time template checks: syntax errors with their position, JavaScript internals in any
// static spelling, file-loading tags and regex literals are refused; ordinary templates pass.
import { describe, expect, it } from "vitest";
import { PromptFileError } from "./prompt-file-error.ts";
import { checkTemplate, isForbiddenName } from "./template-guard.ts";

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
