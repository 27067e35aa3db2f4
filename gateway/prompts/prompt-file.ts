// Prompt files (`config/prompts/<name>/<version>.yaml`, format in docs/design.md, "Prompts") parsed into
// validated, frozen, content-hashed PromptVersions; every error names the file, the field and the fix.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { canonicalJson, deepFreeze, isPlainObject } from "../support/json-value.ts";
import { PromptFileError } from "./prompt-file-error.ts";
import { checkTemplate, isForbiddenName } from "./template-guard.ts";
import type { PromptVersion, VariableSpec } from "./types.ts";
import { describeMismatch, findForbiddenKey } from "./variables.ts";
import { checkSegment } from "./segment.ts";

export { PromptFileError };

const SCALAR_TYPES = ["string", "integer", "number", "boolean"] as const;
const VARIABLE_TYPES = [...SCALAR_TYPES, "array", "object"] as const;
const ROLES = ["system", "developer", "user", "assistant"] as const;
const NAME = /^[a-z0-9][a-z0-9_-]*$/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Words the template language gives a meaning, and names nunjucks provides in every template. */
const RESERVED_VARIABLES = new Set([
  "true",
  "false",
  "True",
  "False",
  "none",
  "None",
  "null",
  "and",
  "or",
  "not",
  "in",
  "is",
  "if",
  "else",
  "loop",
  "caller",
  "range",
  "cycler",
  "joiner",
]);
/** Request fields a version's `params` may not default: they are the prompt itself, its model, or the transport. */
const RESERVED_PARAMS = new Set([
  "model",
  "messages",
  "prompt",
  "input",
  "instructions",
  "stream",
  "stream_options",
  "prompt_variables",
  "user",
]);

const oneOf = (values: readonly string[]): string => `expected one of ${values.join("|")}`;

const itemsSchema = z.preprocess(
  (v) => (isPlainObject(v) && Object.keys(v).length === 1 && "type" in v ? v.type : v),
  z.enum(SCALAR_TYPES, { error: `${oneOf(SCALAR_TYPES)} (the type of every item)` }),
);

const variableSchema = z.strictObject({
  type: z.enum(VARIABLE_TYPES, { error: oneOf(VARIABLE_TYPES) }),
  required: z.boolean().default(false),
  default: z.unknown().optional(),
  items: itemsSchema.optional(),
  min_length: z.int().min(0).optional(),
  max_length: z.int().min(0).optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  enum: z.array(z.string()).min(1).optional(),
});

const messageSchema = z.strictObject({
  role: z.enum(ROLES, { error: oneOf(ROLES) }),
  content: z.string().min(1, "must be a non-empty template"),
});

const fileSchema = z.strictObject({
  name: z.string().max(64).regex(NAME, "expected lowercase letters, digits, - and _ (e.g. summarization)"),
  version: z
    .string({ error: "expected a semver version such as 1.1.0 (quote it if YAML reads it as a number)" })
    .refine((v) => semver.valid(v) === v, "expected a semver version such as 1.1.0 (no leading v, no +build)"),
  description: z.string().optional(),
  model: z.string().min(1).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  variables: z.record(z.string(), variableSchema).optional(),
  messages: z.array(messageSchema).min(1).optional(),
  prompt: z.string().min(1, "must be a non-empty template").optional(),
  instructions: z.string().min(1, "must be a non-empty template").optional(),
  segment: z.unknown().optional(),
});

type RawVariable = z.infer<typeof variableSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out === "" ? "" : "."}${String(part)}`;
  return out;
}

function zodMessage(file: string, error: z.ZodError): string {
  const lines = error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => `${file}: ${formatPath([...issue.path, k])}: unknown field`);
    }
    return [`${file}: ${formatPath(issue.path) || "(root)"}: ${issue.message}`];
  });
  return lines.join("\n");
}

function checkVariable(name: string, v: RawVariable, fail: (field: string, reason: string) => never): VariableSpec {
  if (!VARIABLE_NAME.test(name) || isForbiddenName(name) || RESERVED_VARIABLES.has(name)) {
    fail(
      `variables.${name}`,
      "variable names are letters, digits and _ (not starting with a digit or __), and not a template keyword",
    );
  }
  const at = (field: string): string => `variables.${name}.${field}`;
  const itemType = v.type === "array" ? v.items : undefined;
  const numeric = v.type === "integer" || v.type === "number" || itemType === "integer" || itemType === "number";
  const stringy = v.type === "string" || itemType === "string";
  if (v.items !== undefined && v.type !== "array") fail(at("items"), "only arrays have items");
  if ((v.min_length !== undefined || v.max_length !== undefined) && v.type !== "string" && v.type !== "array") {
    fail(at(v.min_length !== undefined ? "min_length" : "max_length"), "only strings and arrays have a length");
  }
  if ((v.minimum !== undefined || v.maximum !== undefined) && !numeric) {
    fail(
      at(v.minimum !== undefined ? "minimum" : "maximum"),
      "only integers and numbers (or arrays of them) have bounds",
    );
  }
  if (v.enum !== undefined && !stringy) fail(at("enum"), "only strings (or arrays of strings) have an enum");
  if (v.min_length !== undefined && v.max_length !== undefined && v.min_length > v.max_length)
    fail(at("min_length"), "is greater than max_length");
  if (v.minimum !== undefined && v.maximum !== undefined && v.minimum > v.maximum)
    fail(at("minimum"), "is greater than maximum");
  const spec: VariableSpec = {
    type: v.type,
    required: v.required,
    ...(v.default !== undefined && { default: v.default }),
    ...(v.items !== undefined && { items: v.items }),
    ...(v.min_length !== undefined && { min_length: v.min_length }),
    ...(v.max_length !== undefined && { max_length: v.max_length }),
    ...(v.minimum !== undefined && { minimum: v.minimum }),
    ...(v.maximum !== undefined && { maximum: v.maximum }),
    ...(v.enum !== undefined && { enum: v.enum }),
  };
  if (v.default !== undefined) {
    if (v.required) fail(at("default"), "a required variable cannot have a default (drop one of them)");
    const mismatch = describeMismatch(spec, v.default);
    if (mismatch !== null) fail(at("default"), `the default does not fit the declaration: ${mismatch}`);
  }
  return spec;
}

/** sha256 (hex) of the canonical JSON of everything but the hash: formatting and key order never count. */
export function promptHash(content: Omit<PromptVersion, "hash">): string {
  return createHash("sha256").update(canonicalJson(content)).digest("hex");
}

/** Parses and validates one prompt file; `file` is only used in error messages. Throws PromptFileError. */
export function parsePromptFile(text: string, file: string): PromptVersion {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new PromptFileError(`${file}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return promptFromDocument(doc, file);
}

