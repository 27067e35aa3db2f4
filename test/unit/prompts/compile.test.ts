// Compiled prompts: rendering, request data staying data, undefined values, compile-time checks,
// compile-once, computed-key guard and the render budget (time, range, output, filters, recursion).
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import {
  compileAll,
  compileForRegistration,
  compilePrompt,
  uncompilablePrompt,
  type RenderLimits,
} from "../../../gateway/prompts/compile.ts";
import { nunjucks } from "../../../gateway/prompts/nunjucks-internals.ts";
import { PromptFileError } from "../../../gateway/prompts/prompt-file-error.ts";
import { designExample, oneTemplate } from "../../support/prompt-fixtures.ts";
import type { PromptVersion, VariableSpec } from "../../../gateway/prompts/types.ts";
import { resolveVariables } from "../../../gateway/prompts/variables.ts";

const STRING: VariableSpec = { type: "string", required: false };

function render(v: PromptVersion, given: unknown, limits: Partial<RenderLimits> = {}): string {
  return compilePrompt(v, limits).render(resolveVariables(v.variables, given)).messages[0]!.content;
}

function renderError(v: PromptVersion, given: unknown, limits: Partial<RenderLimits> = {}): GatewayError {
  const compiled = compilePrompt(v, limits);
  const vars = resolveVariables(v.variables, given);
  try {
    compiled.render(vars);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected the render to fail");
}

function compileError(v: PromptVersion): PromptFileError {
  try {
    compilePrompt(v);
  } catch (err) {
    if (err instanceof PromptFileError) return err;
    throw err;
  }
  throw new Error("expected the compile to fail");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("compilePrompt", () => {
  it("renders the docs/design.md example", () => {
    const v = designExample();
    const compiled = compilePrompt(v);
    const out = compiled.render(
      resolveVariables(v.variables, { text: "Long text.", focus_points: ["dates", "people"] }),
    );
    expect(out).toEqual({
      messages: [
        { role: "system", content: "Summarize in exactly 2 sentences.\n- dates\n- people\n\n" },
        { role: "user", content: "Long text." },
      ],
      prompt: null,
      instructions: null,
    });
    const one = compiled.render(resolveVariables(v.variables, { text: "x", target_sentences: 1 }));
    expect(one.messages[0]!.content).toBe("Summarize in exactly 1 sentence.\n\n");
    expect(compiled.version).toBe(v);
  });

  it("renders prompt and instructions templates too", () => {
    const v: PromptVersion = {
      ...oneTemplate("m {{ a }}", { a: STRING }),
      prompt: "p {{ a }}",
      instructions: "i {{ a | upper }}",
    };
    expect(compilePrompt(v).render(resolveVariables(v.variables, { a: "x" }))).toEqual({
      messages: [{ role: "user", content: "m x" }],
      prompt: "p x",
      instructions: "i X",
    });
  });

  it("never evaluates request data as a template", () => {
    const v = oneTemplate("[{{ text }}]", { text: STRING });
    for (const text of [
      "{{ 7*7 }}",
      "{% for i in range(3) %}x{% endfor %}",
      "{% include 'x' %}",
      "{{ x.constructor }}",
      "{# c #}",
    ]) {
      expect(render(v, { text })).toBe(`[${text}]`);
    }
  });

  it("renders any string variable exactly as given (property)", () => {
    const compiled = compilePrompt(oneTemplate("{{ text }}", { text: STRING }));
    const templateish = fc
      .array(
        fc.constantFrom(
          "{{",
          "}}",
          "{%",
          "%}",
          "{#",
          "#}",
          "7*7",
          " ",
          "x",
          "\n",
          "'",
          '"',
          "\\",
          "<",
          "&",
          "-",
          "raw",
          "endraw",
        ),
      )
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "grapheme" }), templateish), (text) => {
        expect(compiled.render(resolveVariables({ text: STRING }, { text })).messages[0]!.content).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it("makes a render failure the prompt's 500, naming prompt, version, template, position and variable", () => {
    const v = oneTemplate("Focus:\n  {{ focus.title }}", { focus: { type: "object", required: false } });
    const err = renderError(v, {});
    expect(err).toMatchObject({ code: "template_error", status: 500, param: null });
    expect(err.message).toBe(
      'prompt t@1.0.0: messages[0].content: line 2, column 3: the template failed to render: "focus.title" is undefined or null',
    );
    expect(render(v, { focus: { title: "T" } })).toBe("Focus:\n  T");
    expect(
      render(oneTemplate("{% if focus %}{{ focus }}{% endif %}|{{ focus | default('none') }}", { focus: STRING }), {}),
    ).toBe("|none");
  });

  it("keeps template text and variable values out of a render failure's message", () => {
    const secret = "(sk-planted-4242";
    const where = "prompt t@1.0.0: messages[0].content:";
    const failures: [string, string][] = [
      // nunjucks: 'Unable to call `helper`, ...': a plain name is named, at the call.
      [
        "Private wording: {{ helper(text) }}",
        `${where} line 1, column 27: the template failed to render: "helper" is not a function`,
      ],
      // nunjucks: 'Unable to call `text["nope"]`, ...': template text, left out.
      [
        "Private wording: {{ text.nope() }}",
        `${where} line 1, column 30: the template failed to render: it calls something that is not a function`,
      ],
      // V8: 'Invalid regular expression: /(sk-planted-4242/: ...': the value, left out.
      ["Private wording: {{ text.match(text) }}", `${where} the template failed to render: SyntaxError thrown`],
      // V8: 'Invalid count value: -1': a RangeError that is no render limit.
      ["Private wording: {{ text.repeat(n) }}", `${where} the template failed to render: RangeError thrown`],
    ];
    for (const [source, message] of failures) {
      const v = oneTemplate(source, { text: STRING, n: { type: "integer", required: false } });
      const err = renderError(v, { text: secret, n: -1 });
      expect(err).toMatchObject({ code: "template_error", status: 500, message });
      expect(err.message).not.toContain("sk-planted");
      expect(err.message).not.toContain("Private wording");
    }
  });

  it("names a legacy version's undeclared variable when a render reaches it", () => {
    const v = oneTemplate("Hi {{ usr.name }}", { user: { type: "object", required: false } });
    const compiled = compilePrompt(v);
    expect(compiled.undeclared).toEqual([{ field: "messages[0].content", name: "usr", line: 1, column: 7 }]);
    expect(renderError(v, { user: { name: "A" } }).message).toBe(
      'prompt t@1.0.0: messages[0].content: line 1, column 4: the template failed to render: "usr.name" is undefined or null ("usr" is not a declared variable)',
    );
  });

  it("refuses computed lookups of JavaScript internals at render time", () => {
    const v = oneTemplate("{{ obj[key] }}", { obj: { type: "object", required: false }, key: STRING });
    expect(render(v, { obj: { a: "A" }, key: "a" })).toBe("A");
    for (const key of ["constructor", "__proto__", "prototype", "__defineGetter__"]) {
      const err = renderError(v, { obj: {}, key });
      expect(err).toMatchObject({ code: "invalid_request", status: 400 });
      expect(err.message).toBe(`prompt t@1.0.0: messages[0].content: looking up "${key}" is not allowed in a template`);
    }
    expect(
      renderError(oneTemplate("{{ o['constr' ~ 'uctor'] }}", { o: { type: "object", required: false } }), { o: {} })
        .status,
    ).toBe(400);
    expect(
      renderError(oneTemplate("{{ o[[k]] }}", { o: { type: "object", required: false }, k: STRING }), {
        o: {},
        k: "constructor",
      }).status,
    ).toBe(400);
    expect(
      render(
        oneTemplate("{{ xs[1] }}{{ xs[i] }}", {
          xs: { type: "array", required: false },
          i: { type: "integer", required: false },
        }),
        { xs: ["a", "b"], i: 0 },
      ),
    ).toBe("ba");
  });

  it("guards the body of a block {% set %} like the rest of the template", () => {
    const vars = { o: { type: "object", required: false }, k: STRING } as const;
    // Request data spelling `constructor` must not reach Function, even inside a captured block.
    const escape = oneTemplate("{% set s %}{{ o[k][k]('return 42')() }}{% endset %}[{{ s }}]", vars);
    expect(renderError(escape, { o: {}, k: "constructor" }).message).toContain(
      'looking up "constructor" is not allowed',
    );
    expect(render(oneTemplate("{% set s %}{{ o[k] }}{% endset %}[{{ s }}]", vars), { o: { a: "A" }, k: "a" })).toBe(
      "[A]",
    );
    const loop =
      "{% set s %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endset %}";
    expect(renderError(oneTemplate(loop), {}, { timeoutMs: 20 }).message).toContain("ms of CPU time");
    expect(compileError(oneTemplate("{% set s %}{{ 1 | nosuchfilter }}{% endset %}")).message).toContain(
      'unknown filter "nosuchfilter"',
    );
  });

  it("checks templates when compiling (versions may come from the store, not a file)", () => {
    expect(compileError(oneTemplate("{{ x.constructor }}")).message).toContain(
      'prompt t@1.0.0: messages[0].content: line 1, column 6: "constructor" is not allowed',
    );
    expect(compileError(oneTemplate('{% include "a" %}')).message).toContain("{% include %} is not allowed");
    expect(compileError(oneTemplate("{{ x | nosuchfilter }}")).message).toBe(
      'prompt t@1.0.0: messages[0].content: line 1, column 8: unknown filter "nosuchfilter"',
    );
    expect(compileError({ ...oneTemplate("ok"), instructions: "{{ broken" }).message).toContain(
      "prompt t@1.0.0: instructions: at the end of the template: template syntax error",
    );
  });

  it("compiles once: rendering never parses", () => {
    const v = designExample();
    const compiled = compilePrompt(v);
    const parse = vi.spyOn(nunjucks.parser, "parse");
    const lex = vi.spyOn(nunjucks.lexer, "lex");
    for (let i = 0; i < 3; i++) compiled.render(resolveVariables(v.variables, { text: "x", focus_points: ["a"] }));
    expect(parse).not.toHaveBeenCalled();
    expect(lex).not.toHaveBeenCalled();
  });

  it("keeps defaults private even when a template mutates them", () => {
    const v = oneTemplate("{{ xs.push('x') }}", { xs: { type: "array", required: false, default: Object.freeze([]) } });
    const compiled = compilePrompt(v);
    for (let i = 0; i < 3; i++)
      expect(compiled.render(resolveVariables(v.variables, {})).messages[0]!.content).toBe("1");
  });

  it("compileAll keys versions by name@version", () => {
    const all = compileAll([designExample(), { ...oneTemplate("x"), version: "2.0.0" }]);
    expect([...all.keys()]).toEqual(["summarization@1.1.0", "t@2.0.0"]);
  });
});

describe("compileForRegistration", () => {
  const registrationError = (v: PromptVersion): string => {
    try {
      compileForRegistration(v);
    } catch (err) {
      expect(err).toBeInstanceOf(PromptFileError);
      return (err as Error).message;
    }
    throw new Error("expected registration to refuse the version");
  };

  it("refuses a template that reads an undeclared variable, naming prompt, version, template and variable", () => {
    const v: PromptVersion = {
      ...designExample(),
      messages: [
        { role: "system", content: "Summarize {{ text }}." },
        { role: "user", content: "Focus on:\n{% for p in focus_points %}{{ p }} for {{ user.name }}{% endfor %}" },
      ],
      instructions: "{{ tone | default('plain') }}",
    };
    expect(registrationError(v).split("\n")).toEqual([
      'prompt summarization@1.1.0: messages[1].content: line 2, column 43: "user" is not a declared variable (declared: text, target_sentences, focus_points): declare it under variables, or bind it in the template with {% set %}, a for loop or a macro argument',
      'prompt summarization@1.1.0: instructions: line 1, column 4: "tone" is not a declared variable (declared: text, target_sentences, focus_points): declare it under variables, or bind it in the template with {% set %}, a for loop or a macro argument',
    ]);
    expect(registrationError(oneTemplate("{{ x }}"))).toContain('"x" is not a declared variable (declared: none)');
  });

  it("registers what the template declares or binds itself, and refuses nothing compilePrompt accepts otherwise", () => {
    const v = designExample();
    expect(compileForRegistration(v).undeclared).toEqual([]);
    const bound = oneTemplate(
      "{% set n = xs | length %}{% for x in xs %}{{ loop.index }}/{{ n }}: {{ x }}{% endfor %}{{ range(2) | join }}",
      { xs: { type: "array", required: false, default: ["a"] } },
    );
    expect(render(bound, {})).toBe("1/1: a01");
    expect(() => compileForRegistration(bound)).not.toThrow();
  });
});

describe("uncompilablePrompt", () => {
  it("renders as the version's 500", () => {
    const err = (() => {
      try {
        uncompilablePrompt(oneTemplate("x")).render({});
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({
      code: "template_error",
      status: 500,
      message: "prompt t@1.0.0: its templates do not compile; see the gateway log",
    });
  });
});

describe("render budget", () => {
  const limitError = (v: PromptVersion, given: unknown, limits: Partial<RenderLimits> = {}): GatewayError => {
    const err = renderError(v, given, limits);
    expect(err).toMatchObject({ code: "template_error", status: 500 });
    expect(err.message).toMatch(
      /^prompt t@1\.0\.0: messages\[0\]\.content(: line \d+, column \d+)?: rendering stopped because /,
    );
    return err;
  };
  const list: VariableSpec = { type: "array", required: false };

  it("stops a 100M-iteration range loop at once", () => {
    const started = performance.now();
    const err = limitError(oneTemplate("{% for i in range(0, 100000000) %}x{% endfor %}"), {});
    expect(err.message).toContain("range() asked for 100000000 numbers (limit 100000)");
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("stops nested loops over request arrays after the CPU time limit", () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i);
    const started = performance.now();
    const err = limitError(
      oneTemplate("{% for a in xs %}{% for b in xs %}{% for c in xs %}.{% endfor %}{% endfor %}{% endfor %}", {
        xs: list,
      }),
      { xs },
      { timeoutMs: 20 },
    );
    expect(err.message).toContain("it used more than 20 ms of CPU time");
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("has a configurable time limit", () => {
    // A million iterations: far more than 1 ms of work however fast rendering gets.
    const million = oneTemplate("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}");
    expect(limitError(million, {}, { timeoutMs: 1 }).message).toContain("more than 1 ms of CPU time");
    const v = oneTemplate("{% for i in range(20000) %}{{ i }}{% endfor %}");
    expect(render(v, {}, { timeoutMs: 60_000 })).toHaveLength(88890);
  });

  it("stops exponential macro recursion and unbounded recursion", () => {
    const exponential =
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}";
    expect(limitError(oneTemplate(exponential), {}, { timeoutMs: 20 }).message).toContain("ms of CPU time");
    expect(limitError(oneTemplate("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), {}).message).toContain(
      "Maximum call stack size exceeded",
    );
  });

  it("caps the characters a render produces, across all templates", () => {
    const v = oneTemplate("{% for i in range(100) %}{{ text }}{% endfor %}", { text: STRING });
    expect(limitError(v, { text: "x".repeat(100) }, { maxOutputChars: 5_000 }).message).toContain(
      "it produced more than 5000 characters",
    );
    expect(render(v, { text: "x".repeat(10) }, { maxOutputChars: 5_000 })).toHaveLength(1000);
    const both: PromptVersion = { ...oneTemplate("{{ text }}", { text: STRING }), prompt: "{{ text }}" };
    expect(renderError(both, { text: "x".repeat(600) }, { maxOutputChars: 1_000 }).status).toBe(500);
    const doubling = "{% set s = 'xxxxxxxxxx' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}";
    expect(limitError(oneTemplate(doubling), {}).message).toMatch(
      /Invalid string length|more than 10000000 characters/,
    );
  });

  it("caps filter arguments, inputs and outputs", () => {
    expect(limitError(oneTemplate("{{ 'x' | center(1000000000) }}"), {}).message).toContain(
      'filter "center" was given the argument 1000000000',
    );
    expect(
      limitError(
        oneTemplate("{{ text | upper }}", { text: STRING }),
        { text: "x".repeat(2_000) },
        { maxOutputChars: 1_000 },
      ).message,
    ).toContain('filter "upper" was given 2000 characters');
    expect(
      limitError(
        oneTemplate("{{ xs | join(',') }}", { xs: list }),
        { xs: Array(600).fill("ab") },
        { maxOutputChars: 1_000 },
      ).message,
    ).toContain('filter "join" produced');
    expect(
      render(oneTemplate("{{ xs | selectattr('a') | length }} {{ 'ab' | center(6) }}", { xs: list }), {
        xs: [{ a: 1 }, { a: 0 }],
      }),
    ).toBe("1   ab  ");
  });

  it("starts every render with a fresh budget", () => {
    const v = oneTemplate("{% for i in range(n) %}.{% endfor %}", { n: { type: "integer", required: false } });
    const compiled = compilePrompt(v, { maxOutputChars: 100 });
    expect(() => compiled.render(resolveVariables(v.variables, { n: 200 }))).toThrow(GatewayError);
    for (let i = 0; i < 5; i++)
      expect(compiled.render(resolveVariables(v.variables, { n: 60 })).messages[0]!.content).toHaveLength(60);
  });

  it("does not trip on ordinary renders", () => {
    const v = oneTemplate("{% for p in points %}- {{ p | trim }}\n{% endfor %}", { points: list });
    const compiled = compilePrompt(v);
    const vars = resolveVariables(v.variables, { points: Array.from({ length: 200 }, (_, i) => ` point ${i} `) });
    for (let i = 0; i < 300; i++) expect(compiled.render(vars).messages[0]!.content).toContain("- point 199\n");
  });
});
