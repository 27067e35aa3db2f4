// Prompt files: the docs/design.md format, every validation rule with file + field in the message, the
// content hash, and loading a prompt folder.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadPromptDir, parsePromptFile, PromptFileError } from "../../../gateway/prompts/prompt-file.ts";
import { DESIGN_EXAMPLE } from "../../support/prompt-fixtures.ts";

const FILE = "config/prompts/summarization/1.1.0.yaml";

function error(text: string, file = FILE): PromptFileError {
  try {
    parsePromptFile(text, file);
  } catch (err) {
    if (err instanceof PromptFileError) return err;
    throw err;
  }
  throw new Error("expected a PromptFileError, but the file parsed");
}

const minimal = (extra: string): string => `name: p\nversion: 1.0.0\nprompt: "Hi {{ x }}"\n${extra}`;
const withVar = (spec: string): string => minimal(`variables:\n  x: ${spec}\n`);

describe("parsePromptFile", () => {
  it("parses the docs/design.md example into a normalised, frozen version", () => {
    const v = parsePromptFile(DESIGN_EXAMPLE, FILE);
    expect(v).toMatchObject({
      name: "summarization",
      version: "1.1.0",
      description: "Two-sentence summaries for the inbox",
      model: "gpt-4o-mini",
      params: { temperature: 0.3, max_tokens: 200 },
      prompt: null,
      instructions: null,
    });
    expect(v.variables).toEqual({
      text: { type: "string", required: true },
      target_sentences: { type: "integer", required: false, default: 2 },
      focus_points: { type: "array", required: false, items: "string", default: [] },
    });
    expect(v.messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(v.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.isFrozen(v) && Object.isFrozen(v.variables.focus_points!.default)).toBe(true);
  });

  it("fills optional fields and accepts the long form of items", () => {
    const v = parsePromptFile(
      "name: p_2\nversion: 2.0.0-rc.1\ninstructions: Be brief.\nvariables:\n  xs: { type: array, items: { type: integer } }\n",
      "f.yaml",
    );
    expect(v).toMatchObject({
      description: "",
      model: null,
      params: {},
      messages: [],
      prompt: null,
      instructions: "Be brief.",
    });
    expect(v.variables.xs).toEqual({ type: "array", required: false, items: "integer" });
  });

  it.each([
    ["name: Summ\nversion: 1.0.0\nprompt: hi", "name: expected lowercase letters, digits, - and _"],
    ["name: a:b\nversion: 1.0.0\nprompt: hi", "name: expected lowercase"],
    ["version: 1.0.0\nprompt: hi", "name: "],
    ["name: p\nversion: 1.0\nprompt: hi", "version: expected a semver version"],
    ["name: p\nversion: v1.0.0\nprompt: hi", "version: expected a semver version"],
    ["name: p\nversion: 1.0.0+build\nprompt: hi", "version: expected a semver version"],
    ["name: p\nversion: 1.0.0\n", "messages: declare at least one template"],
    ["name: p\nversion: 1.0.0\nmessages: []", "messages: Too small"],
    [
      "name: p\nversion: 1.0.0\nmessages: [{ role: tool, content: hi }]",
      "messages[0].role: expected one of system|developer|user|assistant",
    ],
    ["name: p\nversion: 1.0.0\nmessages: [{ role: user, content: hi, name: x }]", "messages[0].name: unknown field"],
    ["name: p\nversion: 1.0.0\nmessages: [{ role: user }]", "messages[0].content: "],
    ["name: p\nversion: 1.0.0\nprompt: hi\ntemplate: x", "template: unknown field"],
    ["name: p\nversion: 1.0.0\nprompt: hi\nparams: 3", "params: "],
    [
      "name: p\nversion: 1.0.0\nprompt: hi\nparams: { model: gpt-4o }",
      'params.model: "model" cannot be a default parameter (use the model field)',
    ],
    ["name: p\nversion: 1.0.0\nprompt: hi\nparams: { stream: true }", "params.stream: "],
    [withVar("{ type: str }"), "variables.x.type: expected one of string|integer|number|boolean|array|object"],
    [withVar("{ type: string, size: 3 }"), "variables.x.size: unknown field"],
    [withVar("{ type: array, items: list }"), "variables.x.items: expected one of string|integer|number|boolean"],
    [withVar("{ type: array, items: { type: string, x: 1 } }"), "variables.x.items: expected one of"],
    [withVar("{ type: string, items: string }"), "variables.x.items: only arrays have items"],
    [withVar("{ type: integer, min_length: 1 }"), "variables.x.min_length: only strings and arrays have a length"],
    [withVar("{ type: string, minimum: 1 }"), "variables.x.minimum: only integers and numbers"],
    [withVar("{ type: integer, enum: [a] }"), "variables.x.enum: only strings"],
    [withVar("{ type: string, min_length: 3, max_length: 2 }"), "variables.x.min_length: is greater than max_length"],
    [withVar("{ type: number, minimum: 3, maximum: 2 }"), "variables.x.minimum: is greater than maximum"],
    [withVar("{ type: string, min_length: 1.5 }"), "variables.x.min_length: "],
    [
      withVar("{ type: string, required: true, default: a }"),
      "variables.x.default: a required variable cannot have a default",
    ],
    [
      withVar("{ type: integer, default: 2.5 }"),
      "variables.x.default: the default does not fit the declaration: expected integer, got number 2.5",
    ],
    [
      withVar("{ type: string, enum: [a, b], default: c }"),
      "variables.x.default: the default does not fit the declaration: expected one of a|b",
    ],
    [
      withVar("{ type: array, items: string, default: [1] }"),
      "variables.x.default: the default does not fit the declaration: item 0: expected string",
    ],
    [
      withVar("{ type: integer, maximum: 5, default: 6 }"),
      "variables.x.default: the default does not fit the declaration: expected integer <= 5",
    ],
    [minimal("variables:\n  __x: { type: string }\n"), "variables.__x: variable names are"],
    [
      minimal("variables:\n  constructor: { type: string }\n"),
      'variables.constructor: the key "constructor" is not allowed',
    ],
    [minimal("variables:\n  2x: { type: string }\n"), "variables.2x: variable names are"],
    [minimal("variables:\n  loop: { type: string }\n"), "variables.loop: variable names are"],
    [
      "name: p\nversion: 1.0.0\nprompt: '{{ x.constructor }}'",
      'prompt: line 1, column 6: "constructor" is not allowed',
    ],
    [
      "name: p\nversion: 1.0.0\nmessages: [{ role: user, content: ok }, { role: user, content: '{% include \"a\" %}' }]",
      "messages[1].content: line 1, column 4: {% include %} is not allowed",
    ],
    [
      "name: p\nversion: 1.0.0\ninstructions: 'Hi {{ x '",
      "instructions: at the end of the template: template syntax error",
    ],
    ["name: p\nversion: 1.0.0\nprompt: [unclosed", "invalid YAML"],
    ["name: p\nname: q\nversion: 1.0.0\nprompt: hi", "invalid YAML"],
    ["- a list", "(root): expected a mapping"],
    [
      "name: p\nversion: 1.0.0\nprompt: hi\nparams: { __proto__: { a: 1 } }",
      'params.__proto__: the key "__proto__" is not allowed',
    ],
    [minimal("variables:\n  __proto__: { type: string }\n"), 'variables.__proto__: the key "__proto__" is not allowed'],
    [
      withVar("{ type: object, default: { a: [{ constructor: 1 }] } }"),
      'variables.x.default.a[0].constructor: the key "constructor" is not allowed',
    ],
    ["", "(root): expected a mapping"],
  ])("refuses %j with a message naming the file and the field", (text, expected) => {
    const err = error(text);
    expect(err.message.startsWith(`${FILE}: `)).toBe(true);
    expect(err.message).toContain(expected);
  });

  it("reports every zod issue, one line each", () => {
    const lines = error("name: P\nversion: x\nprompt: hi\nextra: 1").message.split("\n");
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.startsWith(`${FILE}: `)).toBe(true);
  });
});