/**
 * Validates a prompt file already parsed (from YAML or JSON) into plain data; `file` is only used in
 * error messages. Throws PromptFileError.
 */
export function promptFromDocument(doc: unknown, file: string): PromptVersion {
  const fail = (field: string, reason: string): never => {
    throw new PromptFileError(`${file}: ${field}: ${reason}`);
  };
  if (!isPlainObject(doc))
    fail("(root)", "expected a mapping with name, version, variables and messages/prompt/instructions");
  // YAML keeps `__proto__` as an own key, which later copies would turn into a prototype.
  const forbidden = findForbiddenKey(doc, "", 1);
  if (forbidden !== null) fail(forbidden.path, forbidden.reason);
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) throw new PromptFileError(zodMessage(file, parsed.error));
  const raw = parsed.data;

  if (raw.messages === undefined && raw.prompt === undefined && raw.instructions === undefined) {
    fail(
      "messages",
      "declare at least one template: messages (chat), prompt (completions) or instructions (responses)",
    );
  }
  for (const key of Object.keys(raw.params ?? {})) {
    if (RESERVED_PARAMS.has(key))
      fail(`params.${key}`, `"${key}" cannot be a default parameter${key === "model" ? " (use the model field)" : ""}`);
  }
  const variables: Record<string, VariableSpec> = {};
  for (const [name, v] of Object.entries(raw.variables ?? {})) variables[name] = checkVariable(name, v, fail);

  const messages = (raw.messages ?? []).map((m, i) => {
    checkTemplate(m.content, `${file}: messages[${i}].content`);
    return { role: m.role, content: m.content };
  });
  if (raw.prompt !== undefined) checkTemplate(raw.prompt, `${file}: prompt`);
  if (raw.instructions !== undefined) checkTemplate(raw.instructions, `${file}: instructions`);

  const content: Omit<PromptVersion, "hash"> = {
    name: raw.name,
    version: raw.version,
    description: raw.description ?? "",
    model: raw.model ?? null,
    params: raw.params ?? {},
    variables,
    messages,
    prompt: raw.prompt ?? null,
    instructions: raw.instructions ?? null,
    ...(raw.segment !== undefined && { segment: checkSegment(raw.segment, variables, fail) }),
  };
  return deepFreeze({ ...content, hash: promptHash(content) });
}

/**
 * Reads every `<dir>/<name>/<version>.yaml`, sorted by name then version. The folder must equal the
 * file's `name` and the file name its `version`. A missing `dir` holds no prompts; other files are skipped.
 */
export async function loadPromptDir(dir: string): Promise<PromptVersion[]> {
  const names = await listDir(dir, true);
  if (names === null) return [];
  const out: PromptVersion[] = [];
  for (const entry of names) {
    if (!entry.dir) {
      if (entry.name.endsWith(".yaml") || entry.name.endsWith(".yml")) {
        throw new PromptFileError(
          `${join(dir, entry.name)}: prompt files live in ${dir}/<name>/<version>.yaml; move it into a folder named after the prompt`,
        );
      }
      continue;
    }
    for (const f of (await listDir(join(dir, entry.name), false)) ?? []) {
      const file = join(dir, entry.name, f.name);
      if (f.name.endsWith(".yml")) throw new PromptFileError(`${file}: prompt files end in .yaml; rename it`);
      if (f.dir || !f.name.endsWith(".yaml")) continue;
      const v = parsePromptFile(await readFile(file, "utf8"), file);
      if (v.name !== entry.name)
        throw new PromptFileError(
          `${file}: name: "${v.name}" does not match its folder "${entry.name}" (prompts live in <name>/<version>.yaml)`,
        );
      const stem = f.name.slice(0, -".yaml".length);
      if (v.version !== stem)
        throw new PromptFileError(
          `${file}: version: "${v.version}" does not match the file name "${f.name}" (expected ${v.version}.yaml)`,
        );
      out.push(v);
    }
  }
  return out.sort((a, b) => (a.name === b.name ? semver.compare(a.version, b.version) : a.name < b.name ? -1 : 1));
}

async function listDir(dir: string, missingOk: boolean): Promise<{ name: string; dir: boolean }[] | null> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .map((e) => ({ name: e.name, dir: e.isDirectory() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (missingOk && code === "ENOENT") return null;
    throw new PromptFileError(`${dir}: cannot read the prompt folder (${code ?? "error"})`, { cause: err });
  }
}