describe("content hash", () => {
  const hash = (text: string): string => parsePromptFile(text, FILE).hash;

  it("ignores comments, key order, flow vs block style and the items shorthand", () => {
    const reordered = `
# moved things around
messages:
  - content: |
      Summarize in exactly {{ target_sentences }} sentence{{ "s" if target_sentences != 1 }}.
      {% for p in focus_points %}- {{ p }}
      {% endfor %}
    role: system
  - { content: "{{ text }}", role: user }
variables:
  focus_points: { default: [], items: { type: string }, type: array }
  target_sentences:
    default: 2
    type: integer
  text: { required: true, type: string }
params: { max_tokens: 200, temperature: 0.3 }
model: gpt-4o-mini
description: Two-sentence summaries for the inbox
version: "1.1.0"
name: summarization
`;
    expect(hash(reordered)).toBe(hash(DESIGN_EXAMPLE));
    expect(hash(DESIGN_EXAMPLE)).toBe(hash(DESIGN_EXAMPLE));
  });

  it.each([
    ["a template", DESIGN_EXAMPLE.replace('content: "{{ text }}"', 'content: "Text: {{ text }}"')],
    ["a default", DESIGN_EXAMPLE.replace("default: 2", "default: 3")],
    ["a param", DESIGN_EXAMPLE.replace("temperature: 0.3", "temperature: 0.4")],
    ["the model", DESIGN_EXAMPLE.replace("model: gpt-4o-mini ", "model: gpt-4o ")],
    ["the description", DESIGN_EXAMPLE.replace("for the inbox", "for the outbox")],
    ["the version", DESIGN_EXAMPLE.replace("version: 1.1.0", "version: 1.1.1")],
    ["message order", DESIGN_EXAMPLE.replace("- role: system", "- role: developer")],
  ])("changes when %s changes", (_what, changed) => {
    expect(hash(changed)).not.toBe(hash(DESIGN_EXAMPLE));
  });
});

describe("loadPromptDir", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "promptgate-prompts-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function put(path: string, text: string): Promise<void> {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const version = (name: string, v: string): string =>
    `name: ${name}\nversion: ${v}\nprompt: "{{ x }}"\nvariables: { x: { type: string } }\n`;

  it("reads <name>/<version>.yaml sorted by name then semver, skipping other files", async () => {
    await put("b/1.10.0.yaml", version("b", "1.10.0"));
    await put("b/1.9.0.yaml", version("b", "1.9.0"));
    await put("a/0.1.0.yaml", version("a", "0.1.0"));
    await put("a/README.md", "notes");
    await put("README.md", "notes");
    const loaded = await loadPromptDir(dir);
    expect(loaded.map((v) => `${v.name}@${v.version}`)).toEqual(["a@0.1.0", "b@1.9.0", "b@1.10.0"]);
  });

  it("holds no prompts when the folder does not exist", async () => {
    expect(await loadPromptDir(join(dir, "missing"))).toEqual([]);
  });

  it.each([
    ["wrong/1.0.0.yaml", version("right", "1.0.0"), 'name: "right" does not match its folder "wrong"'],
    ["p/1.0.1.yaml", version("p", "1.0.0"), 'version: "1.0.0" does not match the file name "1.0.1.yaml"'],
    ["p/1.0.0.yml", version("p", "1.0.0"), "prompt files end in .yaml"],
    ["1.0.0.yaml", version("p", "1.0.0"), "prompt files live in"],
    ["p/1.0.0.yaml", "name: p\nversion: 1.0.0\n", "messages: declare at least one template"],
  ])("refuses %s with a message naming the file", async (path, text, expected) => {
    await put(path, text);
    const err = await loadPromptDir(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PromptFileError);
    expect((err as Error).message).toContain(join(dir, path));
    expect((err as Error).message).toContain(expected);
  });
});
